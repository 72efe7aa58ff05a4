//! `Db`, the public handle: opening, the read and write calls, and closing. It only
//! orchestrates; the work lives in `write.rs`, `recovery.rs`, `view.rs` and `iter/`.

use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::batch::WriteBatch;
use crate::filename;
use crate::fs::FileLock;
use crate::iter::db_iter::{prefix_successor, Iter};
use crate::options::{Options, WriteOptions};
use crate::recovery;
use crate::snapshot::Snapshot;
use crate::stats::Stats;
use crate::view::ReadView;
use crate::wal::LogWriter;
use crate::write::{LogState, WritePath};
use crate::{Error, Result, Value};

/// An open database. Cheap to clone (an `Arc` inside); every clone is the same
/// database, usable from any thread.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    write: WritePath,
    view: RwLock<Arc<ReadView>>,
    /// The directory lock; taken away (released) by `close`.
    lock: Mutex<Option<Box<dyn FileLock>>>,
    closed: AtomicBool,
    /// Where point-in-time recovery cut the history at open, if it did.
    recovery_truncated: Option<String>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating it if `options.create_if_missing`) the database in directory
    /// `path`, replaying its write-ahead logs.
    ///
    /// Fails with [`Error::Locked`] if another `Db`, in this process or another, has
    /// the directory open, and with [`Error::Corruption`] if a log is damaged other
    /// than by a torn tail (see [`Options::wal_recovery_mode`]).
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let dir = path.as_ref().to_path_buf();
        let fs = Arc::clone(&options.fs);
        if !fs.exists(&dir) {
            if !options.create_if_missing {
                return Err(Error::InvalidArgument(format!(
                    "{} does not exist and create_if_missing is false",
                    dir.display()
                )));
            }
            fs.create_dir_all(&dir)?;
        }
        let lock = fs.lock(&filename::lock_file(&dir))?;
        let recovered = recovery::recover(fs.as_ref(), &dir, options.wal_recovery_mode)?;
        if options.error_if_exists && !recovered.logs.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{} already holds a database and error_if_exists is true",
                dir.display()
            )));
        }
        let log_number = recovered.next_file_number;
        let wal = LogWriter::new(fs.create(&filename::log_file(&dir, log_number))?);
        // The new log's directory entry must be durable before a synced write in it is
        // acknowledged.
        fs.sync_dir(&dir)?;
        let mem = recovered.mem;
        let log = LogState::new(wal, Arc::clone(&mem), recovered.last_seqno);
        let inner = Inner {
            dir,
            write: WritePath::new(log, options.max_write_group_bytes),
            view: RwLock::new(Arc::new(ReadView { mem })),
            lock: Mutex::new(Some(lock)),
            closed: AtomicBool::new(false),
            recovery_truncated: recovered.dropped.map(|(file, offset, detail)| {
                format!("{} at offset {offset}: {detail}", file.display())
            }),
        };
        Ok(Db { inner: Arc::new(inner) })
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// Sets `key` to `value`.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b)
    }

    /// Deletes `key` (a no-op if it is absent).
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b)
    }

    /// Applies `batch` atomically with default [`WriteOptions`].
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_opt(batch, &WriteOptions::default())
    }

    /// Applies `batch` atomically: after a crash either all of it or none of it is
    /// there. Returns once the batch is visible to every later read (and, with
    /// `sync`, durable against power loss).
    pub fn write_opt(&self, batch: WriteBatch, options: &WriteOptions) -> Result<()> {
        self.check_open()?;
        self.inner.write.write(batch, options.sync)
    }

    /// The current value of `key`, or `None` if it is absent or deleted.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        self.check_open()?;
        // The seqno is read before the view: the view then holds every write up to it.
        let seqno = self.inner.write.visible_seqno();
        self.current_view().get(key.as_ref(), seqno)
    }

    pub(crate) fn current_view(&self) -> Arc<ReadView> {
        Arc::clone(&self.inner.view.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Every key and value, in key order.
    pub fn iter(&self) -> Iter {
        self.iter_bounds(Bound::Unbounded, Bound::Unbounded)
    }

    /// The keys within `range`, in key order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let (lo, hi) = owned_bounds(&range);
        self.iter_bounds(lo, hi)
    }

    /// The keys starting with `prefix`, in key order.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        self.iter_bounds(lo, hi)
    }

    fn iter_bounds(&self, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Iter {
        let seqno = self.inner.write.visible_seqno();
        let it = Iter::new(self.current_view(), seqno, lo, hi);
        match self.check_open() {
            Ok(()) => it,
            Err(e) => it.with_error(e),
        }
    }

    /// A consistent read-only view of the database as of now.
    pub fn snapshot(&self) -> Snapshot {
        let seqno = self.inner.write.visible_seqno();
        Snapshot::new(self.current_view(), seqno)
    }

    /// Makes every acknowledged write durable against power loss.
    pub fn sync(&self) -> Result<()> {
        self.check_open()?;
        self.inner.write.sync()
    }

    /// Counters and sizes describing the database.
    pub fn stats(&self) -> Stats {
        let w = &self.inner.write;
        let mem = w.memtable();
        Stats {
            last_seqno: w.visible_seqno(),
            memtable_bytes: mem.approximate_memory_usage() as u64,
            memtable_entries: mem.len() as u64,
            write_groups: w.groups.load(Ordering::Relaxed),
            write_batches: w.batches.load(Ordering::Relaxed),
            wal_syncs: w.wal_syncs.load(Ordering::Relaxed),
            recovery_truncated: self.inner.recovery_truncated.clone(),
        }
    }

    /// Makes every acknowledged write durable, then releases the directory lock. Every
    /// later call on any clone of this handle fails with [`Error::Closed`]. Dropping
    /// the last handle closes too, ignoring errors.
    pub fn close(&self) -> Result<()> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let result = self.inner.write.close();
        drop(self.inner.lock.lock().unwrap_or_else(|p| p.into_inner()).take());
        result
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.closed.swap(true, Ordering::AcqRel) {
            // Best effort: an error here has nobody to go to.
            let _ = self.write.close();
        }
    }
}

pub(crate) fn owned_bounds<K: AsRef<[u8]>, R: RangeBounds<K>>(
    r: &R,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let own = |b: Bound<&K>| match b {
        Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (own(r.start_bound()), own(r.end_bound()))
}

pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let hi = prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded);
    (Bound::Included(prefix.to_vec()), hi)
}
