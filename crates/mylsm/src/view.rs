//! `ReadView`: one consistent set of sources a read consults, shared by `Arc`.
//!
//! A reader clones the current view's `Arc`, then loads the visible seqno, and reads
//! without any lock, so a writer, a flush or a compaction swapping in a new view never
//! blocks it and never changes what it sees. Taking the view first matters: a view
//! installed after the seqno load may come from a compaction that already dropped a
//! version that seqno needs (a newer one, written after the load, hides it, and no
//! snapshot registered the reader's seqno). A view taken before the load has every
//! version as it was; a write it misses went to a memtable created after the view was
//! taken, so it had not returned when the read began, and every write after it is
//! missed too: the reader sees a prefix of the history.

use std::sync::Arc;

use crate::iter::InternalIterator;
use crate::memtable::MemTable;
use crate::resolve::{ReadCtx, Resolver, Walk};
use crate::table_cache::TableCache;
use crate::version::Version;
use crate::version::{LazyTableIter, LevelIter};
use crate::{Result, Value};

/// The sources of data at one moment, newest first.
#[derive(Debug)]
pub(crate) struct ReadView {
    /// The memtable writes go to.
    pub mem: Arc<MemTable>,
    /// Memtables waiting for flush, newest first.
    pub imms: Vec<Arc<MemTable>>,
    /// The tables.
    pub version: Arc<Version>,
    pub tables: Arc<TableCache>,
}

impl ReadView {
    /// The value of `key` as `ctx` reads it.
    pub fn get(&self, key: &[u8], ctx: &ReadCtx) -> Result<Option<Value>> {
        self.get_with_expiry(key, ctx).map(|(v, _)| v)
    }

    /// The value of `key` as `ctx` reads it, and when it expires if it does.
    pub fn get_with_expiry(
        &self,
        key: &[u8],
        ctx: &ReadCtx,
    ) -> Result<(Option<Value>, Option<u64>)> {
        let mut r = Resolver::new(ctx, key);
        for mem in std::iter::once(&self.mem).chain(&self.imms) {
            if let Some(f) = mem.range_tombstones() {
                r.cover(f.max_cover(key, ctx.seqno));
            }
            let mut failed = Ok(());
            mem.for_each_version(key, ctx.seqno, |seqno, kind, value| {
                match r.feed(seqno, kind, value) {
                    Ok(w) => w == Walk::More,
                    Err(e) => {
                        failed = Err(e);
                        false
                    }
                }
            });
            failed?;
            // Everything in older sources is older than this source's tombstones.
            if r.is_done() || r.covered_at() > 0 {
                return r.finish_with_expiry();
            }
        }
        self.version.get(&self.tables, key, &mut r)?;
        r.finish_with_expiry()
    }

    /// The seqno of the newest change to `key` the view holds: its newest version, or a
    /// newer range tombstone covering it; 0 if none. (A transaction's commit check.)
    pub fn newest_seqno(&self, key: &[u8]) -> Result<u64> {
        let mut newest = 0;
        for mem in std::iter::once(&self.mem).chain(&self.imms) {
            if let Some(f) = mem.range_tombstones() {
                newest = newest.max(f.max_cover(key, crate::key::MAX_SEQNO));
            }
            mem.for_each_version(key, crate::key::MAX_SEQNO, |seqno, _, _| {
                newest = newest.max(seqno);
                false
            });
            // Every version in an older source is older than what this one holds.
            if newest > 0 {
                return Ok(newest);
            }
        }
        self.version.newest_seqno(&self.tables, key)
    }

    /// A key in `[lo, hi]` (bounds as given) with a version newer than `seqno`, or the
    /// start of a range tombstone newer than it that meets the range; `None` if nothing
    /// in the range changed after `seqno`.
    pub fn changed_in_range(
        &self,
        lo: &std::ops::Bound<Vec<u8>>,
        hi: &std::ops::Bound<Vec<u8>>,
        seqno: u64,
    ) -> Result<Option<Vec<u8>>> {
        use std::ops::Bound;
        let in_range = |k: &[u8]| {
            let above = match lo {
                Bound::Included(l) => k >= l.as_slice(),
                Bound::Excluded(l) => k > l.as_slice(),
                Bound::Unbounded => true,
            };
            let below = match hi {
                Bound::Included(h) => k <= h.as_slice(),
                Bound::Excluded(h) => k < h.as_slice(),
                Bound::Unbounded => true,
            };
            above && below
        };
        for f in crate::db_iter::gather_tombstones(self, lo, hi)? {
            for piece in f.pieces() {
                let meets = piece.end.as_deref().is_none_or(|e| match lo {
                    Bound::Included(l) | Bound::Excluded(l) => e > l.as_slice(),
                    Bound::Unbounded => true,
                }) && match hi {
                    Bound::Included(h) => piece.start.as_slice() <= h.as_slice(),
                    Bound::Excluded(h) => piece.start.as_slice() < h.as_slice(),
                    Bound::Unbounded => true,
                };
                if meets && piece.seqnos.first().is_some_and(|&s| s > seqno) {
                    return Ok(Some(piece.start.clone()));
                }
            }
        }
        let mut it = self.internal_iter();
        match lo {
            Bound::Included(k) | Bound::Excluded(k) => {
                it.seek(&crate::key::lookup_key(k, crate::key::MAX_SEQNO))
            }
            Bound::Unbounded => it.seek_to_first(),
        }
        while it.valid() {
            let Some(p) = crate::key::parse_internal_key(it.key()) else { break };
            if !in_range(p.user_key) {
                let past = match hi {
                    Bound::Included(h) => p.user_key > h.as_slice(),
                    Bound::Excluded(h) => p.user_key >= h.as_slice(),
                    Bound::Unbounded => false,
                };
                if past {
                    break;
                }
            } else if p.seqno > seqno {
                return Ok(Some(p.user_key.to_vec()));
            }
            it.next();
        }
        it.status()?;
        Ok(None)
    }

    /// A cursor over every internal entry of the view, merged in internal-key order.
    pub fn internal_iter(&self) -> Box<dyn InternalIterator> {
        self.internal_iter_filling(true)
    }

    /// `internal_iter`, whose tables cache the blocks they read only if `fill`.
    pub fn internal_iter_filling(&self, fill: bool) -> Box<dyn InternalIterator> {
        let mut children: Vec<Box<dyn InternalIterator>> = Vec::new();
        for mem in std::iter::once(&self.mem).chain(&self.imms) {
            children.push(Box::new(mem.iter()));
        }
        // L0 tables overlap, so each is its own child (newest first); a deeper level is
        // one sorted run, read by one level iterator that opens its tables in turn.
        for file in &self.version.levels[0] {
            let it = LazyTableIter::new(Arc::clone(&self.tables), Arc::clone(file)).filling(fill);
            children.push(Box::new(it));
        }
        for files in self.version.levels.iter().skip(1).filter(|f| !f.is_empty()) {
            let it = LevelIter::new(Arc::clone(&self.tables), files.clone()).filling(fill);
            children.push(Box::new(it));
        }
        Box::new(crate::iter::merge::MergingIter::new(children))
    }
}
