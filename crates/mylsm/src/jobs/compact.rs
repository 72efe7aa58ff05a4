//! The compaction job: picking work on a tree, running it outside every lock,
//! installing its edit, and deleting the table files nothing reads any more.
//!
//! Up to `max_compactions` compactions run at once on the background pool, each on
//! tables no other one holds (`TreeState::compacting`, see `compaction::pick_avoiding`).
//! `compact_range` runs on the caller's thread once the running ones are done, and
//! keeps new ones from starting until it returns. Flushes run beside compactions: a
//! flush only adds L0 files, and a compaction's edit only removes the files it read,
//! so the edits compose in any order.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::compaction::{self, Compaction, JobContext};
use crate::engine::tree::{Tree, TreeState};
use crate::engine::Shared;
use crate::filename;
use crate::filter::FilterContext;
use crate::jobs::pool::{catch, latch_if_panicking};
use crate::version::{FileMeta, Version, NUM_LEVELS};
use crate::Result;

/// Runs compactions on `tree` until the picker finds nothing to do that no other
/// compaction is already doing. Background pool; several may run this at once.
pub(crate) fn compact_pending(shared: &Shared, tree: &Arc<Tree>) {
    let max = shared.opts().max_compactions();
    loop {
        let (c, running) = {
            let mut st = tree.state();
            let cs = &st.compacting;
            if shared.latch().check().is_err() || cs.manual || cs.running >= max {
                return;
            }
            let picked = compaction::pick_avoiding(&st.version, &tree.opts().compaction, &cs.busy)
                .or_else(|| pick_expired(&st.version, expiry_now(shared), &cs.busy));
            let Some(c) = picked else { return };
            let numbers: Vec<u64> =
                c.inputs.iter().chain(&c.next_inputs).map(|f| f.number).collect();
            let cs = &mut st.compacting;
            cs.busy.extend(&numbers);
            cs.running += 1;
            let peak = &tree.counters().compactions_peak;
            peak.fetch_max(cs.running as u64, Ordering::Relaxed);
            (c, Running { shared, tree, numbers })
        };
        // Another worker may find work beside this one.
        if max > 1 {
            shared.jobs().schedule_compaction(tree);
        }
        let mut running = running;
        let result = catch(|| run_compaction(shared, tree, c, &mut running.numbers));
        // Latched before the tables are unmarked and the count drops (`jobs::pool`).
        if let Err(e) = &result {
            tree.fail(shared, e);
        }
        delete_obsolete_tables(shared, tree);
        // Counted as running until the tables it replaced are deleted, so that
        // `wait_for_compactions` returning means they are gone.
        drop(running);
        if result.is_err() {
            return;
        }
    }
}

/// A background compaction in flight: unmarks its tables (if the install has not
/// already) and stops counting it as running when dropped, a panic included.
///
/// The install empties `numbers` as it unmarks them: a trivially moved table keeps its
/// number, and another compaction may mark it busy again before this guard drops, so
/// unmarking it twice would let a third compaction pick it as well.
struct Running<'a> {
    shared: &'a Shared,
    tree: &'a Tree,
    numbers: Vec<u64>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        latch_if_panicking(self.shared, "compaction");
        let mut st = self.tree.state();
        unmark(&mut st, &self.numbers);
        st.compacting.running -= 1;
        drop(st);
        self.tree.notify();
    }
}

fn unmark(st: &mut TreeState, numbers: &[u64]) {
    for n in numbers {
        st.compacting.busy.remove(n);
    }
}

/// Waits until no background compaction runs on `tree` and keeps new ones from
/// starting while the returned guard lives.
pub(crate) fn hold_compactions<'a>(
    shared: &'a Shared,
    tree: &'a Arc<Tree>,
) -> Result<ManualGuard<'a>> {
    let mut st = tree.state();
    while st.compacting.running > 0 || st.compacting.manual {
        shared.latch().check()?;
        st = tree.wait(st, None);
    }
    st.compacting.manual = true;
    Ok(ManualGuard { shared, tree })
}

/// Compacts the files of `tree` overlapping `[begin, end]` (user keys) down to the
/// deepest level holding data, then that level into itself, so overwritten versions and
/// tombstones in the range are dropped wherever they live. Caller's thread.
///
/// Following LevelDB, data is pushed no deeper than the tree already reaches; unlike
/// LevelDB, the deepest level is also rewritten (RocksDB's bottommost compaction).
pub(crate) fn compact_range(
    shared: &Shared,
    tree: &Arc<Tree>,
    begin: Option<&[u8]>,
    end: Option<&[u8]>,
) -> Result<()> {
    let _held = hold_compactions(shared, tree)?;
    for level in 0..NUM_LEVELS {
        // `close` waits for this call; it stops before the next step.
        shared.latch().check()?;
        // The deepest level is read again each time (flushes still add L0 files):
        // rewriting a level "into itself" as if it were the bottom while older data
        // sits below would drop tombstones that still hide that data.
        let picked = {
            let version = tree.state().version.clone();
            let deepest = (0..NUM_LEVELS).rev().find(|&l| version.num_files(l) > 0).unwrap_or(0);
            if level > deepest {
                break;
            }
            if level < deepest {
                compaction::pick_range(&version, level, begin, end)
            } else {
                bottom_compaction(&version, level, begin, end)
            }
        };
        if let Some(c) = picked {
            let result = catch(|| run_compaction(shared, tree, c, &mut Vec::new()));
            delete_obsolete_tables(shared, tree);
            if let Err(e) = result {
                tree.fail(shared, &e);
                return Err(e);
            }
        }
    }
    delete_obsolete_tables(shared, tree);
    Ok(())
}

/// Runs one compaction and installs its result; `busy` are the tables it marked busy
/// (none for a manual one), unmarked (and emptied) in the step that installs the new
/// version. The caller deletes the replaced tables afterwards (once `c`, which holds
/// them, is gone).
fn run_compaction(shared: &Shared, tree: &Tree, c: Compaction, busy: &mut Vec<u64>) -> Result<()> {
    let opts = tree.opts();
    let filter = match &shared.opts().compaction_filter {
        Some(factory) if !c.trivial_move => factory.create(&FilterContext {
            keyspace: tree.name().to_string(),
            output_level: c.output_level,
            bottommost: c.bottommost,
            manual: busy.is_empty(),
        }),
        _ => None,
    };
    // Counted before the snapshot list is read, until the result is installed, so a
    // snapshot taken meanwhile pins the views it reads (see `Snapshot::new`).
    let _filtering = filter.as_ref().map(|_| shared.start_filtering());
    // Inputs are fixed before the snapshot list is read (see `SnapshotList::acquire`).
    let (snapshots, oldest_now) = shared.snapshots().seqnos();
    let now = oldest_now.map_or(shared.now(), |n| n.min(shared.now()));
    let next_file = || shared.new_file_number();
    let ctx = JobContext {
        fs: shared.fs(),
        dir: shared.dir(),
        tables: shared.tables(),
        table_opts: &opts.table,
        target_file_size: opts.compaction.target_file_size,
        snapshots: &snapshots,
        new_file_number: &next_file,
        merge: opts.merge.clone(),
        now,
        filter: filter.map(std::cell::RefCell::new),
        keyspace: crate::engine::table_file::keyspace_tag(tree.id(), tree.name(), opts),
    };
    let mut out = compaction::run(&c, &ctx)?;
    out.edit.keyspace = tree.id();
    let removed: Vec<Arc<FileMeta>> = c.inputs.iter().chain(&c.next_inputs).cloned().collect();
    {
        // Installed under the manifest lock, in logging order (see `jobs::flush`).
        let mut versions = shared.versions();
        if tree.is_dropped() {
            // Dropped while the compaction ran (a drop holds this lock too): its outputs
            // belong to nothing (a move wrote none).
            drop(versions);
            for (_, f) in out.edit.added.iter().filter(|_| !c.trivial_move) {
                let _ = shared.fs().remove_file(&filename::table_file(shared.dir(), f.number));
            }
            return Ok(());
        }
        let version =
            versions.log_and_apply(out.edit, shared.next_file_number(), shared.latch())?;
        let mut st = tree.state();
        // Unmarked in the same step as the install: a compaction picked later sees
        // either the old version with these tables busy, or the new one without them.
        unmark(&mut st, busy);
        busy.clear();
        st.version = version;
        st.compactions += 1;
        if !c.trivial_move {
            st.obsolete.extend(removed);
        }
        tree.refresh_view(&st);
    }
    let counters = tree.counters();
    counters.compacted_read.fetch_add(out.bytes_read, Ordering::Relaxed);
    counters.compacted_written.fetch_add(out.bytes_written, Ordering::Relaxed);
    counters.compacted_dropped.fetch_add(out.entries_dropped, Ordering::Relaxed);
    counters.merge_failures.fetch_add(out.merge_failures, Ordering::Relaxed);
    tree.notify();
    Ok(())
}

/// Deletes the tables compactions replaced that no version, iterator or snapshot can
/// read any more: those whose `FileMeta` only the obsolete list still holds.
pub(crate) fn delete_obsolete_tables(shared: &Shared, tree: &Tree) {
    let unreferenced: Vec<Arc<FileMeta>> = {
        let mut st = tree.state();
        let (dead, alive) =
            std::mem::take(&mut st.obsolete).into_iter().partition(|f| Arc::strong_count(f) == 1);
        st.obsolete = alive;
        dead
    };
    for f in unreferenced {
        shared.tables().evict(f.number);
        // A file that cannot be removed now is removed at the next open, which deletes
        // every table no version names.
        let _ = shared.fs().remove_file(&filename::table_file(shared.dir(), f.number));
    }
}

/// Lets background compactions start again when a manual compaction is done.
pub(crate) struct ManualGuard<'a> {
    shared: &'a Shared,
    tree: &'a Arc<Tree>,
}

impl Drop for ManualGuard<'_> {
    fn drop(&mut self) {
        self.tree.state().compacting.manual = false;
        self.tree.notify();
        self.shared.jobs().schedule_compaction(self.tree);
    }
}

/// Rewrites the files of `level` overlapping the range into the same level, dropping
/// what no snapshot needs. The caller holds off background compactions and has checked
/// that no deeper level holds data, which is what makes dropping tombstones safe. L0
/// has no "into itself": its files may overlap, so it is left to `pick_range`.
fn bottom_compaction(
    version: &Version,
    level: usize,
    begin: Option<&[u8]>,
    end: Option<&[u8]>,
) -> Option<Compaction> {
    if level == 0 {
        return compaction::pick_range(version, 0, begin, end);
    }
    let inputs = version.overlapping_files(level, begin, end);
    (!inputs.is_empty()).then_some(Compaction {
        level,
        output_level: level,
        inputs,
        next_inputs: Vec::new(),
        bottommost: true,
        trivial_move: false,
        grandparents: Vec::new(),
    })
}

/// The time before which an expiring value has expired for every reader: the clock's
/// now, or the oldest `now` of a live snapshot.
pub(crate) fn expiry_now(shared: &Shared) -> u64 {
    let (_, oldest) = shared.snapshots().seqnos();
    oldest.map_or(shared.now(), |n| n.min(shared.now()))
}

/// Whether `version` holds a table whose entries have all expired by `now`.
fn has_expired(version: &Version, now: u64) -> bool {
    version.files().any(|(_, f)| f.expires_by != 0 && f.expires_by <= now)
}

/// A compaction of a table whose entries have all expired by `now` (with what it must
/// take along), none of whose tables `busy` holds: ordinary compaction may never reach
/// a table nothing is written over, and expired data must still go. Its entries
/// become tombstones, or vanish at the bottommost level.
pub(crate) fn pick_expired(
    version: &Version,
    now: u64,
    busy: &std::collections::HashSet<u64>,
) -> Option<Compaction> {
    if !has_expired(version, now) {
        return None;
    }
    for (level, f) in version.files() {
        if f.expires_by == 0 || f.expires_by > now {
            continue;
        }
        let (lo, hi) = (crate::key::user_key(&f.smallest), crate::key::user_key(&f.largest));
        let c = if level + 1 < NUM_LEVELS {
            compaction::pick_range(version, level, Some(lo), Some(hi))
        } else {
            bottom_compaction(version, level, Some(lo), Some(hi))
        };
        let Some(mut c) = c else { continue };
        // A move would carry the expired entries along unread.
        c.trivial_move = false;
        if c.inputs.iter().chain(&c.next_inputs).all(|t| !busy.contains(&t.number)) {
            return Some(c);
        }
    }
    None
}

/// Asks for a compaction of every keyspace that holds a table whose entries have all
/// expired (a worker does this when it has been idle `expiry_check_interval`).
pub(crate) fn schedule_expired(shared: &Shared) {
    let now = expiry_now(shared);
    for tree in shared.trees() {
        if !tree.is_dropped() && has_expired(&tree.current_view().version, now) {
            shared.jobs().schedule_compaction(&tree);
        }
    }
}
