//! `Db`'s write calls: single puts, deletes, merges, range deletes and batches, each
//! checked here and handed to the write path (`write/`).

use std::ops::RangeBounds;
use std::sync::Arc;

use crate::batch::WriteBatch;
use crate::options::WriteOptions;
use crate::{Db, Error, Result};

impl Db {
    /// Sets `key` to `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v1")?;
    /// db.put("k", "v2")?;
    /// assert_eq!(db.get("k")?.unwrap(), "v2");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value over the size limits or a read-only handle;
    /// `WouldStall` with `no_slowdown` set; `Closed` after [`Db::close`]; `Background` once
    /// an earlier failure latched the database; I/O errors of the WAL.
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write(b)
    }

    /// Sets `key` to `value` with `options` (`WriteOptions::synced()` for a write that
    /// survives power loss), without building a batch.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put_opt("k", "v", &mylsm::WriteOptions::synced())?;
    /// assert_eq!(db.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value over the size limits or a read-only handle;
    /// `WouldStall` with `no_slowdown` set; `Closed` after [`Db::close`]; `Background` once
    /// an earlier failure latched the database; I/O errors of the WAL.
    pub fn put_opt(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        options: &WriteOptions,
    ) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put(key, value);
        self.write_opt(b, options)
    }

    /// Deletes `key` with `options`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// db.delete_opt("k", &mylsm::WriteOptions::synced())?;
    /// assert_eq!(db.get("k")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value over the size limits or a read-only handle;
    /// `WouldStall` with `no_slowdown` set; `Closed` after [`Db::close`]; `Background` once
    /// an earlier failure latched the database; I/O errors of the WAL.
    pub fn delete_opt(&self, key: impl AsRef<[u8]>, options: &WriteOptions) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write_opt(b, options)
    }

    /// Deletes `key` (a no-op if it is absent).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// db.delete("k")?;
    /// assert_eq!(db.get("k")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value over the size limits or a read-only handle;
    /// `WouldStall` with `no_slowdown` set; `Closed` after [`Db::close`]; `Background` once
    /// an earlier failure latched the database; I/O errors of the WAL.
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete(key);
        self.write(b)
    }

    /// Adds merge `operand` to `key`: a later read merges it into the key's value with
    /// the default keyspace's merge operator ([`crate::merge`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let opts = mylsm::Options { merge_operator: Some(std::sync::Arc::new(mylsm::merge::U64Add)), ..Default::default() };
    /// # let db = mylsm::Db::open(dir.path(), opts)?;
    /// db.merge("hits", 5u64.to_le_bytes())?;
    /// db.merge("hits", 2u64.to_le_bytes())?;
    /// assert_eq!(db.get("hits")?.unwrap(), 7u64.to_le_bytes());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the default keyspace has no merge operator
    /// ([`crate::Options::merge_operator`]).
    pub fn merge(&self, key: impl AsRef<[u8]>, operand: impl AsRef<[u8]>) -> Result<()> {
        self.default_keyspace().merge(key, operand)
    }

    /// Sets `key` to `value` for `ttl`: once it has passed (by
    /// [`crate::Options::clock`]) reads find nothing, and compaction reclaims the entry.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put_with_ttl("session", "token", std::time::Duration::from_secs(3600))?;
    /// assert_eq!(db.get("session")?.unwrap(), "token");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value over the size limits or a read-only handle;
    /// `WouldStall` with `no_slowdown` set; `Closed` after [`Db::close`]; `Background` once
    /// an earlier failure latched the database; I/O errors of the WAL.
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> Result<()> {
        self.default_keyspace().put_with_ttl(key, value, ttl)
    }

    /// Deletes every key in `range` with one write, whatever the number of keys:
    /// `db.delete_range(b"a".as_slice()..b"m".as_slice())`, `db.delete_range::<&[u8], _>(..)`.
    /// Reads, iterators, snapshots taken before it and compaction all honour it. An empty
    /// range does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.write(["a", "b", "c"].map(|k| (k, "v")).into_iter().collect())?;
    /// db.delete_range("a".."c")?;
    /// assert_eq!(db.iter().keys().collect::<mylsm::Result<Vec<_>>>()?, ["c"]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the range starts after it ends.
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.default_keyspace().delete_range(range)
    }

    /// Deletes every key that starts with `prefix`, with one write.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("user:1", "ada")?;
    /// db.put("users", "2")?;
    /// db.delete_prefix("user:")?;
    /// assert_eq!(db.iter().keys().collect::<mylsm::Result<Vec<_>>>()?, ["users"]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value over the size limits or a read-only handle;
    /// `WouldStall` with `no_slowdown` set; `Closed` after [`Db::close`]; `Background` once
    /// an earlier failure latched the database; I/O errors of the WAL.
    pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        self.default_keyspace().delete_prefix(prefix)
    }

    /// Applies `batch` atomically with default [`WriteOptions`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.put("a", "1");
    /// batch.put("b", "2");
    /// db.write(batch)?;
    /// assert_eq!(db.iter().count(), 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value over the size limits or a read-only handle;
    /// `WouldStall` with `no_slowdown` set; `Closed` after [`Db::close`]; `Background` once
    /// an earlier failure latched the database; I/O errors of the WAL. `InvalidArgument`
    /// also for a batch naming a dropped keyspace or merging into a keyspace without a
    /// merge operator.
    pub fn write(&self, batch: WriteBatch) -> Result<()> {
        self.write_opt(batch, &WriteOptions::default())
    }

    /// Applies `batch` atomically: after a crash either all of it or none of it is
    /// there. Returns once the batch is visible to every later read (and, with
    /// `sync`, durable against power loss).
    ///
    /// A batch naming a keyspace that has been dropped, or merging into a keyspace
    /// without a merge operator, fails with [`Error::InvalidArgument`] and writes
    /// nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let batch: mylsm::WriteBatch = [("a", "1"), ("b", "2")].into_iter().collect();
    /// db.write_opt(batch, &mylsm::WriteOptions::synced())?;
    /// assert_eq!(db.get("b")?.unwrap(), "2");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a key or value over the size limits or a read-only handle;
    /// `WouldStall` with `no_slowdown` set; `Closed` after [`Db::close`]; `Background` once
    /// an earlier failure latched the database; I/O errors of the WAL. `InvalidArgument`
    /// also for a batch naming a dropped keyspace or merging into a keyspace without a
    /// merge operator.
    pub fn write_opt(&self, batch: WriteBatch, options: &WriteOptions) -> Result<()> {
        self.write_validated_opt(batch, options, None)
    }

    /// A transaction's commit: `batch` is written only if `check` passes, run by the
    /// write leader with nothing committing beside it (see `txn.rs`).
    pub(crate) fn write_validated(
        &self,
        batch: WriteBatch,
        options: &WriteOptions,
        check: crate::write::Check,
    ) -> Result<()> {
        self.write_validated_opt(batch, options, Some(check))
    }

    fn write_validated_opt(
        &self,
        mut batch: WriteBatch,
        options: &WriteOptions,
        check: Option<crate::write::Check>,
    ) -> Result<()> {
        let h = &self.inner;
        let w = self.writer()?;
        if let Some(id) = batch.keyspaces().iter().find(|&&id| h.shared.tree(id).is_none()) {
            return Err(Error::InvalidArgument(format!(
                "the batch writes to dropped keyspace {id}"
            )));
        }
        for &id in batch.merge_keyspaces() {
            let tree = if id == 0 { Some(Arc::clone(&h.tree)) } else { h.shared.tree(id) };
            if let Some(t) = tree.filter(|t| t.opts().merge.is_none()) {
                return Err(Error::InvalidArgument(format!(
                    "merge into keyspace {:?}, which has no merge operator",
                    t.name()
                )));
            }
        }
        batch.stamp_expiries(h.shared.now());
        w.write_checked(&h.shared, batch, options, check)
    }
}
