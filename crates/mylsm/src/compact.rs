//! Running compactions for a database: picking work, running a job outside every
//! lock, installing its edit, and deleting the table files nothing reads any more.
//!
//! One compaction runs at a time (`DbCore::compaction`), from the background
//! compaction thread or from `Db::compact_range` on the caller's thread. Flushes run
//! beside it on their own thread: a flush only adds L0 files, and a compaction's edit
//! only removes the files it read, so the two edits compose in either order.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::compaction::{self, Compaction, JobContext};
use crate::core::{lock, DbCore};
use crate::filename;
use crate::version::{FileMeta, NUM_LEVELS};
use crate::Result;

impl DbCore {
    /// Runs compactions until the picker finds nothing to do. Background thread.
    pub fn compact_pending(&self) {
        loop {
            let _running = lock(&self.compaction);
            if lock(&self.state).bg_error.is_some() || self.closed.load(Ordering::Acquire) {
                return;
            }
            let version = lock(&self.state).version.clone();
            let Some(c) = compaction::pick(&version, &self.compaction_opts) else { return };
            drop(version);
            let result = self.run_compaction(c);
            self.delete_obsolete_tables();
            if let Err(e) = result {
                self.set_bg_error(e);
                return;
            }
        }
    }

    /// Compacts the files overlapping `[begin, end]` (user keys) down to the deepest
    /// level holding data, then that level into itself, so overwritten versions and
    /// tombstones in the range are dropped wherever they live. Caller's thread.
    ///
    /// Following LevelDB, data is pushed no deeper than the tree already reaches; unlike
    /// LevelDB, the deepest level is also rewritten (RocksDB's bottommost compaction).
    pub fn compact_range(&self, begin: Option<&[u8]>, end: Option<&[u8]>) -> Result<()> {
        for level in 0..NUM_LEVELS {
            let _running = lock(&self.compaction);
            // The deepest level is read again under the compaction lock each time: a
            // background compaction may have pushed data deeper since the last level,
            // and rewriting a level "into itself" as if it were the bottom while older
            // data sits below would drop tombstones that still hide that data.
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
                let result = self.run_compaction(c);
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

    /// Runs one compaction and installs its result. The caller holds `compaction`, and
    /// deletes the replaced tables afterwards (once `c`, which holds them, is gone).
    fn run_compaction(&self, c: Compaction) -> Result<()> {
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
        let out = compaction::run(&c, &ctx)?;
        let removed: Vec<Arc<FileMeta>> = c.inputs.iter().chain(&c.next_inputs).cloned().collect();
        {
            // Installed under the manifest lock, in logging order (see `flush_one`).
            let mut versions = lock(&self.versions);
            let version =
                versions.log_and_apply(out.edit, self.next_file.load(Ordering::Relaxed))?;
            let mut st = lock(&self.state);
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

/// Rewrites the files of `level` overlapping the range into the same level, dropping
/// what no snapshot needs. The caller holds the compaction lock and has checked that no
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
