//! `SstWriter`: builds a table file outside any database, from keys in ascending order,
//! for [`Db::ingest`](crate::Db::ingest) to add in one step.
//!
//! The file is an ordinary table (`docs/sst_format.md`) whose entries all carry seqno 0:
//! the seqno it is read at is given when it is ingested and recorded in the manifest,
//! never written into the file, so the file is linked or moved into the database as it
//! is. A range tombstone in the file deletes what the database held before the ingest,
//! not the file's own entries (they share one seqno, and a tombstone covers only older
//! ones). `mylsm inspect sst` reads such a file like any table.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fs::{FileSystem, OsFs};
use crate::key::{self, Kind};
use crate::range_del::{Fragments, Tombstone};
use crate::sstable::{TableBuilder, TableOptions};
use crate::{Error, KeyspaceOptions, Options, Result, MAX_KEY_LEN, MAX_VALUE_LEN};

/// Writes one table file of sorted entries for ingestion.
///
/// Point keys (puts and deletes) must come in strictly ascending order; a key at or
/// before the previous one is `InvalidArgument` and leaves the writer usable. Range
/// deletions may come in any order.
///
/// ```
/// # fn main() -> mylsm::Result<()> {
/// # let tmp = tempfile::tempdir().unwrap();
/// let path = tmp.path().join("users.sst");
/// let mut w = mylsm::SstWriter::create(&path, &mylsm::KeyspaceOptions::default())?;
/// w.put("user:1", "ada")?;
/// w.put("user:2", "grace")?;
/// assert!(w.put("user:0", "late").unwrap_err().is_invalid_argument());
/// let info = w.finish()?;
/// assert_eq!(info.entries, 2);
///
/// let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
/// db.ingest([&path], Default::default())?;
/// assert_eq!(db.get("user:2")?.as_deref(), Some(&b"grace"[..]));
/// # Ok(()) }
/// ```
pub struct SstWriter {
    builder: Option<TableBuilder>,
    fs: Arc<dyn FileSystem>,
    path: PathBuf,
    last_key: Option<Vec<u8>>,
    tombstones: Vec<Tombstone>,
    scratch: Vec<u8>,
    info: SstInfo,
}

impl std::fmt::Debug for SstWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SstWriter").field("path", &self.path).field("info", &self.info).finish()
    }
}

/// What a finished [`SstWriter`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SstInfo {
    /// The file written.
    pub path: PathBuf,
    /// The smallest and largest user keys of the point entries (`None`: there are
    /// none).
    pub smallest: Option<Vec<u8>>,
    /// (See `smallest`.)
    pub largest: Option<Vec<u8>>,
    /// Point entries written (puts and deletes).
    pub entries: u64,
    /// Range deletions written.
    pub range_deletes: u64,
    /// Size of the finished file in bytes.
    pub file_size: u64,
}

impl SstWriter {
    /// Creates the file `path` (a new file in place of one that is there, which is
    /// unlinked rather than truncated), to be written with the
    /// block size, compression and bloom filter of `options`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("1.sst");
    /// let w = mylsm::SstWriter::create(&path, &mylsm::KeyspaceOptions::default())?;
    /// assert!(path.exists());
    /// # drop(w);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// I/O errors creating the file.
    pub fn create(path: impl AsRef<Path>, options: &KeyspaceOptions) -> Result<SstWriter> {
        SstWriter::create_with_fs(Arc::new(OsFs), path, options)
    }

    /// [`create`](Self::create) on the file system `fs` (an in-memory one in tests).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// let fs = std::sync::Arc::new(mylsm::fs::MemFs::new());
    /// let mut w = mylsm::SstWriter::create_with_fs(fs, "/1.sst", &Default::default())?;
    /// w.put("k", "v")?;
    /// assert_eq!(w.finish()?.entries, 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// I/O errors creating the file.
    pub fn create_with_fs(
        fs: Arc<dyn FileSystem>,
        path: impl AsRef<Path>,
        options: &KeyspaceOptions,
    ) -> Result<SstWriter> {
        let path = path.as_ref().to_path_buf();
        let opts = TableOptions::from(&options.apply_to(&Options::default()));
        // A new file, never the old one truncated: an earlier file of this name may be
        // hard-linked into a database by an ingest.
        if fs.exists(&path) {
            fs.remove_file(&path)?;
        }
        let file = fs.create(&path)?;
        Ok(SstWriter {
            builder: Some(TableBuilder::new(file, path.clone(), opts)),
            fs,
            path: path.clone(),
            last_key: None,
            tombstones: Vec::new(),
            scratch: Vec::new(),
            info: SstInfo { path, ..SstInfo::default() },
        })
    }

    /// Adds `key` = `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut w = mylsm::SstWriter::create(dir.path().join("1.sst"), &Default::default())?;
    /// w.put("a", "1")?;
    /// w.put("b", "2")?;
    /// assert!(w.put("a", "again").unwrap_err().is_invalid_argument());
    /// assert_eq!(w.finish()?.entries, 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if `key` is not after the previous point key or a size limit
    /// is passed; I/O errors writing the file (the writer is then unusable).
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        self.add(key.as_ref(), Kind::Put, value.as_ref())
    }

    /// Adds a deletion of `key`: it hides the versions the database held before the
    /// ingest.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut w = mylsm::SstWriter::create(dir.path().join("1.sst"), &Default::default())?;
    /// w.delete("gone")?;
    /// let info = w.finish()?;
    /// assert_eq!(info.smallest.as_deref(), Some(&b"gone"[..]));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As for [`put`](Self::put).
    pub fn delete(&mut self, key: impl AsRef<[u8]>) -> Result<()> {
        self.add(key.as_ref(), Kind::Delete, &[])
    }

    /// Adds a deletion of every key in `[start, end)` that the database held before
    /// the ingest (not of this file's own entries).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut w = mylsm::SstWriter::create(dir.path().join("1.sst"), &Default::default())?;
    /// # let db = mylsm::Db::open(dir.path().join("db"), mylsm::Options::default())?;
    /// db.put("b", "old")?;
    /// w.delete_range("a", "c")?;
    /// assert!(w.delete_range("c", "a").unwrap_err().is_invalid_argument());
    /// w.finish()?;
    /// db.ingest([dir.path().join("1.sst")], Default::default())?;
    /// assert_eq!(db.get("b")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` unless `start < end`, or for a key over the size limit.
    pub fn delete_range(&mut self, start: impl AsRef<[u8]>, end: impl AsRef<[u8]>) -> Result<()> {
        let (start, end) = (start.as_ref(), end.as_ref());
        if start >= end || end.len() > MAX_KEY_LEN {
            return Err(Error::InvalidArgument(format!(
                "{}: a range deletion needs start < end (at most {MAX_KEY_LEN} bytes)",
                self.path.display()
            )));
        }
        self.builder()?;
        self.tombstones.push(Tombstone {
            start: start.to_vec(),
            end: Some(end.to_vec()),
            seqno: 0,
        });
        self.info.range_deletes += 1;
        Ok(())
    }

    fn builder(&mut self) -> Result<&mut TableBuilder> {
        self.builder.as_mut().ok_or_else(|| {
            Error::InvalidArgument(format!("{}: the writer failed earlier", self.path.display()))
        })
    }

    fn add(&mut self, key: &[u8], kind: Kind, value: &[u8]) -> Result<()> {
        if key.len() > MAX_KEY_LEN || value.len() > MAX_VALUE_LEN {
            return Err(Error::InvalidArgument(format!(
                "{}: key of {} or value of {} bytes is over the limit",
                self.path.display(),
                key.len(),
                value.len()
            )));
        }
        if let Some(last) = &self.last_key {
            if key <= last.as_slice() {
                return Err(Error::InvalidArgument(format!(
                    "{}: keys must be strictly ascending: {:?} after {:?}",
                    self.path.display(),
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(last)
                )));
            }
        }
        self.scratch.clear();
        key::append_internal_key(&mut self.scratch, key, 0, kind);
        let scratch = std::mem::take(&mut self.scratch);
        let added = self.builder()?.add(&scratch, value);
        self.scratch = scratch;
        if let Err(e) = added {
            // A failed builder refuses everything after: drop it and the file.
            self.abandon();
            return Err(e);
        }
        self.info.smallest.get_or_insert_with(|| key.to_vec());
        match &mut self.last_key {
            Some(last) => {
                last.clear();
                last.extend_from_slice(key);
            }
            None => self.last_key = Some(key.to_vec()),
        }
        self.info.entries += 1;
        Ok(())
    }

    fn abandon(&mut self) {
        if let Some(b) = self.builder.take() {
            b.abandon();
            let _ = self.fs.remove_file(&self.path);
        }
    }

    /// Writes the file's index, filter and footer and syncs it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let mut w = mylsm::SstWriter::create(dir.path().join("1.sst"), &Default::default())?;
    /// w.put("a", "1")?;
    /// let info = w.finish()?;
    /// assert_eq!((info.entries, info.path.exists()), (1, true));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if nothing was added; I/O errors (the file is then removed).
    pub fn finish(mut self) -> Result<SstInfo> {
        if self.info.entries == 0 && self.tombstones.is_empty() {
            self.abandon();
            return Err(Error::InvalidArgument(format!(
                "{}: an ingestible table needs at least one entry",
                self.path.display()
            )));
        }
        let mut builder = self.builder.take().ok_or_else(|| {
            Error::InvalidArgument(format!("{}: the writer failed earlier", self.path.display()))
        })?;
        builder.set_range_tombstones(Fragments::new(std::mem::take(&mut self.tombstones)));
        match builder.finish() {
            Ok(props) => {
                self.info.largest = self.last_key.take();
                self.info.file_size = props.file_size;
                Ok(std::mem::take(&mut self.info))
            }
            Err(e) => {
                let _ = self.fs.remove_file(&self.path);
                Err(e)
            }
        }
    }
}

impl Drop for SstWriter {
    /// A writer dropped before `finish` removes its partial file.
    fn drop(&mut self) {
        self.abandon();
    }
}
