//! Running compactions for a database: picking work, running jobs outside every lock,
//! installing their edits, and deleting the table files nothing reads any more.
//!
//! Up to `max_compactions` compactions run at once on the background pool, each on
//! tables no other one holds (`DbState::compacting`, see `compaction::pick_avoiding`).
//! `Db::compact_range` runs on the caller's thread once the running ones are done, and
//! keeps new ones from starting until it returns. Flushes run beside compactions: a
//! flush only adds L0 files, and a compaction's edit only removes the files it read,
//! so the edits compose in any order.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::compaction::{self, Busy, Compaction, JobContext};
use crate::core::{lock, DbCore};
use crate::filename;
use crate::version::{FileMeta, NUM_LEVELS};
use crate::Result;

/// The compactions under way. Guarded by `DbCore::state`.
#[derive(Debug, Default)]
pub(crate) struct Compacting {
    /// The tables running compactions read (inputs of both levels).
    pub busy: Busy,
    /// Background compactions running.
    pub running: usize,
    /// A manual `compact_range` is running: no background compaction starts.
    pub manual: bool,
}

impl DbCore {
    /// Runs compactions until the picker finds nothing to do that no other compaction
    /// is already doing. Background pool; several may run this at once.
    pub fn compact_pending(&self) {
        loop {
            let (c, numbers) = {
                let mut st = lock(&self.state);
                let cs = &st.compacting;
                if st.bg_error.is_some()
                    || self.closed.load(Ordering::Acquire)
                    || cs.manual
                    || cs.running >= self.max_compactions
                {
                    return;
                }
                let picked =
                    compaction::pick_avoiding(&st.version, &self.compaction_opts, &cs.busy);
                let Some(c) = picked else { return };
                let numbers: Vec<u64> =
                    c.inputs.iter().chain(&c.next_inputs).map(|f| f.number).collect();
                let cs = &mut st.compacting;
                cs.busy.extend(&numbers);
                cs.running += 1;
                self.counters.compactions_peak.fetch_max(cs.running as u64, Ordering::Relaxed);
                (c, numbers)
            };
            // Another worker may find work beside this one.
            if self.max_compactions > 1 {
                self.schedule_compaction();
            }
            let result = self.run_compaction(c, &numbers);
            self.delete_obsolete_tables();
            // Counted as running until the tables it replaced are deleted, so that
            // `wait_for_compactions` returning means they are gone.
            lock(&self.state).compacting.running -= 1;
            self.state_changed.notify_all();
            if let Err(e) = result {
                self.set_bg_error(e);
                return;
            }
        }
    }

    /// Waits until no background compaction runs and keeps new ones from starting
    /// while the returned guard lives.
    fn hold_compactions(&self) -> ManualGuard<'_> {
        let mut st = lock(&self.state);
        while st.compacting.running > 0 || st.compacting.manual {
            st = self.state_changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        st.compacting.manual = true;
        ManualGuard(self)
    }

    /// Compacts the files overlapping `[begin, end]` (user keys) down to the deepest
    /// level holding data, then that level into itself, so overwritten versions and
    /// tombstones in the range are dropped wherever they live. Caller's thread.
    ///
    /// Following LevelDB, data is pushed no deeper than the tree already reaches; unlike
    /// LevelDB, the deepest level is also rewritten (RocksDB's bottommost compaction).
    pub fn compact_range(&self, begin: Option<&[u8]>, end: Option<&[u8]>) -> Result<()> {
        let _held = self.hold_compactions();
        for level in 0..NUM_LEVELS {
            // `close` waits for this call; it stops before the next step.
            if self.closed.load(Ordering::Acquire) {
                return Err(crate::Error::Closed);
            }
            // The deepest level is read again each time (flushes still add L0 files):
            // rewriting a level "into itself" as if it were the bottom while older data
            // sits below would drop tombstones that still hide that data.
            let picked = {
                let version = lock(&self.state).version.clone();
                let deepest =
                    (0..NUM_LEVELS).rev().find(|&l| version.num_files(l) > 0).unwrap_or(0);
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
                let result = self.run_compaction(c, &[]);
                self.delete_obsolete_tables();
                if let Err(e) = result {
                    self.set_bg_error(e.clone());
                    return Err(e);
                }
            }
        }
        self.delete_obsolete_tables();
        Ok(())
    }

    /// Runs one compaction and installs its result; `busy` are the tables it marked
    /// busy (none for a manual one), unmarked as it finishes. The caller deletes the
    /// replaced tables afterwards (once `c`, which holds them, is gone).
    fn run_compaction(&self, c: Compaction, busy: &[u64]) -> Result<()> {
        // Inputs are fixed before the snapshot list is read (see `SnapshotList::acquire`).
        let snapshots = self.snapshots.seqnos();
        let next_file = || self.new_file_number();
        let ctx = JobContext {
            fs: self.fs.as_ref(),
            dir: &self.dir,
            tables: &self.tables,
            table_opts: &self.table_opts,
            target_file_size: self.compaction_opts.target_file_size,
            snapshots: &snapshots,
            new_file_number: &next_file,
        };
        let out = match compaction::run(&c, &ctx) {
            Ok(out) => out,
            Err(e) => {
                self.finish_compaction(&mut lock(&self.state), busy);
                self.state_changed.notify_all();
                return Err(e);
            }
        };
        let removed: Vec<Arc<FileMeta>> = c.inputs.iter().chain(&c.next_inputs).cloned().collect();
        {
            // Installed under the manifest lock, in logging order (see `flush_one`).
            let mut versions = lock(&self.versions);
            let logged = versions.log_and_apply(out.edit, self.next_file.load(Ordering::Relaxed));
            let mut st = lock(&self.state);
            // Unmarked in the same step as the install: a compaction picked later sees
            // either the old version with these tables busy, or the new one without them.
            self.finish_compaction(&mut st, busy);
            let version = match logged {
                Ok(v) => v,
                Err(e) => {
                    drop(st);
                    self.state_changed.notify_all();
                    return Err(e);
                }
            };
            st.version = version;
            st.compactions += 1;
            if !c.trivial_move {
                st.obsolete.extend(removed);
            }
            let active = self.current_view().mem.clone();
            self.install_view(&st, active);
        }
        self.counters.compacted_read.fetch_add(out.bytes_read, Ordering::Relaxed);
        self.counters.compacted_written.fetch_add(out.bytes_written, Ordering::Relaxed);
        self.counters.compacted_dropped.fetch_add(out.entries_dropped, Ordering::Relaxed);
        self.state_changed.notify_all();
        Ok(())
    }

    /// Unmarks a finished (or failed) background compaction's tables; nothing for a
    /// manual one, which marked none. (`compact_pending` counts it as running until
    /// the tables it replaced are deleted.)
    fn finish_compaction(&self, st: &mut crate::core::DbState, busy: &[u64]) {
        for n in busy {
            st.compacting.busy.remove(n);
        }
    }

    /// Deletes the tables compactions replaced that no version, iterator or snapshot
    /// can read any more: those whose `FileMeta` only the obsolete list still holds.
    pub fn delete_obsolete_tables(&self) {
        let unreferenced: Vec<Arc<FileMeta>> = {
            let mut st = lock(&self.state);
            let (dead, alive) = std::mem::take(&mut st.obsolete)
                .into_iter()
                .partition(|f| Arc::strong_count(f) == 1);
            st.obsolete = alive;
            dead
        };
        for f in unreferenced {
            self.tables.evict(f.number);
            // A file that cannot be removed now is removed at the next open, which
            // deletes every table no version names.
            let _ = self.fs.remove_file(&filename::table_file(&self.dir, f.number));
        }
    }
}

/// Lets background compactions start again when a manual compaction is done.
struct ManualGuard<'a>(&'a DbCore);

impl Drop for ManualGuard<'_> {
    fn drop(&mut self) {
        lock(&self.0.state).compacting.manual = false;
        self.0.state_changed.notify_all();
        self.0.schedule_compaction();
    }
}

/// Rewrites the files of `level` overlapping the range into the same level, dropping
/// what no snapshot needs. The caller holds off background compactions and has checked that no
/// deeper level holds data, which is what makes dropping tombstones safe. L0 has no
/// "into itself": its files may overlap, so it is left to `pick_range`.
fn bottom_compaction(
    version: &crate::version::Version,
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
