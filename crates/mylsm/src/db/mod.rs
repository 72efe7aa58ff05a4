//! `Db`, the public handle: opening, the read calls and closing (the write calls are in
//! `write.rs`; flushing, verifying and compacting in `maintenance.rs`).
//! It holds no logic of its own: it checks the latch, then hands each call to the
//! engine (`engine/`), the write path (`write/`) or the jobs (`jobs/`).

mod write;

use std::ops::RangeBounds;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::db_iter::Iter;
use crate::engine::tree::{StallCause, Tree};
use crate::engine::{lock, open, Shared};
use crate::jobs::pool::Pool;
use crate::options::Options;
use crate::readable::Readable;
use crate::snapshot::Snapshot;
use crate::stats::{LevelStats, Stats};
use crate::version::NUM_LEVELS;
use crate::write::WritePath;
use crate::{Error, Result, Value};

/// An open database. Cheap to clone (an `Arc` inside); every clone is the same
/// database, usable from any thread.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Handle>,
}

/// What the last `Db` clone owns: the engine and the background workers.
struct Handle {
    /// The options the database was opened with (keyspaces start from them).
    options: Options,
    shared: Arc<Shared>,
    tree: Arc<Tree>,
    /// `None` on a read-only open.
    write: Option<WritePath>,
    pool: Mutex<Pool>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.inner.shared.dir())
            .field("read_only", &self.inner.shared.is_read_only())
            .finish_non_exhaustive()
    }
}

/// How often a read-only open tries again when a writer in another process deletes a
/// file between the open's reading of the manifest and its opening of the file.
const READ_ONLY_ATTEMPTS: usize = 5;

impl Db {
    /// Opens (creating it if `options.create_if_missing`) the database in directory
    /// `path`: reads the manifest, replays the write-ahead logs not yet flushed and
    /// writes what they held into a table, and starts the background workers.
    ///
    /// Fails with [`Error::Locked`] if another `Db`, in this process or another, has
    /// the directory open; with [`Error::InvalidArgument`] ("no database at DIR") if
    /// the directory holds no database and `create_if_missing` is false (nothing is
    /// written into it then); and with [`Error::Corruption`] if the manifest or a log is
    /// damaged other than by a torn tail (see [`Options::wal_recovery_mode`]), if a file
    /// the manifest names is missing, or if `CURRENT` is missing from a directory that
    /// holds tables or logs. Open deletes only files the manifest proves obsolete.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// assert!(!db.is_read_only());
    /// assert!(matches!(mylsm::Db::open(dir.path(), mylsm::Options::default()), Err(mylsm::Error::Locked(_))));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Locked` if another handle or process has the database open; `InvalidArgument`
    /// if there is none and `create_if_missing` is off ([`Error::is_no_database`]), or
    /// for options it refuses (an unknown merge operator name among them);
    /// `Corruption` naming the damaged file and offset; I/O errors.
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let o = open::open(path.as_ref(), &options, false)?;
        let workers = o.shared.opts().max_background_jobs;
        let trees = o.shared.trees();
        let write = o.wal.map(|(wal, number)| {
            let group_bytes = o.shared.opts().max_write_group_bytes;
            WritePath::new(wal, number, &trees, o.shared.visible_seqno(), group_bytes)
        });
        let pool = Pool::start(&o.shared, o.receivers, workers)?;
        // The reopened trees may already be out of shape.
        for tree in &trees {
            o.shared.jobs().schedule_compaction(tree);
        }
        let handle =
            Handle { options, shared: o.shared, tree: o.tree, write, pool: Mutex::new(pool) };
        Ok(Db { inner: Arc::new(handle) })
    }

    /// Opens the database in `path` for reading only: takes no lock, writes and
    /// deletes nothing, and replays the write-ahead logs into memory. It works while
    /// another process has the database open for writing, and sees the database as it
    /// was at the open (a consistent prefix of the history); later writes by that
    /// process are not seen. Every table live at the open is held open, so the writer
    /// deleting it cannot take it away.
    ///
    /// Writes, `flush`, `sync` and `compact_range` through the handle fail with
    /// [`Error::InvalidArgument`]. `options.create_if_missing` is ignored: a directory
    /// without a database is `InvalidArgument` ("no database at DIR").
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// let reader = mylsm::Db::open_read_only(dir.path(), mylsm::Options::default())?;
    /// assert_eq!(reader.get("k")?.unwrap(), "v");
    /// assert!(reader.put("k", "w").is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As for [`Db::open`], except `Locked` (no lock is taken) and that nothing is ever
    /// created.
    pub fn open_read_only(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let mut attempt = 0;
        let o = loop {
            attempt += 1;
            match open::open(path.as_ref(), &options, true) {
                Ok(o) => break o,
                // A writer may have flushed or compacted between reading the manifest
                // and opening the files it names: read it again.
                Err(Error::Corruption { .. } | Error::Io(_)) if attempt < READ_ONLY_ATTEMPTS => {
                    std::thread::sleep(std::time::Duration::from_millis(10 * attempt as u64));
                }
                Err(e) => return Err(e),
            }
        };
        let handle = Handle {
            options,
            shared: o.shared,
            tree: o.tree,
            write: None,
            pool: Mutex::new(Pool::default()),
        };
        Ok(Db { inner: Arc::new(handle) })
    }

    /// The directory the database lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// assert_eq!(db.path(), dir.path());
    /// # Ok(()) }
    /// ```
    pub fn path(&self) -> &Path {
        self.inner.shared.dir()
    }

    /// True for a handle from [`Db::open_read_only`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// assert!(!db.is_read_only());
    /// let reader = mylsm::Db::open_read_only(dir.path(), mylsm::Options::default())?;
    /// assert!(reader.is_read_only());
    /// # Ok(()) }
    /// ```
    pub fn is_read_only(&self) -> bool {
        self.inner.shared.is_read_only()
    }

    /// The engine state every keyspace of this database shares.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The options the database was opened with.
    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    /// The default keyspace's tree.
    pub(crate) fn default_tree(&self) -> &Arc<Tree> {
        &self.inner.tree
    }

    /// The write path, after checking that writes may go through this handle.
    pub(crate) fn writer(&self) -> Result<&WritePath> {
        self.inner.shared.check_writable()?;
        match &self.inner.write {
            Some(w) => Ok(w),
            None => Err(Error::InvalidArgument("the database is open read-only".into())),
        }
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.inner.shared.latch().is_closed() {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The current value of `key`, or `None` if it is absent or deleted.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// assert_eq!(db.get("k")?.as_deref(), Some(&b"v"[..]));
    /// assert_eq!(db.get("missing")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Closed` after [`Db::close`]; `Corruption` naming the file and offset of damage met
    /// on the way; I/O errors; `MergeFailed` if the key's merge operands do not merge.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        Readable::get(self, key)
    }

    /// Every key and value, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("b", "2")?;
    /// db.put("a", "1")?;
    /// let keys: Vec<_> = db.iter().keys().collect::<mylsm::Result<_>>()?;
    /// assert_eq!(keys, ["a", "b"]);
    /// assert_eq!(db.iter().next_back().unwrap()?.0, "b");
    /// # Ok(()) }
    /// ```
    pub fn iter(&self) -> Iter {
        Readable::iter(self)
    }

    /// The keys within `range`, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// for k in ["a", "b", "c", "d"] {
    ///     db.put(k, "")?;
    /// }
    /// let keys: Vec<_> = db.range("b"..="c").keys().collect::<mylsm::Result<_>>()?;
    /// assert_eq!(keys, ["b", "c"]);
    /// # Ok(()) }
    /// ```
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        Readable::range(self, range)
    }

    /// The keys starting with `prefix`, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("user:1", "ada")?;
    /// db.put("order:1", "tea")?;
    /// let (key, value) = db.prefix("user:").next().unwrap()?;
    /// assert_eq!((key, value), ("user:1".into(), "ada".into()));
    /// # Ok(()) }
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        Readable::prefix(self, prefix)
    }

    /// A consistent read-only view of the database as of now.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "old")?;
    /// let snap = db.snapshot();
    /// db.put("k", "new")?;
    /// assert_eq!(snap.get("k")?.unwrap(), "old");
    /// assert_eq!(db.get("k")?.unwrap(), "new");
    /// # Ok(()) }
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(Arc::clone(&self.inner.shared), Arc::clone(&self.inner.tree))
    }

    /// Makes every acknowledged write durable against power loss. After a failed
    /// write, sync or flush it fails too (`Error::Background`) until reopen: the
    /// failure may have lost acknowledged writes, so nothing can be promised. It needs
    /// only the log file, so a writer stalled on L0 does not hold it up.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// db.sync()?; // "k" now survives power loss
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Background` after an earlier failed write, sync or flush (syncing could not promise
    /// what it dropped); `Closed`; I/O errors of the fsync.
    pub fn sync(&self) -> Result<()> {
        self.writer()?.sync(&self.inner.shared)
    }

    /// Counters and sizes describing the database's default keyspace (and the write
    /// path, which every keyspace shares); [`crate::Keyspace::stats`] describes another.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// let stats = db.stats();
    /// assert_eq!(stats.memtable_entries, 1);
    /// assert!(stats.last_seqno >= 1);
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> Stats {
        self.stats_of(&self.inner.tree)
    }

    /// Counters and sizes of `tree`, with the database-wide ones.
    pub(crate) fn stats_of(&self, tree: &Tree) -> Stats {
        let shared = &self.inner.shared;
        let view = tree.current_view();
        let (flushes, compactions) = {
            let st = tree.state();
            (st.flushes, st.compactions)
        };
        let counters = tree.counters();
        let writes = |f: fn(&WritePath) -> &std::sync::atomic::AtomicU64| {
            self.inner.write.as_ref().map_or(0, |w| f(w).load(Ordering::Relaxed))
        };
        let load =
            |a: &[std::sync::atomic::AtomicU64; 3]| a.each_ref().map(|c| c.load(Ordering::Relaxed));
        let (stalls, stall_micros) = (load(&counters.stalls), load(&counters.stall_micros));
        let user_bytes = writes(|w| &w.user_bytes);
        let table_bytes = counters.flushed_bytes.load(Ordering::Relaxed)
            + counters.compacted_written.load(Ordering::Relaxed);
        let scores = crate::compaction::scores(&view.version, &tree.opts().compaction);
        let targets = crate::compaction::level_targets(&view.version, &tree.opts().compaction);
        let blocks = shared.tables().blocks();
        Stats {
            last_seqno: shared.visible_seqno(),
            memtable_bytes: view.mem.arena_bytes() as u64,
            memtable_entries: view.mem.len() as u64,
            immutable_memtables: view.imms.len() as u64,
            immutable_bytes: view.imms.iter().map(|m| m.arena_bytes() as u64).sum(),
            levels: (0..NUM_LEVELS)
                .map(|l| LevelStats {
                    files: view.version.num_files(l) as u64,
                    bytes: view.version.level_bytes(l),
                    target_bytes: targets[l],
                    score: scores[l],
                })
                .collect(),
            flushes,
            flushed_bytes: counters.flushed_bytes.load(Ordering::Relaxed),
            compactions,
            compactions_peak_parallel: counters.compactions_peak.load(Ordering::Relaxed),
            compaction_read_bytes: counters.compacted_read.load(Ordering::Relaxed),
            compaction_written_bytes: counters.compacted_written.load(Ordering::Relaxed),
            compaction_dropped_entries: counters.compacted_dropped.load(Ordering::Relaxed),
            merge_failures: counters.merge_failures.load(Ordering::Relaxed),
            write_groups: writes(|w| &w.groups),
            write_batches: writes(|w| &w.batches),
            wal_syncs: writes(|w| &w.wal_syncs),
            write_stalls: stalls.iter().sum(),
            stall_micros: stall_micros.iter().sum(),
            stalls_memtables: stalls[StallCause::Memtables as usize],
            stall_micros_memtables: stall_micros[StallCause::Memtables as usize],
            stalls_l0_slowdown: stalls[StallCause::L0Slowdown as usize],
            stall_micros_l0_slowdown: stall_micros[StallCause::L0Slowdown as usize],
            stalls_l0_stop: stalls[StallCause::L0Stop as usize],
            stall_micros_l0_stop: stall_micros[StallCause::L0Stop as usize],
            user_bytes_written: user_bytes,
            write_amplification: if user_bytes == 0 {
                0.0
            } else {
                table_bytes as f64 / user_bytes as f64
            },
            block_cache_hits: blocks.hits(),
            block_cache_misses: blocks.misses(),
            block_cache_bytes: blocks.usage(),
            filter_checks: shared.tables().filter.checks.load(Ordering::Relaxed),
            filter_negatives: shared.tables().filter.negatives.load(Ordering::Relaxed),
            filter_false_positives: shared.tables().filter.false_positives.load(Ordering::Relaxed),
            block_cache_capacity: blocks.capacity(),
            recovery_truncated: shared.recovery_truncated().map(str::to_string),
        }
    }

    /// Makes every acknowledged write durable, stops background work (waiting for a
    /// `compact_range` running on another thread), then releases the directory lock.
    /// After a failed write, sync or flush it syncs nothing and returns that failure
    /// (`Error::Background`), as [`Db::sync`] does; the lock is released all the same.
    /// Every later call on any clone of this handle fails with [`Error::Closed`], and so
    /// does every read through a handle made before: a [`Snapshot`], a
    /// [`Keyspace`](crate::Keyspace), a transaction, and an [`Iter`] (its next step
    /// yields `Err(Closed)`, then it ends).
    /// Dropping the last handle closes too, ignoring errors.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.close()?;
    /// assert!(matches!(db.get("k"), Err(mylsm::Error::Closed)));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Background` (the original failure inside) after a failed write, sync or flush; I/O
    /// errors of the final fsync. The lock is released either way.
    pub fn close(&self) -> Result<()> {
        self.inner.close()
    }
}

impl Handle {
    fn close(&self) -> Result<()> {
        let (shared, tree) = (&self.shared, &self.tree);
        if shared.latch().close() {
            return Ok(());
        }
        // Wake a writer stalled on L0 or memtables (it holds the log lock, which the
        // write path's close needs), `Db::flush`, `wait_for_compactions` and a
        // `compact_range` waiting for its turn: each sees the latch closed and gives up
        // with `Error::Closed`.
        tree.notify();
        lock(&self.pool).stop(shared);
        // A `compact_range` on another thread stops before its next step; wait for it,
        // so nothing touches the manifest or deletes tables once the lock is released.
        let mut st = tree.state();
        while st.compacting.manual {
            st = tree.wait(st, None);
        }
        drop(st);
        let result = match &self.write {
            Some(w) => {
                for tree in shared.trees() {
                    crate::jobs::compact::delete_obsolete_tables(shared, &tree);
                }
                w.close(shared)
            }
            None => Ok(()),
        };
        shared.release_lock();
        result
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Best effort: an error here has nobody to go to.
        let _ = self.close();
    }
}
