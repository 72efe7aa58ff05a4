//! The reads of a [`Transaction`]: point reads and scans over its snapshot with its
//! own writes laid over them, each recorded for commit-time validation unless untracked.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use super::{contains, Isolation, Own, Transaction, TxIter};
use crate::db_iter::{owned_bounds, prefix_bounds};
use crate::keyspace::Keyspace;
use crate::{Error, Iter, Result, Value};

impl Transaction {
    /// The value `key` has for this transaction: its own write, else the snapshot's.
    fn read(&mut self, id: u32, key: &[u8], track: bool) -> Result<Option<Value>> {
        self.snapshot.check_open()?;
        if track && self.opts.isolation == Isolation::Serializable {
            self.space(id).read_keys.push(key.to_vec());
        }
        let space = self.spaces.get(&id);
        let own = space.and_then(|s| s.own.get(key)).cloned();
        let deleted = space.is_some_and(|s| s.deleted.iter().any(|r| contains(r, key)));
        let base = |tx: &Transaction| -> Result<Option<Value>> {
            let tree = &tx.trees[&id];
            let (view, ctx) = tx.snapshot.view_of(tree);
            view.get(key, &ctx)
        };
        match own {
            Some(Own::Put(v)) => Ok(Some(Value::from(v))),
            Some(Own::Delete) => Ok(None),
            Some(Own::Merge { operands, on_nothing }) => {
                let base = if on_nothing || deleted { None } else { base(self)? };
                self.merge_over(id, key, base, &operands).map(Some)
            }
            None if deleted => Ok(None),
            None => base(self),
        }
    }

    pub(super) fn merge_over(
        &self,
        id: u32,
        key: &[u8],
        base: Option<Value>,
        ops: &[Vec<u8>],
    ) -> Result<Value> {
        let Some(op) = self.trees[&id].opts().merge.clone() else {
            return Err(Error::InvalidArgument(
                "merge into a keyspace without a merge operator".into(),
            ));
        };
        let ops: Vec<&[u8]> = ops.iter().map(Vec::as_slice).collect();
        op.full_merge(key, base.as_deref(), &ops).map(Value::from).map_err(|e| {
            Error::MergeFailed(format!(
                "{} on key {:?}: {e}",
                op.name(),
                String::from_utf8_lossy(key)
            ))
        })
    }

    /// The value of `key`, seeing the transaction's own writes; a serializable commit
    /// fails if another commit changed `key` after the snapshot.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "old")?;
    /// let mut tx = db.transaction();
    /// assert_eq!(tx.get("k")?.unwrap(), "old");
    /// tx.put("k", "new");
    /// assert_eq!(tx.get("k")?.unwrap(), "new");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Corruption` or an I/O error from a damaged or unreadable table; `MergeFailed`
    /// if the key's merge operands (the transaction's or the snapshot's) cannot be
    /// merged.
    pub fn get(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        self.read(0, key.as_ref(), true)
    }

    /// [`Transaction::get`] in `keyspace`.
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
    /// assert_eq!(tx.get_in(&ks, "k")?.unwrap(), "v");
    /// assert_eq!(tx.get("k")?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the keyspace was dropped; otherwise as
    /// [`Transaction::get`].
    pub fn get_in(&mut self, keyspace: &Keyspace, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        let id = self.tree_of(Some(keyspace))?;
        self.read(id, key.as_ref(), true)
    }

    /// The value of `key` like [`Transaction::get`], but not validated at commit: for
    /// reads whose staleness the transaction can live with (a cached setting, say).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut tx = db.transaction();
    /// tx.get_untracked("setting")?;
    /// db.put("setting", "changed")?;
    /// tx.put("k", "v");
    /// tx.commit()?; // no conflict: the read was untracked
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Transaction::get`].
    pub fn get_untracked(&mut self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        self.read(0, key.as_ref(), false)
    }

    /// [`Transaction::get_untracked`] in `keyspace`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// let mut tx = db.transaction();
    /// tx.get_untracked_in(&ks, "setting")?;
    /// ks.put("setting", "changed")?;
    /// tx.put("k", "v");
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Transaction::get_in`].
    pub fn get_untracked_in(
        &mut self,
        keyspace: &Keyspace,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<Value>> {
        let id = self.tree_of(Some(keyspace))?;
        self.read(id, key.as_ref(), false)
    }

    fn scan(
        &mut self,
        id: u32,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        track: bool,
    ) -> Result<TxIter> {
        if track && self.opts.isolation == Isolation::Serializable {
            self.space(id).read_ranges.push((lo.clone(), hi.clone()));
        }
        let tree = Arc::clone(&self.trees[&id]);
        let (view, ctx) = self.snapshot.view_of(&tree);
        let snap = Iter::new(view, ctx, lo.clone(), hi.clone())
            .watching(Arc::clone(self.snapshot.shared()));
        let mut entries: Vec<(Vec<u8>, Option<Value>)> = Vec::new();
        // The transaction's own keys in range, resolved now (they are few and in memory).
        let own: Vec<(Vec<u8>, Own)> = self
            .spaces
            .get(&id)
            .map(|s| {
                s.own
                    .range::<Vec<u8>, _>((lo.clone(), hi.clone()))
                    .map(|(k, o)| (k.clone(), o.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (k, o) in own {
            let v = match o {
                Own::Put(v) => Some(Value::from(v)),
                Own::Delete => None,
                Own::Merge { .. } => self.read(id, &k, false)?,
            };
            entries.push((k, v));
        }
        let deleted = self.spaces.get(&id).map(|s| s.deleted.clone()).unwrap_or_default();
        Ok(TxIter::new(snap, entries.into(), deleted))
    }

    fn scan_bounds(
        &mut self,
        ks: Option<&Keyspace>,
        lo: Bound<Vec<u8>>,
        hi: Bound<Vec<u8>>,
        track: bool,
    ) -> TxIter {
        match self.tree_of(ks).and_then(|id| self.scan(id, lo, hi, track)) {
            Ok(it) => it,
            Err(e) => TxIter::failed(e),
        }
    }

    /// Every key and value the transaction sees, in key order (both directions); a
    /// serializable commit fails if another commit changed anything in the database
    /// after the snapshot (the whole key range was read).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("a", "1")?;
    /// let mut tx = db.transaction();
    /// tx.put("b", "2");
    /// let keys: Vec<_> = tx.iter().map(|r| r.map(|(k, _)| k)).collect::<mylsm::Result<_>>()?;
    /// assert_eq!(keys, ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub fn iter(&mut self) -> TxIter {
        self.scan_bounds(None, Bound::Unbounded, Bound::Unbounded, true)
    }

    /// The keys within `range` the transaction sees; tracked as a range, so a
    /// serializable commit fails if another commit added, changed or deleted a key in it
    /// (no phantoms).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut tx = db.transaction();
    /// assert_eq!(tx.range("a".."m").count(), 0);
    /// db.put("c", "3")?; // a phantom in the range read
    /// tx.put("z", "26");
    /// assert!(tx.commit().unwrap_err().is_conflict());
    /// # Ok(()) }
    /// ```
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&mut self, range: R) -> TxIter {
        let (lo, hi) = owned_bounds(&range);
        self.scan_bounds(None, lo, hi, true)
    }

    /// The keys starting with `prefix` the transaction sees, tracked as a range.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("user:1", "ada")?;
    /// let mut tx = db.transaction();
    /// tx.put("user:2", "grace");
    /// assert_eq!(tx.prefix("user:").count(), 2);
    /// # Ok(()) }
    /// ```
    pub fn prefix(&mut self, prefix: impl AsRef<[u8]>) -> TxIter {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        self.scan_bounds(None, lo, hi, true)
    }

    /// [`Transaction::range`], not validated at commit.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut tx = db.transaction();
    /// assert_eq!(tx.range_untracked("a".."m").count(), 0);
    /// db.put("c", "3")?;
    /// tx.put("z", "26");
    /// tx.commit()?;
    /// # Ok(()) }
    /// ```
    pub fn range_untracked<K: AsRef<[u8]>, R: RangeBounds<K>>(&mut self, range: R) -> TxIter {
        let (lo, hi) = owned_bounds(&range);
        self.scan_bounds(None, lo, hi, false)
    }

    /// [`Transaction::iter`] in `keyspace`.
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
    /// tx.put_in(&ks, "b", "2")?;
    /// assert_eq!(tx.iter_in(&ks).count(), 2);
    /// # Ok(()) }
    /// ```
    pub fn iter_in(&mut self, keyspace: &Keyspace) -> TxIter {
        self.scan_bounds(Some(keyspace), Bound::Unbounded, Bound::Unbounded, true)
    }

    /// [`Transaction::range`] in `keyspace`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("a", "1")?;
    /// ks.put("x", "2")?;
    /// let mut tx = db.transaction();
    /// assert_eq!(tx.range_in(&ks, "a".."m").count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn range_in<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        keyspace: &Keyspace,
        range: R,
    ) -> TxIter {
        let (lo, hi) = owned_bounds(&range);
        self.scan_bounds(Some(keyspace), lo, hi, true)
    }

    /// [`Transaction::prefix`] in `keyspace`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// # let ks = db.create_keyspace("users", Default::default())?;
    /// ks.put("user:1", "ada")?;
    /// let mut tx = db.transaction();
    /// assert_eq!(tx.prefix_in(&ks, "user:").count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn prefix_in(&mut self, keyspace: &Keyspace, prefix: impl AsRef<[u8]>) -> TxIter {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        self.scan_bounds(Some(keyspace), lo, hi, true)
    }
}
