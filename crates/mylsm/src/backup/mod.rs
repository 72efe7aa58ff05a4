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

mod meta;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checkpoint::copy_file;
use crate::fs::{FileLock, FileSystem, OsFs};
use crate::{filename, Db, Error, Result};
use meta::{Meta, MetaFile, MAX_META_LEN};

/// How many times a create starts over when a WAL it needs was deleted under it.
const TRIES: usize = 5;

/// The suffix of files being written; whatever has it is a leftover of an interrupted
/// create once the lock is taken.
const TMP: &str = ".tmp";

/// A directory of incremental backups of databases (see [`crate::backup`]).
#[derive(Debug, Clone)]
pub struct BackupEngine {
    dir: PathBuf,
    fs: Arc<dyn FileSystem>,
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
        Ok(BackupEngine { dir, fs })
    }

    /// The directory holding the backups.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Backs up `db`, which goes on serving reads and writes meanwhile, and returns
    /// once the backup is durable. First removes what an interrupted earlier create
    /// left (its private files and half-copied tables; complete tables stay in
    /// `shared/` for this backup to reuse).
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// db.put("k", "v")?;
    /// db.flush()?;
    /// let first = backups.create(&db)?;
    /// db.put("k2", "v2")?;
    /// let second = backups.create(&db)?;
    /// assert!(second.seqno > first.seqno && second.id == first.id + 1);
    /// // The table the first backup copied is shared, not copied again.
    /// assert!(second.bytes_copied < second.size);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Locked` while another engine creates or purges in this directory;
    /// `InvalidArgument` for a read-only handle; I/O errors of the copy (what was
    /// written is not a backup, and the next create or purge removes it).
    pub fn create(&self, db: &Db) -> Result<BackupInfo> {
        let _lock = self.lock()?;
        self.remove_leftovers(false)?;
        for sub in ["shared", "private", "meta"] {
            self.fs.create_dir_all(&self.dir.join(sub))?;
        }
        self.fs.sync_dir(&self.dir)?;
        let id = self.meta_ids()?.last().map_or(1, |id| id + 1);
        let mut last = None;
        for _ in 0..TRIES {
            match self.try_create(db, id) {
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A WAL went between capture and copy: clear and retry.
                    self.remove_private(id)?;
                    last = Some(Error::Io(e));
                }
                other => return other,
            }
        }
        Err(last.unwrap_or(Error::Closed))
    }

    fn try_create(&self, db: &Db, id: u64) -> Result<BackupInfo> {
        let src_fs = Arc::clone(&db.shared().opts().fs);
        let shared_dir = self.dir.join("shared");
        let private = self.private_dir(id);
        self.fs.create_dir_all(&private)?;
        self.fs.sync_dir(&self.dir.join("private"))?;
        let existing: BTreeSet<String> = self.fs.list_dir(&shared_dir)?.into_iter().collect();
        let capture = db.capture_files()?;
        let mut files = Vec::new();
        let mut bytes_copied = 0;
        for t in &capture.tables {
            let (f, copied) = self.share_table(src_fs.as_ref(), &t.source, t.number, &existing)?;
            bytes_copied += copied;
            files.push(f);
        }
        for w in &capture.wals {
            let name = file_name(&w.source);
            let to = private.join(&name);
            let (size, crc) = copy_file(src_fs.as_ref(), &w.source, self.fs.as_ref(), &to, w.upto)?;
            bytes_copied += size;
            files.push(MetaFile { path: format!("private/{id}/{name}"), name, size, crc });
        }
        capture.write_manifest(Arc::clone(&self.fs), &private)?;
        let seqno = capture.seqno;
        drop(capture);
        // The manifest and CURRENT that `write_manifest` wrote, CURRENT last: a restore
        // copies the files in this order.
        let mut names = self.fs.list_dir(&private)?;
        names.retain(|n| n.starts_with("MANIFEST-"));
        names.push("CURRENT".to_string());
        for name in names {
            let path = private.join(&name);
            let (size, crc) = checksum(self.fs.as_ref(), &path)?;
            bytes_copied += size;
            files.push(MetaFile { path: format!("private/{id}/{name}"), name, size, crc });
        }
        // The tables' renames are made durable before the meta file names them.
        self.fs.sync_dir(&shared_dir)?;
        let created_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let meta = Meta { id, seqno, created_unix_ms, bytes_copied, files };
        let meta_dir = self.dir.join("meta");
        let tmp = meta_dir.join(format!("{id}{TMP}"));
        let mut out = self.fs.create(&tmp)?;
        out.append(&meta.encode())?;
        out.sync()?;
        drop(out);
        self.fs.rename(&tmp, &meta_dir.join(id.to_string()))?;
        self.fs.sync_dir(&meta_dir)?;
        Ok(info(&meta))
    }

    /// Puts the table `source` (number `number`) in `shared/` unless it is there
    /// already; returns its meta entry and the bytes copied.
    fn share_table(
        &self,
        src_fs: &dyn FileSystem,
        source: &Path,
        number: u64,
        existing: &BTreeSet<String>,
    ) -> Result<(MetaFile, u64)> {
        let size = src_fs.open(source)?.len()?;
        let prefix = format!("{number:06}_{size}_");
        let entry = |crc: u32| {
            let name = format!("{prefix}{crc:08x}.sst");
            let f = MetaFile { name: file_name(source), path: format!("shared/{name}"), size, crc };
            (f, self.dir.join("shared").join(name))
        };
        // Only when a table of this number and size is there is the source read to
        // learn its checksum; a new table's is computed as it is copied.
        if existing.iter().any(|n| n.starts_with(&prefix)) {
            let (_, crc) = checksum(src_fs, source)?;
            let (f, path) = entry(crc);
            if existing.contains(&f.path["shared/".len()..]) && self.fs.open(&path)?.len()? == size
            {
                return Ok((f, 0));
            }
        }
        let tmp = self.dir.join("shared").join(format!("{prefix}{TMP}"));
        let (copied, crc) = copy_file(src_fs, source, self.fs.as_ref(), &tmp, None)?;
        if copied != size {
            return Err(Error::corruption(source, copied, "table changed size while copied"));
        }
        let (f, path) = entry(crc);
        self.fs.rename(&tmp, &path)?;
        Ok((f, copied))
    }

    /// Every complete backup, oldest first.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// backups.create(&db)?;
    /// backups.create(&db)?;
    /// let ids: Vec<u64> = backups.list()?.iter().map(|b| b.id).collect();
    /// assert_eq!(ids, [1, 2]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Corruption` naming a meta file that does not decode (damaged, or written by a
    /// newer mylsm); I/O errors.
    pub fn list(&self) -> Result<Vec<BackupInfo>> {
        Ok(self.read_metas()?.iter().map(info).collect())
    }

    /// Reads every file of backup `id` in full, checking its size and crc32c.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// let info = backups.create(&db)?;
    /// assert_eq!(backups.verify(info.id)?.files, info.files);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `NotFound` if there is no backup `id`; `Corruption` naming the first file that
    /// is missing, has the wrong size or the wrong checksum.
    pub fn verify(&self, id: u64) -> Result<BackupVerifyReport> {
        let meta = self.read_meta(id)?;
        let mut report = BackupVerifyReport { id, files: 0, bytes: 0 };
        for f in &meta.files {
            let path = self.dir.join(&f.path);
            let (size, crc) = match checksum(self.fs.as_ref(), &path) {
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::corruption(path, 0, "file missing"));
                }
                r => r?,
            };
            check(&path, f, size, crc)?;
            report.files += 1;
            report.bytes += size;
        }
        Ok(report)
    }

    /// Restores backup `id` into `to`, which must be absent or empty; `to` then opens
    /// as a database holding exactly the history up to the backup's seqno. Every file
    /// is checked against its checksum as it is copied. `CURRENT` is written last, so
    /// an interrupted restore does not open as a database.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// db.put("k", "v")?;
    /// let info = backups.create(&db)?;
    /// backups.restore(info.id, tmp.path().join("restored"))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if `to` holds anything; `NotFound` if there is no backup
    /// `id`; `Corruption` naming a backup file whose size or checksum is wrong (what
    /// was restored so far is left, without `CURRENT`); I/O errors.
    pub fn restore(&self, id: u64, to: impl AsRef<Path>) -> Result<BackupInfo> {
        let to = to.as_ref();
        let fs = self.fs.as_ref();
        let meta = self.read_meta(id)?;
        if fs.exists(to) && !fs.list_dir(to)?.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "restore target {} is not empty",
                to.display()
            )));
        }
        fs.create_dir_all(to)?;
        let copy_checked = |f: &MetaFile, dest: &Path| -> Result<()> {
            let from = self.dir.join(&f.path);
            let (size, crc) = copy_file(fs, &from, fs, dest, None)?;
            check(&from, f, size, crc)
        };
        let mut max_number = 0;
        for f in meta.files.iter().filter(|f| f.name != "CURRENT") {
            copy_checked(f, &to.join(&f.name))?;
            max_number = max_number.max(filename::parse(&f.name).map_or(0, file_number));
        }
        fs.sync_dir(to)?;
        // `CURRENT` by a temporary name (which an open deletes) and a rename, so that a
        // crash never leaves a partial one.
        let current = meta.files.iter().find(|f| f.name == "CURRENT");
        let current = current.ok_or_else(|| {
            Error::corruption(self.meta_path(id), 0, "the backup lists no CURRENT")
        })?;
        let temp = filename::temp_file(to, max_number + 1);
        copy_checked(current, &temp)?;
        fs.rename(&temp, &filename::current_file(to))?;
        fs.sync_dir(to)?;
        Ok(info(&meta))
    }

    /// Deletes every backup but the newest `keep`, then every file no remaining backup
    /// lists (tables a backup cut short left in `shared/` included). Returns the ids
    /// of the backups deleted, oldest first.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// for _ in 0..3 {
    ///     backups.create(&db)?;
    /// }
    /// assert_eq!(backups.purge(1)?, [1, 2]);
    /// assert_eq!(backups.list()?.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Locked` while another engine creates or purges in this directory; `Corruption`
    /// as [`BackupEngine::list`]; I/O errors (a purge cut short leaves whole backups,
    /// and the next create or purge finishes the deletions).
    pub fn purge(&self, keep: usize) -> Result<Vec<u64>> {
        if !self.fs.exists(&self.dir) {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        let metas = self.read_metas()?;
        let doomed: Vec<u64> =
            metas[..metas.len().saturating_sub(keep)].iter().map(|m| m.id).collect();
        for &id in &doomed {
            self.fs.remove_file(&self.meta_path(id))?;
        }
        if !doomed.is_empty() {
            self.fs.sync_dir(&self.dir.join("meta"))?;
        }
        self.remove_leftovers(true)?;
        Ok(doomed)
    }

    /// Removes what no complete backup lists: private directories without a meta
    /// file, temporary files, and with `shared` the tables no meta file names (which
    /// needs every meta file to decode; the rest does not).
    fn remove_leftovers(&self, shared: bool) -> Result<()> {
        let ids: BTreeSet<String> = self.meta_ids()?.iter().map(u64::to_string).collect();
        for name in self.names("private")? {
            if !ids.contains(&name) {
                self.remove_private_named(&name)?;
            }
        }
        for name in self.names("meta")?.into_iter().filter(|n| n.ends_with(TMP)) {
            self.fs.remove_file(&self.dir.join("meta").join(name))?;
        }
        let metas = if shared { self.read_metas()? } else { Vec::new() };
        let listed: BTreeSet<&str> =
            metas.iter().flat_map(|m| m.files.iter().map(|f| f.path.as_str())).collect();
        for name in self.names("shared")? {
            let path = format!("shared/{name}");
            if name.ends_with(TMP) || (shared && !listed.contains(path.as_str())) {
                self.fs.remove_file(&self.dir.join(path))?;
            }
        }
        Ok(())
    }

    fn remove_private(&self, id: u64) -> Result<()> {
        self.remove_private_named(&id.to_string())
    }

    fn remove_private_named(&self, name: &str) -> Result<()> {
        let dir = self.dir.join("private").join(name);
        if !self.fs.exists(&dir) {
            return Ok(());
        }
        for f in self.fs.list_dir(&dir)? {
            self.fs.remove_file(&dir.join(f))?;
        }
        self.fs.remove_dir(&dir)
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

/// The size and crc32c of the file `path`, read in full.
fn checksum(fs: &dyn FileSystem, path: &Path) -> Result<(u64, u32)> {
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
