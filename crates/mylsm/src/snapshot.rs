//! `Snapshot`: a read-only view of the database pinned at one sequence number.

use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use crate::db::{owned_bounds, prefix_bounds};
use crate::iter::db_iter::Iter;
use crate::view::ReadView;
use crate::{Result, Value};

/// The database as it was when [`crate::Db::snapshot`] was called: later writes,
/// deletes and flushes do not change what it reads. Dropping it releases it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    view: Arc<ReadView>,
    seqno: u64,
}

impl Snapshot {
    pub(crate) fn new(view: Arc<ReadView>, seqno: u64) -> Self {
        Snapshot { view, seqno }
    }

    /// The sequence number the snapshot reads at.
    pub fn seqno(&self) -> u64 {
        self.seqno
    }

    /// The value `key` had when the snapshot was taken.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Value>> {
        self.view.get(key.as_ref(), self.seqno)
    }

    /// Every key and value as of the snapshot, in key order.
    pub fn iter(&self) -> Iter {
        Iter::new(Arc::clone(&self.view), self.seqno, Bound::Unbounded, Bound::Unbounded)
    }

    /// The keys within `range` as of the snapshot, in key order.
    pub fn range<K: AsRef<[u8]>, R: RangeBounds<K>>(&self, range: R) -> Iter {
        let (lo, hi) = owned_bounds(&range);
        Iter::new(Arc::clone(&self.view), self.seqno, lo, hi)
    }

    /// The keys starting with `prefix` as of the snapshot, in key order.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Iter {
        let (lo, hi) = prefix_bounds(prefix.as_ref());
        Iter::new(Arc::clone(&self.view), self.seqno, lo, hi)
    }
}
