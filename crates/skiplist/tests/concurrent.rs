//! Stress tests running one writer against several lock-free readers on real threads.
#![cfg(not(loom))]

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use mylsm_skiplist::{ArcIter, BytewiseComparator, SkipList};
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Entries written by the writer; far fewer under Miri, which runs code very slowly.
const ENTRIES: u64 = if cfg!(miri) { 60 } else { 20_000 };
const READERS: usize = 3;

fn key_of(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// The value belonging to a key: its length and bytes both depend on the key, so a reader
/// that saw a half-written entry, or the value of another entry, would notice.
fn value_of(key: &[u8]) -> Vec<u8> {
    let n = u64::from_be_bytes(key.try_into().expect("keys are 8 bytes"));
    let len = (n % 13) as usize * 3;
    let mixed = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (0..len).map(|i| (mixed >> ((i % 8) * 8)) as u8 ^ i as u8).collect()
}

/// Inserts `order` with one writer while `READERS` threads scan and seek the list, checking
/// sortedness, values, and that everything published before a scan started is in the scan.
fn run(order: Vec<u64>) {
    let list = Arc::new(SkipList::with_block_size(BytewiseComparator, 4096));
    let order = Arc::new(order);
    // `published` = number of entries of `order` whose insert has returned; Release/Acquire
    // on it is what makes "published before the scan started" a happens-before fact.
    let published = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));

    let readers: Vec<_> = (0..READERS)
        .map(|id| {
            let (list, order) = (Arc::clone(&list), Arc::clone(&order));
            let (published, done) = (Arc::clone(&published), Arc::clone(&done));
            thread::spawn(move || {
                let mut scans = 0usize;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let known = published.load(Ordering::Acquire);
                    let mut seen = HashSet::new();
                    let mut it = ArcIter::new(Arc::clone(&list));
                    it.seek_to_first();
                    let mut last: Option<Vec<u8>> = None;
                    while it.valid() {
                        let key = it.key().to_vec();
                        assert_eq!(it.value(), value_of(&key), "reader {id}: wrong value");
                        if let Some(prev) = &last {
                            assert!(prev < &key, "reader {id}: keys out of order");
                        }
                        seen.insert(u64::from_be_bytes(key[..].try_into().unwrap()));
                        last = Some(key);
                        it.next();
                    }
                    for n in &order[..known] {
                        assert!(seen.contains(n), "reader {id}: published key {n} missing");
                    }
                    if known > 0 {
                        // A point lookup of a published key must land exactly on it.
                        let n = order[known / 2];
                        let mut it = list.iter();
                        it.seek(&key_of(n));
                        assert_eq!(it.key(), key_of(n));
                        it.seek_for_prev(&key_of(n));
                        assert_eq!(it.value(), value_of(&key_of(n)));
                    }
                    scans += 1;
                    if finished {
                        assert_eq!(seen.len(), order.len());
                        return scans;
                    }
                }
            })
        })
        .collect();

    for (i, &n) in order.iter().enumerate() {
        let key = key_of(n);
        assert!(list.insert(&key, &value_of(&key)));
        published.store(i + 1, Ordering::Release);
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        let scans = reader.join().expect("reader panicked");
        assert!(scans >= 1);
    }
    assert_eq!(list.len() as u64, ENTRIES);
}

#[test]
fn readers_see_sorted_complete_prefix_with_increasing_keys() {
    run((0..ENTRIES).collect());
}

#[test]
fn readers_see_sorted_complete_prefix_with_random_keys() {
    let mut order: Vec<u64> = (0..ENTRIES).map(|n| n * 7919).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(42));
    run(order);
}

#[test]
fn racing_writers_are_serialized() {
    let list = Arc::new(SkipList::new(BytewiseComparator));
    let per_thread = ENTRIES / 4;
    let writers: Vec<_> = (0..4u64)
        .map(|t| {
            let list = Arc::clone(&list);
            thread::spawn(move || {
                // Every thread also inserts the keys of thread 0, to race on duplicates.
                for i in 0..per_thread {
                    let key = key_of(i * 4 + t);
                    list.insert(&key, &value_of(&key));
                    let shared = key_of(i * 4);
                    list.insert(&shared, &value_of(&shared));
                }
            })
        })
        .collect();
    for writer in writers {
        writer.join().expect("writer panicked");
    }
    assert_eq!(list.len() as u64, per_thread * 4);
    let mut it = list.iter();
    it.seek_to_first();
    let mut count = 0u64;
    while it.valid() {
        assert_eq!(it.key(), key_of(count));
        assert_eq!(it.value(), value_of(it.key()));
        count += 1;
        it.next();
    }
    assert_eq!(count, per_thread * 4);
}
