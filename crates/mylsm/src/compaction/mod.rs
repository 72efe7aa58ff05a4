//! Leveled compaction: deciding what to compact (`picker`) and doing it (`job`).
//!
//! The tree keeps L0 as overlapping tables, newest first, and every level below as one
//! sorted run of non-overlapping tables. Compaction pushes data down one level at a
//! time, merging away the versions nobody can read:
//!
//! - **Triggers.** L0 scores its file count over `l0_compaction_trigger`; L1..L5 score
//!   their bytes over a dynamic target (RocksDB's
//!   `level_compaction_dynamic_level_bytes`): the last level targets the size of the
//!   largest level, each level above `level_multiplier` times less, and none less than
//!   `max_bytes_for_level_base`. The highest level whose target would be at most
//!   `max_bytes_for_level_base` is the *base level*: L0 compacts straight into it, and
//!   the levels between stay empty and have no target. An empty tree's base level is
//!   the last. So each level holds about 1/`level_multiplier` of the one below, and
//!   space amplification stays near 1.1 (at ×10) whatever the tree's size. The last
//!   level never scores. The highest score of at least 1 is compacted.
//! - **Inputs.** From L0: the oldest file and every L0 file overlapping it, directly or
//!   through others, so no L0 file left behind overlaps what moves down into the base
//!   level. From Ln: the one file with the fewest bytes overlapping Ln+1 per byte of
//!   its own. Then every file of the output level that overlaps their user-key range.
//!   A manual `pick_range` takes every file of one level that overlaps a user-key
//!   range, into the level below (from L0: the first level holding data, else the
//!   last).
//! - **Trivial moves.** A single input with nothing overlapping it in the output level
//!   (or in L0) moves down by a manifest edit alone, with no I/O.
//! - **Dropping.** Inputs are merged newest first by a heap. Of the versions of a key
//!   that no live snapshot tells apart, only the newest is written. A tombstone that
//!   every reader sees is dropped, with all it hides, when no deeper level holds the
//!   key range (the compaction is *bottommost*).
//! - **Outputs.** A new table is started once the current one reaches
//!   `target_file_size`, but only between user keys, so the versions of one key never
//!   straddle two tables of a sorted level. Each output is fsynced, then the directory
//!   once; the job returns a `VersionEdit` that deletes every input and adds every
//!   output. It installs nothing itself, and on error removes what it wrote.
//!
//! - **Concurrency.** Up to `max_background_jobs - 1` compactions run at once. The
//!   picker is told which tables running compactions hold and picks around them: no
//!   table is in two compactions, only one L0 compaction runs at a time, and two
//!   compactions into the same level never produce overlapping outputs (see
//!   `pick_avoiding`). A manual `compact_range` waits for the running ones and keeps
//!   new ones from starting until it is done.

mod job;
mod picker;

#[cfg(test)]
mod job_tests;
#[cfg(test)]
mod picker_tests;
#[cfg(test)]
pub(crate) mod testing;

pub(crate) use job::{run, JobContext};
#[cfg(test)]
pub(crate) use picker::pick;
pub(crate) use picker::{
    level_targets, pick_avoiding, pick_range, scores, Busy, Compaction, CompactionOptions,
};
