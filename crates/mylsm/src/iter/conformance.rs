//! One conformance harness for every kind of internal iterator: random walks of seeks
//! and steps compared, after every move, with a model over the sorted entries (the idea
//! of LevelDB's `table/table_test.cc`).
//!
//! Sources that apply it: the memtable (below), data blocks (`sstable/block_tests.rs`)
//! and tables (`sstable/table_tests.rs`).

use std::cmp::Ordering;

use mylsm_skiplist::Comparator;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::InternalIterator;
use crate::key::{self, InternalKeyComparator, Kind, MAX_SEQNO};

/// An internal entry: (internal key, value).
pub(crate) type Entry = (Vec<u8>, Vec<u8>);
/// Sorted internal entries.
pub(crate) type Entries = [Entry];

fn cmp(a: &[u8], b: &[u8]) -> Ordering {
    InternalKeyComparator.compare(a, b)
}

/// The model: a position in `entries`, moved as the iterator contract says.
struct Model<'a> {
    entries: &'a Entries,
    pos: Option<usize>,
}

impl Model<'_> {
    fn seek(&mut self, t: &[u8]) {
        let i = self.entries.partition_point(|(k, _)| cmp(k, t) == Ordering::Less);
        self.pos = (i < self.entries.len()).then_some(i);
    }
    fn seek_for_prev(&mut self, t: &[u8]) {
        let i = self.entries.partition_point(|(k, _)| cmp(k, t) != Ordering::Greater);
        self.pos = i.checked_sub(1);
    }
    fn first(&mut self) {
        self.pos = (!self.entries.is_empty()).then_some(0);
    }
    fn last(&mut self) {
        self.pos = self.entries.len().checked_sub(1);
    }
    fn next(&mut self) {
        self.pos = self.pos.map(|p| p + 1).filter(|&p| p < self.entries.len());
    }
    fn prev(&mut self) {
        self.pos = self.pos.and_then(|p| p.checked_sub(1));
    }
}

/// A seek target: an entry's key, or one near it, between two, or beyond them all.
fn target(rng: &mut SmallRng, entries: &Entries) -> Vec<u8> {
    let pick = |rng: &mut SmallRng| &entries[rng.random_range(0..entries.len())].0;
    let choice =
        if entries.is_empty() { 5 + rng.random_range(0..3) } else { rng.random_range(0..8) };
    match choice {
        0 => pick(rng).clone(),
        1 => key::lookup_key(key::user_key(pick(rng)), rng.random_range(0..=MAX_SEQNO)),
        2 => {
            let mut uk = key::user_key(pick(rng)).to_vec();
            uk.push(rng.random());
            key::lookup_key(&uk, rng.random_range(0..100))
        }
        3 => {
            let uk = key::user_key(pick(rng));
            key::lookup_key(&uk[..rng.random_range(0..=uk.len())], MAX_SEQNO)
        }
        4 => {
            let uk: Vec<u8> = (0..rng.random_range(0..4)).map(|_| rng.random()).collect();
            key::lookup_key(&uk, rng.random_range(0..1000))
        }
        5 => key::lookup_key(b"", MAX_SEQNO),
        6 => key::lookup_key(&[0xff; 70], 0),
        _ => {
            let mut k = Vec::new();
            key::append_internal_key(&mut k, b"m", 0, Kind::Delete);
            k
        }
    }
}

fn check_position(it: &dyn InternalIterator, m: &Model<'_>, what: &str) {
    it.status().unwrap_or_else(|e| panic!("{what}: unexpected error {e}"));
    match m.pos {
        None => assert!(!it.valid(), "{what}: iterator valid, model exhausted"),
        Some(p) => {
            assert!(it.valid(), "{what}: iterator exhausted, model at {p}");
            let (k, v) = &m.entries[p];
            assert_eq!(it.key(), &k[..], "{what}: key at model position {p}");
            assert_eq!(it.value(), &v[..], "{what}: value at model position {p}");
        }
    }
}

/// Checks an iterator over `entries` (sorted internal keys, no duplicates) against the
/// model: full scans both ways, a seek to every key, then random walks of seeks,
/// steps and direction switches. `make` builds a fresh, unpositioned iterator.
pub(crate) fn check_iterator(
    entries: &Entries,
    make: &dyn Fn() -> Box<dyn InternalIterator>,
    seed: u64,
) {
    assert!(entries.windows(2).all(|w| cmp(&w[0].0, &w[1].0) == Ordering::Less));
    let mut it = make();
    assert!(!it.valid(), "a new iterator starts unpositioned");
    let mut m = Model { entries, pos: None };

    it.seek_to_first();
    m.first();
    while m.pos.is_some() {
        check_position(it.as_ref(), &m, "forward scan");
        it.next();
        m.next();
    }
    check_position(it.as_ref(), &m, "end of forward scan");
    it.seek_to_last();
    m.last();
    while m.pos.is_some() {
        check_position(it.as_ref(), &m, "backward scan");
        it.prev();
        m.prev();
    }
    check_position(it.as_ref(), &m, "end of backward scan");
    for (k, _) in entries {
        it.seek(k);
        m.seek(k);
        check_position(it.as_ref(), &m, "seek to an existing key");
        it.seek_for_prev(k);
        m.seek_for_prev(k);
        check_position(it.as_ref(), &m, "seek_for_prev to an existing key");
    }

    let mut rng = SmallRng::seed_from_u64(seed);
    for walk in 0..20 {
        let mut it = make();
        let mut m = Model { entries, pos: None };
        for step in 0..100 {
            let what = match rng.random_range(0..10) {
                0 | 1 => {
                    let t = target(&mut rng, entries);
                    it.seek(&t);
                    m.seek(&t);
                    "seek"
                }
                2 | 3 => {
                    let t = target(&mut rng, entries);
                    it.seek_for_prev(&t);
                    m.seek_for_prev(&t);
                    "seek_for_prev"
                }
                4 => {
                    it.seek_to_first();
                    m.first();
                    "seek_to_first"
                }
                5 => {
                    it.seek_to_last();
                    m.last();
                    "seek_to_last"
                }
                6 | 7 if m.pos.is_some() => {
                    it.next();
                    m.next();
                    "next"
                }
                _ if m.pos.is_some() => {
                    it.prev();
                    m.prev();
                    "prev"
                }
                _ => continue,
            };
            check_position(it.as_ref(), &m, &format!("walk {walk} step {step}: {what}"));
        }
    }
}

/// Shapes of keys and values the per-source tests draw from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyShape {
    /// Short random binary user keys, zero bytes and 0xff included.
    Binary,
    /// User keys sharing a long prefix, as prefix compression sees in practice.
    LongSharedPrefix,
    /// Few distinct user keys (the empty one included), each with many versions.
    ManyVersions,
    /// Values of up to 20 KiB, larger than a default block.
    LargeValues,
}

pub(crate) const ALL_SHAPES: [KeyShape; 4] =
    [KeyShape::Binary, KeyShape::LongSharedPrefix, KeyShape::ManyVersions, KeyShape::LargeValues];

/// `n` random entries of `shape`, sorted and with distinct internal keys.
pub(crate) fn random_entries(shape: KeyShape, n: usize, seed: u64) -> Vec<Entry> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut out: Vec<Entry> = Vec::with_capacity(n);
    for seqno in 1..=n as u64 {
        let user_key: Vec<u8> = match shape {
            KeyShape::Binary | KeyShape::LargeValues => {
                (0..rng.random_range(0..12)).map(|_| rng.random()).collect()
            }
            KeyShape::LongSharedPrefix => {
                let mut k = vec![b'p'; 200];
                k.extend(format!("{:06}", rng.random_range(0..n * 4)).bytes());
                k
            }
            KeyShape::ManyVersions => vec![b'v'; rng.random_range(0..4)],
        };
        let kind = if rng.random_bool(0.2) { Kind::Delete } else { Kind::Put };
        let value_len = match shape {
            KeyShape::LargeValues => rng.random_range(0..20_000),
            _ => rng.random_range(0..40),
        };
        let value = (0..value_len).map(|i| (i as u8).wrapping_add(seqno as u8)).collect();
        let mut ik = Vec::new();
        key::append_internal_key(&mut ik, &user_key, seqno, kind);
        out.push((ik, value));
    }
    out.sort_by(|a, b| cmp(&a.0, &b.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memtable::MemTable;

    fn memtable_of(entries: &Entries) -> MemTable {
        let m = MemTable::new();
        let mut scratch = Vec::new();
        for (k, v) in entries {
            let p = key::parse_internal_key(k).unwrap();
            m.add(&mut scratch, p.seqno, p.kind, p.user_key, v);
        }
        m
    }

    #[test]
    fn memtable_iterator_conforms() {
        for (i, shape) in ALL_SHAPES.into_iter().enumerate() {
            let entries = random_entries(shape, 300, i as u64);
            let m = memtable_of(&entries);
            check_iterator(&entries, &|| Box::new(m.iter()), 100 + i as u64);
        }
    }

    #[test]
    fn merging_iterator_conforms_over_sources_of_every_size() {
        use crate::iter::merge::MergingIter;
        for (i, shape) in ALL_SHAPES.into_iter().enumerate() {
            let entries = random_entries(shape, 400, 50 + i as u64);
            for parts in [1usize, 2, 5] {
                // Deal entries to the sources; the last one stays empty.
                let mut sources: Vec<Vec<Entry>> = vec![Vec::new(); parts + 1];
                for (j, e) in entries.iter().enumerate() {
                    sources[j * 7 % parts].push(e.clone());
                }
                let mems: Vec<MemTable> = sources.iter().map(|s| memtable_of(s)).collect();
                let make = || {
                    let children = mems
                        .iter()
                        .map(|m| Box::new(m.iter()) as Box<dyn InternalIterator>)
                        .collect();
                    Box::new(MergingIter::new(children)) as Box<dyn InternalIterator>
                };
                check_iterator(&entries, &make, 200 + parts as u64);
            }
        }
        check_iterator(&[], &|| Box::new(MergingIter::new(Vec::new())), 9);
    }

    #[test]
    fn empty_memtable_iterator_conforms() {
        let m = MemTable::new();
        check_iterator(&[], &|| Box::new(m.iter()), 7);
    }
}
