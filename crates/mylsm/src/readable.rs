//! `Readable`: the reads [`crate::Db`], [`crate::Keyspace`] and [`crate::Snapshot`]
//! share, so code can take any of them.
//!
//! ```
//! # fn main() -> mylsm::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! use mylsm::Readable;
//!
//! /// Works on the live database, a keyspace or a snapshot alike.
//! fn users(r: &impl Readable) -> mylsm::Result<usize> {
//!     r.prefix("user:").try_fold(0, |n, item| item.map(|_| n + 1))
//! }
//!
//! let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
//! db.put("user:1", "ada")?;
//! let snap = db.snapshot();
//! db.put("user:2", "grace")?;
//! assert_eq!((users(&db)?, users(&snap)?), (2, 1));
//! assert_eq!(Readable::first(&db)?.map(|(k, _)| k), Some("user:1".into()));
//! # Ok(()) }
//! ```

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use crate::db_iter::{owned_bounds, prefix_bounds};
use crate::resolve::ReadCtx;
use crate::view::ReadView;
use crate::ReadOptions;
use crate::{Error, Iter, Key, Result, Value};

pub(crate) mod private {
    use super::*;

    /// What a read starts from: one consistent view, how to read it, and an error
    /// every read reports instead (a closed database, a dropped keyspace).
    #[derive(Debug)]
    pub struct Source {
        pub(crate) view: Arc<ReadView>,
        pub(crate) ctx: ReadCtx,
        pub(crate) error: Option<Error>,
        /// The database, whose close ends iterators over the source.
        pub(crate) shared: Arc<crate::engine::Shared>,
    }

    /// Implemented only inside mylsm: `Readable` cannot be implemented elsewhere, so
    /// methods can be added to it without breaking anyone.
    pub trait Sealed {
        #[doc(hidden)]
        fn source(&self) -> Source;
    }
}

use private::Source;

/// Reads shared by the database, its keyspaces and snapshots (see the module docs).
/// Every method reads one consistent state: a snapshot's, or the present's at the call.
pub trait Readable: private::Sealed {
    /// The value of `key`, or `None` if it is absent, deleted or expired.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("k", "v")?;
    /// let snap = db.snapshot();
    /// assert_eq!(Readable::get(&snap, "k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Closed` after `Db::close`; `Corruption` for a damaged table; `MergeFailed`
    /// if the key's merge operands cannot be merged.
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        let s = self.source();
        match s.error {
            Some(e) => Err(e),
            None => s.view.get(key.as_ref(), &s.ctx),
        }
    }

    /// Whether `key` has a value.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("k", "v")?;
    /// assert!(db.contains_key("k")?);
    /// assert!(!db.contains_key("j")?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Readable::get`].
    fn contains_key(&self, key: impl AsRef<[u8]>) -> Result<bool> {
        Ok(self.get(key)?.is_some())
    }

    /// The values of `keys`, in the order given, all read from one state (sorted
    /// internally so that neighbouring keys share blocks).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("a", "1")?;
    /// db.put("c", "3")?;
    /// let values = db.get_many(&["c", "b", "a"])?;
    /// assert_eq!(values, [Some("3".into()), None, Some("1".into())]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The first error any lookup meets.
    fn get_many<K: AsRef<[u8]>>(&self, keys: &[K]) -> Result<Vec<Option<Value>>> {
        let s = self.source();
        if let Some(e) = s.error {
            return Err(e);
        }
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by(|&a, &b| keys[a].as_ref().cmp(keys[b].as_ref()));
        let mut out = vec![None; keys.len()];
        for i in order {
            out[i] = s.view.get(keys[i].as_ref(), &s.ctx)?;
        }
        Ok(out)
    }

    /// Every key and value in key order (both directions).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("a", "1")?;
    /// assert_eq!(Readable::iter(&db.default_keyspace()).count(), 1);
    /// # Ok(()) }
    /// ```
    fn iter(&self) -> Iter {
        iter_of(self.source(), Bound::Unbounded, Bound::Unbounded)
    }

    /// The keys within `range`: `r.range("a".."m")`, `r.range(b"k1".as_slice()..)`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// assert_eq!(Readable::range(&db.snapshot(), "b"..).count(), 1);
    /// # Ok(()) }
    /// ```
    fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let (lo, hi) = owned_bounds(&range);
        iter_of(self.source(), lo, hi)
    }

    /// [`range`](Readable::range) with read options: a scan that should not push hot
    /// blocks out of the block cache sets [`ReadOptions::fill_cache`] to `false`.
    ///
    /// ```
    /// # use mylsm::Readable;
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("a", "1")?;
    /// let scan = mylsm::ReadOptions::new().with_fill_cache(false);
    /// assert_eq!(db.range_opt::<&str, _>(.., &scan).count(), 1);
    /// # Ok(()) }
    /// ```
    fn range_opt<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &self,
        range: R,
        options: &ReadOptions,
    ) -> Iter {
        self.range(range).with_options(options)
    }

    /// The keys starting with `prefix`.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("user:1", "ada")?;
    /// db.put("order:1", "tea")?;
    /// assert_eq!(Readable::prefix(&db.snapshot(), "user:").count(), 1);
    /// # Ok(()) }
    /// ```
    fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        iter_of(self.source(), lo, hi)
    }

    /// The first key and its value.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("b", "2")?;
    /// db.put("a", "1")?;
    /// assert_eq!(db.first()?, Some(("a".into(), "1".into())));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Readable::get`].
    fn first(&self) -> Result<Option<(Key, Value)>> {
        self.iter().next().transpose()
    }

    /// The last key and its value.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("b", "2")?;
    /// db.put("a", "1")?;
    /// assert_eq!(db.last()?, Some(("b".into(), "2".into())));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Readable::get`].
    fn last(&self) -> Result<Option<(Key, Value)>> {
        self.iter().next_back().transpose()
    }

    /// Whether there is no key at all.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// assert!(db.is_empty()?);
    /// db.put("k", "v")?;
    /// assert!(!db.is_empty()?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Readable::get`].
    fn is_empty(&self) -> Result<bool> {
        Ok(self.first()?.is_none())
    }

    /// About how many entries there are, from the memtables' and tables' counts,
    /// without reading data: overwritten and deleted keys count until compaction drops
    /// them. Cheap; not a substitute for counting.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// assert_eq!(db.approximate_len()?, 2);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Closed`; an I/O or `Corruption` error opening a table.
    fn approximate_len(&self) -> Result<u64> {
        let s = self.source();
        if let Some(e) = s.error {
            return Err(e);
        }
        let mut n: u64 =
            std::iter::once(&s.view.mem).chain(&s.view.imms).map(|m| m.len() as u64).sum();
        for (_, f) in s.view.version.files() {
            let p = s.view.tables.get(f)?;
            let p = p.properties();
            n += p.num_puts.saturating_sub(p.num_deletes.min(p.num_puts));
        }
        Ok(n)
    }

    /// About how many bytes the tables holding keys in `range` take on disk (whole
    /// tables that meet it; memtables not counted).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// db.put("a", "1")?;
    /// assert_eq!(db.approximate_size::<&str, _>(..), 0, "memtables are not counted");
    /// db.flush()?;
    /// assert!(db.approximate_size("a"..="a") > 0);
    /// # Ok(()) }
    /// ```
    fn approximate_size<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> u64 {
        let s = self.source();
        let bound = |b: Bound<&K>| match b {
            Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref().to_vec()),
            Bound::Unbounded => None,
        };
        let (lo, hi) = (bound(range.start_bound()), bound(range.end_bound()));
        (0..s.view.version.levels.len())
            .flat_map(|l| s.view.version.overlapping_files(l, lo.as_deref(), hi.as_deref()))
            .map(|f| f.size)
            .sum()
    }

    /// Bytes of table files this state reads (the write-ahead log not included).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// use mylsm::Readable;
    ///
    /// assert_eq!(db.disk_space(), 0);
    /// db.put("k", "v")?;
    /// db.flush()?;
    /// assert!(db.disk_space() > 0);
    /// # Ok(()) }
    /// ```
    fn disk_space(&self) -> u64 {
        let s = self.source();
        s.view.version.files().map(|(_, f)| f.size).sum()
    }
}

fn iter_of(s: Source, lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>) -> Iter {
    let it = Iter::new(s.view, s.ctx, lo, hi).watching(s.shared);
    match s.error {
        Some(e) => it.with_error(e),
        None => it,
    }
}

impl private::Sealed for crate::Db {
    fn source(&self) -> Source {
        let tree = self.default_tree();
        // The view is taken before the seqno (see `view.rs`).
        let view = tree.current_view();
        let ctx = tree.read_ctx(self.shared().visible_seqno(), self.shared().now());
        Source { view, ctx, error: self.check_open().err(), shared: Arc::clone(self.shared()) }
    }
}

impl Readable for crate::Db {}

impl private::Sealed for crate::Keyspace {
    fn source(&self) -> Source {
        let tree = self.tree();
        let view = tree.current_view();
        let shared = self.db().shared();
        let ctx = tree.read_ctx(shared.visible_seqno(), shared.now());
        Source { view, ctx, error: self.check().err(), shared: Arc::clone(shared) }
    }
}

impl Readable for crate::Keyspace {}

impl private::Sealed for crate::Snapshot {
    fn source(&self) -> Source {
        let (view, ctx) = self.view_of(self.tree());
        let shared = Arc::clone(self.shared());
        Source { view, ctx, error: self.check_open().err(), shared }
    }
}

impl Readable for crate::Snapshot {}
