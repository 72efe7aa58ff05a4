//! Running one compaction: merge its inputs, drop the versions no reader can see, and
//! write the rest as new tables of the output level, cut at the target file size.
//!
//! Follows LevelDB's `DBImpl::DoCompactionWork`; differs in keeping one version per
//! snapshot stripe (RocksDB's rule) where LevelDB consults only the oldest snapshot,
//! and in never cutting an output between two versions of one user key.
//!
//! One user key at a time: its versions are split into *stripes* (versions no
//! snapshot tells apart) and each stripe is reduced by the rules readers use
//! (`resolve.rs`), so every reader of the stripe reads the same before and after:
//! - a version covered by a range tombstone of its own stripe goes;
//! - the newest put or delete of a stripe stays and hides the rest of the stripe; an
//!   expired value (expired for every snapshot too) becomes a delete;
//! - merge operands above a base (a put, or a delete, tombstone or expired value) are
//!   merged into a put; without a base in the stripe, or above a value that will
//!   expire (operands apply to it only while it lives), they are partially merged if
//!   the operator can, or kept — unless nothing older exists anywhere (bottommost,
//!   oldest stripe), when they are merged onto nothing;
//! - a delete in the oldest stripe at the bottommost level goes;
//! - the compaction filter sees the newest stripe's value when no snapshot can see it.
//!
//! Range tombstones of the inputs are fragmented, reduced to the newest per stripe
//! (the oldest stripe's dropped at the bottommost level), and each output gets the
//! pieces within `[its first key, the next output's first key)` — the first output
//! from the start, the last to the end — so a tombstone in the gap between two outputs
//! is never lost, and no piece is in two tables of a level.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::Compaction;
use crate::filename;
use crate::filter::{CompactionFilter, Decision};
use crate::fs::FileSystem;
use crate::iter::merge::MergingIter;
use crate::iter::InternalIterator;
use crate::key::{self, InternalKeyComparator, Kind};
use crate::merge::MergeOperator;
use crate::range_del::{Fragments, Tombstone};
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
    /// The keyspace's merge operator.
    pub merge: Option<Arc<dyn MergeOperator>>,
    /// Expiring values that expire at or before this time are expired for every
    /// reader (the oldest `now` of the live snapshots, or the clock's).
    pub now: u64,
    /// The compaction filter, if one applies.
    pub filter: Option<std::cell::RefCell<Box<dyn CompactionFilter>>>,
    /// The keyspace every output records in its properties (`None`: the default one).
    pub keyspace: Option<crate::sstable::KeyspaceTag>,
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
    /// Stripes whose merge operands could not be merged and were kept as they were.
    pub merge_failures: u64,
}

/// Runs compaction `c`. On error no output file is left behind (best effort) and
/// nothing has changed: the inputs are untouched and no edit exists.
pub(crate) fn run(c: &Compaction, ctx: &JobContext<'_>) -> Result<JobOutput> {
    let mut edit = VersionEdit::default();
    edit.deleted.extend(c.inputs.iter().map(|f| (c.level, f.number)));
    edit.deleted.extend(c.next_inputs.iter().map(|f| (c.output_level, f.number)));
    if c.trivial_move {
        edit.added.extend(c.inputs.iter().map(|f| (c.output_level, FileMeta::clone(f))));
        let (bytes_read, bytes_written, entries_dropped, merge_failures) = (0, 0, 0, 0);
        return Ok(JobOutput { edit, bytes_read, bytes_written, entries_dropped, merge_failures });
    }
    let mut out = Outputs {
        ctx,
        created: Vec::new(),
        building: None,
        done: Vec::new(),
        grandparents: &c.grandparents,
        gp_next: 0,
        gp_overlap: 0,
        tombstones: Fragments::default(),
        lo: None,
    };
    let mut merge_failures = 0;
    let merged = merge(c, ctx, &mut out, &mut merge_failures);
    let dropped = match merged.and_then(|d| out.finish().map(|()| d)) {
        Ok(d) => d,
        Err(e) => {
            out.discard();
            return Err(e);
        }
    };
    let bytes_read = c.inputs.iter().chain(&c.next_inputs).map(|f| f.size).sum();
    let bytes_written = out.done.iter().map(|f| f.size).sum();
    edit.added.extend(out.done.into_iter().map(|f| (c.output_level, f)));
    Ok(JobOutput { edit, bytes_read, bytes_written, entries_dropped: dropped, merge_failures })
}

/// Streams the merged inputs into `out`; returns how many entries were dropped.
fn merge(
    c: &Compaction,
    ctx: &JobContext<'_>,
    out: &mut Outputs<'_>,
    merge_failures: &mut u64,
) -> Result<u64> {
    let mut tombstones: Vec<Tombstone> = Vec::new();
    for f in c.inputs.iter().chain(&c.next_inputs).filter(|f| f.has_range_dels) {
        if let Some(t) = ctx.tables.get(f)?.range_tombstones() {
            tombstones.extend(t.tombstones());
        }
    }
    let all = Fragments::new(tombstones);
    let snapshots = ctx.snapshots;
    let stripe = |s: u64| snapshots.partition_point(|&x| x < s);
    out.tombstones = all.retained(stripe, c.bottommost);
    let mut keys = KeyReducer {
        ctx,
        bottommost: c.bottommost,
        tombstones: &all,
        emitted: Vec::new(),
        merge_failures: 0,
    };
    let mut it = input_iter(c, ctx.tables);
    let mut versions: Vec<(u64, Kind, Vec<u8>)> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut last_key: Vec<u8> = Vec::new();
    let mut dropped = 0;
    it.seek_to_first();
    loop {
        let parsed = if it.valid() {
            let ikey = it.key();
            let Some(parsed) = key::parse_internal_key(ikey) else {
                return Err(damaged(c, ctx.dir, "malformed internal key"));
            };
            // Inputs out of order would make overlapping outputs, which no version accepts.
            if !last_key.is_empty() && InternalKeyComparator.compare(&last_key, ikey).is_ge() {
                return Err(damaged(c, ctx.dir, "input keys out of order"));
            }
            Some(parsed)
        } else {
            None
        };
        if !versions.is_empty() && parsed.is_none_or(|p| p.user_key != current.as_slice()) {
            out.cut_if_full(&current)?;
            keys.reduce(&current, &versions)?;
            dropped += versions.len().saturating_sub(keys.emitted.len()) as u64;
            for (seqno, kind, value) in keys.emitted.drain(..) {
                last_key.clear();
                key::append_internal_key(&mut last_key, &current, seqno, kind);
                out.add(&last_key, &value)?;
            }
            versions.clear();
        }
        let Some(p) = parsed else { break };
        if versions.is_empty() {
            current.clear();
            current.extend_from_slice(p.user_key);
        }
        versions.push((p.seqno, p.kind, it.value().to_vec()));
        last_key.clear();
        last_key.extend_from_slice(it.key());
        it.next();
    }
    // A damaged input ends its child early; only the status tells that from its end.
    it.status()?;
    *merge_failures = keys.merge_failures;
    Ok(dropped)
}

/// Reduces one user key's versions (newest first) to what some reader still needs.
struct KeyReducer<'a> {
    ctx: &'a JobContext<'a>,
    bottommost: bool,
    /// Every range tombstone of the inputs, fragmented.
    tombstones: &'a Fragments,
    /// The entries to write for the key, newest first: (seqno, kind, value).
    emitted: Vec<(u64, Kind, Vec<u8>)>,
    merge_failures: u64,
}

/// How a stripe's walk over its versions ended.
enum Base<'v> {
    /// A put (value, expiry if it expires).
    Value(&'v [u8], Option<u64>),
    /// A delete, a covering tombstone or an expired value.
    Gone,
    /// The stripe ran out of versions.
    Open,
}

impl KeyReducer<'_> {
    fn stripe(&self, seqno: u64) -> usize {
        self.ctx.snapshots.partition_point(|&s| s < seqno)
    }

    fn reduce(&mut self, key: &[u8], versions: &[(u64, Kind, Vec<u8>)]) -> Result<()> {
        let mut i = 0;
        while i < versions.len() {
            let st = self.stripe(versions[i].0);
            let j = i + versions[i..].iter().take_while(|v| self.stripe(v.0) == st).count();
            let oldest = j == versions.len();
            self.reduce_stripe(key, &versions[i..j], st, i == 0, oldest)?;
            i = j;
        }
        Ok(())
    }

    fn reduce_stripe(
        &mut self,
        key: &[u8],
        group: &[(u64, Kind, Vec<u8>)],
        st: usize,
        newest: bool,
        oldest: bool,
    ) -> Result<()> {
        let stripe = |s: u64| self.ctx.snapshots.partition_point(|&x| x < s);
        let mut operands: Vec<&[u8]> = Vec::new();
        let mut base = Base::Open;
        for (seqno, kind, value) in group {
            if self.tombstones.covers_in_stripe(key, *seqno, stripe) {
                base = Base::Gone;
                break;
            }
            match kind {
                Kind::Merge => {
                    operands.push(value);
                    continue;
                }
                Kind::Put => base = Base::Value(value, None),
                Kind::Delete => base = Base::Gone,
                Kind::PutExpiring => {
                    let Some((expiry, v)) = crate::expiry::decode(value) else {
                        return Err(Error::corruption(
                            self.ctx.dir,
                            0,
                            "short expiring value in a table",
                        ));
                    };
                    base = if expiry <= self.ctx.now {
                        Base::Gone
                    } else {
                        Base::Value(v, Some(expiry))
                    };
                }
                Kind::RangeDelete => {
                    return Err(Error::corruption(self.ctx.dir, 0, "range tombstone among points"))
                }
            }
            break;
        }
        let (top_seqno, top_kind, top_value) = &group[0];
        let dead_tombstone = self.bottommost && st == 0;
        if operands.is_empty() {
            match base {
                Base::Value(v, expiry) => {
                    let visible_to_none = newest && st == self.ctx.snapshots.len();
                    if visible_to_none && self.ctx.filter.is_some() {
                        self.filtered(key, *top_seqno, v, expiry, dead_tombstone);
                    } else {
                        self.emitted.push((*top_seqno, *top_kind, top_value.clone()));
                    }
                }
                Base::Gone if matches!(top_kind, Kind::Delete | Kind::PutExpiring) => {
                    let covered = self.tombstones.covers_in_stripe(key, *top_seqno, stripe);
                    if !dead_tombstone && !covered {
                        self.emitted.push((*top_seqno, Kind::Delete, Vec::new()));
                    }
                }
                // Covered by a tombstone that stays (or is dropped with it).
                Base::Gone | Base::Open => {}
            }
            return Ok(());
        }
        // Merge operands on top.
        operands.reverse();
        let merged = match (&self.ctx.merge, &base) {
            (Some(op), Base::Value(v, None)) => Some(op.full_merge(key, Some(v), &operands)),
            // Operands over an expiring value apply to it only while it lives: merge
            // them with each other, and keep the value as it is.
            (Some(op), Base::Value(_, Some(_))) if operands.len() > 1 => {
                if let Some(p) = op.partial_merge(key, &operands) {
                    self.emitted.push((*top_seqno, Kind::Merge, p));
                    let (seqno, kind, value) = &group[operands.len()];
                    self.emitted.push((*seqno, *kind, value.clone()));
                    return Ok(());
                }
                None
            }
            (Some(op), Base::Gone) => Some(op.full_merge(key, None, &operands)),
            (Some(op), Base::Open) if oldest && self.bottommost => {
                Some(op.full_merge(key, None, &operands))
            }
            (Some(op), Base::Open) if operands.len() > 1 => {
                if let Some(p) = op.partial_merge(key, &operands) {
                    self.emitted.push((*top_seqno, Kind::Merge, p));
                    return Ok(());
                }
                None
            }
            _ => None,
        };
        match merged {
            Some(Ok(value)) => {
                let expiry = None;
                let visible_to_none = newest && st == self.ctx.snapshots.len();
                if visible_to_none && self.ctx.filter.is_some() {
                    self.filtered(key, *top_seqno, &value, expiry, dead_tombstone);
                } else {
                    self.push_value(*top_seqno, &value, expiry);
                }
            }
            failed => {
                // No operator, no base to merge onto, or a failed merge: keep the
                // stripe's operands and base as they are.
                if matches!(failed, Some(Err(_))) {
                    self.merge_failures += 1;
                }
                let keep =
                    group.len().min(operands.len() + usize::from(!matches!(base, Base::Open)));
                for (seqno, kind, value) in &group[..keep] {
                    if self.tombstones.covers_in_stripe(key, *seqno, stripe) {
                        break;
                    }
                    self.emitted.push((*seqno, *kind, value.clone()));
                }
            }
        }
        Ok(())
    }

    fn push_value(&mut self, seqno: u64, value: &[u8], expiry: Option<u64>) {
        match expiry {
            Some(e) => {
                self.emitted.push((seqno, Kind::PutExpiring, crate::expiry::encode(e, value)))
            }
            None => self.emitted.push((seqno, Kind::Put, value.to_vec())),
        }
    }

    /// Asks the compaction filter about the newest value of a key that no snapshot sees.
    fn filtered(&mut self, key: &[u8], seqno: u64, value: &[u8], expiry: Option<u64>, dead: bool) {
        let decision = match &self.ctx.filter {
            Some(f) => f.borrow_mut().filter(key, value),
            None => Decision::Keep,
        };
        match decision {
            Decision::Keep => self.push_value(seqno, value, expiry),
            Decision::Remove if dead => {}
            Decision::Remove => self.emitted.push((seqno, Kind::Delete, Vec::new())),
            Decision::ChangeValue(v) => self.push_value(seqno, &v, expiry),
        }
    }
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
    /// The range tombstones to write, and the first user key of the output being
    /// written (`None` for the first: its tombstones start wherever they start).
    tombstones: Fragments,
    lo: Option<Vec<u8>>,
}

/// How many target file sizes of the grandparent level one output may overlap before
/// it is cut (LevelDB uses 10).
const GRANDPARENT_OVERLAP: u64 = 10;

impl Outputs<'_> {
    fn open_table(&mut self) -> Result<()> {
        let number = (self.ctx.new_file_number)();
        let path = filename::table_file(self.ctx.dir, number);
        self.created.push(path.clone());
        let file = self.ctx.fs.create(&path)?;
        let opts = self.ctx.table_opts.clone();
        let mut builder = TableBuilder::new(file, path, opts);
        builder.set_keyspace(self.ctx.keyspace.as_ref());
        self.building = Some((number, builder));
        Ok(())
    }

    fn add(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        if self.building.is_none() {
            self.open_table()?;
        }
        match self.building.as_mut() {
            Some((_, builder)) => builder.add(ikey, value),
            None => Ok(()),
        }
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
            return self.finish_table(Some(next_user_key));
        }
        Ok(())
    }

    /// Finishes (and fsyncs) the current table, if any, recording its metadata. The
    /// next table will start at `next` (`None`: there is none), so this one takes the
    /// range tombstones below it.
    fn finish_table(&mut self, next: Option<&[u8]>) -> Result<()> {
        let Some((number, mut builder)) = self.building.take() else { return Ok(()) };
        builder.set_range_tombstones(self.tombstones.clipped(self.lo.as_deref(), next));
        self.lo = next.map(<[u8]>::to_vec);
        let props = builder.finish()?;
        self.done.push(FileMeta::from_properties(number, props));
        Ok(())
    }

    /// Finishes the last table and makes every output's directory entry durable.
    fn finish(&mut self) -> Result<()> {
        let rest = self.tombstones.clipped(self.lo.as_deref(), None);
        if self.building.is_none() && !rest.is_empty() {
            // Tombstones past the last point entry (or with no point entries at all)
            // need a table of their own.
            self.open_table()?;
        }
        self.finish_table(None)?;
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
