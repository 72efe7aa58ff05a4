//! A [`WriteBatch`]'s records for keyspaces other than the default one.

use super::*;

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
