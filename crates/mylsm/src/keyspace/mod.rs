//! `Keyspace`: one sorted map of a database (a column family), and creating, finding
//! and dropping keyspaces.
//!
//! Every database has the keyspace `"default"`, which `Db::put`, `Db::get` and the
//! other `Db` calls use. Others are created by name and live in the manifest, so every
//! keyspace opens with the database, with the options it was created with. All
//! keyspaces share one WAL and one write path: a `WriteBatch` may span them and is
//! applied atomically across them, through crashes (`WriteBatch::put_in`). A keyspace's
//! id is never reused, so the records of a dropped keyspace never show up in one created
//! later under the same name.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use crate::batch::Record;
use crate::db_iter::{owned_bounds, prefix_bounds, Iter};
use crate::engine::tree::Tree;
use crate::key::Kind;
use crate::memtable::MemTable;
use crate::options::KeyspaceOptions;
use crate::readable::Readable;
use crate::stats::Stats;
use crate::version::edit::KeyspaceDef;
use crate::version::{Version, VersionEdit, DEFAULT_KEYSPACE};
use crate::{Db, Error, Result, Snapshot, Value, WriteBatch};

/// The longest keyspace name, in bytes.
pub const MAX_KEYSPACE_NAME_LEN: usize = 255;

/// A handle on one keyspace of a [`Db`]: cheap to clone, `Send + Sync + 'static`, and
/// it keeps the database open while it lives (as a `Db` clone does).
///
/// Every call on a keyspace that has been dropped fails with
/// [`Error::InvalidArgument`].
///
/// ```
/// # fn main() -> mylsm::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
/// let users = db.keyspace_or_create("users", Default::default)?;
/// let index = db.keyspace_or_create("users-by-email", Default::default)?;
/// let mut batch = mylsm::WriteBatch::new();
/// batch.put_in(&users, "u1", "ada");
/// batch.put_in(&index, "ada@example.com", "u1");
/// db.write(batch)?; // both or neither
/// assert_eq!(users.get("u1")?.as_deref(), Some(&b"ada"[..]));
/// assert_eq!(db.get("u1")?, None, "the default keyspace is another map");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Keyspace {
    db: Db,
    tree: Arc<Tree>,
}

impl std::fmt::Debug for Keyspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyspace").field("name", &self.tree.name()).finish_non_exhaustive()
    }
}

impl Keyspace {
    /// The keyspace's id in the WAL and the manifest.
    pub(crate) fn id(&self) -> u32 {
        self.tree.id()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn tree(&self) -> &Arc<Tree> {
        &self.tree
    }

    /// `Closed` once the database is closed, `InvalidArgument` once the keyspace is
    /// dropped.
    pub(crate) fn check(&self) -> Result<()> {
        self.db.check_open()?;
        if self.tree.is_dropped() {
            return Err(Error::InvalidArgument(format!(
                "keyspace {:?} was dropped",
                self.tree.name()
            )));
        }
        Ok(())
    }

    /// Whether the keyspace has been dropped (through any handle).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let ks = db.create_keyspace("tmp", Default::default())?;
    /// db.drop_keyspace(&ks)?;
    /// assert!(ks.is_dropped());
    /// # Ok(()) }
    /// ```
    pub fn is_dropped(&self) -> bool {
        self.tree.is_dropped()
    }

    /// The keyspace's name.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let ks = db.create_keyspace("users", Default::default())?;
    /// assert_eq!(ks.name(), "users");
    /// # Ok(()) }
    /// ```
    pub fn name(&self) -> &str {
        self.tree.name()
    }

    /// The current value of `key`, or `None` if it is absent or deleted.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "v")?;
    /// assert_eq!(ks.get("k")?.unwrap(), "v");
    /// assert_eq!(db.get("k")?, None, "the default keyspace is another one");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        Readable::get(self, key)
    }

    /// Whether `key` has a value.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "v")?;
    /// assert!(ks.contains_key("k")?);
    /// assert!(!ks.contains_key("j")?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// Sets `key` to `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("user:1", "ada")?;
    /// assert_eq!(ks.get("user:1")?.unwrap(), "ada");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put_in(self, key, value);
        self.db.write(b)
    }

    /// Deletes `key` (a no-op if it is absent).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "v")?;
    /// ks.delete("k")?;
    /// assert_eq!(ks.get("k")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn delete(&self, key: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete_in(self, key);
        self.db.write(b)
    }

    /// The keyspace's merge operator, if it has one.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let add = mylsm::KeyspaceOptions { merge_operator: Some(std::sync::Arc::new(mylsm::merge::U64Add)), ..Default::default() };
    /// # let ks = db.create_keyspace("counters", add)?;
    /// assert!(ks.merge_operator().is_some());
    /// assert!(db.default_keyspace().merge_operator().is_none());
    /// # Ok(()) }
    /// ```
    pub fn merge_operator(&self) -> Option<Arc<dyn crate::merge::MergeOperator>> {
        self.tree.opts().merge.clone()
    }

    /// Adds merge `operand` to `key` (see [`Db::merge`]); `InvalidArgument` if the
    /// keyspace has no merge operator.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let add = mylsm::KeyspaceOptions { merge_operator: Some(std::sync::Arc::new(mylsm::merge::U64Add)), ..Default::default() };
    /// # let ks = db.create_keyspace("counters", add)?;
    /// ks.merge("hits", 5u64.to_le_bytes())?;
    /// ks.merge("hits", 2u64.to_le_bytes())?;
    /// assert_eq!(ks.get("hits")?.unwrap(), 7u64.to_le_bytes());
    /// assert!(db.merge("hits", 1u64.to_le_bytes()).is_err(), "no operator in the default keyspace");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`]. `InvalidArgument` too if the keyspace has no merge
    /// operator.
    pub fn merge(&self, key: impl AsRef<[u8]>, operand: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.merge_in(self, key, operand);
        self.db.write(b)
    }

    /// Sets `key` to `value` for `ttl` (see [`Db::put_with_ttl`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put_with_ttl("session", "token", std::time::Duration::from_secs(3600))?;
    /// assert_eq!(ks.get("session")?.unwrap(), "token");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn put_with_ttl(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) -> Result<()> {
        let mut b = WriteBatch::new();
        b.put_with_ttl_in(self, key, value, ttl);
        self.db.write(b)
    }

    /// Deletes every key in `range` with one write (see [`Db::delete_range`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// for k in ["a", "b", "c"] {
    ///     ks.put(k, "v")?;
    /// }
    /// ks.delete_range("a"..="b")?;
    /// assert_eq!(ks.iter().keys().collect::<mylsm::Result<Vec<_>>>()?, ["c"]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the range starts after it ends.
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete_range_in(self, range)?;
        self.db.write(b)
    }

    /// Deletes every key that starts with `prefix`, with one write.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("user:1", "ada")?;
    /// ks.put("order:1", "tea")?;
    /// ks.delete_prefix("user:")?;
    /// assert_eq!(ks.iter().keys().collect::<mylsm::Result<Vec<_>>>()?, ["order:1"]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn delete_prefix(&self, prefix: impl AsRef<[u8]>) -> Result<()> {
        let mut b = WriteBatch::new();
        b.delete_prefix_in(self, prefix);
        self.db.write(b)
    }

    /// Every key and value, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("b", "2")?;
    /// ks.put("a", "1")?;
    /// assert_eq!(ks.iter().keys().collect::<mylsm::Result<Vec<_>>>()?, ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub fn iter(&self) -> Iter {
        Readable::iter(self)
    }

    /// The keys within `range`, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// for k in ["a", "b", "c"] {
    ///     ks.put(k, "v")?;
    /// }
    /// assert_eq!(ks.range("b"..).keys().collect::<mylsm::Result<Vec<_>>>()?, ["b", "c"]);
    /// # Ok(()) }
    /// ```
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        Readable::range(self, range)
    }

    /// The keys starting with `prefix`, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("user:1", "ada")?;
    /// ks.put("order:1", "tea")?;
    /// assert_eq!(ks.prefix("user:").count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        Readable::prefix(self, prefix)
    }

    /// Writes the keyspace's memtable out as an L0 table and waits for it (and for any
    /// of its memtables queued before the call).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "v")?;
    /// ks.flush()?;
    /// assert_eq!(ks.stats().memtable_entries, 0);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn flush(&self) -> Result<()> {
        self.check()?;
        self.db.flush_trees(std::slice::from_ref(&self.tree))
    }

    /// Compacts the keyspace's whole key range.
    ///
    /// # Examples
    ///
    /// ```
    /// # use mylsm::Readable;
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "v")?;
    /// ks.delete("k")?;
    /// ks.compact_all()?;
    /// assert!(ks.is_empty()?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn compact_all(&self) -> Result<()> {
        self.compact_range::<&[u8], _>(..)
    }

    /// Compacts the keyspace's tables holding keys in `range` down its tree; see
    /// [`Db::compact_range`].
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("a", "1")?;
    /// ks.delete("a")?;
    /// ks.compact_range("a"..="a")?;
    /// assert_eq!(ks.get("a")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` once the keyspace is dropped, or as for the same call on [`Db`];
    /// `Closed` after [`Db::close`].
    pub fn compact_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Result<()> {
        self.check()?;
        self.db.compact_tree(&self.tree, range)
    }

    /// Sizes and counters of this keyspace (the write-path counters are the
    /// database's).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "v")?;
    /// assert_eq!(ks.stats().memtable_entries, 1);
    /// assert_eq!(db.stats().memtable_entries, 0, "the default keyspace's own");
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> Stats {
        self.db.stats_of(&self.tree)
    }
}

mod admin;
mod batch;
mod snapshot;
