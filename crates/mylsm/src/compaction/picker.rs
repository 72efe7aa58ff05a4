//! Choosing the next compaction from a `Version`: which level is most over its budget,
//! which of its files to compact, and what they overlap below. Pure: no I/O.
//!
//! Follows LevelDB's `VersionSet::PickCompaction` and `Finalize` (scores, L0 by file
//! count, Ln by bytes); differs in sizing levels dynamically from the largest level
//! (RocksDB's `level_compaction_dynamic_level_bytes`), with L0 compacting straight
//! into the base level, in choosing the Ln file by least overlap with Ln+1 (RocksDB's
//! `kMinOverlappingRatio`) instead of a persisted round-robin pointer, and in
//! compacting only a connected group of L0 files.

use std::collections::HashSet;
use std::sync::Arc;

use crate::key;
use crate::version::{FileMeta, Version, NUM_LEVELS};

/// What the picker aims for. Level targets are dynamic: see `level_targets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompactionOptions {
    /// L0 files that make L0 worth compacting (score 1). Default: 4.
    pub l0_compaction_trigger: usize,
    /// The most bytes the base level (where L0 compacts to) targets, and the least any
    /// level does. Default: 64 MiB.
    pub max_bytes_for_level_base: u64,
    /// Each level below the base level targets this many times the bytes of the one
    /// above. Default: 10.
    pub level_multiplier: u64,
    /// Bytes after which a compaction output is cut. Default: 64 MiB.
    pub target_file_size: u64,
}

impl Default for CompactionOptions {
    fn default() -> Self {
        CompactionOptions {
            l0_compaction_trigger: 4,
            max_bytes_for_level_base: 64 << 20,
            level_multiplier: 10,
            target_file_size: 64 << 20,
        }
    }
}

/// One compaction: `inputs` from `level` merged with `next_inputs` from `output_level`.
#[derive(Debug, Clone)]
pub(crate) struct Compaction {
    pub level: usize,
    pub output_level: usize,
    /// Files from `level`; for L0 newest first (the version's order), else by key.
    pub inputs: Vec<Arc<FileMeta>>,
    /// The files of `output_level` that overlap the inputs' user-key range, by key.
    pub next_inputs: Vec<Arc<FileMeta>>,
    /// No level below `output_level` holds data in the compaction's key range, so a
    /// tombstone no snapshot needs can be dropped with everything it hides.
    pub bottommost: bool,
    /// One input, nothing in the way: the file can move down by a `VersionEdit` alone.
    pub trivial_move: bool,
    /// The files of the level below `output_level` overlapping the compaction, by key:
    /// an output is cut early once it overlaps too many of their bytes, so that
    /// compacting it later does not become one huge job (LevelDB's grandparents).
    pub grandparents: Vec<Arc<FileMeta>>,
}

/// The byte target of each level under dynamic level sizing; 0 for a level with no
/// target: L0 (scored by file count) and the levels above the base level.
pub(crate) fn level_targets(version: &Version, opts: &CompactionOptions) -> [u64; NUM_LEVELS] {
    shape(version, opts).1
}

/// The level L0 compacts into: the highest level with a target. The levels between
/// L0 and it are empty. An empty tree's base level is the last level.
pub(crate) fn base_level(version: &Version, opts: &CompactionOptions) -> usize {
    shape(version, opts).0
}

/// The base level and the level targets, as RocksDB's `CalculateBaseBytes` computes
/// them with `level_compaction_dynamic_level_bytes`: the last level's target is the
/// size of the largest level, and each level above targets `level_multiplier` times
/// less, up to the first whose target would be at most `max_bytes_for_level_base`:
/// that is the base level. No target is set below `max_bytes_for_level_base`. So at
/// steady state each level holds about 1/multiplier of the one below it, and the
/// data above the last level is about 1/(multiplier - 1) of it (space amplification
/// about 1.11 at ×10), however big the tree is.
///
/// The base level is never below the first non-empty level (L0 aside). When even
/// that level would get a target under `max_bytes_for_level_base / multiplier`
/// (more levels hold data than its size needs, e.g. a tree laid out by static
/// targets) it is the base level, with that minimum target, and the targets grow by
/// the multiplier from it; when the largest level is so big that L1 would target
/// more than `max_bytes_for_level_base`, L1 is the base level and targets exactly
/// that. Both are RocksDB's fallbacks.
fn shape(version: &Version, opts: &CompactionOptions) -> (usize, [u64; NUM_LEVELS]) {
    const LAST: usize = NUM_LEVELS - 1;
    let base_max = opts.max_bytes_for_level_base.max(1);
    let mult = opts.level_multiplier.max(1);
    let base_min = base_max / mult;
    let mut targets = [0; NUM_LEVELS];
    let sizes: [u64; NUM_LEVELS] = std::array::from_fn(|l| version.level_bytes(l));
    let Some(first) = (1..NUM_LEVELS).find(|&l| sizes[l] > 0) else {
        targets[LAST] = base_max;
        return (LAST, targets);
    };
    let largest = sizes[1..].iter().copied().max().unwrap_or(0);
    let grow = |t: u64, levels: usize| (0..levels).fold(t, |t, _| t.saturating_mul(mult));
    // The first non-empty level's target, were the last level's `largest`.
    let mut projected = (first..LAST).fold(largest, |t, _| t / mult);
    let (base, last_target) = if projected <= base_min {
        (first, grow(base_min + 1, LAST - first))
    } else {
        let mut base = first;
        while base > 1 && projected > base_max {
            base -= 1;
            projected /= mult;
        }
        if projected > base_max {
            (base, grow(base_max, LAST - base))
        } else {
            (base, largest)
        }
    };
    let mut target = last_target;
    for t in targets[base..].iter_mut().rev() {
        *t = target.max(base_max);
        target /= mult;
    }
    (base, targets)
}

/// The average size of an entry in the tables that say how many they hold (1 if none
/// do): what one delete will free, on average.
pub(crate) fn avg_entry(version: &Version) -> u64 {
    let (bytes, entries) = version
        .files()
        .filter(|(_, f)| f.num_entries > f.num_deletes)
        .fold((0u64, 0u64), |(b, e), (_, f)| (b + f.size, e + f.num_entries - f.num_deletes));
    (bytes / entries.max(1)).max(1)
}

/// Each level's score: L0 files over the trigger (or the bytes its deletes will free
/// over the base level's target, if more), Ln bytes over its target, deletes weighed as
/// the entries they will remove (`FileMeta::compensated_size`). A score of
/// 1 or more asks for a compaction. The last level has nowhere to go and scores 0, as
/// do the (empty) levels above the base level, which have no target.
pub(crate) fn scores(version: &Version, opts: &CompactionOptions) -> Vec<f64> {
    scores_of(version, opts, |_| true)
}

/// `scores`, counting only the tables `counts` accepts.
fn scores_of(
    version: &Version,
    opts: &CompactionOptions,
    counts: impl Fn(&FileMeta) -> bool,
) -> Vec<f64> {
    let targets = level_targets(version, opts);
    let mut scores = vec![0.0; NUM_LEVELS];
    let files = |l: usize| version.levels[l].iter().filter(|f| counts(f));
    let avg = avg_entry(version);
    // L0 is scored by file count, and also by what its deletes will free, over the
    // base level's target: one L0 table of tombstones over a whole tree (delete every
    // key, flush) is worth compacting though it is one file. Only the compensation
    // counts, not the table bytes, so loads without deletes are scored as before.
    let l0_deletes: u64 = files(0).map(|f| f.compensated_size(avg) - f.size).sum();
    scores[0] = (files(0).count() as f64 / opts.l0_compaction_trigger.max(1) as f64)
        .max(l0_deletes as f64 / opts.max_bytes_for_level_base.max(1) as f64);
    for level in 1..NUM_LEVELS - 1 {
        if targets[level] > 0 {
            let bytes: u64 = files(level).map(|f| f.compensated_size(avg)).sum();
            scores[level] = bytes as f64 / targets[level] as f64;
        }
    }
    scores
}

/// Table numbers that running compactions are reading: no other compaction may take
/// them as inputs.
pub(crate) type Busy = HashSet<u64>;

/// The compaction the most urgent level needs, if any level scores 1 or more, with no
/// compaction running.
#[cfg(test)]
pub(crate) fn pick(version: &Version, opts: &CompactionOptions) -> Option<Compaction> {
    pick_avoiding(version, opts, &Busy::new())
}

/// The compaction the most urgent level needs that touches none of the `busy` tables,
/// if a level scores 1 or more counting only tables that are not busy. Levels are tried
/// from the highest score down (ties to the upper level, whose backlog stalls writes
/// first). L0 compacts into the base level, every other level into the one below it.
///
/// A compaction picked this way can run beside the busy ones: its inputs and the
/// output-level files they overlap are disjoint from theirs, and within a sorted level
/// two disjoint sets of files overlapping disjoint inputs cover disjoint key ranges
/// (a file overlapping both would be in both sets). So their outputs never overlap
/// in a level, and a `bottommost` decision stays true while the others run: they only
/// move data that lies outside this compaction's key range. L0 files overlap each
/// other, so only one L0 compaction runs at a time.
pub(crate) fn pick_avoiding(
    version: &Version,
    opts: &CompactionOptions,
    busy: &Busy,
) -> Option<Compaction> {
    let scores = scores_excluding(version, opts, busy);
    let mut levels: Vec<usize> = (0..NUM_LEVELS - 1).filter(|&l| scores[l] >= 1.0).collect();
    // Stable: equal scores keep the upper level first.
    levels.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let is_busy = |files: &[Arc<FileMeta>]| files.iter().any(|f| busy.contains(&f.number));
    for level in levels {
        if level == 0 {
            if is_busy(&version.levels[0]) {
                continue;
            }
            // Start from the oldest file, so no L0 file waits forever behind newer ones.
            let Some(oldest) = version.levels[0].last() else { continue };
            let Some((lo, hi)) = user_range(std::slice::from_ref(oldest)) else { continue };
            let inputs = l0_closure(version, Some(&lo), Some(&hi));
            let Some(c) = finish(version, 0, base_level(version, opts), inputs, true) else {
                continue;
            };
            if !is_busy(&c.next_inputs) {
                return Some(c);
            }
            continue;
        }
        for f in by_overlap(version, level) {
            if busy.contains(&f.number) {
                continue;
            }
            let Some(c) = finish(version, level, level + 1, vec![f], true) else { continue };
            if !is_busy(&c.next_inputs) {
                return Some(c);
            }
        }
    }
    None
}

/// `scores`, counting only the tables no running compaction holds: work already under
/// way does not ask for more.
fn scores_excluding(version: &Version, opts: &CompactionOptions, busy: &Busy) -> Vec<f64> {
    scores_of(version, opts, |f| !busy.contains(&f.number))
}

/// A manual compaction of `level` over the user keys `[begin, end]` (`None`:
/// unbounded), into the level below; L0 into the first level below it holding data,
/// or the last level if none does (under dynamic sizing the levels between L0 and the
/// base level are empty, and L0 data must not be left in one of them). It never plans
/// a trivial move: like LevelDB's `CompactRange`, a manual compaction rewrites its
/// inputs, dropping what it can.
pub(crate) fn pick_range(
    version: &Version,
    level: usize,
    begin: Option<&[u8]>,
    end: Option<&[u8]>,
) -> Option<Compaction> {
    if level + 1 >= NUM_LEVELS {
        return None;
    }
    let inputs = if level == 0 {
        l0_closure(version, begin, end)
    } else {
        version.overlapping_files(level, begin, end)
    };
    if inputs.is_empty() {
        return None;
    }
    let output_level = if level == 0 {
        (1..NUM_LEVELS).find(|&l| version.num_files(l) > 0).unwrap_or(NUM_LEVELS - 1)
    } else {
        level + 1
    };
    finish(version, level, output_level, inputs, false)
}

/// The L0 files that meet `[begin, end]`, and those that meet them, and so on: a
/// group no other L0 file overlaps. Compacting only part of such a group would put
/// newer data below an older L0 file that still shadows it on reads.
fn l0_closure(version: &Version, begin: Option<&[u8]>, end: Option<&[u8]>) -> Vec<Arc<FileMeta>> {
    let (mut lo, mut hi) = (begin.map(<[u8]>::to_vec), end.map(<[u8]>::to_vec));
    loop {
        let files = version.overlapping_files(0, lo.as_deref(), hi.as_deref());
        let Some((flo, fhi)) = user_range(&files) else { return files };
        let grows_lo = lo.as_ref().is_some_and(|l| flo < *l);
        let grows_hi = hi.as_ref().is_some_and(|h| fhi > *h);
        if !grows_lo && !grows_hi {
            return files;
        }
        // The range grew, so files beyond it may now overlap: search again, as
        // LevelDB's `GetOverlappingInputs` does for level 0.
        lo = lo.map(|l| l.min(flo));
        hi = hi.map(|h| h.max(fhi));
    }
}

/// The files of `level`, those with the fewest bytes overlapping `level + 1` per byte
/// of their own first: the cheapest to push down (a trivial move when nothing
/// overlaps). Ties go to the file with the smaller keys.
fn by_overlap(version: &Version, level: usize) -> Vec<Arc<FileMeta>> {
    let avg = avg_entry(version);
    let cost = |f: &FileMeta| -> (u128, u128) {
        let (lo, hi) = (key::user_key(&f.smallest), key::user_key(&f.largest));
        let below = version.overlapping_files(level + 1, Some(lo), Some(hi));
        // Compensated: a table of deletes goes first, since it frees what lies below.
        let size = f.compensated_size(avg).max(1);
        (below.iter().map(|g| u128::from(g.size)).sum(), u128::from(size))
    };
    let mut files: Vec<(Arc<FileMeta>, (u128, u128))> =
        version.levels[level].iter().map(|f| (Arc::clone(f), cost(f))).collect();
    // overlap / size ascending, without division; stable, so ties keep key order.
    files.sort_by(|(_, (ao, asz)), (_, (bo, bsz))| (ao * bsz).cmp(&(bo * asz)));
    files.into_iter().map(|(f, _)| f).collect()
}

/// Fills in the output level's overlapping files and the flags; `None` if there are no
/// inputs, which leaves nothing to compact.
fn finish(
    version: &Version,
    level: usize,
    output_level: usize,
    inputs: Vec<Arc<FileMeta>>,
    auto: bool,
) -> Option<Compaction> {
    let (lo, hi) = user_range(&inputs)?;
    let next_inputs = version.overlapping_files(output_level, Some(&lo), Some(&hi));
    let (lo, hi) = user_range(inputs.iter().chain(&next_inputs))?;
    let bottommost = (output_level + 1..NUM_LEVELS)
        .all(|l| version.overlapping_files(l, Some(&lo), Some(&hi)).is_empty());
    let grandparents = match output_level + 1 {
        gp if gp < NUM_LEVELS => version.overlapping_files(gp, Some(&lo), Some(&hi)),
        _ => Vec::new(),
    };
    let trivial_move = auto && inputs.len() == 1 && next_inputs.is_empty();
    Some(Compaction {
        level,
        output_level,
        inputs,
        next_inputs,
        bottommost,
        trivial_move,
        grandparents,
    })
}

/// The smallest and largest user keys of `files`; `None` if there are none.
fn user_range<'a>(
    files: impl IntoIterator<Item = &'a Arc<FileMeta>>,
) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut files = files.into_iter();
    let first = files.next()?;
    let (mut lo, mut hi) = (key::user_key(&first.smallest), key::user_key(&first.largest));
    for f in files {
        lo = lo.min(key::user_key(&f.smallest));
        hi = hi.max(key::user_key(&f.largest));
    }
    Some((lo.to_vec(), hi.to_vec()))
}
