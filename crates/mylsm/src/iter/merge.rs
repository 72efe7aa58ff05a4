//! `MergingIter`: a k-way merge of internal iterators on a binary heap — a min-heap
//! going forward, a max-heap going backward — with LevelDB's direction switch.
//!
//! The heap holds the indices of the valid children; its top is the current entry.
//! Advancing moves the top child and sifts it down: O(log k) per step. Switching
//! direction repositions every other child on the far side of the current key and
//! rebuilds the heap, as LevelDB's `MergingIterator` does (which scans linearly
//! instead of keeping a heap). Ties between equal keys go to the lower child index, so
//! children should be given newest first.
//!
//! A child that fails (a damaged block) ends the merge: the heap is emptied, so the
//! merge is no longer valid and `status` reports the error. Going on with the other
//! children would yield older versions of keys whose newest version sits in the part
//! of the failed child that could not be read.

use std::cmp::Ordering;

use mylsm_skiplist::Comparator;

use super::InternalIterator;
use crate::key::InternalKeyComparator;
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forward,
    Reverse,
}

/// Merges sorted children into one sorted stream.
pub(crate) struct MergingIter {
    children: Vec<Box<dyn InternalIterator>>,
    heap: Vec<usize>,
    dir: Direction,
}

impl MergingIter {
    pub fn new(children: Vec<Box<dyn InternalIterator>>) -> Self {
        MergingIter { children, heap: Vec::new(), dir: Direction::Forward }
    }

    /// Whether child `a` belongs above child `b` in the heap.
    fn before(&self, a: usize, b: usize) -> bool {
        let ord = InternalKeyComparator.compare(self.children[a].key(), self.children[b].key());
        match (ord, self.dir) {
            (Ordering::Equal, _) => a < b,
            (ord, Direction::Forward) => ord == Ordering::Less,
            (ord, Direction::Reverse) => ord == Ordering::Greater,
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut best = i;
            if l < n && self.before(self.heap[l], self.heap[best]) {
                best = l;
            }
            if r < n && self.before(self.heap[r], self.heap[best]) {
                best = r;
            }
            if best == i {
                return;
            }
            self.heap.swap(i, best);
            i = best;
        }
    }

    /// Rebuilds the heap from every valid child, in the current direction; empty if
    /// any child has failed.
    fn rebuild(&mut self) {
        if self.children.iter().any(|c| !c.valid() && c.status().is_err()) {
            self.heap.clear();
            return;
        }
        self.heap = (0..self.children.len()).filter(|&i| self.children[i].valid()).collect();
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    /// Moves the top child one step in the current direction and restores the heap.
    fn advance_top(&mut self) {
        let top = self.heap[0];
        match self.dir {
            Direction::Forward => self.children[top].next(),
            Direction::Reverse => self.children[top].prev(),
        }
        if !self.children[top].valid() {
            if self.children[top].status().is_err() {
                self.heap.clear();
                return;
            }
            self.heap.swap_remove(0);
        }
        if !self.heap.is_empty() {
            self.sift_down(0);
        }
    }
}

impl InternalIterator for MergingIter {
    fn valid(&self) -> bool {
        !self.heap.is_empty()
    }

    fn seek(&mut self, target: &[u8]) {
        for c in &mut self.children {
            c.seek(target);
        }
        self.dir = Direction::Forward;
        self.rebuild();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        for c in &mut self.children {
            c.seek_for_prev(target);
        }
        self.dir = Direction::Reverse;
        self.rebuild();
    }

    fn seek_to_first(&mut self) {
        for c in &mut self.children {
            c.seek_to_first();
        }
        self.dir = Direction::Forward;
        self.rebuild();
    }

    fn seek_to_last(&mut self) {
        for c in &mut self.children {
            c.seek_to_last();
        }
        self.dir = Direction::Reverse;
        self.rebuild();
    }

    fn next(&mut self) {
        if self.dir == Direction::Reverse {
            // Put every other child at its first entry after the current key.
            let cur = self.heap[0];
            let key = self.children[cur].key().to_vec();
            for (i, c) in self.children.iter_mut().enumerate() {
                if i != cur {
                    c.seek(&key);
                    if c.valid() && InternalKeyComparator.compare(c.key(), &key) == Ordering::Equal
                    {
                        c.next();
                    }
                }
            }
            self.dir = Direction::Forward;
            self.rebuild();
            // The current child is again the top: it holds the smallest key.
        }
        self.advance_top();
    }

    fn prev(&mut self) {
        if self.dir == Direction::Forward {
            // Put every other child at its last entry before the current key.
            let cur = self.heap[0];
            let key = self.children[cur].key().to_vec();
            for (i, c) in self.children.iter_mut().enumerate() {
                if i != cur {
                    c.seek(&key);
                    if c.valid() {
                        c.prev();
                    } else {
                        c.seek_to_last();
                    }
                }
            }
            self.dir = Direction::Reverse;
            self.rebuild();
        }
        self.advance_top();
    }

    fn key(&self) -> &[u8] {
        self.children[self.heap[0]].key()
    }

    fn value(&self) -> &[u8] {
        self.children[self.heap[0]].value()
    }

    fn value_view(&self) -> Option<crate::Value> {
        self.children[self.heap[0]].value_view()
    }

    fn status(&self) -> Result<()> {
        self.children.iter().try_for_each(|c| c.status())
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::key::Kind;
    use crate::memtable::MemTable;

    /// Compares a merge of several memtables with one memtable holding everything,
    /// over random cursor moves that switch direction often.
    #[test]
    fn merge_of_parts_behaves_like_the_whole() {
        for seed in 0..40u64 {
            let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
            let k = rng.random_range(1..6);
            let parts: Vec<MemTable> = (0..k).map(|_| MemTable::new()).collect();
            let whole = MemTable::new();
            let mut scratch = Vec::new();
            for seqno in 1..rng.random_range(1..300u64) {
                let key = format!("k{:03}", rng.random_range(0..60)).into_bytes();
                let part = &parts[rng.random_range(0..k)];
                part.add(&mut scratch, seqno, Kind::Put, &key, &seqno.to_le_bytes());
                whole.add(&mut scratch, seqno, Kind::Put, &key, &seqno.to_le_bytes());
            }
            let mut merged = MergingIter::new(
                parts.iter().map(|p| Box::new(p.iter()) as Box<dyn InternalIterator>).collect(),
            );
            let mut model = whole.iter();
            for step in 0..400 {
                let target = crate::key::lookup_key(
                    format!("k{:03}", rng.random_range(0..62)).as_bytes(),
                    rng.random_range(0..300),
                );
                match rng.random_range(0..10) {
                    0 => (merged.seek(&target), model.seek(&target)),
                    1 => (merged.seek_for_prev(&target), model.seek_for_prev(&target)),
                    2 => (merged.seek_to_first(), model.seek_to_first()),
                    3 => (merged.seek_to_last(), model.seek_to_last()),
                    4..=6 if model.valid() => (merged.next(), model.next()),
                    _ if model.valid() => (merged.prev(), model.prev()),
                    _ => ((), ()),
                };
                assert_eq!(merged.valid(), model.valid(), "seed {seed} step {step}");
                if model.valid() {
                    assert_eq!(merged.key(), model.key(), "seed {seed} step {step}");
                    assert_eq!(merged.value(), model.value(), "seed {seed} step {step}");
                }
            }
            assert!(merged.status().is_ok());
        }
    }

    /// A damaged block in the newer of two tables holding the same keys: the merge
    /// yields newest values up to the damage and then stops with the error; the older
    /// table's values never stand in for the part it could not read.
    #[test]
    fn a_failed_child_ends_the_merge_instead_of_letting_older_versions_through() {
        use std::path::Path;
        use std::sync::Arc;

        use crate::compaction::testing::{entry, TestTables};
        use crate::version::LazyTableIter;

        let t = TestTables::new();
        let keys: Vec<Vec<u8>> = (0..200).map(|i| format!("k{i:03}").into_bytes()).collect();
        let table = |seqno, value: &[u8]| {
            let entries: Vec<_> = keys.iter().map(|k| entry(k, seqno, Kind::Put, value)).collect();
            t.table(&entries)
        };
        let (newer, older) = (table(10, b"new-value-new-value"), table(1, b"old-value-old-value"));
        // Flip a byte in a data block near the middle of the newer table.
        let path =
            crate::filename::table_file(Path::new(crate::compaction::testing::DIR), newer.number);
        let mut bytes = t.fs.file_contents(&path).unwrap();
        bytes[newer.size as usize / 3] ^= 0x40;
        t.fs.write_file(&path, &bytes);

        let child = |f: &Arc<crate::version::FileMeta>| {
            Box::new(LazyTableIter::new(Arc::clone(&t.cache), Arc::clone(f)))
                as Box<dyn InternalIterator>
        };
        let mut merged = MergingIter::new(vec![child(&newer), child(&older)]);
        merged.seek_to_first();
        // Versions come newest first, so the first one of each user key must be new.
        let mut last_user_key: Option<Vec<u8>> = None;
        let mut keys_seen = 0;
        while merged.valid() {
            let user_key = crate::key::user_key(merged.key()).to_vec();
            if last_user_key.as_ref() != Some(&user_key) {
                let k = String::from_utf8_lossy(&user_key).into_owned();
                assert_eq!(merged.value(), b"new-value-new-value", "{k}: a stale value");
                keys_seen += 1;
                last_user_key = Some(user_key);
            }
            merged.next();
        }
        assert!(merged.status().unwrap_err().is_corruption());
        assert!(keys_seen < 200, "the damage was never met");
    }
}
