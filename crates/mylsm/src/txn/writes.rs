//! A transaction's writes: puts, deletes, merges and range deletes, buffered (with
//! their `*_in` forms for other keyspaces) until the commit.

use super::*;

impl Transaction {
    fn write_own(&mut self, id: u32, key: &[u8], own: Own) {
        self.space(id).own.insert(key.to_vec(), own);
    }

    /// Sets `key` to `value` when the transaction commits; later reads in the
    /// transaction see it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut tx = db.transaction();
    /// tx.put("k", "v");
    /// assert_eq!(tx.get("k")?.unwrap(), "v");
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let (k, v) = (key.as_ref(), value.as_ref());
        self.batch.put(k, v);
        self.write_own(0, k, Own::Put(v.to_vec()));
    }

    /// Deletes `key` when the transaction commits.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// let mut tx = db.transaction();
    /// tx.delete("k");
    /// assert_eq!(tx.get("k")?, None);
    /// tx.commit()?;
    /// assert_eq!(db.get("k")?, None);
    /// # Ok(()) }
    /// ```
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        let k = key.as_ref();
        self.batch.delete(k);
        self.write_own(0, k, Own::Delete);
    }

    fn merge_id(&mut self, id: u32, key: &[u8], operand: &[u8]) -> Result<()> {
        if self.trees[&id].opts().merge.is_none() {
            return Err(Error::InvalidArgument(
                "merge into a keyspace without a merge operator".into(),
            ));
        }
        let space = self.space(id);
        let next = match space.own.remove(key) {
            Some(Own::Put(v)) => {
                // Over a value of its own, the transaction can merge now. A failed merge
                // leaves that value in place: the batch still writes it.
                let base = Some(Value::from(v.as_slice()));
                match self.merge_over(id, key, base, &[operand.to_vec()]) {
                    Ok(merged) => Own::Put(merged.to_vec()),
                    Err(e) => {
                        self.space(id).own.insert(key.to_vec(), Own::Put(v));
                        return Err(e);
                    }
                }
            }
            Some(Own::Delete) => Own::Merge { operands: vec![operand.to_vec()], on_nothing: true },
            Some(Own::Merge { mut operands, on_nothing }) => {
                operands.push(operand.to_vec());
                Own::Merge { operands, on_nothing }
            }
            None => {
                let on_nothing = space.deleted.iter().any(|r| contains(r, key));
                Own::Merge { operands: vec![operand.to_vec()], on_nothing }
            }
        };
        self.write_own(id, key, next);
        Ok(())
    }

    /// Adds merge `operand` to `key` (see [`crate::merge`]): written as an operand, so
    /// two transactions adding to one counter do not conflict unless one read it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let opts = mylsm::Options { merge_operator: Some(std::sync::Arc::new(mylsm::merge::U64Add)), ..Default::default() };
    /// # let db = mylsm::Db::open(dir.path(), opts)?;
    /// let (mut a, mut b) = (db.transaction(), db.transaction());
    /// a.merge("hits", 1u64.to_le_bytes())?;
    /// b.merge("hits", 1u64.to_le_bytes())?;
    /// a.commit()?;
    /// b.commit()?; // blind merges do not conflict
    /// assert_eq!(db.get("hits")?.unwrap(), 2u64.to_le_bytes());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the keyspace has no merge operator; `MergeFailed` if the
    /// transaction wrote `key` itself and the operator cannot merge `operand` into that
    /// value (the transaction is unchanged then).
    pub fn merge(&mut self, key: impl AsRef<[u8]>, operand: impl AsRef<[u8]>) -> Result<()> {
        let (k, o) = (key.as_ref(), operand.as_ref());
        self.merge_id(0, k, o)?;
        self.batch.merge(k, o);
        Ok(())
    }

    fn delete_range_id(&mut self, id: u32, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) {
        let r: KeyRange = (lo, hi);
        let space = self.space(id);
        space.own.retain(|k, _| !contains(&r, k));
        space.deleted.push(r);
    }

    /// Deletes every key in `range` when the transaction commits (see
    /// [`Db::delete_range`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// let mut tx = db.transaction();
    /// tx.delete_range("a"..="b")?;
    /// assert_eq!(tx.iter().count(), 0);
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the range starts after it ends.
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(&mut self, range: R) -> Result<()> {
        let (lo, hi) = owned_bounds(&range);
        self.batch.delete_range((lo.clone(), hi.clone()))?;
        self.delete_range_id(0, lo, hi);
        Ok(())
    }

    /// [`Transaction::put`] in `keyspace`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// let mut tx = db.transaction();
    /// tx.put_in(&ks, "k", "v")?;
    /// tx.put("k", "default");
    /// tx.commit()?;
    /// assert_eq!(ks.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the keyspace was dropped.
    pub fn put_in(
        &mut self,
        keyspace: &Keyspace,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<()> {
        let id = self.tree_of(Some(keyspace))?;
        let (k, v) = (key.as_ref(), value.as_ref());
        self.batch.put_in(keyspace, k, v);
        self.write_own(id, k, Own::Put(v.to_vec()));
        Ok(())
    }

    /// [`Transaction::delete`] in `keyspace`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("k", "v")?;
    /// let mut tx = db.transaction();
    /// tx.delete_in(&ks, "k")?;
    /// tx.commit()?;
    /// assert_eq!(ks.get("k")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the keyspace was dropped.
    pub fn delete_in(&mut self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<()> {
        let id = self.tree_of(Some(keyspace))?;
        let k = key.as_ref();
        self.batch.delete_in(keyspace, k);
        self.write_own(id, k, Own::Delete);
        Ok(())
    }

    /// [`Transaction::merge`] in `keyspace`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let add = mylsm::KeyspaceOptions { merge_operator: Some(std::sync::Arc::new(mylsm::merge::U64Add)), ..Default::default() };
    /// # let ks = db.create_keyspace("counters", add)?;
    /// let mut tx = db.transaction();
    /// tx.merge_in(&ks, "hits", 5u64.to_le_bytes())?;
    /// assert_eq!(tx.get_in(&ks, "hits")?.unwrap(), 5u64.to_le_bytes());
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the keyspace was dropped; otherwise as
    /// [`Transaction::merge`].
    pub fn merge_in(
        &mut self,
        keyspace: &Keyspace,
        key: impl AsRef<[u8]>,
        operand: impl AsRef<[u8]>,
    ) -> Result<()> {
        let id = self.tree_of(Some(keyspace))?;
        let (k, o) = (key.as_ref(), operand.as_ref());
        self.merge_id(id, k, o)?;
        self.batch.merge_in(keyspace, k, o);
        Ok(())
    }

    /// [`Transaction::delete_range`] in `keyspace`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("a", "1")?;
    /// let mut tx = db.transaction();
    /// tx.delete_range_in(&ks, "a".."b")?;
    /// tx.commit()?;
    /// assert_eq!(ks.get("a")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the keyspace was dropped or the range starts after it ends.
    pub fn delete_range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        keyspace: &Keyspace,
        range: R,
    ) -> Result<()> {
        let id = self.tree_of(Some(keyspace))?;
        let (lo, hi) = owned_bounds(&range);
        self.batch.delete_range_in(keyspace, (lo.clone(), hi.clone()))?;
        self.delete_range_id(id, lo, hi);
        Ok(())
    }
}
