//! Chooses between the real synchronization primitives and loom's model-checked ones.
//!
//! Everything that takes part in the publication protocol (the node links, `max_height`
//! and the writer lock) is imported from here, so that building with `--cfg loom` lets
//! loom explore every interleaving and weak-memory outcome of exactly the code that ships.
//! Pure statistics counters (`len`, `memory_usage`) deliberately use `std` atomics even
//! under loom: no reader draws any conclusion about node memory from them, so modelling
//! them would only enlarge the state space without checking anything.

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicPtr, AtomicUsize},
    Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicPtr, AtomicUsize},
    Mutex, MutexGuard,
};

/// Stands for the plain (non-atomic) bytes of a node: its header fields, key and value.
///
/// Outside loom this is a zero-sized no-op. Under loom it wraps a `loom::cell::UnsafeCell`,
/// and the node code reports "the writer finished writing the plain bytes" and "a thread is
/// about to read the plain bytes" through it. Loom then fails the model if some read is not
/// ordered after the write by a happens-before edge, which is precisely the bug a too-weak
/// ordering on a link store or load would cause. Without this shadow cell loom could not see
/// the plain bytes at all, because they live in ordinary arena memory.
#[derive(Debug)]
pub(crate) struct InitMarker {
    #[cfg(loom)]
    cell: loom::cell::UnsafeCell<()>,
}

impl InitMarker {
    /// Creates the marker while the node is still private to the writer.
    pub(crate) fn new() -> Self {
        Self {
            #[cfg(loom)]
            cell: loom::cell::UnsafeCell::new(()),
        }
    }

    /// Records that the writer has written the plain bytes of the node.
    #[inline(always)]
    pub(crate) fn mark_written(&self) {
        #[cfg(loom)]
        self.cell.with_mut(|_| ());
    }

    /// Records that the calling thread is reading the plain bytes of the node.
    #[inline(always)]
    pub(crate) fn mark_read(&self) {
        #[cfg(loom)]
        self.cell.with(|_| ());
    }
}
