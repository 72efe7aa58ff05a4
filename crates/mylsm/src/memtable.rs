//! The memtable: recent writes as internal keys in the arena skip list, with size
//! accounting so the engine knows when to cut a new one.
//!
//! Entries are written by one thread at a time (the write leader) and read lock-free
//! by everyone else; the skip list's publication rules (see `mylsm_skiplist`) make a
//! new entry either wholly visible or not visible at all. Readers additionally ignore
//! entries newer than the sequence number they read at, so a group's entries become
//! visible together when the leader publishes its last seqno.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use mylsm_skiplist::{ArcIter, SkipList};

use crate::iter::InternalIterator;
use crate::key::{self, InternalKeyComparator, Kind};
use crate::range_del::Fragments;
use crate::Result;

/// An in-memory sorted buffer of recent writes.
#[derive(Debug)]
pub(crate) struct MemTable {
    list: Arc<SkipList<InternalKeyComparator>>,
    /// Bytes of entries added, with a per-entry allowance for the node; what the
    /// write buffer limit is checked against. (The arena's block count would jump a
    /// whole block at a time, which makes small limits meaningless.)
    size: AtomicUsize,
    /// Range tombstones, keyed `start‖trailer` with the end as value (empty: none).
    range_dels: SkipList<InternalKeyComparator>,
    /// The range tombstones fragmented, and how many tombstones that was made from:
    /// rebuilt by the first read after a new tombstone (Pebble's `keySpanCache`).
    fragments: RwLock<(usize, Arc<Fragments>)>,
}

/// Bytes a skip-list node costs beyond its key and value: header and average links.
const NODE_OVERHEAD: usize = 24;

impl Default for MemTable {
    fn default() -> Self {
        Self::new()
    }
}

impl MemTable {
    pub fn new() -> Self {
        MemTable {
            list: Arc::new(SkipList::new(InternalKeyComparator)),
            size: AtomicUsize::new(0),
            range_dels: SkipList::new(InternalKeyComparator),
            fragments: RwLock::new((0, Arc::new(Fragments::default()))),
        }
    }

    /// Adds one version. `scratch` is a buffer the caller reuses to build the internal
    /// key, so inserting does not allocate beyond the arena.
    pub fn add(
        &self,
        scratch: &mut Vec<u8>,
        seqno: u64,
        kind: Kind,
        user_key: &[u8],
        value: &[u8],
    ) {
        scratch.clear();
        key::append_internal_key(scratch, user_key, seqno, kind);
        let list = if kind == Kind::RangeDelete { &self.range_dels } else { &*self.list };
        let inserted = list.insert(scratch, value);
        self.size.fetch_add(scratch.len() + value.len() + NODE_OVERHEAD, Ordering::Relaxed);
        // Sequence numbers are unique, so an equal internal key can never be present.
        debug_assert!(inserted, "duplicate internal key at seqno {seqno}");
    }

    /// Calls `f` with each version of `user_key` at or below `seqno`, newest first, as
    /// (seqno, kind, value), until it returns `false`.
    pub fn for_each_version(
        &self,
        user_key: &[u8],
        seqno: u64,
        mut f: impl FnMut(u64, Kind, &[u8]) -> bool,
    ) {
        let mut it = self.list.iter();
        it.seek(&key::lookup_key(user_key, seqno));
        while it.valid() {
            match key::parse_internal_key(it.key()) {
                Some(p) if p.user_key == user_key => {
                    if !f(p.seqno, p.kind, it.value()) {
                        return;
                    }
                }
                _ => return,
            }
            it.next();
        }
    }

    /// The largest user key among the point entries.
    pub fn last_user_key(&self) -> Option<Vec<u8>> {
        let mut it = self.list.iter();
        it.seek_to_last();
        it.valid().then(|| key::user_key(it.key()).to_vec())
    }

    /// The range tombstones, fragmented; `None` if there are none.
    pub fn range_tombstones(&self) -> Option<Arc<Fragments>> {
        let n = self.range_dels.len();
        if n == 0 {
            return None;
        }
        {
            // Readers share the lock; only the first read after a new tombstone rebuilds.
            let cached = self.fragments.read().unwrap_or_else(|e| e.into_inner());
            if cached.0 == n {
                return Some(Arc::clone(&cached.1));
            }
        }
        let mut cached = self.fragments.write().unwrap_or_else(|e| e.into_inner());
        if cached.0 != n {
            let mut it = self.range_dels.iter();
            it.seek_to_first();
            let (mut ts, mut seen) = (Vec::with_capacity(n), 0);
            while it.valid() {
                seen += 1;
                if let Some(t) = crate::range_del::decode_entry(it.key(), it.value()) {
                    ts.push(t);
                }
                it.next();
            }
            // Keyed by what the walk saw, not by `len`, which may run ahead of or behind
            // the links a cursor sees: a reader whose `len` differs rebuilds.
            *cached = (seen, Arc::new(Fragments::new(ts)));
        }
        Some(Arc::clone(&cached.1))
    }

    /// Bytes of data the memtable holds, node overhead included.
    pub fn approximate_memory_usage(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Bytes the memtable's arena has allocated (whole blocks).
    pub fn arena_bytes(&self) -> usize {
        self.list.memory_usage()
    }

    /// Number of versions held (range tombstones included).
    pub fn len(&self) -> usize {
        self.list.len() + self.range_dels.len()
    }

    /// An iterator over the internal entries, which keeps the memtable alive.
    pub fn iter(&self) -> MemTableIter {
        MemTableIter { it: ArcIter::new(Arc::clone(&self.list)) }
    }
}

/// An [`InternalIterator`] over a memtable.
#[derive(Debug)]
pub(crate) struct MemTableIter {
    it: ArcIter<InternalKeyComparator>,
}

impl InternalIterator for MemTableIter {
    fn valid(&self) -> bool {
        self.it.valid()
    }
    fn seek(&mut self, target: &[u8]) {
        self.it.seek(target);
    }
    fn seek_for_prev(&mut self, target: &[u8]) {
        self.it.seek_for_prev(target);
    }
    fn seek_to_first(&mut self) {
        self.it.seek_to_first();
    }
    fn seek_to_last(&mut self) {
        self.it.seek_to_last();
    }
    fn next(&mut self) {
        self.it.next();
    }
    fn prev(&mut self) {
        self.it.prev();
    }
    fn key(&self) -> &[u8] {
        self.it.key()
    }
    fn value(&self) -> &[u8] {
        self.it.value()
    }
    fn status(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_sees_the_newest_version_at_or_below_the_seqno() {
        let m = MemTable::new();
        let mut s = Vec::new();
        m.add(&mut s, 1, Kind::Put, b"k", b"v1");
        m.add(&mut s, 2, Kind::Put, b"k", b"v2");
        m.add(&mut s, 3, Kind::Delete, b"k", b"");
        m.add(&mut s, 4, Kind::Put, b"k2", b"x");
        let versions = |k: &[u8], seqno| {
            let mut v = Vec::new();
            m.for_each_version(k, seqno, |s, kind, value| {
                v.push((s, kind, value.to_vec()));
                true
            });
            v
        };
        assert_eq!(versions(b"k", 0), vec![]);
        assert_eq!(versions(b"k", 1), vec![(1, Kind::Put, b"v1".to_vec())]);
        assert_eq!(versions(b"k", 2).len(), 2);
        assert_eq!(versions(b"k", 100)[0], (3, Kind::Delete, vec![]));
        assert_eq!(versions(b"j", 100), vec![]);
        assert_eq!(versions(b"k2", 3), vec![]);
        assert_eq!(m.len(), 4);
        assert!(m.range_tombstones().is_none());
        m.add(&mut s, 5, Kind::RangeDelete, b"a", b"c");
        assert_eq!(m.range_tombstones().unwrap().max_cover(b"b", 5), 5);
        assert_eq!(m.range_tombstones().unwrap().max_cover(b"b", 4), 0);
        assert_eq!(versions(b"a", 100), vec![], "tombstones are not point entries");
    }

    #[test]
    fn memory_usage_grows_with_the_data() {
        let m = MemTable::new();
        let before = m.approximate_memory_usage();
        assert_eq!(before, 0);
        let mut s = Vec::new();
        for i in 0..10_000u64 {
            m.add(&mut s, i + 1, Kind::Put, &i.to_be_bytes(), &[0u8; 100]);
        }
        assert!(m.approximate_memory_usage() >= 10_000 * 116);
        assert!(m.arena_bytes() >= m.approximate_memory_usage() - 10_000 * NODE_OVERHEAD);
    }
}
