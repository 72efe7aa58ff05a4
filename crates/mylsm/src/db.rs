//! `Db`, the public handle: opening, the read and write calls, flushing and closing.
//! It only orchestrates; the work lives in `core.rs`, `write.rs`, `flush.rs`,
//! `recovery.rs`, `view.rs` and `iter/`.

use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use crate::background::{Background, Channels};
use crate::batch::WriteBatch;
use crate::core::{lock, DbCore, StallCause};
use crate::iter::db_iter::{prefix_successor, Iter};
use crate::options::{Options, WriteOptions};
use crate::snapshot::Snapshot;
use crate::stats::{LevelStats, Stats};
use crate::version::NUM_LEVELS;
use crate::{Error, Result, Value};

/// An open database. Cheap to clone (an `Arc` inside); every clone is the same
/// database, usable from any thread.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Handle>,
}

/// What the last `Db` clone owns: the core and the background worker.
struct Handle {
    core: Arc<DbCore>,
    background: Mutex<Background>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("dir", &self.inner.core.dir).finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating it if `options.create_if_missing`) the database in directory
    /// `path`: reads the manifest, replays the write-ahead logs not yet flushed, and
    /// starts the background worker.
    ///
    /// Fails with [`Error::Locked`] if another `Db`, in this process or another, has
    /// the directory open, and with [`Error::Corruption`] if the manifest or a log is
    /// damaged other than by a torn tail (see [`Options::wal_recovery_mode`]).
    pub fn open(path: impl AsRef<Path>, options: Options) -> Result<Db> {
        let channels = Channels::new();
        let core = Arc::new(DbCore::open(path.as_ref(), options, &channels)?);
        let background = Background::start(&core, channels, core.opts.max_background_jobs)?;
        // The reopened tree may already be out of shape.
        core.schedule_compaction();
        Ok(Db { inner: Arc::new(Handle { core, background: Mutex::new(background) }) })
    }

    /// The directory the database lives in.
    pub fn path(&self) -> &Path {
        &self.inner.core.dir
    }

    fn core(&self) -> Result<&DbCore> {
        let core = &self.inner.core;
        if core.closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        Ok(core)
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
        let core = self.core()?;
        core.write.write(batch, options.sync, &|log, bytes| core.make_room(log, bytes))
    }

    /// The current value of `key`, or `None` if it is absent or deleted.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        let core = self.core()?;
        // The view is taken before the seqno (see `view.rs` for why).
        let view = core.current_view();
        let seqno = core.write.visible_seqno();
        view.get(key.as_ref(), seqno)
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
        let core = &self.inner.core;
        let view = core.current_view();
        let seqno = core.write.visible_seqno();
        let it = Iter::new(view, seqno, lo, hi);
        match self.core() {
            Ok(_) => it,
            Err(e) => it.with_error(e),
        }
    }

    /// A consistent read-only view of the database as of now.
    pub fn snapshot(&self) -> Snapshot {
        let core = &self.inner.core;
        Snapshot::new(Arc::clone(core))
    }

    /// Writes the memtable out as an L0 table and waits until every memtable written
    /// before the call is in a table.
    pub fn flush(&self) -> Result<()> {
        let core = self.core()?;
        let rotated =
            core.write.with_log(|log| if log.mem.len() > 0 { core.rotate(log) } else { Ok(()) });
        if let Err(e) = rotated {
            // A failed WAL sync or creation is a failed write path: latch it.
            core.set_bg_error(e.clone());
            return Err(e);
        }
        let mut st = lock(&core.state);
        while !st.imms.is_empty() && st.bg_error.is_none() {
            if core.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            st = core.state_changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match &st.bg_error {
            Some(e) => Err(Error::Background(Box::new(e.clone()))),
            None => Ok(()),
        }
    }

    /// Reads every live table and write-ahead log in full and checks every checksum.
    /// The first damage found is returned as [`Error::Corruption`] naming the file and
    /// offset.
    pub fn verify(&self) -> Result<VerifyReport> {
        let core = self.core()?;
        let view = core.current_view();
        let mut report = VerifyReport::default();
        for (_, file) in view.version.files() {
            core.tables.get(file)?.verify()?;
            report.tables += 1;
            report.table_bytes += file.size;
        }
        let min_log = lock(&core.versions).log_number;
        for name in core.fs.list_dir(&core.dir)? {
            if let Some(crate::filename::FileKind::Log(n)) = crate::filename::parse(&name) {
                if n >= min_log {
                    match crate::inspect::wal(core.fs.as_ref(), &core.dir.join(name)) {
                        Ok(records) => report.log_records += records.len() as u64,
                        // A flush finished since the listing and deleted the log: its
                        // data is in a table now, which the next verify reads.
                        Err(_) if lock(&core.versions).log_number > n => continue,
                        Err(e) => return Err(e),
                    }
                    report.logs += 1;
                }
            }
        }
        Ok(report)
    }

    /// Compacts the tables holding keys in `range` down the tree, level by level, so
    /// that overwritten and deleted data in it is dropped (versions a live snapshot
    /// needs are kept). Waits for running background compactions to finish, and keeps
    /// new ones from starting until it is done.
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        let core = self.core()?;
        // Compaction picks files by inclusive user-key overlap, so an excluded bound
        // may pull in one extra file; that is harmless.
        let bound = |b: Bound<&K>| match b {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref().to_vec()),
            Bound::Unbounded => None,
        };
        let (begin, end) = (bound(range.start_bound()), bound(range.end_bound()));
        core.compact_range(begin.as_deref(), end.as_deref())
    }

    /// Waits until no memtable is waiting for flush and no level needs compaction.
    pub fn wait_for_compactions(&self) -> Result<()> {
        let core = self.core()?;
        loop {
            core.schedule_flush();
            core.schedule_compaction();
            let st = lock(&core.state);
            if let Some(e) = &st.bg_error {
                return Err(Error::Background(Box::new(e.clone())));
            }
            if core.closed.load(Ordering::Acquire) {
                return Err(Error::Closed);
            }
            let idle = st.imms.is_empty()
                && st.compacting.running == 0
                && crate::compaction::scores(&st.version, &core.compaction_opts)
                    .iter()
                    .all(|&s| s < 1.0);
            if idle {
                return Ok(());
            }
            // Woken by the next flush or compaction; the timeout covers a wake-up that
            // happened between the check above and the wait.
            drop(core.state_changed.wait_timeout(st, std::time::Duration::from_millis(50)));
        }
    }

    /// Makes every acknowledged write durable against power loss. After a failed
    /// write, sync or flush it fails too (`Error::Background`) until reopen: the
    /// failure may have lost acknowledged writes, so nothing can be promised.
    pub fn sync(&self) -> Result<()> {
        self.core()?.write.sync()
    }

    /// Counters and sizes describing the database.
    pub fn stats(&self) -> Stats {
        let core = &self.inner.core;
        let w = &core.write;
        let view = core.current_view();
        let (flushes, compactions) = {
            let st = lock(&core.state);
            (st.flushes, st.compactions)
        };
        let load =
            |a: &[std::sync::atomic::AtomicU64; 3]| a.each_ref().map(|c| c.load(Ordering::Relaxed));
        let (stalls, stall_micros) =
            (load(&core.counters.stalls), load(&core.counters.stall_micros));
        let user_bytes = w.user_bytes.load(Ordering::Relaxed);
        let table_bytes = core.counters.flushed_bytes.load(Ordering::Relaxed)
            + core.counters.compacted_written.load(Ordering::Relaxed);
        let scores = crate::compaction::scores(&view.version, &core.compaction_opts);
        let targets = crate::compaction::level_targets(&view.version, &core.compaction_opts);
        let blocks = core.tables.blocks();
        Stats {
            last_seqno: w.visible_seqno(),
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
            flushed_bytes: core.counters.flushed_bytes.load(Ordering::Relaxed),
            compactions,
            compactions_peak_parallel: core.counters.compactions_peak.load(Ordering::Relaxed),
            compaction_read_bytes: core.counters.compacted_read.load(Ordering::Relaxed),
            compaction_written_bytes: core.counters.compacted_written.load(Ordering::Relaxed),
            compaction_dropped_entries: core.counters.compacted_dropped.load(Ordering::Relaxed),
            write_groups: w.groups.load(Ordering::Relaxed),
            write_batches: w.batches.load(Ordering::Relaxed),
            wal_syncs: w.wal_syncs.load(Ordering::Relaxed),
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
            filter_checks: core.tables.filter.checks.load(Ordering::Relaxed),
            filter_negatives: core.tables.filter.negatives.load(Ordering::Relaxed),
            filter_false_positives: core.tables.filter.false_positives.load(Ordering::Relaxed),
            block_cache_capacity: blocks.capacity(),
            recovery_truncated: core.recovery_truncated.clone(),
        }
    }

    /// Makes every acknowledged write durable, stops background work (waiting for a
    /// `compact_range` running on another thread), then releases the directory lock.
    /// After a failed write, sync or flush it syncs nothing and returns that failure
    /// (`Error::Background`), as [`Db::sync`] does; the lock is released all the same.
    /// Every later call on any clone of this handle fails with [`Error::Closed`].
    /// Dropping the last handle closes too, ignoring errors.
    pub fn close(&self) -> Result<()> {
        self.inner.close()
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

impl Handle {
    fn close(&self) -> Result<()> {
        let core = &self.core;
        if core.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        // Wake a writer stalled on L0 or memtables (it holds the log lock, which
        // `write.close` needs), `Db::flush` and `wait_for_compactions`: each sees
        // `closed` under the state lock and gives up with `Error::Closed`.
        drop(lock(&core.state));
        core.state_changed.notify_all();
        lock(&self.background).stop();
        // A `compact_range` on another thread stops before its next step; wait for it,
        // so nothing touches the manifest or deletes tables once the lock is released.
        let mut st = lock(&core.state);
        while st.compacting.manual {
            st = core.state_changed.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        drop(st);
        core.delete_obsolete_tables();
        let result = core.write.close();
        drop(lock(&core.lock).take());
        result
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        // Best effort: an error here has nobody to go to.
        let _ = self.close();
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
