//! Bulk ingest: adding table files built by [`SstWriter`](crate::SstWriter) to a
//! keyspace in one step, without their data passing through the WAL or a memtable.
//!
//! An ingest of `n` files:
//! 1. opens each file and checks it is an ingestible table (every entry at seqno 0);
//! 2. links each into the database directory under a new table number (copies it when
//!    the file system cannot link), synced;
//! 3. waits for running compactions of the keyspace and holds new ones off, so that no
//!    compaction output can land where a file goes;
//! 4. under the write path's log lock (no write group runs): if a memtable of the
//!    keyspace holds a key in a file's range, lets go, flushes, and starts this step
//!    again; otherwise logs a marker batch taking the next `n` seqnos (fsynced), then,
//!    under the manifest lock, gives file `i` global seqno `first + i`, places it at
//!    the deepest level where neither it nor anything above overlaps another table
//!    (L0 when a table of L0 overlaps it), logs one manifest edit adding them all and
//!    installs it, and only then publishes the new last seqno.
//!
//! So every file is newer than every acknowledged write, later files in the list are
//! newer than earlier ones, the files become visible together, and a snapshot taken
//! before the ingest (whose seqno is below theirs) never sees them. The global seqno
//! lives in the manifest (tag 17), not in the file; the table reads its entries and
//! tombstones as carrying it (`sstable/reader.rs`). L0 is ordered by largest seqno, so
//! an ingested L0 table sits above the older tables it overlaps whatever its number.
//!
//! A crash before the manifest edit leaves linked files no manifest names (deleted at
//! the next open) and perhaps the marker in the WAL, which replays as seqnos taken by
//! nothing; after it, the ingest is whole.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::engine::tree::Tree;
use crate::filename;
use crate::fs::FileSystem;
use crate::iter::InternalIterator;
use crate::key::{self, MAX_SEQNO};
use crate::sstable::{FileMeta, Table};
use crate::version::{Version, VersionEdit, NUM_LEVELS};
use crate::view::ReadView;
use crate::{Db, Error, Keyspace, Result};

/// How [`Db::ingest`] treats the files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestOptions {
    /// Remove the source files once the ingest is durable (with a hard link, the file
    /// is then in effect moved). Default: `false`, the sources are left as they were —
    /// but where they could be hard-linked they share their bytes with the database:
    /// replace or remove a source, never modify it in place ([`SstWriter::create`]
    /// replaces).
    ///
    /// [`SstWriter::create`]: crate::SstWriter::create
    pub move_files: bool,
    /// Read every block of each file and check its checksum before ingesting it.
    /// Default: `false` (the footer, index, filter and properties are always checked).
    pub verify_checksums: bool,
}

impl IngestOptions {
    /// Options that remove the source files once they are ingested.
    pub fn moving() -> Self {
        IngestOptions { move_files: true, ..IngestOptions::default() }
    }
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestInfo {
    /// One entry per file, in the order given.
    pub files: Vec<IngestedFile>,
    /// Whether a memtable overlapping the files had to be flushed first.
    pub flushed: bool,
    /// Bytes copied because a file could not be linked.
    pub bytes_copied: u64,
}

/// Where one ingested file went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IngestedFile {
    /// The file as given.
    pub source: PathBuf,
    /// Its table number in the database.
    pub number: u64,
    /// The level it was placed at.
    pub level: usize,
    /// The sequence number all its entries read as.
    pub seqno: u64,
    /// Whether it was hard-linked (else copied).
    pub linked: bool,
    /// Its size in bytes.
    pub size: u64,
}

/// How many times an ingest flushes overlapping memtables before it gives up (only
/// writers that keep writing into the files' range can make it need more).
const TRIES: usize = 8;

impl Db {
    /// Adds the table files `files` (written by [`SstWriter`](crate::SstWriter)) to the
    /// default keyspace in one step; see [`crate::ingest`]. Later files in the list win
    /// over earlier ones where they hold the same key.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// db.put("a", "old")?;
    /// let before = db.snapshot();
    /// let mut w = mylsm::SstWriter::create(tmp.path().join("1.sst"), &Default::default())?;
    /// w.put("a", "new")?;
    /// w.finish()?;
    /// let info = db.ingest([tmp.path().join("1.sst")], Default::default())?;
    /// assert!(info.flushed, "the memtable held \"a\"");
    /// assert_eq!(db.get("a")?.as_deref(), Some(&b"new"[..]));
    /// assert_eq!(before.get("a")?.as_deref(), Some(&b"old"[..]));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a file that is not an ingestible table (no entries, or
    /// entries with seqnos), an empty list or a read-only handle; `Corruption` for a
    /// damaged file; I/O errors. On error nothing was ingested.
    pub fn ingest<P: AsRef<Path>>(
        &self,
        files: impl IntoIterator<Item = P>,
        options: IngestOptions,
    ) -> Result<IngestInfo> {
        let files: Vec<PathBuf> = files.into_iter().map(|p| p.as_ref().to_path_buf()).collect();
        self.ingest_into(self.default_tree(), &files, &options)
    }

    pub(crate) fn ingest_into(
        &self,
        tree: &Arc<Tree>,
        files: &[PathBuf],
        options: &IngestOptions,
    ) -> Result<IngestInfo> {
        let w = self.writer()?;
        if files.is_empty() {
            return Err(Error::InvalidArgument("ingest of no files".into()));
        }
        let shared = self.shared();
        let fs = Arc::clone(&shared.opts().fs);
        let mut staged = Vec::new();
        let result = (|| {
            for source in files {
                staged.push(stage(fs.as_ref(), shared.dir(), source, options, || {
                    shared.new_file_number()
                })?);
            }
            fs.sync_dir(shared.dir())?;
            let _hold = crate::jobs::compact::hold_compactions(shared, tree)?;
            let mut flushed = false;
            for _ in 0..TRIES {
                let installed = w.with_log(|log| {
                    if overlaps_memtables(&tree.current_view(), &staged)? {
                        return Ok(None);
                    }
                    if tree.is_dropped() {
                        let name = tree.name();
                        return Err(Error::InvalidArgument(format!("keyspace {name} was dropped")));
                    }
                    let numbers: Vec<u64> = staged.iter().map(|s| s.meta.number).collect();
                    let first = w.log_ingest(shared, log, &numbers)?;
                    let last = first + staged.len() as u64 - 1;
                    // Taken by the marker whatever happens next: never handed out again.
                    log.last_seqno = last;
                    let mut versions = shared.versions();
                    let mut st = tree.state();
                    let mut edit = VersionEdit {
                        keyspace: tree.id(),
                        last_seqno: Some(last),
                        ..VersionEdit::default()
                    };
                    let mut placed = Vec::new();
                    for (i, s) in staged.iter_mut().enumerate() {
                        let seqno = first + i as u64;
                        s.meta.global_seqno = seqno;
                        (s.meta.smallest_seqno, s.meta.largest_seqno) = (seqno, seqno);
                        s.level = target_level(&st.version, &placed, &s.meta);
                        placed.push((s.level, s.meta.clone()));
                        edit.added.push((s.level, s.meta.clone()));
                    }
                    let version =
                        versions.log_and_apply(edit, shared.next_file_number(), shared.latch())?;
                    st.version = version;
                    tree.refresh_view(&st);
                    drop(st);
                    drop(versions);
                    shared.publish_seqno(last);
                    Ok(Some(first))
                })?;
                if installed.is_some() {
                    return Ok(flushed);
                }
                self.flush_trees(std::slice::from_ref(tree))?;
                flushed = true;
            }
            Err(Error::InvalidArgument(format!(
                "ingest gave up after {TRIES} flushes: writes keep landing in the files' range"
            )))
        })();
        match result {
            Ok(flushed) => {
                tree.notify();
                shared.jobs().schedule_compaction(tree);
                if options.move_files {
                    for f in files {
                        let _ = fs.remove_file(f);
                    }
                }
                Ok(IngestInfo {
                    bytes_copied: staged.iter().map(|s| s.copied).sum(),
                    files: staged
                        .into_iter()
                        .map(|s| IngestedFile {
                            source: s.source,
                            number: s.meta.number,
                            level: s.level,
                            seqno: s.meta.global_seqno,
                            linked: s.copied == 0,
                            size: s.meta.size,
                        })
                        .collect(),
                    flushed,
                })
            }
            Err(e) => {
                for s in &staged {
                    let _ = fs.remove_file(&filename::table_file(shared.dir(), s.meta.number));
                }
                Err(e)
            }
        }
    }
}

impl Keyspace {
    /// Adds the table files `files` to this keyspace in one step; see [`Db::ingest`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path().join("db"), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// let mut w = mylsm::SstWriter::create(dir.path().join("1.sst"), &Default::default())?;
    /// w.put("k", "v")?;
    /// w.finish()?;
    /// ks.ingest([dir.path().join("1.sst")], Default::default())?;
    /// assert_eq!((ks.get("k")?.is_some(), db.get("k")?), (true, None));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As for [`Db::ingest`]; `InvalidArgument` once the keyspace is dropped.
    pub fn ingest<P: AsRef<Path>>(
        &self,
        files: impl IntoIterator<Item = P>,
        options: IngestOptions,
    ) -> Result<IngestInfo> {
        self.check()?;
        let files: Vec<PathBuf> = files.into_iter().map(|p| p.as_ref().to_path_buf()).collect();
        self.db().ingest_into(self.tree(), &files, &options)
    }
}

/// One file linked into the database, waiting to be installed.
struct Staged {
    source: PathBuf,
    meta: FileMeta,
    /// Bytes copied (0: linked).
    copied: u64,
    level: usize,
}

/// Checks `source` and links (or copies) it into `dir` under a new number.
fn stage(
    fs: &dyn FileSystem,
    dir: &Path,
    source: &Path,
    options: &IngestOptions,
    new_number: impl FnOnce() -> u64,
) -> Result<Staged> {
    let file = fs.open(source)?;
    let size = file.len()?;
    let table = Table::open(file, source.to_path_buf(), 0, size, Arc::new(BlockCache::new(0)))?;
    let props = table.properties();
    let invalid = |why: &str| {
        Err(Error::InvalidArgument(format!("{} cannot be ingested: {why}", source.display())))
    };
    if props.num_entries == 0 && props.num_range_deletes == 0 {
        return invalid("it holds nothing");
    }
    if props.largest_seqno != 0 {
        return invalid("its entries carry seqnos (write it with SstWriter)");
    }
    if options.verify_checksums {
        table.verify()?;
    }
    let number = new_number();
    let to = filename::table_file(dir, number);
    let copied = if fs.hard_link(source, &to)? {
        0
    } else {
        crate::checkpoint::copy_file(fs, source, fs, &to, None, &mut |_| {})?.0
    };
    let mut meta = FileMeta::from_properties(number, props.clone());
    meta.size = size;
    Ok(Staged { source: source.to_path_buf(), meta, copied, level: 0 })
}

/// The user-key range a table's bounds span (inclusive; an exclusive tombstone end
/// counted in, which only errs towards overlap).
fn user_range(meta: &FileMeta) -> (&[u8], &[u8]) {
    (key::user_key(&meta.smallest), key::user_key(&meta.largest))
}

/// Whether a memtable of `view` holds an entry or a range tombstone in some file's
/// range: such data is older than the files but would be read before them.
fn overlaps_memtables(view: &ReadView, staged: &[Staged]) -> Result<bool> {
    for mem in std::iter::once(&view.mem).chain(&view.imms) {
        for s in staged {
            let (lo, hi) = user_range(&s.meta);
            let mut it = mem.iter();
            it.seek(&key::lookup_key(lo, MAX_SEQNO));
            if it.valid() && key::user_key(it.key()) <= hi {
                return Ok(true);
            }
            it.status()?;
            if let Some(t) = mem.range_tombstones() {
                let meets = t
                    .pieces()
                    .any(|p| p.start.as_slice() <= hi && p.end.as_deref().is_none_or(|e| e > lo));
                if meets {
                    return Ok(true);
                }
            }
        }
    }
    Ok(false)
}

/// The deepest level at which neither `meta` nor any level above it meets a table of
/// `version` or one this ingest placed before it (`placed`); L0 if L0 meets one.
fn target_level(version: &Version, placed: &[(usize, FileMeta)], meta: &FileMeta) -> usize {
    let (lo, hi) = user_range(meta);
    let meets = |level: usize| {
        !version.overlapping_files(level, Some(lo), Some(hi)).is_empty()
            || placed.iter().any(|(l, m)| {
                let (a, b) = user_range(m);
                *l == level && a <= hi && lo <= b
            })
    };
    let mut target = 0;
    for level in 0..NUM_LEVELS {
        if meets(level) {
            break;
        }
        target = level;
    }
    target
}
