//! Picker tests: scores and triggers, input selection, trivial moves, bottommost
//! detection and manual ranges, over versions built from metadata alone.

use std::sync::Arc;

use super::testing::meta;
use super::{level_targets, pick, pick_range, scores, Compaction, CompactionOptions};
use crate::version::{FileMeta, Version, VersionEdit, NUM_LEVELS};

const MIB: u64 = 1 << 20;

/// A version holding `files` as (level, file).
fn version(files: &[(usize, Arc<FileMeta>)]) -> Version {
    let added = files.iter().map(|(l, f)| (*l, FileMeta::clone(f))).collect();
    Version::default().apply(&VersionEdit { added, ..VersionEdit::default() }).unwrap()
}

fn numbers(files: &[Arc<FileMeta>]) -> Vec<u64> {
    files.iter().map(|f| f.number).collect()
}

fn small_levels() -> CompactionOptions {
    CompactionOptions { max_bytes_for_level_base: 10 * MIB, ..CompactionOptions::default() }
}

#[test]
fn level_targets_grow_by_the_multiplier_from_the_base() {
    let t = level_targets(&small_levels());
    assert_eq!(t[0], 0);
    assert_eq!(t[1], 10 * MIB);
    assert_eq!(t[2], 100 * MIB);
    assert_eq!(t[NUM_LEVELS - 1], 10 * MIB * 10u64.pow(NUM_LEVELS as u32 - 2));
}

#[test]
fn l0_compacts_once_it_holds_trigger_files() {
    let mut files: Vec<_> = (1..=3).map(|n| (0, meta(n, b"a", b"m", MIB))).collect();
    files.push((1, meta(10, b"k", b"p", MIB)));
    files.push((1, meta(11, b"q", b"z", MIB)));
    let opts = CompactionOptions::default();
    assert!(pick(&version(&files), &opts).is_none(), "3 of 4 files do not trigger");
    assert_eq!(scores(&version(&files), &opts)[0], 0.75);

    files.push((0, meta(4, b"b", b"c", MIB)));
    let c = pick(&version(&files), &opts).expect("4 files trigger");
    assert_eq!((c.level, c.output_level), (0, 1));
    assert_eq!(numbers(&c.inputs), [4, 3, 2, 1], "all of L0, newest first");
    assert_eq!(numbers(&c.next_inputs), [10], "only the L1 file overlapping a..m");
    assert!(!c.trivial_move);
    assert!(c.bottommost);
}

#[test]
fn l0_takes_the_group_overlapping_its_oldest_file_and_no_more() {
    // Oldest first: 1 [a,c], 2 [x,z], 3 [c,e], 4 [e,g]; 4 meets 1 only through 3.
    let files = [
        (0, meta(1, b"a", b"c", MIB)),
        (0, meta(2, b"x", b"z", MIB)),
        (0, meta(3, b"c", b"e", MIB)),
        (0, meta(4, b"e", b"g", MIB)),
    ];
    let c = pick(&version(&files), &CompactionOptions::default()).unwrap();
    assert_eq!(numbers(&c.inputs), [4, 3, 1]);
    let c = pick_range(&version(&files), 0, Some(b"f"), Some(b"f")).unwrap();
    assert_eq!(numbers(&c.inputs), [4, 3, 1], "a manual range expands the same way");
}

#[test]
fn the_level_furthest_over_its_target_is_picked() {
    // L1 holds twice its 10 MiB target, L2 three times its 100 MiB target.
    let mut files = vec![(1, meta(1, b"a", b"b", 20 * MIB))];
    for (i, k) in [b"c", b"d", b"e"].into_iter().enumerate() {
        files.push((2, meta(10 + i as u64, k, k, 100 * MIB)));
    }
    let v = version(&files);
    let s = scores(&v, &small_levels());
    assert_eq!((s[1], s[2]), (2.0, 3.0));
    let c = pick(&v, &small_levels()).unwrap();
    assert_eq!((c.level, c.output_level), (2, 3));
    // Nothing is below L2, so each L2 file moves down untouched.
    assert!(c.trivial_move && c.bottommost);
    assert_eq!(c.inputs.len(), 1);
}

#[test]
fn the_ln_file_with_least_overlap_below_is_chosen_with_its_overlapping_files() {
    let files = [
        (1, meta(1, b"a", b"f", 6 * MIB)),
        (1, meta(2, b"g", b"m", 6 * MIB)),
        (2, meta(10, b"a", b"c", 30 * MIB)),
        (2, meta(11, b"d", b"h", 10 * MIB)),
        (2, meta(12, b"i", b"k", 10 * MIB)),
        (2, meta(13, b"n", b"z", 10 * MIB)),
    ];
    let c = pick(&version(&files), &small_levels()).unwrap();
    // File 1 overlaps 40 MiB below, file 2 overlaps 20 MiB: file 2 is cheaper.
    assert_eq!(numbers(&c.inputs), [2]);
    assert_eq!(numbers(&c.next_inputs), [11, 12]);
    assert!(!c.trivial_move);
}

#[test]
fn a_lone_file_with_nothing_below_is_a_trivial_move() {
    let files = [(0, meta(1, b"a", b"c", MIB)), (1, meta(2, b"d", b"f", MIB))];
    let opts = CompactionOptions { l0_compaction_trigger: 1, ..CompactionOptions::default() };
    let c = pick(&version(&files), &opts).unwrap();
    assert!(c.trivial_move);
    assert_eq!((numbers(&c.inputs), c.next_inputs.len()), (vec![1], 0));

    // Another L0 file overlapping it makes both compact together: no move.
    let files = [(0, meta(1, b"a", b"c", MIB)), (0, meta(3, b"b", b"b", MIB))];
    let c = pick(&version(&files), &opts).unwrap();
    assert!(!c.trivial_move);
    assert_eq!(numbers(&c.inputs), [3, 1]);
}

#[test]
fn bottommost_means_no_deeper_level_overlaps_the_whole_key_range() {
    let opts = small_levels();
    let l1 = (1, meta(1, b"d", b"f", 20 * MIB));
    let l2 = (2, meta(2, b"a", b"e", MIB));
    let pick_with = |deeper: Arc<FileMeta>| -> Compaction {
        pick(&version(&[l1.clone(), l2.clone(), (3, deeper)]), &opts).unwrap()
    };
    // The range is a..f (the L2 file widens it): a file at b in L3 overlaps it.
    assert!(!pick_with(meta(3, b"b", b"b", MIB)).bottommost);
    assert!(!pick_with(meta(3, b"f", b"k", MIB)).bottommost);
    assert!(pick_with(meta(3, b"g", b"k", MIB)).bottommost);
}

#[test]
fn pick_range_takes_every_file_of_the_level_meeting_the_range() {
    let files = [
        (1, meta(1, b"a", b"b", MIB)),
        (1, meta(2, b"c", b"d", MIB)),
        (1, meta(3, b"e", b"f", MIB)),
        (2, meta(4, b"d", b"e", MIB)),
    ];
    let v = version(&files);
    let c = pick_range(&v, 1, Some(b"cc"), Some(b"e")).unwrap();
    assert_eq!((numbers(&c.inputs), numbers(&c.next_inputs)), (vec![2, 3], vec![4]));
    assert_eq!(numbers(&pick_range(&v, 1, None, None).unwrap().inputs), [1, 2, 3]);
    assert_eq!(numbers(&pick_range(&v, 1, None, Some(b"a")).unwrap().inputs), [1]);
    let lone = pick_range(&v, 1, Some(b"a"), Some(b"a")).unwrap();
    assert!(!lone.trivial_move, "a manual compaction rewrites its inputs");
    assert!(pick_range(&v, 1, Some(b"bb"), Some(b"bc")).is_none());
    assert!(pick_range(&v, 0, None, None).is_none());
    assert!(pick_range(&v, NUM_LEVELS - 1, None, None).is_none());
}
