//! Unit tests for `SkipList` construction, insertion and memory accounting.

use super::*;
use crate::BytewiseComparator;

fn list() -> SkipList<BytewiseComparator> {
    SkipList::new(BytewiseComparator)
}

fn collect<C: Comparator>(list: &SkipList<C>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut it = list.iter();
    it.seek_to_first();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    out
}

#[test]
fn empty_list() {
    let list = list();
    assert!(list.is_empty());
    assert_eq!(list.len(), 0);
    assert!(list.first().is_none());
    assert!(list.find_last().is_none());
    assert!(list.find_greater_or_equal(b"a", None).is_none());
    assert!(collect(&list).is_empty());
}

#[test]
fn inserts_come_back_sorted() {
    let list = list();
    for key in [&b"m"[..], b"c", b"x", b"a", b"", b"mm"] {
        assert!(list.insert(key, &[key.len() as u8]));
    }
    let keys: Vec<Vec<u8>> = collect(&list).into_iter().map(|(k, _)| k).collect();
    let expected: Vec<Vec<u8>> =
        [&b""[..], b"a", b"c", b"m", b"mm", b"x"].iter().map(|k| k.to_vec()).collect();
    assert_eq!(keys, expected);
    assert_eq!(list.len(), 6);
    assert!(!list.is_empty());
}

#[test]
fn duplicates_are_rejected_and_keep_the_first_value() {
    let list = list();
    assert!(list.insert(b"k", b"first"));
    assert!(!list.insert(b"k", b"second"));
    assert_eq!(list.len(), 1);
    assert_eq!(collect(&list), vec![(b"k".to_vec(), b"first".to_vec())]);
}

#[test]
fn values_larger_than_a_block_are_stored_intact() {
    let list = SkipList::with_block_size(BytewiseComparator, 128);
    let big: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    assert!(list.insert(b"big", &big));
    assert!(list.insert(b"a", b"small"));
    assert!(list.insert(b"z", &big[..300]));
    assert!(list.memory_usage() >= 10_000 + 300);
    let entries = collect(&list);
    assert_eq!(entries[0], (b"a".to_vec(), b"small".to_vec()));
    assert_eq!(entries[1], (b"big".to_vec(), big.clone()));
    assert_eq!(entries[2], (b"z".to_vec(), big[..300].to_vec()));
}

#[test]
fn memory_usage_grows_with_inserts() {
    let list = SkipList::with_block_size(BytewiseComparator, 1024);
    let initial = list.memory_usage();
    assert!(initial > 0, "the head node already lives in the arena");
    for i in 0..200u32 {
        list.insert(&i.to_be_bytes(), &[0; 16]);
    }
    assert!(list.memory_usage() >= initial + 200 * 16);
}

#[test]
fn heights_are_geometric_and_bounded() {
    let mut rng = XorShift64::new(DEFAULT_SEED);
    let mut counts = [0usize; MAX_HEIGHT + 1];
    for _ in 0..100_000 {
        counts[rng.random_height()] += 1;
    }
    assert_eq!(counts[0], 0);
    // About 3/4 of the heights should be 1 and about 3/16 should be 2.
    assert!((70_000..80_000).contains(&counts[1]), "{counts:?}");
    assert!((16_000..21_000).contains(&counts[2]), "{counts:?}");
}

#[test]
fn zero_seed_does_not_stick() {
    let mut rng = XorShift64::new(0);
    assert_ne!(rng.next_u64(), 0);
}

#[test]
fn custom_comparator_orders_entries() {
    struct Reverse;
    impl Comparator for Reverse {
        fn compare(&self, a: &[u8], b: &[u8]) -> KeyOrdering {
            b.cmp(a)
        }
    }
    let list = SkipList::new(Reverse);
    for key in [&b"b"[..], b"a", b"c"] {
        list.insert(key, b"");
    }
    let keys: Vec<Vec<u8>> = collect(&list).into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, vec![b"c".to_vec(), b"b".to_vec(), b"a".to_vec()]);
    assert!(list.comparator().compare(b"a", b"b").is_gt());
}

#[test]
fn poisoned_writer_lock_is_recovered() {
    struct Picky;
    impl Comparator for Picky {
        fn compare(&self, a: &[u8], b: &[u8]) -> KeyOrdering {
            assert!(a != b"boom" && b != b"boom", "comparator refuses this key");
            a.cmp(b)
        }
    }
    let list = SkipList::new(Picky);
    list.insert(b"a", b"1");
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| list.insert(b"boom", b"")));
    assert!(result.is_err());
    assert!(list.insert(b"b", b"2"));
    assert_eq!(list.len(), 2);
}

#[test]
fn debug_shows_len() {
    let list = list();
    list.insert(b"a", b"");
    assert!(format!("{list:?}").contains("len: 1"));
}

/// Checks invariant 4 level by level: every level is strictly increasing, and each level's
/// nodes are a subsequence of the level below. Returns the keys of level 0.
fn check_levels<C: Comparator>(list: &SkipList<C>) -> Vec<Vec<u8>> {
    let mut below: Vec<NodeRef<'_>> = Vec::new();
    for level in (0..MAX_HEIGHT).rev() {
        let mut nodes = Vec::new();
        let mut x = list.head().next(level);
        while let Some(n) = x {
            assert!(n.height() > level, "a node of height {} at level {level}", n.height());
            if let Some(&last) = nodes.last() {
                let last: NodeRef<'_> = last;
                assert_eq!(list.cmp.compare(last.key(), n.key()), KeyOrdering::Less);
            }
            nodes.push(n);
            x = n.next(level);
        }
        let mut upper = below.iter().peekable();
        for n in &nodes {
            if upper.peek() == Some(&n) {
                upper.next();
            }
        }
        assert!(
            upper.peek().is_none(),
            "level {} is not a subsequence of level {level}",
            level + 1
        );
        below = nodes;
    }
    below.iter().map(|n| n.key().to_vec()).collect()
}

#[test]
fn ascending_runs_between_random_keys_keep_every_level_sorted() {
    // Runs of ascending keys (the splice path) start at random places, go backwards and
    // forwards across earlier runs, repeat keys, and alternate with random single keys
    // (the search from the head), so the splice is used, invalidated and rebuilt.
    let list = SkipList::with_block_size(BytewiseComparator, 4096);
    let mut model = std::collections::BTreeSet::new();
    let mut rng = XorShift64::new(7);
    for _ in 0..300 {
        let start = rng.next_u64() % 5_000;
        let len = rng.next_u64() % 60;
        let step = 1 + rng.next_u64() % 3;
        for i in 0..len {
            let key = format!("{:05}", start + i * step).into_bytes();
            assert_eq!(list.insert(&key, b"v"), model.insert(key.clone()), "{key:?}");
        }
        let key = format!("{:05}", rng.next_u64() % 5_000).into_bytes();
        assert_eq!(list.insert(&key, b"v"), model.insert(key.clone()), "{key:?}");
    }
    assert!(list.max_height() >= 5, "tall enough to test the climb");
    let keys = check_levels(&list);
    assert_eq!(keys, model.iter().cloned().collect::<Vec<_>>());
    assert_eq!(list.len(), model.len());
    for key in &model {
        let found = list.find_greater_or_equal(key, None).expect("present");
        assert_eq!(found.key(), &key[..]);
    }
}
