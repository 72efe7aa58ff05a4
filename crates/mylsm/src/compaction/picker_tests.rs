//! Picker tests: dynamic level targets and the base level, scores and triggers, input
//! selection, trivial moves, bottommost detection and manual ranges, over versions
//! built from metadata alone.

use std::sync::Arc;

use super::picker::base_level;
use super::testing::meta;
use super::{
    level_targets, pick, pick_avoiding, pick_range, scores, Busy, Compaction, CompactionOptions,
};
use crate::version::{FileMeta, Version, VersionEdit, NUM_LEVELS};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;
const LAST: usize = NUM_LEVELS - 1;

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
fn targets_derive_from_the_last_level_down_to_the_base_level() {
    let v = version(&[(LAST, meta(1, b"a", b"z", 10 * GIB))]);
    let opts = CompactionOptions::default();
    let t = level_targets(&v, &opts);
    assert_eq!(t[LAST], 10 * GIB, "the last level targets its own size");
    assert_eq!(t[LAST - 1], GIB);
    assert_eq!(t[LAST - 2], 10 * GIB / 100, "about 100 MiB");
    // 10 GiB / 1000 is about 10 MiB, at most the 64 MiB base: L3 is the base level,
    // and no target is below `max_bytes_for_level_base`.
    assert_eq!(base_level(&v, &opts), 3);
    assert_eq!(t[3], 64 * MIB);
    assert_eq!(t[..3], [0, 0, 0], "L0 and the levels above the base have no target");
    // Everything above the last level may hold about a ninth of it: space
    // amplification stays near 1.1.
    let above: u64 = t[1..LAST].iter().sum();
    assert!(above as f64 / (10 * GIB) as f64 <= 0.12, "{t:?}");
}

#[test]
fn the_base_level_rises_as_the_last_level_grows() {
    let opts = CompactionOptions::default();
    let base =
        |last_bytes: u64| base_level(&version(&[(LAST, meta(1, b"a", b"z", last_bytes))]), &opts);
    assert_eq!(base(MIB), LAST, "a small tree compacts L0 straight into the last level");
    assert_eq!(base(64 * MIB), LAST);
    assert_eq!(base(64 * MIB + 1), LAST - 1);
    assert_eq!(base(640 * MIB), LAST - 1);
    assert_eq!(base(640 * MIB + 10), LAST - 2);
    assert_eq!(base(64 * MIB * 10u64.pow(5)), 1);
}

#[test]
fn an_empty_tree_compacts_l0_into_the_last_level() {
    let opts = CompactionOptions::default();
    assert_eq!(base_level(&Version::default(), &opts), LAST);
    let files: Vec<_> = (1..=4).map(|n| (0, meta(n, b"a", b"m", MIB))).collect();
    let v = version(&files);
    assert_eq!(base_level(&v, &opts), LAST, "L0 alone does not move the base level");
    let mut only_last = [0; NUM_LEVELS];
    only_last[LAST] = 64 * MIB;
    assert_eq!(level_targets(&v, &opts), only_last);
    let c = pick(&v, &opts).unwrap();
    assert_eq!((c.level, c.output_level), (0, LAST));
    assert!(c.bottommost && c.next_inputs.is_empty());
}

#[test]
fn the_base_level_is_never_below_the_first_level_holding_data() {
    // A tree laid out for static targets: small L1 and L2, nothing below. Were the
    // last level's target 30 MiB, L1's would be far under 64 MiB / 10, so L1 stays
    // the base level, at 64 MiB, and the targets grow from it (RocksDB's fallback).
    let opts = CompactionOptions::default();
    let v = version(&[(1, meta(1, b"a", b"m", 3 * MIB)), (2, meta(2, b"a", b"z", 30 * MIB))]);
    assert_eq!(base_level(&v, &opts), 1);
    let t = level_targets(&v, &opts);
    assert_eq!((t[1], t[2]), (64 * MIB, (64 * MIB / 10 + 1) * 10));
    assert!(t.windows(2).skip(1).all(|w| w[0] <= w[1]), "{t:?}");
    // And a tree too big for L1 to stay under the base size: L1 is the base level at
    // exactly `max_bytes_for_level_base`.
    let huge = 64 * MIB * 10u64.pow(5) * 3;
    let v = version(&[(LAST, meta(1, b"a", b"z", huge))]);
    assert_eq!(base_level(&v, &opts), 1);
    assert_eq!(level_targets(&v, &opts)[1], 64 * MIB);
}

#[test]
fn levels_above_the_base_and_the_last_level_score_zero() {
    let opts = small_levels();
    // L6 1000 MiB: L5 targets 100 MiB, L4 10 MiB (the base level).
    let v = version(&[
        (4, meta(1, b"a", b"b", 5 * MIB)),
        (5, meta(2, b"a", b"b", 50 * MIB)),
        (LAST, meta(3, b"a", b"z", 1000 * MIB)),
    ]);
    assert_eq!(base_level(&v, &opts), 4);
    assert_eq!(scores(&v, &opts), [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0]);
}

#[test]
fn l0_compacts_once_it_holds_trigger_files() {
    let mut files: Vec<_> = (1..=3).map(|n| (0, meta(n, b"a", b"m", MIB))).collect();
    files.push((LAST, meta(10, b"k", b"p", MIB)));
    files.push((LAST, meta(11, b"q", b"z", MIB)));
    let opts = CompactionOptions::default();
    assert!(pick(&version(&files), &opts).is_none(), "3 of 4 files do not trigger");
    assert_eq!(scores(&version(&files), &opts)[0], 0.75);

    files.push((0, meta(4, b"b", b"c", MIB)));
    let c = pick(&version(&files), &opts).expect("4 files trigger");
    assert_eq!((c.level, c.output_level), (0, LAST), "a small tree's base level is the last");
    assert_eq!(numbers(&c.inputs), [4, 3, 2, 1], "all of L0, newest first");
    assert_eq!(numbers(&c.next_inputs), [10], "only the file overlapping a..m");
    assert!(!c.trivial_move);
    assert!(c.bottommost);
}

#[test]
fn l0_compacts_into_the_base_level_with_its_overlapping_files() {
    let opts = small_levels();
    let mut files: Vec<_> = (1..=4).map(|n| (0, meta(n, b"c", b"f", MIB))).collect();
    files.extend([
        (4, meta(10, b"a", b"b", MIB)),
        (4, meta(11, b"d", b"e", MIB)),
        (5, meta(12, b"a", b"z", 20 * MIB)),
        (LAST, meta(13, b"a", b"z", 1000 * MIB)),
    ]);
    let v = version(&files);
    assert_eq!(base_level(&v, &opts), 4);
    let c = pick(&v, &opts).unwrap();
    assert_eq!((c.level, c.output_level), (0, 4));
    assert_eq!(numbers(&c.inputs), [4, 3, 2, 1]);
    assert_eq!(numbers(&c.next_inputs), [11]);
    assert!(!c.bottommost, "L5 and L6 hold the range");

    // With the levels above the base level empty, a lone L0 file skips them all.
    let lone = [(0, meta(1, b"c", b"f", MIB)), (LAST, meta(2, b"a", b"z", 1000 * MIB))];
    let one = CompactionOptions { l0_compaction_trigger: 1, ..small_levels() };
    let c = pick(&version(&lone), &one).unwrap();
    assert_eq!((c.output_level, numbers(&c.next_inputs)), (4, vec![]));
    assert!(c.trivial_move && !c.bottommost);
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
    // L6 holds 1000 MiB: L4 holds twice its 10 MiB target, L5 three times its 100 MiB.
    let mut files =
        vec![(4, meta(1, b"a", b"b", 20 * MIB)), (LAST, meta(2, b"x", b"z", 1000 * MIB))];
    for (i, k) in [b"c", b"d", b"e"].into_iter().enumerate() {
        files.push((5, meta(10 + i as u64, k, k, 100 * MIB)));
    }
    let v = version(&files);
    let s = scores(&v, &small_levels());
    assert_eq!((s[4], s[5]), (2.0, 3.0));
    let c = pick(&v, &small_levels()).unwrap();
    assert_eq!((c.level, c.output_level), (5, 6));
    // Nothing in L6 overlaps c..e, so each L5 file moves down untouched.
    assert!(c.trivial_move && c.bottommost);
    assert_eq!(c.inputs.len(), 1);
}

#[test]
fn the_ln_file_with_least_overlap_below_is_chosen_with_its_overlapping_files() {
    // L6 holds 60 MiB, so L5 is the base level at 10 MiB, and over it.
    let files = [
        (5, meta(1, b"a", b"f", 6 * MIB)),
        (5, meta(2, b"g", b"m", 6 * MIB)),
        (LAST, meta(10, b"a", b"c", 30 * MIB)),
        (LAST, meta(11, b"d", b"h", 10 * MIB)),
        (LAST, meta(12, b"i", b"k", 10 * MIB)),
        (LAST, meta(13, b"n", b"z", 10 * MIB)),
    ];
    let c = pick(&version(&files), &small_levels()).unwrap();
    assert_eq!((c.level, c.output_level), (5, LAST));
    // File 1 overlaps 40 MiB below, file 2 overlaps 20 MiB: file 2 is cheaper.
    assert_eq!(numbers(&c.inputs), [2]);
    assert_eq!(numbers(&c.next_inputs), [11, 12]);
    assert!(!c.trivial_move);
}

#[test]
fn a_lone_file_with_nothing_below_is_a_trivial_move() {
    let files = [(0, meta(1, b"a", b"c", MIB)), (LAST, meta(2, b"d", b"f", MIB))];
    let opts = CompactionOptions { l0_compaction_trigger: 1, ..CompactionOptions::default() };
    let c = pick(&version(&files), &opts).unwrap();
    assert!(c.trivial_move);
    assert_eq!(c.output_level, LAST);
    assert_eq!((numbers(&c.inputs), c.next_inputs.len()), (vec![1], 0));

    // Another L0 file overlapping it makes both compact together: no move.
    let files = [(0, meta(1, b"a", b"c", MIB)), (0, meta(3, b"b", b"b", MIB))];
    let c = pick(&version(&files), &opts).unwrap();
    assert!(!c.trivial_move);
    assert_eq!(numbers(&c.inputs), [3, 1]);
}

#[test]
fn bottommost_means_no_deeper_level_overlaps_the_whole_key_range() {
    // L6 holds 200 MiB: L4 is the base level at 10 MiB, and twice over it.
    let opts = small_levels();
    let l4 = (4, meta(1, b"d", b"f", 20 * MIB));
    let l5 = (5, meta(2, b"a", b"e", MIB));
    let pick_with = |deeper: Arc<FileMeta>| -> Compaction {
        let c = pick(&version(&[l4.clone(), l5.clone(), (LAST, deeper)]), &opts).unwrap();
        assert_eq!((c.level, c.output_level), (4, 5));
        c
    };
    // The range is a..f (the L5 file widens it): a file at b in L6 overlaps it.
    assert!(!pick_with(meta(3, b"b", b"b", 200 * MIB)).bottommost);
    assert!(!pick_with(meta(3, b"f", b"k", 200 * MIB)).bottommost);
    assert!(pick_with(meta(3, b"g", b"k", 200 * MIB)).bottommost);
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

#[test]
fn pick_range_moves_l0_into_the_first_level_holding_data_or_the_last() {
    let l0 = (0, meta(1, b"a", b"c", MIB));
    let c = pick_range(&version(std::slice::from_ref(&l0)), 0, None, None).unwrap();
    assert_eq!((c.output_level, c.bottommost), (LAST, true));
    let c = pick_range(&version(&[l0, (5, meta(2, b"b", b"d", MIB))]), 0, None, None).unwrap();
    assert_eq!((c.output_level, numbers(&c.next_inputs)), (5, vec![2]));
}

/// L6 holds 60 MiB, so L5 is the base level at 10 MiB and holds 18 MiB in three files,
/// each overlapping different L6 files: 1 → {10} (30 MiB), 2 → {11, 12} (20 MiB),
/// 3 → {13} (10 MiB).
fn three_l5_candidates() -> Version {
    version(&[
        (5, meta(1, b"a", b"c", 6 * MIB)),
        (5, meta(2, b"g", b"m", 6 * MIB)),
        (5, meta(3, b"p", b"q", 6 * MIB)),
        (LAST, meta(10, b"a", b"c", 30 * MIB)),
        (LAST, meta(11, b"d", b"h", 10 * MIB)),
        (LAST, meta(12, b"i", b"k", 10 * MIB)),
        (LAST, meta(13, b"n", b"z", 10 * MIB)),
    ])
}

fn busy_with(c: &Compaction, busy: &mut Busy) {
    busy.extend(c.inputs.iter().chain(&c.next_inputs).map(|f| f.number));
}

#[test]
fn a_second_compaction_is_picked_around_the_tables_a_running_one_holds() {
    let v = three_l5_candidates();
    let opts = small_levels();
    let mut busy = Busy::new();
    let first = pick_avoiding(&v, &opts, &busy).unwrap();
    assert_eq!((numbers(&first.inputs), numbers(&first.next_inputs)), (vec![3], vec![13]));
    busy_with(&first, &mut busy);
    // 12 MiB of L5 is not being compacted: still over the 10 MiB target.
    let second = pick_avoiding(&v, &opts, &busy).expect("L5 still scores 1.2 without file 3");
    assert_eq!((numbers(&second.inputs), numbers(&second.next_inputs)), (vec![2], vec![11, 12]));
    busy_with(&second, &mut busy);
    // 6 MiB left idle is under the target: the work under way is enough.
    assert!(pick_avoiding(&v, &opts, &busy).is_none());
}

#[test]
fn a_candidate_whose_next_level_files_are_busy_is_passed_over() {
    let v = three_l5_candidates();
    // File 3 is the cheapest, but a running compaction holds L6 file 13 below it.
    let busy = Busy::from([13]);
    let c = pick_avoiding(&v, &small_levels(), &busy).unwrap();
    assert_eq!((numbers(&c.inputs), numbers(&c.next_inputs)), (vec![2], vec![11, 12]));
}

#[test]
fn only_one_l0_compaction_runs_at_a_time() {
    // Eight disjoint L0 files, trigger 4: L0 scores 2 and its oldest file goes first.
    let files: Vec<_> = (0..8u8)
        .map(|i| (0, meta(u64::from(i) + 1, &[b'a' + 2 * i], &[b'b' + 2 * i], MIB)))
        .collect();
    let v = version(&files);
    let opts = CompactionOptions::default();
    let first = pick_avoiding(&v, &opts, &Busy::new()).unwrap();
    assert_eq!(first.level, 0);
    let mut busy = Busy::new();
    busy_with(&first, &mut busy);
    // Seven idle files still score 1.75, but L0 files may overlap whatever the running
    // one writes below, so no second L0 compaction starts.
    assert!(scores(&v, &opts)[0] >= 1.75);
    assert!(pick_avoiding(&v, &opts, &busy).is_none());
}

#[test]
fn an_l0_compaction_waits_for_a_busy_file_of_its_output_level() {
    let mut files: Vec<_> = (1..=4).map(|n| (0, meta(n, b"a", b"z", MIB))).collect();
    files.push((LAST, meta(10, b"m", b"n", MIB)));
    let v = version(&files);
    let opts = CompactionOptions::default();
    let c = pick_avoiding(&v, &opts, &Busy::new()).unwrap();
    assert_eq!((c.level, numbers(&c.next_inputs)), (0, vec![10]));
    assert!(pick_avoiding(&v, &opts, &Busy::from([10])).is_none());
}
