//! Opening a database directory, in steps that each return a value: find out what the
//! directory holds, lock it, read the manifest, check that every file it names is
//! there, replay the live logs, write what they held into an L0 table, start a new log
//! and manifest, and delete what is provably obsolete.
//!
//! What open may delete is the heart of it: only files a durable manifest proves
//! obsolete (logs below its log number or folded into the table open wrote, tables it
//! does not name once every table it names has been found, other manifests, temp
//! files, empty logs it does not name). A directory without `CURRENT` that holds tables
//! or non-empty logs is `Corruption`, never a new database; a manifest that names a
//! missing table or a missing live log is `Corruption` (`repair` is the way out for an
//! operator), so a damaged directory is never "cleaned" into an older state.
//!
//! A read-only open takes no lock, writes and deletes nothing, replays the logs into
//! memory only, and holds every live table open so that a writer in another process
//! cannot delete one from under it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use super::queue::{JobQueue, JobReceivers};
use super::tree::Tree;
use super::{Shared, SharedParts};
use crate::cache::BlockCache;
use crate::filename::{self, FileKind};
use crate::fs::FileSystem;
use crate::options::{DbOptions, Options, TreeOptions};
use crate::recovery::{self, Recovered};
use crate::table_cache::TableCache;
use crate::version::set::{read_manifest, Manifested};
use crate::version::{VersionEdit, VersionSet};
use crate::wal::LogWriter;
use crate::{Error, Result};

/// An open database, ready for its handle to start the workers.
pub(crate) struct Opened {
    pub shared: Arc<Shared>,
    /// The default keyspace (the others are registered in `shared`).
    pub tree: Arc<Tree>,
    /// The new live log and its number; `None` on a read-only open.
    pub wal: Option<(LogWriter, u64)>,
    pub receivers: JobReceivers,
}

/// The files of a directory by kind, with the size of each log.
#[derive(Debug, Default)]
struct Listing {
    tables: BTreeSet<u64>,
    logs: HashMap<u64, u64>,
    manifests: Vec<u64>,
    max_number: u64,
    names: Vec<String>,
}

fn list(fs: &dyn FileSystem, dir: &Path) -> Result<Listing> {
    let mut l = Listing::default();
    for name in fs.list_dir(dir)? {
        match filename::parse(&name) {
            Some(FileKind::Table(n)) => {
                l.tables.insert(n);
            }
            Some(FileKind::Log(n)) => {
                let size = fs.open(&filename::log_file(dir, n))?.len()?;
                l.logs.insert(n, size);
            }
            Some(FileKind::Manifest(n)) => l.manifests.push(n),
            _ => {}
        }
        if let Some(kind) = filename::parse(&name) {
            l.max_number = l.max_number.max(file_number(kind));
        }
        l.names.push(name);
    }
    Ok(l)
}

fn file_number(kind: FileKind) -> u64 {
    match kind {
        FileKind::Lock | FileKind::Current => 0,
        FileKind::Manifest(n) | FileKind::Log(n) | FileKind::Table(n) | FileKind::Temp(n) => n,
    }
}

fn no_database(dir: &Path) -> Error {
    Error::InvalidArgument(format!("no database at {}", dir.display()))
}

/// The answer for a directory without `CURRENT`: a new database may be made in it only
/// if it holds no data a database could have written (no tables, no non-empty logs).
fn check_no_data(dir: &Path, l: &Listing) -> Result<()> {
    let data_logs = l.logs.values().filter(|&&size| size > 0).count();
    if l.tables.is_empty() && data_logs == 0 {
        return Ok(());
    }
    Err(Error::corruption(
        filename::current_file(dir),
        0,
        format!(
            "CURRENT is missing, but the directory holds {} tables and {data_logs} non-empty \
             logs: not a new database (repair rebuilds the manifest)",
            l.tables.len()
        ),
    ))
}

/// Opens the database in `dir` (read-only if `read_only`).
pub(crate) fn open(dir: &Path, options: &Options, read_only: bool) -> Result<Opened> {
    options.validate()?;
    let db_opts = options.db_options();
    let fs = Arc::clone(&db_opts.fs);
    let may_create = db_opts.create_if_missing && !read_only;
    if !fs.exists(dir) {
        if !may_create {
            return Err(no_database(dir));
        }
        fs.create_dir_all(dir)?;
    }
    // Nothing, not even LOCK, is written into a directory that holds no database unless
    // a new one may be made there, nor into one that has lost its `CURRENT`.
    if !fs.exists(&filename::current_file(dir)) {
        check_no_data(dir, &list(fs.as_ref(), dir)?)?;
        if !may_create {
            return Err(no_database(dir));
        }
    }
    let dir_lock = if read_only { None } else { Some(fs.lock(&filename::lock_file(dir))?) };
    let listing = list(fs.as_ref(), dir)?;
    let m = match read_manifest(fs.as_ref(), dir)? {
        Some(_) if db_opts.error_if_exists => {
            return Err(Error::InvalidArgument(format!(
                "{} already holds a database and error_if_exists is true",
                dir.display()
            )));
        }
        Some((m, _)) => m,
        None => {
            check_no_data(dir, &listing)?;
            if !may_create {
                return Err(no_database(dir));
            }
            let wals = Some(BTreeSet::new());
            Manifested { next_file_number: 1, wals, ..Manifested::default() }
        }
    };
    if listing.max_number >= filename::MAX_FILE_NUMBER {
        let name = listing
            .names
            .iter()
            .find(|n| filename::parse(n).map(file_number) == Some(listing.max_number));
        let path = dir.join(name.map_or("", String::as_str));
        return Err(Error::corruption(&path, 0, "file number beyond the largest"));
    }
    let live_logs = check_files(dir, &m, &listing)?;
    let keyspaces = m.trees.iter().map(|(&id, t)| (id, t.log_number)).collect();
    let rec = recovery::replay_logs(
        fs.as_ref(),
        dir,
        &live_logs,
        m.last_seqno,
        db_opts.wal_recovery_mode,
        &keyspaces,
        m.max_keyspace_id,
    )?;
    let next_file = m.next_file_number.max(listing.max_number + 1);
    let recovery_truncated = rec
        .dropped
        .as_ref()
        .map(|(file, offset, detail)| format!("{} at offset {offset}: {detail}", file.display()));
    let tables = Arc::new(TableCache::new(
        Arc::clone(&fs),
        dir.to_path_buf(),
        db_opts.max_open_files,
        Arc::new(BlockCache::new(db_opts.block_cache_bytes as u64)),
    ));
    let (jobs, receivers) = JobQueue::new();
    let mut parts = SharedParts {
        dir: dir.to_path_buf(),
        opts: db_opts.clone(),
        tables: Arc::clone(&tables),
        next_file,
        last_seqno: rec.last_seqno,
        versions: None,
        wals: live_logs.iter().copied().collect(),
        dir_lock,
        pinned: Vec::new(),
        recovery_truncated,
        jobs,
    };
    let mut tree_opts = BTreeMap::new();
    let manifest = filename::manifest_file(dir, m.manifest_number.unwrap_or(0));
    for (&id, t) in &m.trees {
        tree_opts.insert(id, options.keyspace_tree_options(&t.options, &t.name, &manifest)?);
    }
    let mut m = m;
    if let Some(default) = tree_opts.get_mut(&0) {
        default.merge = default_merge_operator(options, &mut m)?;
    }
    if read_only {
        // Every live table is opened now and held, so the view stays readable whatever
        // a writer in another process deletes.
        for t in m.trees.values() {
            for (_, f) in t.version.files() {
                parts.pinned.push(tables.get(f)?);
            }
        }
        let shared = Arc::new(Shared::new(parts));
        let mut rec = rec;
        for (id, t) in m.trees {
            let mem = rec.mems.remove(&id).unwrap_or_default();
            let opts = tree_opts.remove(&id).unwrap_or_else(|| options.tree_options());
            let version = Arc::new(t.version);
            shared.insert_tree(Arc::new(Tree::new(
                id,
                t.name,
                opts,
                version,
                mem,
                Arc::clone(&tables),
            )));
        }
        return finish(shared, None, receivers);
    }
    let s = start_writing(&db_opts, dir, m, &rec, &tree_opts, next_file)?;
    let log_number = s.log_number;
    let versions = VersionSet::create(Arc::clone(&fs), dir, s.manifest, s.temp, &s.m)?;
    remove_obsolete(fs.as_ref(), dir, &versions, log_number, &listing)?;
    let trees: Vec<_> =
        s.m.trees.iter().map(|(&id, t)| (id, t.name.clone(), versions.current(id))).collect();
    parts.next_file = s.m.next_file_number;
    parts.wals = BTreeSet::from([log_number]);
    parts.versions = Some(versions);
    let shared = Arc::new(Shared::new(parts));
    for (id, name, version) in trees {
        let opts = tree_opts.remove(&id).unwrap_or_else(|| options.tree_options());
        let mem = Arc::new(crate::memtable::MemTable::new());
        shared.insert_tree(Arc::new(Tree::new(id, name, opts, version, mem, Arc::clone(&tables))));
    }
    finish(shared, Some((s.wal, log_number)), receivers)
}

/// The `Opened` for `shared`, whose keyspaces are registered.
fn finish(
    shared: Arc<Shared>,
    wal: Option<(LogWriter, u64)>,
    receivers: JobReceivers,
) -> Result<Opened> {
    let tree = shared.tree(0).ok_or_else(|| {
        Error::corruption(shared.dir().join("CURRENT"), 0, "the default keyspace is missing")
    })?;
    Ok(Opened { shared, tree, wal, receivers })
}

/// Checks that every table the manifest names is in the directory and every live log
/// it names too, and that no log it does not name holds data; returns the live logs to
/// replay, ascending.
fn check_files(dir: &Path, m: &Manifested, listing: &Listing) -> Result<Vec<u64>> {
    let manifest = filename::manifest_file(dir, m.manifest_number.unwrap_or(0));
    for t in m.trees.values() {
        for (level, f) in t.version.files() {
            if !listing.tables.contains(&f.number) {
                let detail =
                    format!("names table {:06}.sst (L{level}), which is missing", f.number);
                return Err(Error::corruption(&manifest, 0, detail));
            }
        }
    }
    let log_number = m.log_number();
    let on_disk = listing.logs.keys().copied().filter(|&n| n >= log_number);
    let Some(tracked) = &m.wals else {
        // A manifest from before WAL tracking: every log at or above its log number is
        // live.
        let mut logs: Vec<u64> = on_disk.collect();
        logs.sort_unstable();
        return Ok(logs);
    };
    if let Some(missing) = tracked.iter().find(|n| !listing.logs.contains_key(n)) {
        let detail = format!("names live log {missing:06}.log, which is missing");
        return Err(Error::corruption(&manifest, 0, detail));
    }
    for n in on_disk {
        if !tracked.contains(&n) && listing.logs[&n] > 0 {
            // Every log is named in the manifest before anything is written to it, so
            // one that is not named but holds data did not come from this database.
            let path = filename::log_file(dir, n);
            return Err(Error::corruption(
                path,
                0,
                "log holds data but the manifest does not name it",
            ));
        }
    }
    Ok(tracked.iter().copied().collect())
}

/// What `start_writing` made: the manifest contents to write, the numbers of the new
/// manifest and its temp file, and the new log.
struct Started {
    m: Manifested,
    manifest: u64,
    temp: u64,
    wal: LogWriter,
    log_number: u64,
}

/// Folds each keyspace's recovered memtable into an L0 table and starts the new log.
fn start_writing(
    db_opts: &DbOptions,
    dir: &Path,
    mut m: Manifested,
    rec: &Recovered,
    tree_opts: &BTreeMap<u32, TreeOptions>,
    mut next_file: u64,
) -> Result<Started> {
    let fs = db_opts.fs.as_ref();
    let mut alloc = || {
        next_file += 1;
        next_file - 1
    };
    for (id, t) in &mut m.trees {
        let (Some(mem), Some(opts)) = (rec.mems.get(id), tree_opts.get(id)) else { continue };
        let table = alloc();
        let limit = super::table_file::max_user_key(&t.version, [mem.as_ref()]);
        let tag = super::table_file::keyspace_tag(*id, &t.name, opts);
        let written =
            super::table_file::write_table(fs, dir, table, &opts.table, mem, limit, tag.as_ref())?;
        if let Some(meta) = written {
            let edit = VersionEdit { added: vec![(0, meta)], ..VersionEdit::default() };
            t.version = t.version.apply(&edit)?;
        }
    }
    let log_number = alloc();
    let wal = LogWriter::new(fs.create(&filename::log_file(dir, log_number))?);
    // The new log's directory entry must be durable before a synced write in it is
    // acknowledged.
    fs.sync_dir(dir)?;
    let (manifest, temp) = (alloc(), alloc());
    for t in m.trees.values_mut() {
        t.log_number = log_number;
    }
    m.last_seqno = rec.last_seqno;
    m.wals = Some(BTreeSet::from([log_number]));
    m.next_file_number = next_file;
    Ok(Started { m, manifest, temp, wal, log_number })
}

/// Deletes what the new manifest (now durable and current) proves obsolete: every log
/// but the new one (their data is in its tables), tables it does not name (a flush or
/// compaction that crashed before its edit), other manifests and temp files.
fn remove_obsolete(
    fs: &dyn FileSystem,
    dir: &Path,
    versions: &VersionSet,
    live_log: u64,
    listing: &Listing,
) -> Result<()> {
    let live_tables: BTreeSet<u64> = versions.live_tables();
    for name in &listing.names {
        let obsolete = match filename::parse(name) {
            Some(FileKind::Log(n)) => n != live_log,
            Some(FileKind::Table(n)) => !live_tables.contains(&n),
            Some(FileKind::Manifest(n)) => n != versions.manifest_number,
            Some(FileKind::Temp(_)) => true,
            Some(FileKind::Lock | FileKind::Current) | None => false,
        };
        if obsolete {
            match fs.remove_file(&dir.join(name)) {
                // `VersionSet::create` already removed the manifest it replaced.
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                r => r?,
            }
        }
    }
    Ok(())
}

/// The default keyspace's merge operator: the one `options` give, which must have the
/// name the manifest stored (recorded in `m` if none was); or, if `options` give none,
/// the stored one found by name.
fn default_merge_operator(
    options: &Options,
    m: &mut Manifested,
) -> Result<Option<Arc<dyn crate::merge::MergeOperator>>> {
    match (&m.default_merge_operator, &options.merge_operator) {
        (Some(stored), Some(given)) if stored != given.name() => {
            Err(Error::InvalidArgument(format!(
                "the default keyspace was written with merge operator {stored:?}, not {:?}",
                given.name()
            )))
        }
        (_, Some(given)) => {
            m.default_merge_operator = Some(given.name().to_string());
            Ok(Some(Arc::clone(given)))
        }
        (Some(stored), None) => options.find_merge_operator(stored).map(Some).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the default keyspace uses merge operator {stored:?}: set Options::merge_operator"
            ))
        }),
        (None, None) => Ok(None),
    }
}
