//! `Snapshot`: a read-only view of the database pinned at one sequence number (the
//! registry of live snapshots that compaction consults is `engine::snapshots`).
//!
//! A snapshot is only a sequence number: it reads the database's current tables and
//! memtables, ignoring every entry newer than its seqno. Compaction keeps, for every
//! live snapshot, the newest version of each key at or below that snapshot's seqno, so
//! the snapshot keeps seeing what it saw however many flushes and compactions follow.

use std::ops::RangeBounds;
use std::sync::Arc;

use crate::db_iter::Iter;
use crate::engine::tree::Tree;
use crate::engine::Shared;
use crate::readable::Readable;
use crate::resolve::ReadCtx;
use crate::view::ReadView;
use crate::{Error, Result, Value};
use std::collections::BTreeMap;

/// The database as it was when [`crate::Db::snapshot`] was called: later writes,
/// deletes, flushes and compactions do not change what it reads. Dropping it releases
/// it (and lets compaction drop the old versions only it needed).
///
/// A snapshot holds the database's shared state: a snapshot kept after
/// [`crate::Db::close`] keeps its memtables and open table files alive (and reads fail
/// with [`Error::Closed`]) until it is dropped.
#[derive(Debug)]
pub struct Snapshot {
    shared: Arc<Shared>,
    tree: Arc<Tree>,
    seqno: u64,
    /// The time its reads judge expiring values by.
    now: u64,
    /// The views of every keyspace when the snapshot was taken, kept when a compaction
    /// with a compaction filter was running then (see `filter.rs`): that compaction
    /// may change versions this snapshot can see, so the snapshot reads the tables as
    /// they were. `None`: reads use each keyspace's current view.
    pinned: Option<Arc<BTreeMap<u32, Arc<ReadView>>>>,
}

impl Snapshot {
    /// A snapshot at the newest visible seqno.
    pub(crate) fn new(shared: Arc<Shared>, tree: Arc<Tree>) -> Self {
        let now = shared.now();
        let seqno = shared.snapshots().acquire(|| shared.visible_seqno(), now);
        // Registered first, then checked: a filtering compaction that read the list
        // before this snapshot was in it has raised the count by now (`compact.rs`).
        let pinned = (shared.filtering_compactions() > 0).then(|| {
            Arc::new(shared.trees().into_iter().map(|t| (t.id(), t.current_view())).collect())
        });
        Snapshot { shared, tree, seqno, now, pinned }
    }

    /// The time (milliseconds since the Unix epoch) the snapshot judges expiring values
    /// by: the time it was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let snap = db.snapshot();
    /// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    /// assert!(snap.now_millis() <= now.as_millis() as u64);
    /// # Ok(()) }
    /// ```
    pub fn now_millis(&self) -> u64 {
        self.now
    }

    /// The view and read settings for `tree` at the snapshot.
    pub(crate) fn view_of(&self, tree: &Tree) -> (Arc<ReadView>, ReadCtx) {
        let view = match self.pinned.as_ref().and_then(|p| p.get(&tree.id())) {
            Some(v) => Arc::clone(v),
            None => tree.current_view(),
        };
        (view, tree.read_ctx(self.seqno, self.now))
    }

    /// The sequence number the snapshot reads at.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let before = db.snapshot();
    /// db.put("k", "v")?;
    /// assert!(db.snapshot().seqno() > before.seqno());
    /// # Ok(()) }
    /// ```
    pub fn seqno(&self) -> u64 {
        self.seqno
    }

    /// The tree the snapshot's own reads (`get`, `iter`) use: the default keyspace's.
    pub(crate) fn tree(&self) -> &Arc<Tree> {
        &self.tree
    }

    /// The database the snapshot reads.
    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn check_open(&self) -> Result<()> {
        if self.shared.latch().is_closed() {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The value `key` had when the snapshot was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "old")?;
    /// let snap = db.snapshot();
    /// db.delete("k")?;
    /// assert_eq!(snap.get("k")?.unwrap(), "old");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Readable::get`]: `Closed` after `Db::close`, `Corruption` or an I/O error
    /// from a damaged or unreadable table, `MergeFailed` if the key's merge operands
    /// cannot be merged.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        Readable::get(self, key)
    }

    /// Every key and value as of the snapshot, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("a", "1")?;
    /// let snap = db.snapshot();
    /// db.put("b", "2")?;
    /// assert_eq!(snap.iter().count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn iter(&self) -> Iter {
        Readable::iter(self)
    }

    /// The keys within `range` as of the snapshot, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("a", "1")?;
    /// let snap = db.snapshot();
    /// db.put("b", "2")?;
    /// assert_eq!(snap.range("a"..="z").count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        Readable::range(self, range)
    }

    /// The keys starting with `prefix` as of the snapshot, in key order.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("user:1", "ada")?;
    /// let snap = db.snapshot();
    /// db.put("user:2", "grace")?;
    /// assert_eq!(snap.prefix("user:").count(), 1);
    /// # Ok(()) }
    /// ```
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        Readable::prefix(self, prefix)
    }
}

impl Clone for Snapshot {
    fn clone(&self) -> Self {
        let seqno = self.shared.snapshots().acquire(|| self.seqno, self.now);
        Snapshot {
            shared: Arc::clone(&self.shared),
            tree: Arc::clone(&self.tree),
            seqno,
            now: self.now,
            pinned: self.pinned.clone(),
        }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.shared.snapshots().release(self.seqno, self.now);
    }
}
