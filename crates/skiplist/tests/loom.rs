//! Loom model checks of the publication protocol between one writer and concurrent readers.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p mylsm-skiplist --test loom --release`.
//! Under `--cfg loom` the list's links, `max_height` and writer mutex are loom types, and a
//! loom cell shadows each node's plain bytes, so loom fails the model if any reader could read
//! a key or value that is not ordered after its write. The models are tiny on purpose: every
//! atomic access is a scheduling point, and the state space grows exponentially with them.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use mylsm_skiplist::{BytewiseComparator, Iter, SkipList};

/// Height-generator seed whose first three heights are 1, 2, 1, so that the second insert
/// raises `max_height` and is linked at two levels while readers run.
const SEED_1_2_1: u64 = 0x91b7_584a_2265_b1f5;
/// Seed whose first two heights are 2, 1: the very first node is already tall.
const SEED_2_1: u64 = 0x3e8;

fn value_of(key: u8) -> [u8; 2] {
    [key.wrapping_mul(3).wrapping_add(1), !key]
}

/// Walks from the cursor's position to the end, checking every entry, and returns the keys.
fn scan(mut it: Iter<'_, BytewiseComparator>) -> Vec<u8> {
    let mut keys = Vec::new();
    while it.valid() {
        let key = it.key();
        assert_eq!(key.len(), 1);
        assert_eq!(it.value(), value_of(key[0]), "entry not fully initialized");
        if let Some(&last) = keys.last() {
            assert!(last < key[0], "keys out of order");
        }
        keys.push(key[0]);
        it.next();
    }
    keys
}

#[test]
fn reader_sees_complete_entries_in_order() {
    loom::model(|| {
        let list = Arc::new(SkipList::loom_with_seed(BytewiseComparator, 256, SEED_1_2_1));
        // Number of inserts that have returned, so the reader knows which keys it must find.
        let published = Arc::new(AtomicUsize::new(0));
        let inserted = [2u8, 1, 3];

        let reader = {
            let (list, published) = (Arc::clone(&list), Arc::clone(&published));
            thread::spawn(move || {
                let known = published.load(Ordering::Acquire);
                let mut it = list.iter();
                it.seek_to_first();
                let keys = scan(it);
                for key in &inserted[..known] {
                    assert!(keys.contains(key), "published key {key} missing from {keys:?}");
                }
                let mut it = list.iter();
                it.seek(&[2]);
                if it.valid() {
                    assert!(it.key()[0] >= 2);
                    assert_eq!(it.value(), value_of(it.key()[0]));
                    it.prev();
                    if it.valid() {
                        assert!(it.key()[0] < 2);
                        assert_eq!(it.value(), value_of(it.key()[0]));
                    }
                }
            })
        };

        for (i, &key) in inserted.iter().enumerate() {
            assert!(list.insert(&[key], &value_of(key)));
            published.store(i + 1, Ordering::Release);
        }
        reader.join().unwrap();
    });
}

#[test]
fn two_readers_seek_while_a_tall_node_is_linked() {
    loom::model(|| {
        let list = Arc::new(SkipList::loom_with_seed(BytewiseComparator, 256, SEED_2_1));

        let forward = {
            let list = Arc::clone(&list);
            thread::spawn(move || {
                let mut it = list.iter();
                it.seek(&[5]);
                scan(it)
            })
        };
        let backward = {
            let list = Arc::clone(&list);
            thread::spawn(move || {
                let mut it = list.iter();
                it.seek_to_last();
                if it.valid() {
                    assert_eq!(it.value(), value_of(it.key()[0]));
                }
            })
        };

        assert!(list.insert(&[7], &value_of(7)));
        assert!(list.insert(&[3], &value_of(3)));
        let seen = forward.join().unwrap();
        assert!(seen.is_empty() || seen == [7]);
        backward.join().unwrap();
    });
}
