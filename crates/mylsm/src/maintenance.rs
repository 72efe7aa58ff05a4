//! The maintenance calls of [`Db`]: flushing, verifying, compacting and waiting for
//! background work (the read and write calls are in `db/`).

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use crate::engine::tree::Tree;
use crate::{Db, Error, Result};

impl Db {
    /// Writes the memtables of every keyspace out as L0 tables and waits until every
    /// memtable that held data when it was called is in a table. Memtables filled by
    /// writes that come after the call are not waited for, so it returns under steady
    /// writes too.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// db.flush()?;
    /// assert_eq!(db.stats().memtable_entries, 0);
    /// assert_eq!(db.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` on a read-only handle; `Closed`; `Background` if a flush failed
    /// (the failure is latched).
    pub fn flush(&self) -> Result<()> {
        self.flush_trees(&self.shared().trees())
    }

    /// Flushes (and waits for) `trees`; the switch to a new WAL cuts every keyspace's
    /// memtable loose, so the others' are flushed too, but not waited for.
    pub(crate) fn flush_trees(&self, trees: &[Arc<Tree>]) -> Result<()> {
        let w = self.writer()?;
        w.with_log(|log| {
            if log.live.iter().any(|l| l.mem.len() > 0) {
                crate::write::rotate(self.shared(), w, log)
            } else {
                Ok(())
            }
        })?;
        for tree in trees {
            if let Some(log_number) = tree.newest_queued_log() {
                tree.wait_flushed(self.shared(), log_number)?;
            }
        }
        Ok(())
    }

    /// Reads every live table and write-ahead log in full and checks every checksum.
    /// The first damage found is returned as [`Error::Corruption`] naming the file and
    /// offset.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// db.flush()?;
    /// let report = db.verify()?;
    /// assert_eq!(report.tables, 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Corruption` naming the first damaged file and its offset; `Closed`; I/O errors.
    pub fn verify(&self) -> Result<VerifyReport> {
        self.check_open()?;
        let mut report = VerifyReport::default();
        if self.shared().is_read_only() {
            // The tables held open since the open, which a writer elsewhere may have
            // deleted by now.
            for table in self.shared().pinned_tables() {
                table.verify()?;
                report.tables += 1;
                report.table_bytes += table.properties().file_size;
            }
        }
        for tree in self.shared().trees().iter().filter(|_| !self.shared().is_read_only()) {
            let view = tree.current_view();
            for (_, file) in view.version.files() {
                self.shared().tables().get(file)?.verify()?;
                report.tables += 1;
                report.table_bytes += file.size;
            }
        }
        let (fs, dir) = (self.shared().fs(), self.shared().dir());
        for n in self.shared().wal_numbers() {
            match crate::inspect::wal(fs, &crate::filename::log_file(dir, n)) {
                Ok(records) => report.log_records += records.len() as u64,
                // A flush finished since the listing and deleted the log (here or, for
                // a read-only open, in the writing process): its data is in a table.
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
            report.logs += 1;
        }
        Ok(report)
    }

    /// Compacts the whole key range of the default keyspace (`compact_range(..)`
    /// without naming a key type).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// db.delete("k")?;
    /// db.compact_all()?;
    /// assert_eq!(db.get("k")?, None);
    /// assert!(db.stats().levels.iter().all(|l| l.files == 0));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` on a read-only handle; `Closed`; `Background` if a compaction
    /// failed.
    pub fn compact_all(&self) -> Result<()> {
        self.compact_range::<&[u8], _>(..)
    }

    /// Compacts the tables holding keys in `range` down the tree, level by level, so
    /// that overwritten and deleted data in it is dropped (versions a live snapshot
    /// needs are kept). Waits for running background compactions to finish, and keeps
    /// new ones from starting until it is done.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("a", "1")?;
    /// db.delete("a")?;
    /// db.compact_range("a".."b")?;
    /// assert_eq!(db.get("a")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` on a read-only handle; `Closed`; `Background` if a compaction
    /// failed.
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.compact_tree(self.default_tree(), range)
    }

    /// `compact_range` on `tree`.
    pub(crate) fn compact_tree<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        tree: &Arc<Tree>,
        range: R,
    ) -> Result<()> {
        self.writer()?;
        // Compaction picks files by inclusive user-key overlap, so an excluded bound
        // may pull in one extra file; that is harmless.
        let bound = |b: Bound<&K>| match b {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref().to_vec()),
            Bound::Unbounded => None,
        };
        let (begin, end) = (bound(range.start_bound()), bound(range.end_bound()));
        let shared = self.shared();
        crate::jobs::compact::compact_range(shared, tree, begin.as_deref(), end.as_deref())
    }

    /// Waits until no memtable of any keyspace is waiting for flush and no level needs
    /// compaction. Returns at once on a read-only handle, which runs no background
    /// work.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// for i in 0..100u32 {
    ///     db.put(i.to_be_bytes(), "v")?;
    /// }
    /// db.flush()?;
    /// db.wait_for_compactions()?;
    /// assert_eq!(db.iter().count(), 100);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Closed`; `Background` if a flush or compaction failed meanwhile.
    pub fn wait_for_compactions(&self) -> Result<()> {
        let shared = self.shared();
        if shared.is_read_only() {
            return self.check_open();
        }
        for tree in shared.trees() {
            self.wait_for_tree(&tree)?;
        }
        Ok(())
    }

    fn wait_for_tree(&self, tree: &Arc<Tree>) -> Result<()> {
        let shared = self.shared();
        loop {
            if tree.is_dropped() {
                return Ok(());
            }
            shared.jobs().schedule_flush(tree);
            shared.jobs().schedule_compaction(tree);
            let st = tree.state();
            shared.latch().check()?;
            let idle = st.imms.is_empty()
                && st.compacting.running == 0
                && crate::compaction::scores(&st.version, &tree.opts().compaction)
                    .iter()
                    .all(|&s| s < 1.0);
            if idle {
                return Ok(());
            }
            // Woken by the next flush or compaction. The timeout sends the requests
            // again: a picker that found every candidate busy asks for no more work,
            // so a level can score above 1 with no request queued.
            drop(tree.wait(st, Some(std::time::Duration::from_millis(50))));
        }
    }
}

/// What [`Db::verify`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Live tables read in full.
    pub tables: u64,
    /// Their total size.
    pub table_bytes: u64,
    /// Live write-ahead logs read in full.
    pub logs: u64,
    /// Records in those logs.
    pub log_records: u64,
}
