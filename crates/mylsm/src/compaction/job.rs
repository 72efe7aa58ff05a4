//! Running one compaction: merge its inputs, drop the versions no reader can see, and
//! write the rest as new tables of the output level, cut at the target file size.
//!
//! Follows LevelDB's `DBImpl::DoCompactionWork`; differs in keeping one version per
//! snapshot stripe (RocksDB's rule) where LevelDB consults only the oldest snapshot,
//! in never cutting an output between two versions of one user key, and in having no
//! grandparent-overlap limit on output files.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::Compaction;
use crate::filename;
use crate::fs::FileSystem;
use crate::iter::merge::MergingIter;
use crate::iter::InternalIterator;
use crate::key::{self, InternalKeyComparator, Kind, ParsedKey};
use crate::sstable::{TableBuilder, TableOptions};
use crate::table_cache::TableCache;
use crate::version::{FileMeta, LazyTableIter, LevelIter, VersionEdit};
use crate::{Error, Result};

/// What a compaction job needs from the database.
pub(crate) struct JobContext<'a> {
    pub fs: &'a dyn FileSystem,
    pub dir: &'a Path,
    pub tables: &'a Arc<TableCache>,
    pub table_opts: &'a TableOptions,
    /// Bytes after which an output table is cut (at the next user key).
    pub target_file_size: u64,
    /// Seqnos of the live snapshots, ascending.
    pub snapshots: &'a [u64],
    /// Allocates a file number for each output table.
    pub new_file_number: &'a dyn Fn() -> u64,
}

/// What a finished job produced; nothing is installed until `edit` is logged.
#[derive(Debug)]
pub(crate) struct JobOutput {
    /// Deletes every input at its level and adds the outputs at the output level.
    pub edit: VersionEdit,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Input entries not written: hidden versions and dropped tombstones.
    pub entries_dropped: u64,
}

/// Runs compaction `c`. On error no output file is left behind (best effort) and
/// nothing has changed: the inputs are untouched and no edit exists.
pub(crate) fn run(c: &Compaction, ctx: &JobContext<'_>) -> Result<JobOutput> {
    let mut edit = VersionEdit::default();
    edit.deleted.extend(c.inputs.iter().map(|f| (c.level, f.number)));
    edit.deleted.extend(c.next_inputs.iter().map(|f| (c.output_level, f.number)));
    if c.trivial_move {
        edit.added.extend(c.inputs.iter().map(|f| (c.output_level, FileMeta::clone(f))));
        return Ok(JobOutput { edit, bytes_read: 0, bytes_written: 0, entries_dropped: 0 });
    }
    let mut out = Outputs {
        ctx,
        created: Vec::new(),
        building: None,
        done: Vec::new(),
        grandparents: &c.grandparents,
        gp_next: 0,
        gp_overlap: 0,
    };
    let dropped = match merge(c, ctx, &mut out).and_then(|d| out.finish().map(|()| d)) {
        Ok(d) => d,
        Err(e) => {
            out.discard();
            return Err(e);
        }
    };
    let bytes_read = c.inputs.iter().chain(&c.next_inputs).map(|f| f.size).sum();
    let bytes_written = out.done.iter().map(|f| f.size).sum();
    edit.added.extend(out.done.into_iter().map(|f| (c.output_level, f)));
    Ok(JobOutput { edit, bytes_read, bytes_written, entries_dropped: dropped })
}

/// Streams the merged inputs into `out`; returns how many entries were dropped.
fn merge(c: &Compaction, ctx: &JobContext<'_>, out: &mut Outputs<'_>) -> Result<u64> {
    let mut it = input_iter(c, ctx.tables);
    let mut keep = Retention { snapshots: ctx.snapshots, bottommost: c.bottommost, last: None };
    let mut last_key: Vec<u8> = Vec::new();
    let mut dropped = 0;
    it.seek_to_first();
    while it.valid() {
        let ikey = it.key();
        let Some(parsed) = key::parse_internal_key(ikey) else {
            return Err(damaged(c, ctx.dir, "malformed internal key"));
        };
        // Inputs out of order would make overlapping outputs, which no version accepts.
        if !last_key.is_empty() && InternalKeyComparator.compare(&last_key, ikey).is_ge() {
            return Err(damaged(c, ctx.dir, "input keys out of order"));
        }
        if keep.starts_new_key(parsed.user_key) {
            out.cut_if_full(parsed.user_key)?;
        }
        if keep.keep(&parsed) {
            out.add(ikey, it.value())?;
        } else {
            dropped += 1;
        }
        last_key.clear();
        last_key.extend_from_slice(ikey);
        it.next();
    }
    // A damaged input ends its child early; only the status tells that from its end.
    it.status()?;
    Ok(dropped)
}

/// Damage the merged stream shows but no one table can be blamed for.
fn damaged(c: &Compaction, dir: &Path, what: &str) -> Error {
    let inputs: Vec<u64> = c.inputs.iter().chain(&c.next_inputs).map(|f| f.number).collect();
    Error::corruption(dir, 0, format!("compaction of tables {inputs:?}: {what}"))
}

/// The inputs as one stream: each L0 file on its own (they overlap), newest first;
/// a sorted level as a single `LevelIter`.
fn input_iter(c: &Compaction, tables: &Arc<TableCache>) -> MergingIter {
    let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
    if c.level == 0 {
        for f in &c.inputs {
            children.push(Box::new(LazyTableIter::new(Arc::clone(tables), Arc::clone(f))));
        }
    } else {
        children.push(Box::new(LevelIter::new(Arc::clone(tables), c.inputs.clone())));
    }
    children.push(Box::new(LevelIter::new(Arc::clone(tables), c.next_inputs.clone())));
    MergingIter::new(children)
}

/// Which versions of a user key survive, seen newest first.
///
/// A snapshot at seqno `s` reads, of each key, the newest version with seqno <= `s`;
/// the present reads the newest of all. Versions whose seqnos no snapshot separates
/// (a *stripe*) are read by the same readers, so only the newest of a stripe is kept.
/// A tombstone in the oldest stripe (every reader sees it or something newer) at the
/// bottommost level hides nothing below, so it goes too, and the older versions of its
/// key are in its stripe and go with it.
struct Retention<'a> {
    snapshots: &'a [u64],
    bottommost: bool,
    /// The current user key and the stripe of its previous (newer) version.
    last: Option<(Vec<u8>, usize)>,
}

impl Retention<'_> {
    /// Whether `user_key` differs from the previous entry's (the place to cut a file).
    fn starts_new_key(&mut self, user_key: &[u8]) -> bool {
        if self.last.as_ref().is_some_and(|(k, _)| k == user_key) {
            return false;
        }
        self.last = None;
        true
    }

    fn keep(&mut self, p: &ParsedKey<'_>) -> bool {
        // The index of the first snapshot that can see this version.
        let stripe = self.snapshots.partition_point(|&s| s < p.seqno);
        let hidden = self.last.as_ref().is_some_and(|&(_, newer)| newer == stripe);
        let dead_tombstone = p.kind == Kind::Delete && self.bottommost && stripe == 0;
        match &mut self.last {
            Some((_, s)) => *s = stripe,
            None => self.last = Some((p.user_key.to_vec(), stripe)),
        }
        !hidden && !dead_tombstone
    }
}

/// The output tables: the one being written and those finished.
struct Outputs<'a> {
    ctx: &'a JobContext<'a>,
    /// Every file this job created, to remove if it fails.
    created: Vec<PathBuf>,
    building: Option<(u64, TableBuilder)>,
    done: Vec<FileMeta>,
    /// The compaction's grandparents, the next one not yet passed, and the bytes of
    /// those passed while the current output was open.
    grandparents: &'a [Arc<FileMeta>],
    gp_next: usize,
    gp_overlap: u64,
}

/// How many target file sizes of the grandparent level one output may overlap before
/// it is cut (LevelDB uses 10).
const GRANDPARENT_OVERLAP: u64 = 10;

impl Outputs<'_> {
    fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        if self.building.is_none() {
            let number = (self.ctx.new_file_number)();
            let path = filename::table_file(self.ctx.dir, number);
            self.created.push(path.clone());
            let file = self.ctx.fs.create(&path)?;
            let opts = self.ctx.table_opts.clone();
            self.building = Some((number, TableBuilder::new(file, path, opts)));
        }
        let (_, builder) = self.building.as_mut().expect("just set");
        builder.add(ikey, value)
    }

    /// Finishes the current table before `next_user_key` if it has reached the target
    /// size, or if it already overlaps more than `GRANDPARENT_OVERLAP` target sizes of
    /// the level below the output (LevelDB's `ShouldStopBefore`). Called only between
    /// user keys, so no key's versions straddle two files of a sorted level.
    fn cut_if_full(&mut self, next_user_key: &[u8]) -> Result<()> {
        let gp = self.grandparents;
        while self.gp_next < gp.len() && key::user_key(&gp[self.gp_next].largest) < next_user_key {
            if self.building.is_some() {
                self.gp_overlap += gp[self.gp_next].size;
            }
            self.gp_next += 1;
        }
        let too_big = self
            .building
            .as_ref()
            .is_some_and(|(_, b)| b.file_size_estimate() >= self.ctx.target_file_size);
        let too_wide = self.building.is_some()
            && self.gp_overlap > GRANDPARENT_OVERLAP.saturating_mul(self.ctx.target_file_size);
        if too_big || too_wide {
            self.gp_overlap = 0;
            return self.finish_table();
        }
        Ok(())
    }

    /// Finishes (and fsyncs) the current table, if any, recording its metadata.
    fn finish_table(&mut self) -> Result<()> {
        let Some((number, builder)) = self.building.take() else { return Ok(()) };
        let props = builder.finish()?;
        self.done.push(FileMeta::from_properties(number, props));
        Ok(())
    }

    /// Finishes the last table and makes every output's directory entry durable.
    fn finish(&mut self) -> Result<()> {
        self.finish_table()?;
        if self.created.is_empty() {
            return Ok(());
        }
        self.ctx.fs.sync_dir(self.ctx.dir)
    }

    /// Removes every output after a failure. No manifest names them, so a file left
    /// behind only wastes space until open removes it; removal errors are ignored.
    fn discard(&mut self) {
        if let Some((_, builder)) = self.building.take() {
            builder.abandon();
        }
        for path in self.created.drain(..) {
            let _ = self.ctx.fs.remove_file(&path);
        }
        self.done.clear();
    }
}
