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

/// Reads of other keyspaces at the snapshot's point in the history.
impl Snapshot {
    /// The value `key` had in `keyspace` when the snapshot was taken. One snapshot reads
    /// every keyspace at the same point of the history.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "old")?;
    /// let snap = db.snapshot();
    /// ks.put("k", "new")?;
    /// assert_eq!(snap.get_in(&ks, "k")?.unwrap(), "old");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Closed` once the database is closed; `InvalidArgument` once the keyspace is
    /// dropped; read errors as for [`Db::get`].
    pub fn get_in(&self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        self.check_open()?;
        keyspace.check()?;
        let (view, ctx) = self.view_of(keyspace.tree());
        view.get(key.as_ref(), &ctx)
    }

    fn iter_in_bounds(&self, keyspace: &Keyspace, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Iter {
        let (view, ctx) = self.view_of(keyspace.tree());
        let it = Iter::new(view, ctx, lo, hi).watching(Arc::clone(self.shared()));
        match self.check_open().and_then(|()| keyspace.check()) {
            Ok(()) => it,
            Err(e) => it.with_error(e),
        }
    }

    /// Every key and value of `keyspace` as of the snapshot, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("a", "1")?;
    /// let snap = db.snapshot();
    /// ks.put("b", "2")?;
    /// assert_eq!(snap.iter_in(&ks).count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn iter_in(&self, keyspace: &Keyspace) -> Iter {
        self.iter_in_bounds(keyspace, Bound::Unbounded, Bound::Unbounded)
    }

    /// The keys of `keyspace` within `range` as of the snapshot, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("a", "1")?;
    /// let snap = db.snapshot();
    /// ks.put("b", "2")?;
    /// assert_eq!(snap.range_in(&ks, "a".."c").count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        keyspace: &Keyspace,
        range: R,
    ) -> Iter {
        let (lo, hi) = owned_bounds(&range);
        self.iter_in_bounds(keyspace, lo, hi)
    }

    /// The keys of `keyspace` starting with `prefix` as of the snapshot, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("user:1", "ada")?;
    /// let snap = db.snapshot();
    /// ks.put("user:2", "grace")?;
    /// assert_eq!(snap.prefix_in(&ks, "user:").count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn prefix_in(&self, keyspace: &Keyspace, prefix: impl AsRef<[u8]>) -> Iter {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        self.iter_in_bounds(keyspace, lo, hi)
    }
}

/// Writes to a keyspace other than the default one, in a batch that may span several.
impl WriteBatch {
    /// Sets `key` to `value` in keyspace `keyspace` when the batch is written. One batch
    /// may span keyspaces: it is applied to all of them atomically, through crashes.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.put_in(&ks, "k", "in users");
    /// batch.put("k", "in default");
    /// db.write(batch)?;
    /// assert_eq!(ks.get("k")?.unwrap(), "in users");
    /// # Ok(()) }
    /// ```
    pub fn put_in(&mut self, keyspace: &Keyspace, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.push_record(&Record { keyspace: keyspace.id(), kind: Kind::Put, key, value });
    }

    /// Deletes `key` from keyspace `keyspace` when the batch is written.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "v")?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.delete_in(&ks, "k");
    /// db.write(batch)?;
    /// assert_eq!(ks.get("k")?, None);
    /// # Ok(()) }
    /// ```
    pub fn delete_in(&mut self, keyspace: &Keyspace, key: impl AsRef<[u8]>) {
        let key = key.as_ref();
        self.push_record(&Record { keyspace: keyspace.id(), kind: Kind::Delete, key, value: &[] });
    }

    /// Adds merge `operand` to `key` in `keyspace` (see [`WriteBatch::merge`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let add = mylsm::KeyspaceOptions { merge_operator: Some(std::sync::Arc::new(mylsm::merge::U64Add)), ..Default::default() };
    /// # let ks = db.create_keyspace("counters", add)?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.merge_in(&ks, "hits", 3u64.to_le_bytes());
    /// batch.merge_in(&ks, "hits", 4u64.to_le_bytes());
    /// db.write(batch)?;
    /// assert_eq!(ks.get("hits")?.unwrap(), 7u64.to_le_bytes());
    /// # Ok(()) }
    /// ```
    pub fn merge_in(
        &mut self,
        keyspace: &Keyspace,
        key: impl AsRef<[u8]>,
        operand: impl AsRef<[u8]>,
    ) {
        let (key, value) = (key.as_ref(), operand.as_ref());
        self.push_record(&Record { keyspace: keyspace.id(), kind: Kind::Merge, key, value });
    }

    /// Sets `key` to `value` in `keyspace` for `ttl` (see [`WriteBatch::put_with_ttl`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.put_with_ttl_in(&ks, "session", "token", std::time::Duration::from_secs(60));
    /// db.write(batch)?;
    /// assert_eq!(ks.get("session")?.unwrap(), "token");
    /// # Ok(()) }
    /// ```
    pub fn put_with_ttl_in(
        &mut self,
        keyspace: &Keyspace,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        ttl: std::time::Duration,
    ) {
        let at = crate::batch::ExpiresAt::After(ttl);
        self.put_expiring_in(keyspace.id(), key.as_ref(), value.as_ref(), at);
    }

    /// Deletes every key in `range` from `keyspace` (see [`WriteBatch::delete_range`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("a", "1")?;
    /// ks.put("b", "2")?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.delete_range_in(&ks, "a".."b")?;
    /// db.write(batch)?;
    /// assert_eq!(ks.iter().keys().collect::<mylsm::Result<Vec<_>>>()?, ["b"]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the range starts after it ends.
    pub fn delete_range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        keyspace: &Keyspace,
        range: R,
    ) -> Result<()> {
        self.delete_range_in_id(keyspace.id(), range)
    }

    /// Deletes every key that starts with `prefix` from `keyspace`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("user:1", "ada")?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.delete_prefix_in(&ks, "user:");
    /// db.write(batch)?;
    /// assert_eq!(ks.get("user:1")?, None);
    /// # Ok(()) }
    /// ```
    pub fn delete_prefix_in(&mut self, keyspace: &Keyspace, prefix: impl AsRef<[u8]>) {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        // A prefix range is never reversed.
        let _ = self.delete_range_in_id(keyspace.id(), (lo, hi));
    }
}

impl Db {
    /// The keyspace named `name`; [`Error::NotFound`] if there is none.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.create_keyspace("users", Default::default())?;
    /// assert_eq!(db.keyspace("users")?.name(), "users");
    /// assert!(db.keyspace("orders").unwrap_err().is_not_found());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `NotFound` if no keyspace has that name; `Closed`.
    pub fn keyspace(&self, name: &str) -> Result<Keyspace> {
        self.check_open()?;
        match self.shared().tree_named(name) {
            Some(tree) => Ok(Keyspace { db: self.clone(), tree }),
            None => Err(Error::NotFound(format!("keyspace {name:?}"))),
        }
    }

    /// The default keyspace, which `Db::put`, `Db::get` and the rest use.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.default_keyspace().put("k", "v")?;
    /// assert_eq!(db.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    pub fn default_keyspace(&self) -> Keyspace {
        Keyspace { db: self.clone(), tree: Arc::clone(self.default_tree()) }
    }

    /// The names of the live keyspaces, `"default"` first.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.create_keyspace("users", Default::default())?;
    /// assert_eq!(db.keyspaces(), ["default", "users"]);
    /// # Ok(()) }
    /// ```
    pub fn keyspaces(&self) -> Vec<String> {
        self.shared().trees().iter().map(|t| t.name().to_string()).collect()
    }

    /// The keyspace named `name`, created with `options()` if there is none. An
    /// existing keyspace keeps the options it was created with.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let a = db.keyspace_or_create("users", Default::default)?;
    /// let b = db.keyspace_or_create("users", Default::default)?;
    /// a.put("k", "v")?;
    /// assert_eq!(b.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for a name over the limit or options a reopen would refuse (an
    /// unknown merge operator); `Closed`; I/O errors writing the manifest.
    pub fn keyspace_or_create(
        &self,
        name: &str,
        options: impl FnOnce() -> KeyspaceOptions,
    ) -> Result<Keyspace> {
        match self.keyspace(name) {
            Err(Error::NotFound(_)) => match self.create_keyspace(name, options()) {
                // Another thread created it meanwhile.
                Err(Error::InvalidArgument(_)) if self.keyspace(name).is_ok() => {
                    self.keyspace(name)
                }
                r => r,
            },
            r => r,
        }
    }

    /// Creates the keyspace `name` with `options`, recorded durably in the manifest
    /// before it returns. Fails with [`Error::InvalidArgument`] if a keyspace of that
    /// name exists, if the name is empty or longer than [`MAX_KEYSPACE_NAME_LEN`], or if
    /// the options cannot work (as [`crate::Options`] would be refused).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let users = db.create_keyspace("users", mylsm::KeyspaceOptions::default())?;
    /// users.put("k", "v")?;
    /// assert!(db.create_keyspace("users", Default::default()).unwrap_err().is_invalid_argument());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if a keyspace of that name exists or the name is empty or too
    /// long; `Closed`; I/O errors writing the manifest.
    pub fn create_keyspace(&self, name: &str, options: KeyspaceOptions) -> Result<Keyspace> {
        if name.is_empty() || name.len() > MAX_KEYSPACE_NAME_LEN {
            return Err(Error::InvalidArgument(format!(
                "a keyspace name is 1 to {MAX_KEYSPACE_NAME_LEN} bytes, not {}",
                name.len()
            )));
        }
        let full = options.apply_to(self.options());
        full.validate()?;
        let shared = self.shared();
        let w = self.writer()?;
        let tree = w.with_log(|log| -> Result<Arc<Tree>> {
            // Under the log lock no group is half written, so the keyspace's first
            // record lands in the live WAL or a later one.
            if shared.tree_named(name).is_some() {
                return Err(Error::InvalidArgument(format!("keyspace {name:?} exists")));
            }
            let wal_number = w.wal().number;
            let mut versions = shared.versions();
            let id = versions.next_keyspace_id();
            let def = KeyspaceDef {
                id,
                name: name.to_string(),
                log_number: wal_number,
                options: options.encode(),
            };
            let edit = VersionEdit {
                keyspaces_added: vec![def],
                max_keyspace_id: Some(id),
                ..VersionEdit::default()
            };
            versions.log_and_apply(edit, shared.next_file_number(), shared.latch())?;
            drop(versions);
            let tree = Arc::new(Tree::new(
                id,
                name.to_string(),
                options.tree_options(self.options()),
                Arc::new(Version::default()),
                Arc::new(MemTable::new()),
                Arc::clone(shared.tables()),
            ));
            shared.insert_tree(Arc::clone(&tree));
            log.add_tree(Arc::clone(&tree));
            Ok(tree)
        })?;
        Ok(Keyspace { db: self.clone(), tree })
    }

    /// Drops `keyspace`: recorded durably in the manifest before it returns, after
    /// which every call on any handle of it fails, a batch naming it is refused, and its
    /// tables are deleted once no snapshot or iterator reads them. Its name may be
    /// reused; the new keyspace starts empty. The default keyspace cannot be dropped
    /// ([`Error::InvalidArgument`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let ks = db.create_keyspace("tmp", Default::default())?;
    /// db.drop_keyspace(&ks)?;
    /// assert_eq!(db.keyspaces(), ["default"]);
    /// assert!(ks.put("k", "v").unwrap_err().is_invalid_argument());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` for the default keyspace or one already dropped; `Closed`; I/O
    /// errors writing the manifest.
    pub fn drop_keyspace(&self, keyspace: &Keyspace) -> Result<()> {
        keyspace.check()?;
        let tree = keyspace.tree();
        if tree.id() == 0 || tree.name() == DEFAULT_KEYSPACE {
            return Err(Error::InvalidArgument("the default keyspace cannot be dropped".into()));
        }
        let shared = self.shared();
        let w = self.writer()?;
        w.with_log(|log| -> Result<()> {
            let mut versions = shared.versions();
            let edit = VersionEdit { keyspaces_dropped: vec![tree.id()], ..VersionEdit::default() };
            versions.log_and_apply(edit, shared.next_file_number(), shared.latch())?;
            // Marked under the manifest lock, which a flush or compaction holds to
            // install: each of them sees the drop and discards its output.
            tree.mark_dropped();
            drop(versions);
            log.remove_tree(tree.id());
            shared.remove_tree(tree.id());
            Ok(())
        })?;
        {
            // A flush or compaction under way sees the drop when it installs, discards
            // its output and lets go of its inputs: wait for that, so the tables can go.
            let mut st = tree.state();
            while st.flushing || st.compacting.running > 0 || st.compacting.manual {
                st = tree.wait(st, None);
            }
            let files: Vec<_> = st.version.files().map(|(_, f)| Arc::clone(f)).collect();
            st.obsolete.extend(files);
            st.version = Arc::new(Version::default());
            st.imms.clear();
            // The view held the tables too.
            tree.install_view(&st, Arc::new(MemTable::new()));
        }
        crate::jobs::compact::delete_obsolete_tables(shared, tree);
        // WALs only the dropped keyspace needed.
        let needed = shared.versions().log_number();
        shared.delete_wals_below(needed);
        Ok(())
    }
}
