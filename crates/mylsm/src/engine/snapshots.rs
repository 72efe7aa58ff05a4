//! The registry of live snapshots: the seqnos compaction must keep readable.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::lock;

/// The seqnos of live snapshots, with how many snapshots hold each, and the times
/// (`now`) they read expiring values at.
#[derive(Debug, Default)]
pub(crate) struct SnapshotList {
    live: Mutex<Live>,
}

#[derive(Debug, Default)]
struct Live {
    seqnos: BTreeMap<u64, usize>,
    nows: BTreeMap<u64, usize>,
}

fn add(m: &mut BTreeMap<u64, usize>, k: u64) {
    *m.entry(k).or_insert(0) += 1;
}

fn remove(m: &mut BTreeMap<u64, usize>, k: u64) {
    if let Some(n) = m.get_mut(&k) {
        *n -= 1;
        if *n == 0 {
            m.remove(&k);
        }
    }
}

impl SnapshotList {
    /// Registers a snapshot at the seqno `current` returns, read under the list's lock.
    ///
    /// Reading the seqno under the lock closes a race with compaction, which picks its
    /// inputs and then reads this list: a snapshot missing from the list it read was
    /// registered later, so its seqno is at least every seqno in those inputs, and the
    /// newest version of each key — which compaction always keeps — is what it needs.
    ///
    /// `now` is the time the snapshot reads expiring values at: compaction turns an
    /// expired value into a tombstone only once it has expired for every snapshot.
    pub fn acquire(&self, current: impl FnOnce() -> u64, now: u64) -> u64 {
        let mut live = lock(&self.live);
        let seqno = current();
        add(&mut live.seqnos, seqno);
        add(&mut live.nows, now);
        seqno
    }

    pub fn release(&self, seqno: u64, now: u64) {
        let mut live = lock(&self.live);
        remove(&mut live.seqnos, seqno);
        remove(&mut live.nows, now);
    }

    /// The seqnos of every live snapshot, ascending, and the earliest `now` among them.
    pub fn seqnos(&self) -> (Vec<u64>, Option<u64>) {
        let live = lock(&self.live);
        (live.seqnos.keys().copied().collect(), live.nows.keys().next().copied())
    }
}
