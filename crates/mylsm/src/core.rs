//! `DbCore`: the state one open database shares between its handles and its
//! background workers, and `open`, which builds it from the directory.
//!
//! Locks (order and rules in `docs/impl.md`): `write`'s log lock (the WAL writer; held
//! across WAL I/O), `flushing` (one flusher at a time; held across its I/O), `versions`
//! (the manifest writer; held across manifest I/O and the install that follows), and
//! `state` (memtables waiting for flush, the current version, the running compactions
//! and their tables, the background error; never held across I/O). `view` is swapped
//! under `state`. Compactions hold no lock while they run: the tables they read are
//! marked in `state` instead.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use crossbeam_channel::Sender;

use crate::background::{Channels, Job};
use crate::cache::BlockCache;
use crate::compact::Compacting;
use crate::compaction::CompactionOptions;
use crate::filename::{self, FileKind};
use crate::fs::{FileLock, FileSystem};
use crate::memtable::MemTable;
use crate::options::Options;
use crate::recovery;
use crate::snapshot::SnapshotList;
use crate::sstable::TableOptions;
use crate::table_cache::TableCache;
use crate::version::set::{read_manifest, Manifested};
use crate::version::{Version, VersionSet};
use crate::view::ReadView;
use crate::wal::LogWriter;
use crate::write::{LogState, WritePath};
use crate::{Error, Result};

/// A memtable waiting for flush, with the WAL that holds its data.
#[derive(Debug)]
pub(crate) struct Imm {
    pub mem: Arc<MemTable>,
    /// Every WAL numbered at or below this is covered once this memtable is flushed.
    pub log_number: u64,
}

/// Guarded by `DbCore::state`.
#[derive(Debug)]
pub(crate) struct DbState {
    /// Memtables waiting for flush, oldest first.
    pub imms: VecDeque<Imm>,
    pub version: Arc<Version>,
    /// The first background failure; once set, writes fail and flushes stop.
    pub bg_error: Option<Error>,
    pub flushes: u64,
    pub compactions: u64,
    /// Tables compactions replaced, deleted once nothing else holds their `FileMeta`.
    pub obsolete: Vec<Arc<crate::version::FileMeta>>,
    /// The compactions under way and the tables they hold.
    pub compacting: Compacting,
}

/// Why a write group waited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StallCause {
    /// Too many memtables were waiting for flush.
    Memtables = 0,
    /// L0 reached the slowdown trigger: the group was delayed for its bytes at the
    /// delayed write rate.
    L0Slowdown = 1,
    /// L0 reached the stop trigger: the group waited for compaction.
    L0Stop = 2,
}

/// Counters reported by `Stats`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Stalled write groups and the time they waited, indexed by `StallCause`.
    pub stalls: [AtomicU64; 3],
    pub stall_micros: [AtomicU64; 3],
    pub flushed_bytes: AtomicU64,
    pub compacted_read: AtomicU64,
    pub compacted_written: AtomicU64,
    pub compacted_dropped: AtomicU64,
    /// The most background compactions that ran at once.
    pub compactions_peak: AtomicU64,
}

#[derive(Debug)]
pub(crate) struct DbCore {
    pub dir: PathBuf,
    pub fs: Arc<dyn FileSystem>,
    pub opts: Options,
    pub table_opts: TableOptions,
    pub write: WritePath,
    pub versions: Mutex<VersionSet>,
    pub state: Mutex<DbState>,
    /// Signalled whenever a flush finishes or a background error is set.
    pub state_changed: Condvar,
    pub view: RwLock<Arc<ReadView>>,
    pub tables: Arc<TableCache>,
    /// The next unused file number (WALs, tables, manifests, temp files).
    pub next_file: AtomicU64,
    pub counters: Counters,
    pub closed: AtomicBool,
    /// Where point-in-time recovery cut the history at open, if it did.
    pub recovery_truncated: Option<String>,
    /// The directory lock; taken (released) by `close`.
    pub lock: Mutex<Option<Box<dyn FileLock>>>,
    /// Where flush and compaction requests are sent.
    pub flush_jobs: Sender<Job>,
    pub compaction_jobs: Sender<Job>,
    /// Held while memtables are flushed: one flusher at a time, oldest first.
    pub flushing: Mutex<()>,
    /// How many background compactions may run at once: `max_background_jobs - 1`, at
    /// least 1, so one worker is always free for a flush.
    pub max_compactions: usize,
    pub compaction_opts: CompactionOptions,
    /// Live snapshots, which compaction must keep readable.
    pub snapshots: SnapshotList,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every guarded update is completed before anything that can panic, so a poisoned
    // lock still guards consistent data.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl DbCore {
    /// Opens the database in `dir`: lock, manifest, WAL replay, a new WAL and manifest,
    /// and removal of files nothing refers to.
    pub fn open(dir: &Path, opts: Options, channels: &Channels) -> Result<DbCore> {
        opts.validate()?;
        let fs = Arc::clone(&opts.fs);
        if !fs.exists(dir) {
            if !opts.create_if_missing {
                return Err(Error::InvalidArgument(format!(
                    "{} does not exist and create_if_missing is false",
                    dir.display()
                )));
            }
            fs.create_dir_all(dir)?;
        }
        let dir_lock = fs.lock(&filename::lock_file(dir))?;
        let manifested = read_manifest(fs.as_ref(), dir)?.map(|(m, _)| m);
        let names = fs.list_dir(dir)?;
        if opts.error_if_exists
            && (manifested.is_some()
                || names.iter().any(|n| matches!(filename::parse(n), Some(FileKind::Log(_)))))
        {
            return Err(Error::InvalidArgument(format!(
                "{} already holds a database and error_if_exists is true",
                dir.display()
            )));
        }
        let mut m = manifested
            .unwrap_or_else(|| Manifested { next_file_number: 1, ..Manifested::default() });
        let max_seen =
            names.iter().filter_map(|n| filename::parse(n)).map(file_number).max().unwrap_or(0);
        if max_seen >= filename::MAX_FILE_NUMBER {
            let name = names.iter().find(|n| filename::parse(n).map(file_number) == Some(max_seen));
            let path = dir.join(name.map_or("", String::as_str));
            return Err(Error::corruption(&path, 0, "file number beyond the largest"));
        }
        let next_file = AtomicU64::new(m.next_file_number.max(max_seen + 1));
        let alloc = || next_file.fetch_add(1, Ordering::Relaxed);

        let rec = recovery::replay_logs(
            fs.as_ref(),
            dir,
            m.log_number,
            m.last_seqno,
            opts.wal_recovery_mode,
            &alloc,
        )?;
        let log_number = alloc();
        let wal = LogWriter::new(fs.create(&filename::log_file(dir, log_number))?);
        // The new log's directory entry must be durable before a synced write in it is
        // acknowledged.
        fs.sync_dir(dir)?;

        // The new manifest: WALs from the oldest replayed one on are still needed.
        m.log_number = rec.logs.first().copied().unwrap_or(log_number);
        // `m.last_seqno` stays the newest seqno in the tables: the replayed logs remain
        // live and replay again on top of it.
        let (manifest_number, temp_number) = (alloc(), alloc());
        m.next_file_number = next_file.load(Ordering::Relaxed);
        let versions = VersionSet::create(Arc::clone(&fs), dir, manifest_number, temp_number, &m)?;
        remove_obsolete(fs.as_ref(), dir, &versions, log_number, &rec.logs)?;

        let blocks = Arc::new(BlockCache::new(opts.block_cache_bytes as u64));
        let tables = Arc::new(TableCache::new(
            Arc::clone(&fs),
            dir.to_path_buf(),
            opts.max_open_files,
            blocks,
        ));
        let version = versions.current();
        let mem = rec.mem;
        let view = ReadView {
            mem: Arc::clone(&mem),
            imms: Vec::new(),
            version: Arc::clone(&version),
            tables: Arc::clone(&tables),
        };
        let log = LogState::new(wal, log_number, mem, rec.last_seqno);
        let table_opts = TableOptions::from(&opts);
        Ok(DbCore {
            dir: dir.to_path_buf(),
            write: WritePath::new(log, opts.max_write_group_bytes),
            versions: Mutex::new(versions),
            state: Mutex::new(DbState {
                imms: VecDeque::new(),
                version,
                bg_error: None,
                flushes: 0,
                compactions: 0,
                obsolete: Vec::new(),
                compacting: Compacting::default(),
            }),
            state_changed: Condvar::new(),
            view: RwLock::new(Arc::new(view)),
            tables,
            next_file,
            counters: Counters::default(),
            closed: AtomicBool::new(false),
            recovery_truncated: rec.dropped.map(|(file, offset, detail)| {
                format!("{} at offset {offset}: {detail}", file.display())
            }),
            lock: Mutex::new(Some(dir_lock)),
            flush_jobs: channels.flush.0.clone(),
            compaction_jobs: channels.compaction.0.clone(),
            flushing: Mutex::new(()),
            max_compactions: opts.max_background_jobs.saturating_sub(1).max(1),
            compaction_opts: CompactionOptions {
                l0_compaction_trigger: opts.l0_compaction_trigger,
                max_bytes_for_level_base: opts.max_bytes_for_level_base,
                level_multiplier: opts.level_multiplier,
                target_file_size: opts.target_file_size,
            },
            snapshots: SnapshotList::default(),
            fs,
            opts,
            table_opts,
        })
    }

    pub fn new_file_number(&self) -> u64 {
        self.next_file.fetch_add(1, Ordering::Relaxed)
    }

    /// The current view, for a read that has already loaded its seqno.
    pub fn current_view(&self) -> Arc<ReadView> {
        Arc::clone(&self.view.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Publishes a view made of `mem` and what `state` holds. Called with `state`
    /// locked, so views are installed in the order the state changed.
    pub fn install_view(&self, state: &DbState, mem: Arc<MemTable>) {
        let view = ReadView {
            mem,
            imms: state.imms.iter().rev().map(|i| Arc::clone(&i.mem)).collect(),
            version: Arc::clone(&state.version),
            tables: Arc::clone(&self.tables),
        };
        *self.view.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(view);
    }

    /// Asks the background pool to flush the waiting memtables.
    pub fn schedule_flush(&self) {
        // The worker only stops when the database closes; a flush asked for after that
        // has nothing to do.
        let _ = self.flush_jobs.send(Job::Run);
    }

    /// Asks the background pool to look for compaction work.
    pub fn schedule_compaction(&self) {
        let _ = self.compaction_jobs.send(Job::Run);
    }

    /// Records a background failure: writes fail from now on and waiters wake.
    pub fn set_bg_error(&self, e: Error) {
        let mut st = lock(&self.state);
        if st.bg_error.is_none() {
            st.bg_error = Some(e.clone());
        }
        drop(st);
        self.write.latch(e);
        self.state_changed.notify_all();
    }
}

fn file_number(kind: FileKind) -> u64 {
    match kind {
        FileKind::Lock | FileKind::Current => 0,
        FileKind::Manifest(n) | FileKind::Log(n) | FileKind::Table(n) | FileKind::Temp(n) => n,
    }
}

/// Deletes what no longer belongs to the database: WALs already in tables, tables no
/// version names (a flush or compaction that crashed before its manifest edit), old
/// manifests and temp files.
fn remove_obsolete(
    fs: &dyn FileSystem,
    dir: &Path,
    versions: &VersionSet,
    live_log: u64,
    replayed: &[u64],
) -> Result<()> {
    let version = versions.current();
    let live_tables: std::collections::HashSet<u64> =
        version.files().map(|(_, f)| f.number).collect();
    for name in fs.list_dir(dir)? {
        let obsolete = match filename::parse(&name) {
            Some(FileKind::Log(n)) => n != live_log && !replayed.contains(&n),
            Some(FileKind::Table(n)) => !live_tables.contains(&n),
            Some(FileKind::Manifest(n)) => n != versions.manifest_number,
            Some(FileKind::Temp(_)) => true,
            Some(FileKind::Lock | FileKind::Current) | None => false,
        };
        if obsolete {
            fs.remove_file(&dir.join(&name))?;
        }
    }
    Ok(())
}
