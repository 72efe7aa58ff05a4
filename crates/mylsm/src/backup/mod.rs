//! Incremental backups: a directory holding many backups of a database that share the
//! tables they have in common.
//!
//! ```text
//! DIR/LOCK                                held while a backup is created or purged
//! DIR/shared/NNNNNN_SIZE_CRC.sst          a table, named by its number, size and crc32c
//! DIR/private/ID/NNNNNN.log               the WALs, copied up to the captured length
//! DIR/private/ID/MANIFEST-NNNNNN, CURRENT a fresh manifest of the captured state
//! DIR/meta/ID                             the backup's file list; written last
//! ```
//!
//! [`BackupEngine::create`] captures the database the way [`crate::Db::checkpoint`]
//! does (the last seqno, every keyspace's tables, the live WALs and the live one's
//! length, all kept from deletion meanwhile), then copies: a table whose name, size
//! and checksum are already in `shared/` is not copied again, so a backup after a
//! small change writes little more than the tables that change made. Every file is
//! copied, never hard-linked, so no backup shares an inode with the live database.
//!
//! Invariants, which an interrupted create or purge keeps at every step:
//!
//! 1. A backup exists exactly when `meta/ID` exists; it is written to a temporary
//!    name, synced and renamed only after every file it lists is durable. So `list`
//!    and `restore` never see a backup that an interrupted create left half done.
//! 2. A file under `shared/` with a final name is complete: tables are copied to a
//!    `.tmp` name, synced, and only then renamed.
//! 3. A file a backup lists is deleted only after its meta file is (purge deletes the
//!    metas, syncs, then the files no remaining meta lists).
//!
//! Creates and purges take `DIR/LOCK`, so two engines (in any process) never run them
//! at once; `list`, `verify` and `restore` take no lock, and a purge running meanwhile
//! can delete the files of a backup they are reading (they then fail with an I/O
//! error). The meta format is in `meta.rs` and `docs/backup_format.md`.
//!
//! The design follows RocksDB's `BackupEngine` with `share_files_with_checksum`; it
//! differs in keeping the WALs and manifest per backup rather than shared, and in
//! making the meta file the only commit point.

mod create;
mod meta;
mod purge;
mod restore;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fs::{FileLock, FileSystem, OsFs};
use crate::{filename, Error, Result};
use meta::{Meta, MetaFile, MAX_META_LEN};

/// The suffix of files being written; whatever has it is a leftover of an interrupted
/// create once the lock is taken.
const TMP: &str = ".tmp";

/// A directory of incremental backups of databases (see [`crate::backup`]).
#[derive(Clone)]
pub struct BackupEngine {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
    progress: Option<Progress>,
}

/// What [`BackupEngine::with_progress`] calls: bytes done, bytes in all.
type Progress = Arc<dyn Fn(u64, u64) + Send + Sync>;

impl std::fmt::Debug for BackupEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupEngine")
            .field("dir", &self.dir)
            .field("fs", &self.fs)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// One complete backup, as [`BackupEngine::create`] made it and
/// [`BackupEngine::list`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupInfo {
    /// The backup's number: 1 for the first in a directory, then ascending.
    pub id: u64,
    /// A database restored from the backup holds every write with a sequence number
    /// up to this one, and no other.
    pub seqno: u64,
    /// When the backup was made, in milliseconds since the Unix epoch.
    pub created_unix_ms: u64,
    /// The files a restore writes (tables, WALs, the manifest and `CURRENT`).
    pub files: usize,
    /// Their total size: what a restore writes.
    pub size: u64,
    /// The bytes this backup wrote when it was made; the rest it shares with other
    /// backups.
    pub bytes_copied: u64,
}

/// What [`BackupEngine::verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupVerifyReport {
    /// The backup checked.
    pub id: u64,
    /// The files read, each in full, their sizes and checksums matching.
    pub files: usize,
    /// The bytes read.
    pub bytes: u64,
}

impl BackupEngine {
    /// A backup engine on the real file system keeping its backups in `dir`. Nothing
    /// is created until the first [`BackupEngine::create`].
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// let info = backups.create(&db)?;
    /// backups.restore(info.id, tmp.path().join("restored"))?;
    /// let copy = mylsm::Db::open(tmp.path().join("restored"), mylsm::Options::default())?;
    /// assert_eq!(copy.get("k")?.as_deref(), Some(&b"v"[..]));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if `dir` is an existing file.
    pub fn open(dir: impl AsRef<Path>) -> Result<BackupEngine> {
        BackupEngine::open_with_fs(dir, Arc::new(OsFs))
    }

    /// A backup engine keeping its backups in `dir` on `fs` (which need not be the
    /// file system of the databases backed up).
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// let fs = std::sync::Arc::new(mylsm::fs::MemFs::new());
    /// let backups = mylsm::BackupEngine::open_with_fs("/backups", fs)?;
    /// assert!(backups.list()?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if `dir` is an existing file.
    pub fn open_with_fs(dir: impl AsRef<Path>, fs: Arc<dyn FileSystem>) -> Result<BackupEngine> {
        let dir = dir.as_ref().to_path_buf();
        if fs.exists(&dir) && fs.list_dir(&dir).is_err() {
            return Err(Error::InvalidArgument(format!(
                "backup directory {} is not a directory",
                dir.display()
            )));
        }
        Ok(BackupEngine { dir, fs, progress: None })
    }

    /// The directory holding the backups.
    ///
    /// ```
    /// let backups = mylsm::BackupEngine::open("/var/backups/db").unwrap();
    /// assert_eq!(backups.dir(), std::path::Path::new("/var/backups/db"));
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This engine, calling `f(done, total)` with the bytes read or copied so far and
    /// the bytes in all as [`BackupEngine::create`], [`BackupEngine::verify`] and
    /// [`BackupEngine::restore`] go (for a progress bar). `f` runs on the calling
    /// thread, about once a MiB.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// # db.put("k", "v")?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?
    ///     .with_progress(|done, total| assert!(done <= total));
    /// backups.create(&db)?;
    /// # Ok(()) }
    /// ```
    pub fn with_progress(mut self, f: impl Fn(u64, u64) + Send + Sync + 'static) -> Self {
        self.progress = Some(Arc::new(f));
        self
    }

    /// A meter counting up to `total` bytes for the progress callback.
    fn meter(&self, total: u64) -> Meter<'_> {
        Meter { done: 0, total, f: self.progress.as_deref() }
    }

    /// The entries of `DIR/sub`; none if it does not exist yet.
    fn names(&self, sub: &str) -> Result<Vec<String>> {
        let dir = self.dir.join(sub);
        if !self.fs.exists(&dir) {
            return Ok(Vec::new());
        }
        self.fs.list_dir(&dir)
    }

    /// The ids of the complete backups (those with a meta file), ascending.
    fn meta_ids(&self) -> Result<Vec<u64>> {
        let mut ids: Vec<u64> = self
            .names("meta")?
            .iter()
            .filter_map(|n| n.parse().ok().filter(|id: &u64| id.to_string() == *n))
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    /// Every meta file of a complete backup, by ascending id.
    fn read_metas(&self) -> Result<Vec<Meta>> {
        self.meta_ids()?.into_iter().map(|id| self.read_meta(id)).collect()
    }

    fn read_meta(&self, id: u64) -> Result<Meta> {
        let path = self.meta_path(id);
        let file = match self.fs.open(&path) {
            Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(format!("backup {id} in {}", self.dir.display())));
            }
            r => r?,
        };
        let len = file.len()?;
        if len > MAX_META_LEN {
            return Err(Error::corruption(path, 0, format!("meta file of {len} bytes")));
        }
        let meta = Meta::decode(&path, &file.read_all()?)?;
        if meta.id != id {
            return Err(Error::corruption(path, 0, format!("names backup {}", meta.id)));
        }
        Ok(meta)
    }

    fn meta_path(&self, id: u64) -> PathBuf {
        self.dir.join("meta").join(id.to_string())
    }

    fn private_dir(&self, id: u64) -> PathBuf {
        self.dir.join("private").join(id.to_string())
    }

    fn lock(&self) -> Result<Box<dyn FileLock>> {
        self.fs.create_dir_all(&self.dir)?;
        self.fs.lock(&self.dir.join("LOCK"))
    }
}

/// Bytes done out of a total, reported to the progress callback if there is one.
struct Meter<'a> {
    done: u64,
    total: u64,
    f: Option<&'a (dyn Fn(u64, u64) + Send + Sync)>,
}

impl Meter<'_> {
    fn add(&mut self, n: u64) {
        self.done += n;
        if let Some(f) = self.f {
            f(self.done.min(self.total), self.total);
        }
    }
}

fn info(m: &Meta) -> BackupInfo {
    BackupInfo {
        id: m.id,
        seqno: m.seqno,
        created_unix_ms: m.created_unix_ms,
        files: m.files.len(),
        size: m.files.iter().map(|f| f.size).sum(),
        bytes_copied: m.bytes_copied,
    }
}

/// `Corruption` naming `path` unless `size` and `crc` are what `f` says.
fn check(path: &Path, f: &MetaFile, size: u64, crc: u32) -> Result<()> {
    if size != f.size {
        return Err(Error::corruption(
            path,
            0,
            format!("{size} bytes, the backup says {}", f.size),
        ));
    }
    if crc != f.crc {
        let detail = format!("crc32c {crc:08x}, the backup says {:08x}", f.crc);
        return Err(Error::corruption(path, 0, detail));
    }
    Ok(())
}

/// The size and crc32c of the file `path`, read in full; `on_bytes` hears of each
/// chunk read.
fn checksum(fs: &dyn FileSystem, path: &Path, on_bytes: &mut dyn FnMut(u64)) -> Result<(u64, u32)> {
    let file = fs.open(path)?;
    let len = file.len()?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut at, mut crc) = (0u64, 0u32);
    while at < len {
        let want = ((len - at) as usize).min(buf.len());
        let n = file.read_at(at, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        at += n as u64;
        on_bytes(n as u64);
    }
    Ok((at, crc))
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn file_number(kind: filename::FileKind) -> u64 {
    use filename::FileKind::*;
    match kind {
        Lock | Current => 0,
        Manifest(n) | Log(n) | Table(n) | Temp(n) => n,
    }
}
