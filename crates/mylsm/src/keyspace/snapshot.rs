//! A [`Snapshot`]'s reads of keyspaces other than the default one.

use super::*;

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
