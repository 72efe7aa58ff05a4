//! Property tests comparing the skip list and its cursors step by step with a `BTreeMap`.
#![cfg(not(loom))]

use std::cmp::{Ordering, Reverse};
use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

use mylsm_skiplist::{ArcIter, BytewiseComparator, Comparator, SkipList};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// One step of a test: an insert or a cursor movement.
#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Seek(Vec<u8>),
    SeekForPrev(Vec<u8>),
    Next,
    Prev,
    First,
    Last,
}

/// Short keys over a tiny alphabet, so that seeks often hit existing keys and neighbours.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0u8..4, 0..4)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..40)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (key(), value()).prop_map(|(k, v)| Op::Insert(k, v)),
        2 => key().prop_map(Op::Seek),
        2 => key().prop_map(Op::SeekForPrev),
        3 => Just(Op::Next),
        3 => Just(Op::Prev),
        1 => Just(Op::First),
        1 => Just(Op::Last),
    ]
}

/// Fewer cases under Miri, which is several orders of magnitude slower; no regression file
/// there either, because Miri's isolation forbids touching the file system.
fn config() -> Config {
    if cfg!(miri) {
        Config { cases: 4, failure_persistence: None, ..Config::default() }
    } else {
        Config::with_cases(256)
    }
}

/// How the model orders keys: the identity for bytewise order, `Reverse` for reverse order.
trait ModelKey: Ord + Clone + std::fmt::Debug {
    fn wrap(key: &[u8]) -> Self;
}

impl ModelKey for Vec<u8> {
    fn wrap(key: &[u8]) -> Self {
        key.to_vec()
    }
}

impl ModelKey for Reverse<Vec<u8>> {
    fn wrap(key: &[u8]) -> Self {
        Reverse(key.to_vec())
    }
}

/// Orders keys in reverse bytewise order.
struct ReverseComparator;

impl Comparator for ReverseComparator {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        b.cmp(a)
    }
}

/// Runs `ops` against a list with comparator `cmp` and a model ordered by `K`, both for a
/// borrowing `Iter` and an owning `ArcIter`, checking the cursor after every step.
fn check<K: ModelKey, C: Comparator>(
    cmp: C,
    block_size: usize,
    initial: &[(Vec<u8>, Vec<u8>)],
    ops: &[Op],
) -> Result<(), TestCaseError> {
    let list = std::sync::Arc::new(SkipList::with_block_size(cmp, block_size));
    let mut model: BTreeMap<K, Vec<u8>> = BTreeMap::new();
    for (k, v) in initial {
        let fresh = !model.contains_key(&K::wrap(k));
        prop_assert_eq!(list.insert(k, v), fresh);
        model.entry(K::wrap(k)).or_insert_with(|| v.clone());
    }
    let mut it = list.iter();
    let mut arc_it = ArcIter::new(list.clone());
    let mut pos: Option<K> = None;
    for op in ops {
        let found = match op {
            Op::Insert(k, v) => {
                let fresh = !model.contains_key(&K::wrap(k));
                prop_assert_eq!(list.insert(k, v), fresh);
                model.entry(K::wrap(k)).or_insert_with(|| v.clone());
                prop_assert_eq!(list.len(), model.len());
                continue;
            }
            Op::Seek(t) => {
                it.seek(t);
                arc_it.seek(t);
                model.range(K::wrap(t)..).next()
            }
            Op::SeekForPrev(t) => {
                it.seek_for_prev(t);
                arc_it.seek_for_prev(t);
                model.range(..=K::wrap(t)).next_back()
            }
            Op::First => {
                it.seek_to_first();
                arc_it.seek_to_first();
                model.iter().next()
            }
            Op::Last => {
                it.seek_to_last();
                arc_it.seek_to_last();
                model.iter().next_back()
            }
            // Moving an invalid cursor is a caller bug, so the model only moves valid ones.
            Op::Next | Op::Prev if pos.is_none() => continue,
            Op::Next => {
                it.next();
                arc_it.next();
                model.range((Excluded(pos.clone().unwrap()), Unbounded)).next()
            }
            Op::Prev => {
                it.prev();
                arc_it.prev();
                model.range(..pos.clone().unwrap()).next_back()
            }
        };
        pos = found.map(|(k, _)| k.clone());
        prop_assert_eq!(it.valid(), found.is_some());
        prop_assert_eq!(arc_it.valid(), found.is_some());
        if let Some((k, v)) = found {
            prop_assert_eq!(&K::wrap(it.key()), k);
            prop_assert_eq!(it.value(), &v[..]);
            prop_assert_eq!(&K::wrap(arc_it.key()), k);
            prop_assert_eq!(arc_it.value(), &v[..]);
        }
    }
    // A final full scan must match the model exactly, in both directions.
    let mut forward = Vec::new();
    it.seek_to_first();
    while it.valid() {
        forward.push((K::wrap(it.key()), it.value().to_vec()));
        it.next();
    }
    prop_assert_eq!(&forward, &model.clone().into_iter().collect::<Vec<_>>());
    let mut backward = Vec::new();
    it.seek_to_last();
    while it.valid() {
        backward.push((K::wrap(it.key()), it.value().to_vec()));
        it.prev();
    }
    backward.reverse();
    prop_assert_eq!(backward, forward);
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bytewise_matches_btreemap(
        initial in prop::collection::vec((key(), value()), 0..64),
        ops in prop::collection::vec(op(), 0..64),
        block_size in prop_oneof![Just(64usize), Just(4096)],
    ) {
        check::<Vec<u8>, _>(BytewiseComparator, block_size, &initial, &ops)?;
    }

    #[test]
    fn reverse_comparator_matches_btreemap(
        initial in prop::collection::vec((key(), value()), 0..64),
        ops in prop::collection::vec(op(), 0..64),
    ) {
        check::<Reverse<Vec<u8>>, _>(ReverseComparator, 4096, &initial, &ops)?;
    }
}
