//! `Shared`: what every handle, tree and background job of one open database shares —
//! the directory and its files, file and sequence numbering, the manifest, the live
//! snapshots, the failure latch and the job queue. It holds no tree and does no work of
//! its own (fjall's `Supervisor`); trees (`tree.rs`) and jobs (`crate::jobs`) are built
//! on it, and `open.rs` builds it from the directory.
//!
//! Locks held here (order in `docs/impl.md`): `versions`, the manifest writer, held
//! across manifest I/O and the install that follows; `wals`, the WAL files on disk,
//! never held across I/O.

pub(crate) mod open;
pub(crate) mod queue;
pub(crate) mod snapshots;
pub(crate) mod table_file;
pub(crate) mod tree;

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use crate::filename;
use crate::fs::{FileLock, FileSystem};
use crate::latch::Latch;
use crate::options::DbOptions;
use crate::sstable::Table;
use crate::table_cache::TableCache;
use crate::version::VersionSet;
use queue::JobQueue;
use snapshots::SnapshotList;
use tree::Tree;

/// Locks `m`, ignoring poison. Every guarded update in the engine completes before
/// anything that can panic, and a worker that panics latches the database failed
/// (`jobs::pool`), so a poisoned lock still guards consistent data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The state of one open database that outlives any single tree or job.
#[derive(Debug)]
pub(crate) struct Shared {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    opts: DbOptions,
    tables: Arc<TableCache>,
    /// The next unused file number (WALs, tables, manifests, temp files).
    next_file: AtomicU64,
    /// The last seqno whose data every reader may see; stored by the write leader.
    visible: AtomicU64,
    /// The manifest writer; `None` for a read-only open, which writes nothing.
    versions: Option<Mutex<VersionSet>>,
    /// WAL files on disk that the engine created or replayed and has not deleted.
    wals: Mutex<BTreeSet<u64>>,
    /// The live keyspaces by id. Changed only with the write path's log lock held (a
    /// keyspace is created or dropped between write groups).
    trees: RwLock<BTreeMap<u32, Arc<Tree>>>,
    snapshots: SnapshotList,
    /// Compactions with a compaction filter running (see `Snapshot::new`).
    filtering: AtomicUsize,
    /// Checkpoints copying WALs, which must not be deleted meanwhile.
    wal_pins: AtomicUsize,
    latch: Latch,
    jobs: JobQueue,
    /// The directory lock, released by `release_lock` at close; `None` read-only.
    dir_lock: Mutex<Option<Box<dyn FileLock>>>,
    /// Tables a read-only open holds open, so that a writer deleting them (after a
    /// compaction in another process) cannot take them from under its readers.
    pinned: Vec<Arc<Table>>,
    /// Where point-in-time recovery cut the history at open, if it did.
    recovery_truncated: Option<String>,
}

/// What `open.rs` hands to `Shared::new`.
pub(crate) struct SharedParts {
    pub dir: PathBuf,
    pub opts: DbOptions,
    pub tables: Arc<TableCache>,
    pub next_file: u64,
    pub last_seqno: u64,
    pub versions: Option<VersionSet>,
    pub wals: BTreeSet<u64>,
    pub dir_lock: Option<Box<dyn FileLock>>,
    pub pinned: Vec<Arc<Table>>,
    pub recovery_truncated: Option<String>,
    pub jobs: JobQueue,
}

/// Keeps the WALs from deletion while it lives (see `Shared::pin_wals`).
#[derive(Debug)]
pub(crate) struct WalPin<'a>(&'a AtomicUsize);

impl Drop for WalPin<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Ends a filtering compaction's count when dropped.
#[derive(Debug)]
pub(crate) struct FilteringGuard<'a>(&'a AtomicUsize);

impl Drop for FilteringGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub fn new(p: SharedParts) -> Shared {
        Shared {
            dir: p.dir,
            fs: Arc::clone(&p.opts.fs),
            opts: p.opts,
            tables: p.tables,
            next_file: AtomicU64::new(p.next_file),
            visible: AtomicU64::new(p.last_seqno),
            versions: p.versions.map(Mutex::new),
            wals: Mutex::new(p.wals),
            trees: RwLock::new(BTreeMap::new()),
            snapshots: SnapshotList::default(),
            filtering: AtomicUsize::new(0),
            wal_pins: AtomicUsize::new(0),
            latch: Latch::default(),
            jobs: p.jobs,
            dir_lock: Mutex::new(p.dir_lock),
            pinned: p.pinned,
            recovery_truncated: p.recovery_truncated,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn fs(&self) -> &dyn FileSystem {
        self.fs.as_ref()
    }

    pub fn opts(&self) -> &DbOptions {
        &self.opts
    }

    pub fn tables(&self) -> &Arc<TableCache> {
        &self.tables
    }

    pub fn latch(&self) -> &Latch {
        &self.latch
    }

    /// The time expiring values are judged by, from the database's clock.
    pub fn now(&self) -> u64 {
        self.opts.clock.now_millis()
    }

    /// How many compactions with a compaction filter are running.
    pub fn filtering_compactions(&self) -> usize {
        self.filtering.load(Ordering::SeqCst)
    }

    /// Counts a filtering compaction from before it reads the snapshot list until its
    /// result is installed (or abandoned), while the guard lives.
    pub fn start_filtering(&self) -> FilteringGuard<'_> {
        self.filtering.fetch_add(1, Ordering::SeqCst);
        FilteringGuard(&self.filtering)
    }

    pub fn snapshots(&self) -> &SnapshotList {
        &self.snapshots
    }

    pub fn jobs(&self) -> &JobQueue {
        &self.jobs
    }

    pub fn is_read_only(&self) -> bool {
        self.versions.is_none()
    }

    pub fn pinned_tables(&self) -> &[Arc<Table>] {
        &self.pinned
    }

    pub fn recovery_truncated(&self) -> Option<&str> {
        self.recovery_truncated.as_deref()
    }

    /// `InvalidArgument` on a read-only open, else whatever the latch says.
    pub fn check_writable(&self) -> crate::Result<()> {
        if self.is_read_only() {
            return Err(crate::Error::InvalidArgument(format!(
                "{} is open read-only",
                self.dir.display()
            )));
        }
        self.latch.check()
    }

    pub fn new_file_number(&self) -> u64 {
        self.next_file.fetch_add(1, Ordering::Relaxed)
    }

    pub fn next_file_number(&self) -> u64 {
        self.next_file.load(Ordering::Relaxed)
    }

    /// The seqno a new read should use: everything at or below it is in a memtable or
    /// a table.
    pub fn visible_seqno(&self) -> u64 {
        self.visible.load(Ordering::Acquire)
    }

    /// Called by the write leader once a group's data is in the memtable.
    pub fn publish_seqno(&self, seqno: u64) {
        self.visible.store(seqno, Ordering::Release);
    }

    /// The manifest writer. Only writable opens have one, and only their jobs and
    /// writers call this.
    pub fn versions(&self) -> MutexGuard<'_, VersionSet> {
        match &self.versions {
            Some(v) => lock(v),
            None => unreachable!("a read-only open writes no manifest"),
        }
    }

    /// Notes a WAL file the engine created.
    pub fn add_wal(&self, number: u64) {
        lock(&self.wals).insert(number);
    }

    /// The WAL files on disk, ascending.
    pub fn wal_numbers(&self) -> Vec<u64> {
        lock(&self.wals).iter().copied().collect()
    }

    /// The WAL files on disk, kept from deletion until the guard drops (a checkpoint
    /// copying them). Taken under the same lock deletions take, so a WAL in the list
    /// is either kept or was retired before the caller's capture began.
    pub fn pin_wals(&self) -> (Vec<u64>, WalPin<'_>) {
        let wals = lock(&self.wals);
        self.wal_pins.fetch_add(1, Ordering::SeqCst);
        (wals.iter().copied().collect(), WalPin(&self.wal_pins))
    }

    /// Deletes the WALs numbered below `log_number` (their data is in tables, as a
    /// durable manifest edit says). Runs without any lock held across the deletions. A
    /// failure only wastes space: the next open deletes WALs below the log number.
    pub fn delete_wals_below(&self, log_number: u64) {
        let obsolete: Vec<u64> = {
            let mut wals = lock(&self.wals);
            // A checkpoint is copying them: a later call deletes them.
            if self.wal_pins.load(Ordering::SeqCst) > 0 {
                return;
            }
            let keep = wals.split_off(&log_number);
            std::mem::replace(&mut *wals, keep).into_iter().collect()
        };
        for n in obsolete {
            let _ = self.fs.remove_file(&filename::log_file(&self.dir, n));
        }
    }

    /// The live keyspace `id`.
    pub fn tree(&self, id: u32) -> Option<Arc<Tree>> {
        self.trees.read().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// The live keyspace named `name`.
    pub fn tree_named(&self, name: &str) -> Option<Arc<Tree>> {
        let trees = self.trees.read().unwrap_or_else(|p| p.into_inner());
        trees.values().find(|t| t.name() == name).cloned()
    }

    /// Every live keyspace, by id.
    pub fn trees(&self) -> Vec<Arc<Tree>> {
        self.trees.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// Registers a live keyspace.
    pub fn insert_tree(&self, tree: Arc<Tree>) {
        self.trees.write().unwrap_or_else(|p| p.into_inner()).insert(tree.id(), tree);
    }

    /// Forgets a dropped keyspace.
    pub fn remove_tree(&self, id: u32) {
        self.trees.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }

    /// Latches `e` as the database's failure and wakes every waiter on every keyspace.
    pub fn fail(&self, e: &crate::Error) {
        self.latch.fail(e);
        for tree in self.trees() {
            tree.notify();
        }
    }

    /// Releases the directory lock (at close).
    pub fn release_lock(&self) {
        drop(lock(&self.dir_lock).take());
    }
}
