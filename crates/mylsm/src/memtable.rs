//! The memtable: recent writes as internal keys in the arena skip list, with size
//! accounting so the engine knows when to cut a new one.
//!
//! Entries are written by one thread at a time (the write leader) and read lock-free
//! by everyone else; the skip list's publication rules (see `mylsm_skiplist`) make a
//! new entry either wholly visible or not visible at all. Readers additionally ignore
//! entries newer than the sequence number they read at, so a group's entries become
//! visible together when the leader publishes its last seqno.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mylsm_skiplist::{ArcIter, SkipList};

use crate::iter::InternalIterator;
use crate::key::{self, InternalKeyComparator, Kind};
use crate::{Result, Value};

/// The answer a memtable gives for one user key at one sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// The newest visible version is a put of this value.
    Found(Value),
    /// The newest visible version is a delete: older tables must not be consulted.
    Deleted,
    /// The memtable holds no visible version of the key.
    Absent,
}

/// An in-memory sorted buffer of recent writes.
#[derive(Debug)]
pub(crate) struct MemTable {
    list: Arc<SkipList<InternalKeyComparator>>,
    /// Bytes of entries added, with a per-entry allowance for the node; what the
    /// write buffer limit is checked against. (The arena's block count would jump a
    /// whole block at a time, which makes small limits meaningless.)
    size: AtomicUsize,
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
        MemTable { list: Arc::new(SkipList::new(InternalKeyComparator)), size: AtomicUsize::new(0) }
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
        let inserted = self.list.insert(scratch, value);
        self.size.fetch_add(scratch.len() + value.len() + NODE_OVERHEAD, Ordering::Relaxed);
        // Sequence numbers are unique, so an equal internal key can never be present.
        debug_assert!(inserted, "duplicate internal key at seqno {seqno}");
    }

    /// The newest version of `user_key` with a seqno at most `seqno`.
    pub fn get(&self, user_key: &[u8], seqno: u64) -> Lookup {
        let mut it = self.list.iter();
        it.seek(&key::lookup_key(user_key, seqno));
        if !it.valid() {
            return Lookup::Absent;
        }
        match key::parse_internal_key(it.key()) {
            Some(p) if p.user_key == user_key => match p.kind {
                Kind::Put => Lookup::Found(Value::copy_from(it.value())),
                Kind::Delete => Lookup::Deleted,
            },
            _ => Lookup::Absent,
        }
    }

    /// Bytes of data the memtable holds, node overhead included.
    pub fn approximate_memory_usage(&self) -> usize {
        self.size.load(Ordering::Relaxed)
    }

    /// Bytes the memtable's arena has allocated (whole blocks).
    pub fn arena_bytes(&self) -> usize {
        self.list.memory_usage()
    }

    /// Number of versions (puts and deletes) held.
    pub fn len(&self) -> usize {
        self.list.len()
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
        assert_eq!(m.get(b"k", 0), Lookup::Absent);
        assert_eq!(m.get(b"k", 1), Lookup::Found(Value::copy_from(b"v1")));
        assert_eq!(m.get(b"k", 2), Lookup::Found(Value::copy_from(b"v2")));
        assert_eq!(m.get(b"k", 3), Lookup::Deleted);
        assert_eq!(m.get(b"k", 100), Lookup::Deleted);
        assert_eq!(m.get(b"j", 100), Lookup::Absent);
        assert_eq!(m.get(b"k2", 3), Lookup::Absent);
        assert_eq!(m.len(), 4);
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
