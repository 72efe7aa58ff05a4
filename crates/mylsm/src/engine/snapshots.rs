//! The registry of live snapshots: the seqnos compaction must keep readable.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::lock;

/// The seqnos of live snapshots, with how many snapshots hold each.
#[derive(Debug, Default)]
pub(crate) struct SnapshotList {
    live: Mutex<BTreeMap<u64, usize>>,
}

impl SnapshotList {
    /// Registers a snapshot at the seqno `current` returns, read under the list's lock.
    ///
    /// Reading the seqno under the lock closes a race with compaction, which picks its
    /// inputs and then reads this list: a snapshot missing from the list it read was
    /// registered later, so its seqno is at least every seqno in those inputs, and the
    /// newest version of each key — which compaction always keeps — is what it needs.
    pub fn acquire(&self, current: impl FnOnce() -> u64) -> u64 {
        let mut live = lock(&self.live);
        let seqno = current();
        *live.entry(seqno).or_insert(0) += 1;
        seqno
    }

    pub fn release(&self, seqno: u64) {
        let mut live = lock(&self.live);
        if let Some(n) = live.get_mut(&seqno) {
            *n -= 1;
            if *n == 0 {
                live.remove(&seqno);
            }
        }
    }

    /// The seqnos of every live snapshot, ascending.
    pub fn seqnos(&self) -> Vec<u64> {
        lock(&self.live).keys().copied().collect()
    }
}
