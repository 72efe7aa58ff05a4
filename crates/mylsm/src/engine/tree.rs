//! `Tree`: one LSM tree — its active and immutable memtables, its current version, the
//! running compactions on it, its options and counters — and the waits on it.
//!
//! The read path takes a tree's `ReadView` (active memtable, immutables, version) by
//! cloning an `Arc`; the write leader inserts into the view's active memtable; flush
//! and compaction jobs (`crate::jobs`) change the immutables and the version under
//! `state` and publish a new view while still holding it, so views are installed in the
//! order the state changed. A database has one tree today; keyspaces will each be one.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use super::{lock, Shared};
use crate::compaction::Busy;
use crate::memtable::MemTable;
use crate::options::TreeOptions;
use crate::table_cache::TableCache;
use crate::version::{FileMeta, Version};
use crate::view::ReadView;
use crate::Result;

/// A memtable waiting for flush, with the WAL that holds its data.
#[derive(Debug)]
pub(crate) struct Imm {
    pub mem: Arc<MemTable>,
    /// Every WAL numbered at or below this is covered once this memtable is flushed.
    pub log_number: u64,
}

/// The compactions under way on a tree.
#[derive(Debug, Default)]
pub(crate) struct Compacting {
    /// The tables running compactions read (inputs of both levels).
    pub busy: Busy,
    /// Background compactions running.
    pub running: usize,
    /// A manual `compact_range` is running: no background compaction starts.
    pub manual: bool,
}

/// What `Tree::state` guards.
#[derive(Debug)]
pub(crate) struct TreeState {
    /// Memtables waiting for flush, oldest first.
    pub imms: VecDeque<Imm>,
    pub version: Arc<Version>,
    /// A worker is flushing this tree's memtables (one at a time, oldest first).
    pub flushing: bool,
    pub flushes: u64,
    pub compactions: u64,
    /// Tables compactions replaced, deleted once nothing else holds their `FileMeta`.
    pub obsolete: Vec<Arc<FileMeta>>,
    pub compacting: Compacting,
}

/// Why a write group waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StallCause {
    /// Too many memtables were waiting for flush.
    Memtables = 0,
    /// L0 reached the slowdown trigger: the group was delayed for its bytes at the
    /// delayed write rate.
    L0Slowdown = 1,
    /// L0 reached the stop trigger: the group waited for compaction.
    L0Stop = 2,
}

/// Counters reported by `Stats`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Stalled write groups and the time they waited, indexed by `StallCause`.
    pub stalls: [AtomicU64; 3],
    pub stall_micros: [AtomicU64; 3],
    pub flushed_bytes: AtomicU64,
    pub compacted_read: AtomicU64,
    pub compacted_written: AtomicU64,
    pub compacted_dropped: AtomicU64,
    /// Stripes of merge operands compaction could not merge (kept as they were).
    pub merge_failures: AtomicU64,
    /// The most background compactions that ran at once.
    pub compactions_peak: AtomicU64,
}

/// One LSM tree: one keyspace.
#[derive(Debug)]
pub(crate) struct Tree {
    id: u32,
    name: String,
    /// Set once the keyspace is dropped: every operation on it fails from then on.
    dropped: AtomicBool,
    opts: TreeOptions,
    state: Mutex<TreeState>,
    /// Signalled whenever `state` changes in a way a waiter may care about (a flush or
    /// compaction finished, a manual compaction ended) and when the database fails or
    /// closes.
    changed: Condvar,
    /// Swapped only with `state` locked.
    view: RwLock<Arc<ReadView>>,
    counters: Counters,
}

impl Tree {
    /// Keyspace `id` (`name`) over `version`, whose active memtable is `mem`.
    pub fn new(
        id: u32,
        name: String,
        opts: TreeOptions,
        version: Arc<Version>,
        mem: Arc<MemTable>,
        tables: Arc<TableCache>,
    ) -> Tree {
        let view = ReadView { mem, imms: Vec::new(), version: Arc::clone(&version), tables };
        Tree {
            id,
            name,
            dropped: AtomicBool::new(false),
            opts,
            state: Mutex::new(TreeState {
                imms: VecDeque::new(),
                version,
                flushing: false,
                flushes: 0,
                compactions: 0,
                obsolete: Vec::new(),
                compacting: Compacting::default(),
            }),
            changed: Condvar::new(),
            view: RwLock::new(Arc::new(view)),
            counters: Counters::default(),
        }
    }

    pub fn opts(&self) -> &TreeOptions {
        &self.opts
    }

    /// The keyspace id (0: the default keyspace).
    /// How a read of this tree at `seqno` and time `now` sees the data.
    pub fn read_ctx(&self, seqno: u64, now: u64) -> crate::resolve::ReadCtx {
        crate::resolve::ReadCtx { seqno, now, merge: self.opts().merge.clone() }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Marks the keyspace dropped and wakes its waiters (who then fail).
    pub fn mark_dropped(&self) {
        self.dropped.store(true, Ordering::Release);
        self.notify();
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn state(&self) -> MutexGuard<'_, TreeState> {
        lock(&self.state)
    }

    /// Waits on the tree's condition; `timeout` bounds the wait when given.
    pub fn wait<'a>(
        &self,
        st: MutexGuard<'a, TreeState>,
        timeout: Option<Duration>,
    ) -> MutexGuard<'a, TreeState> {
        match timeout {
            None => self.changed.wait(st).unwrap_or_else(|p| p.into_inner()),
            Some(t) => self.changed.wait_timeout(st, t).unwrap_or_else(|p| p.into_inner()).0,
        }
    }

    /// Wakes everything waiting on the tree. Taking `state` first makes sure a waiter
    /// that checked its condition under `state` is already waiting.
    pub fn notify(&self) {
        drop(self.state());
        self.changed.notify_all();
    }

    /// The current view, for a read that has already loaded its seqno.
    pub fn current_view(&self) -> Arc<ReadView> {
        Arc::clone(&self.view.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The memtable writes go to. Only the write leader (holding the log lock, under
    /// which the active memtable changes) may insert into it.
    pub fn active_memtable(&self) -> Arc<MemTable> {
        Arc::clone(&self.current_view().mem)
    }

    /// Publishes a view made of `mem` and what `st` holds. Called with `state` locked
    /// (`st` is its guard), so views are installed in the order the state changed.
    pub fn install_view(&self, st: &TreeState, mem: Arc<MemTable>) {
        let tables = Arc::clone(&self.current_view().tables);
        let view = ReadView {
            mem,
            imms: st.imms.iter().rev().map(|i| Arc::clone(&i.mem)).collect(),
            version: Arc::clone(&st.version),
            tables,
        };
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(view);
    }

    /// Republishes the view after `st` changed, keeping the active memtable.
    pub fn refresh_view(&self, st: &TreeState) {
        self.install_view(st, self.active_memtable());
    }

    /// Latches `e` as the database's failure and wakes every waiter on every tree.
    pub fn fail(&self, shared: &Shared, e: &crate::Error) {
        shared.fail(e);
        self.notify();
    }

    /// Waits until every memtable queued at or below WAL `log_number` is in a table.
    /// Returns the latch's error if the database fails or closes first.
    pub fn wait_flushed(&self, shared: &Shared, log_number: u64) -> Result<()> {
        let mut st = self.state();
        loop {
            shared.latch().check()?;
            if st.imms.front().is_none_or(|imm| imm.log_number > log_number) {
                return Ok(());
            }
            st = self.wait(st, None);
        }
    }

    /// The newest queued memtable's WAL number, if any is queued.
    pub fn newest_queued_log(&self) -> Option<u64> {
        self.state().imms.back().map(|imm| imm.log_number)
    }

    /// Adds the elapsed stall of `cause` to the counters; `first` counts the group.
    pub fn count_stall(&self, cause: StallCause, first: bool, micros: u64) {
        let c = cause as usize;
        if first {
            self.counters.stalls[c].fetch_add(1, Ordering::Relaxed);
        }
        self.counters.stall_micros[c].fetch_add(micros, Ordering::Relaxed);
    }
}
