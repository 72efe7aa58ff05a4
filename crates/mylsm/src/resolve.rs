//! What a reader makes of one key's versions: the rules of puts, deletes, range
//! tombstones, merge operands and expiring values in one place, used by point lookups
//! and by the user iterator (compaction applies the same rules per snapshot stripe in
//! `compaction/job.rs`).
//!
//! A reader at seqno `s` and time `now` considers the versions with seqno `<= s`,
//! newest first, and the newest range tombstone at or below `s` covering the key
//! (`cover`):
//! - a version older than `cover` is deleted, and so is everything older;
//! - a put is the value; an expiring put is the value if `now < expiry`, else deleted;
//! - a delete ends the key;
//! - a merge operand is collected, and the walk goes on to find its base.
//!
//! Collected operands are then merged, oldest first, onto the base (`None` when the
//! walk ended on a delete, a tombstone, an expired value or no more versions). So an
//! operand over an expiring value applies to it while it lives and to nothing after,
//! and the result never expires.

use std::sync::Arc;

use crate::key::Kind;
use crate::merge::MergeOperator;
use crate::{Error, Result, Value};

/// How one read sees the data.
#[derive(Debug, Clone)]
pub(crate) struct ReadCtx {
    pub seqno: u64,
    /// Milliseconds since the epoch: entries expiring at or before it are gone.
    pub now: u64,
    pub merge: Option<Arc<dyn MergeOperator>>,
}

/// Whether the walk over a key's versions should go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    More,
    Done,
}

/// The versions of one key, fed newest first.
#[derive(Debug)]
pub(crate) struct Resolver<'a> {
    ctx: &'a ReadCtx,
    key: &'a [u8],
    cover: u64,
    operands: Vec<Vec<u8>>,
    /// Set when the walk reached a base or an end: `Some(None)` is "no base".
    base: Option<Option<Vec<u8>>>,
    /// The base's expiry, when it is an expiring value.
    expiry: Option<u64>,
}

impl<'a> Resolver<'a> {
    pub fn new(ctx: &'a ReadCtx, key: &'a [u8]) -> Self {
        Resolver { ctx, key, cover: 0, operands: Vec::new(), base: None, expiry: None }
    }

    /// Notes a range tombstone at `seqno` covering the key (0: none).
    pub fn cover(&mut self, seqno: u64) {
        self.cover = self.cover.max(seqno);
    }

    /// The seqno the read is at.
    pub fn read_seqno(&self) -> u64 {
        self.ctx.seqno
    }

    /// The newest covering tombstone seen so far (0: none).
    pub fn covered_at(&self) -> u64 {
        self.cover
    }

    pub fn is_done(&self) -> bool {
        self.base.is_some()
    }

    /// Feeds the next (older) version. Returns an error for an entry a point source
    /// cannot hold.
    pub fn feed(&mut self, seqno: u64, kind: Kind, value: &[u8]) -> Result<Walk> {
        if self.base.is_some() {
            return Ok(Walk::Done);
        }
        if seqno < self.cover {
            self.base = Some(None);
            return Ok(Walk::Done);
        }
        match kind {
            Kind::Put => self.base = Some(Some(value.to_vec())),
            Kind::Delete => self.base = Some(None),
            Kind::PutExpiring => {
                self.base = Some(match crate::expiry::decode(value) {
                    Some((expiry, v)) if expiry > self.ctx.now => {
                        self.expiry = Some(expiry);
                        Some(v.to_vec())
                    }
                    Some(_) => None,
                    None => {
                        return Err(bad_entry(self.key, "expiring value shorter than its expiry"))
                    }
                })
            }
            Kind::Merge => {
                self.operands.push(value.to_vec());
                return Ok(Walk::More);
            }
            Kind::RangeDelete => return Err(bad_entry(self.key, "range tombstone among points")),
        }
        Ok(Walk::Done)
    }

    /// Marks the end of the versions (the walk ran out, or a source's tombstone hides
    /// everything older).
    pub fn end(&mut self) {
        if self.base.is_none() {
            self.base = Some(None);
        }
    }

    /// The key's value: the base with the operands merged onto it.
    pub fn finish(self) -> Result<Option<Value>> {
        self.finish_with_expiry().map(|(v, _)| v)
    }

    /// The key's value and, if it expires, when (a merged value expires with its base).
    pub fn finish_with_expiry(mut self) -> Result<(Option<Value>, Option<u64>)> {
        let expiry = self.expiry;
        self.finish_inner().map(|v| {
            let e = if v.is_some() { expiry } else { None };
            (v, e)
        })
    }

    fn finish_inner(&mut self) -> Result<Option<Value>> {
        self.end();
        let base = self.base.take().flatten();
        if self.operands.is_empty() {
            return Ok(base.map(Value::from));
        }
        let Some(op) = &self.ctx.merge else {
            return Err(Error::InvalidArgument(format!(
                "key {:?} has merge operands but its keyspace has no merge operator",
                String::from_utf8_lossy(self.key)
            )));
        };
        self.operands.reverse();
        let ops: Vec<&[u8]> = self.operands.iter().map(Vec::as_slice).collect();
        op.full_merge(self.key, base.as_deref(), &ops).map(|v| Some(Value::from(v))).map_err(|e| {
            Error::MergeFailed(format!(
                "{} on key {:?}: {e}",
                op.name(),
                String::from_utf8_lossy(self.key)
            ))
        })
    }
}

fn bad_entry(key: &[u8], what: &str) -> Error {
    Error::corruption("<read>", 0, format!("key {:?}: {what}", String::from_utf8_lossy(key)))
}
