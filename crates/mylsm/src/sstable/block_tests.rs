//! Block tests: round trips over restart intervals and key shapes through the iterator
//! conformance harness, and malformed blocks that must fail cleanly.

use super::block::BlockIter;
use super::test_util::{build_block, ikey, open_block};
use crate::iter::conformance::{check_iterator, random_entries, ALL_SHAPES};
use crate::iter::InternalIterator;
use crate::key::Kind;

const RESTART_INTERVALS: [usize; 4] = [1, 2, 16, 100];

#[test]
fn blocks_round_trip_through_the_conformance_harness() {
    for (s, shape) in ALL_SHAPES.into_iter().enumerate() {
        for (r, interval) in RESTART_INTERVALS.into_iter().enumerate() {
            let seed = (s * 10 + r) as u64;
            let entries = random_entries(shape, 200, seed);
            let block = open_block(&build_block(&entries, interval)).unwrap();
            check_iterator(&entries, &|| Box::new(block.iter()), seed);
        }
    }
}

#[test]
fn an_empty_block_conforms() {
    let block = open_block(&build_block(&[], 16)).unwrap();
    check_iterator(&[], &|| Box::new(block.iter()), 1);
}

#[test]
fn prefix_compression_shrinks_keys_with_shared_prefixes() {
    let entries: Vec<_> = (0..100u32)
        .map(|i| (ikey(format!("{:0>60}", i).as_bytes(), 1, Kind::Put), vec![]))
        .collect();
    let raw: usize = entries.iter().map(|(k, _)| k.len()).sum();
    assert!(build_block(&entries, 16).len() < raw / 4);
}

#[test]
fn values_are_zero_copy_views_of_the_block() {
    let entries = vec![(ikey(b"a", 2, Kind::Put), b"hello".to_vec())];
    let block = open_block(&build_block(&entries, 16)).unwrap();
    let mut it: BlockIter = block.iter();
    it.seek_to_first();
    let v = it.value_slice();
    assert_eq!(&*v, b"hello");
    assert_eq!(v, crate::Value::copy_from(b"hello"));
}

#[test]
fn malformed_restart_arrays_are_refused_at_open() {
    let entries = random_entries(crate::iter::conformance::KeyShape::Binary, 50, 3);
    let good = build_block(&entries, 4);
    assert!(open_block(&good[..3]).unwrap_err().is_corruption());
    for bad_count in [0u32, u32::MAX, (good.len() / 4) as u32] {
        let mut b = good.clone();
        let n = b.len();
        b[n - 4..].copy_from_slice(&bad_count.to_le_bytes());
        assert!(open_block(&b).unwrap_err().is_corruption(), "count {bad_count}");
    }
    // The first restart must be 0, and later ones must increase inside the entries.
    let n = good.len();
    let restarts = (n - 4 - 4 * 13)..(n - 4);
    for (slot, value) in [(0, 1u32), (1, 0), (2, u32::MAX), (12, (n - 4 - 4 * 13) as u32)] {
        let mut b = good.clone();
        let at = restarts.start + 4 * slot;
        b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        let err = open_block(&b).unwrap_err();
        assert!(err.to_string().contains("000042.sst"), "{err}");
        assert!(err.to_string().contains("offset 4096"), "{err}");
    }
}

/// Every single-byte change of a block's entries either leaves the iterator reading
/// valid entries or stops it with `Corruption`; it never panics or loops.
#[test]
fn damaged_entries_stop_the_iterator_with_corruption_and_never_panic() {
    let entries = random_entries(crate::iter::conformance::KeyShape::LongSharedPrefix, 40, 9);
    let good = build_block(&entries, 4);
    let mut corruptions = 0;
    for at in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut b = good.clone();
            b[at] ^= flip;
            let Ok(block) = open_block(&b) else { continue };
            let mut it = block.iter();
            let mut steps = 0;
            it.seek_to_first();
            while it.valid() && steps <= entries.len() * 2 {
                it.next();
                steps += 1;
            }
            assert!(steps <= entries.len() * 2, "byte {at}: runaway iteration");
            it.seek_to_last();
            while it.valid() && steps <= entries.len() * 4 {
                it.prev();
                steps += 1;
            }
            for (k, _) in entries.iter().step_by(7) {
                it.seek(k);
                it.seek_for_prev(k);
            }
            if let Err(e) = it.status() {
                assert!(e.is_corruption());
                assert!(e.to_string().contains("offset 4096"), "{e}");
                assert!(!it.valid());
                corruptions += 1;
            }
        }
    }
    // Damage to key and value bytes is the block checksum's to catch; damage to the
    // lengths and restarts must be caught here.
    assert!(corruptions > 0);
}

#[test]
fn a_block_shared_by_many_iterators_is_read_independently() {
    let entries = random_entries(crate::iter::conformance::KeyShape::Binary, 64, 4);
    let block = open_block(&build_block(&entries, 16)).unwrap();
    let mut a = block.iter();
    let mut b = block.iter();
    a.seek_to_first();
    b.seek_to_last();
    assert_eq!(a.key(), &entries[0].0[..]);
    assert_eq!(b.key(), &entries[entries.len() - 1].0[..]);
    a.next();
    assert_eq!(a.key(), &entries[1].0[..]);
    assert_eq!(b.key(), &entries[entries.len() - 1].0[..]);
}
