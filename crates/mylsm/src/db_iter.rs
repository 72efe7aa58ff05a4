//! The user's iterator: each key's value at one sequence number (see `resolve.rs`:
//! tombstones, range tombstones and expired values hidden, merge operands merged),
//! bounded, usable from both ends (LevelDB's `db_iter.cc`, with two cursors so that
//! `next` and `next_back` can be mixed as `DoubleEndedIterator` allows).
//!
//! Range tombstones are gathered when the iterator is made: the fragment lists of the
//! memtables and of the tables that meet the iterator's bounds, each consulted with one
//! binary search per key.

pub(crate) use crate::bounds::{owned_bounds, prefix_bounds};

use std::ops::Bound;
use std::sync::Arc;

use crate::iter::InternalIterator;
use crate::key::{self, Kind, MAX_SEQNO, TRAILER_LEN};
use crate::range_del::Fragments;
use crate::resolve::{ReadCtx, Resolver, Walk};
use crate::view::ReadView;
use crate::{Error, Key, Result, Value};

/// An iterator over `(Key, Value)` pairs in key order, as of the moment it was made.
///
/// Returned by `Db::iter`, `Db::range` and `Db::prefix` (and their snapshot forms).
/// It pins everything it reads, so the data it sees cannot change or disappear
/// underneath it; it never blocks writers. An error (a damaged file) is yielded once,
/// after which the iterator ends.
pub struct Iter {
    view: Arc<ReadView>,
    ctx: ReadCtx,
    seqno: u64,
    /// The range tombstones of every source that meets the bounds.
    tombstones: Vec<Arc<Fragments>>,
    /// A key's versions met walking backwards, oldest first (from its newest put or
    /// delete on), their values in `version_bytes`, the key in `back_key`: buffers
    /// reused between steps.
    versions: Vec<(u64, Kind, std::ops::Range<usize>)>,
    version_bytes: Vec<u8>,
    back_key: Vec<u8>,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    /// Where the front cursor starts: the lower bound, or a later `seek` target.
    front_from: Bound<Vec<u8>>,
    /// Where the back cursor starts: the upper bound, or an earlier `seek_for_prev`.
    back_from: Bound<Vec<u8>>,
    front: Option<Box<dyn InternalIterator>>,
    back: Option<Box<dyn InternalIterator>>,
    /// The last user key the front cursor consumed; the front skips its older versions.
    front_last: Option<Vec<u8>>,
    /// The last key yielded from the front; the back stops there.
    front_yielded: Option<Vec<u8>>,
    /// The last key yielded from the back; the front stops there.
    back_last: Option<Vec<u8>>,
    done: bool,
    /// An error to yield before anything else (the database was closed, say).
    error: Option<Error>,
    /// Yield empty values for plain puts instead of copying them ([`Iter::keys`]).
    keys_only: bool,
    /// The database whose close ends this iterator (with `Error::Closed`).
    closed_by: Option<Arc<crate::engine::Shared>>,
    /// Whether the blocks it reads from disk go into the block cache.
    fill_cache: bool,
}

impl std::fmt::Debug for Iter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter").field("seqno", &self.seqno).field("done", &self.done).finish()
    }
}

impl Iter {
    pub(crate) fn new(
        view: Arc<ReadView>,
        ctx: ReadCtx,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Self {
        let (tombstones, error) = match gather_tombstones(&view, &lower, &upper) {
            Ok(t) => (t, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        Iter {
            view,
            seqno: ctx.seqno,
            ctx,
            tombstones,
            versions: Vec::new(),
            version_bytes: Vec::new(),
            back_key: Vec::new(),
            front_from: lower.clone(),
            back_from: upper.clone(),
            lower,
            upper,
            front: None,
            back: None,
            front_last: None,
            front_yielded: None,
            back_last: None,
            done: false,
            error,
            keys_only: false,
            closed_by: None,
            fill_cache: true,
        }
    }

    /// This iterator with `options` applied (before its first step).
    pub(crate) fn with_options(mut self, options: &crate::ReadOptions) -> Self {
        self.fill_cache = options.fill_cache;
        self
    }

    /// This iterator, ended by the close of the database `shared` belongs to: its next
    /// step after the close yields `Error::Closed`, and it ends.
    pub(crate) fn watching(mut self, shared: Arc<crate::engine::Shared>) -> Self {
        self.closed_by = Some(shared);
        self
    }

    /// `Error::Closed` once the database it reads was closed.
    fn closed(&mut self) -> Option<Error> {
        let closed = self.closed_by.as_ref().is_some_and(|s| s.latch().is_closed());
        closed.then(|| {
            self.closed_by = None;
            Error::Closed
        })
    }

    /// The keys alone, in the same order and direction rules: plain values are never
    /// copied (a value that needs resolving — a merge, an expiring put — still is).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("b", "2")?;
    /// db.put("a", "1")?;
    /// let keys: Vec<_> = db.iter().keys().collect::<mylsm::Result<_>>()?;
    /// assert_eq!(keys, ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub fn keys(mut self) -> Keys {
        self.keys_only = true;
        Keys(self)
    }

    /// Moves the front: the next [`Iterator::next`] yields the first key at or after
    /// `key` that lies within the iterator's range. A seek forgets what either end has
    /// yielded, so the two ends no longer stop at each other until they yield again;
    /// seeking backwards re-reads keys already yielded.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// for k in ["a", "c", "e"] {
    ///     db.put(k, "")?;
    /// }
    /// let mut it = db.iter();
    /// it.seek("b");
    /// assert_eq!(it.next().unwrap()?.0, "c");
    /// # Ok(()) }
    /// ```
    pub fn seek(&mut self, key: impl AsRef<[u8]>) {
        let key = key.as_ref();
        self.front_from = match &self.lower {
            Bound::Included(l) | Bound::Excluded(l) if key <= l.as_slice() => self.lower.clone(),
            _ => Bound::Included(key.to_vec()),
        };
        self.front = None;
        self.front_last = None;
        self.front_yielded = None;
        self.back_last = None;
        self.done = false;
    }

    /// Moves the back: the next [`DoubleEndedIterator::next_back`] yields the last key at
    /// or before `key` that lies within the iterator's range. Like [`Iter::seek`], it
    /// forgets what either end has yielded.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// for k in ["a", "c", "e"] {
    ///     db.put(k, "")?;
    /// }
    /// let mut it = db.iter();
    /// it.seek_for_prev("d");
    /// assert_eq!(it.next_back().unwrap()?.0, "c");
    /// # Ok(()) }
    /// ```
    pub fn seek_for_prev(&mut self, key: impl AsRef<[u8]>) {
        let key = key.as_ref();
        self.back_from = match &self.upper {
            Bound::Included(u) | Bound::Excluded(u) if key >= u.as_slice() => self.upper.clone(),
            _ => Bound::Included(key.to_vec()),
        };
        self.back = None;
        self.back_last = None;
        self.front_yielded = None;
        self.done = false;
    }

    /// An iterator that yields `e` and ends.
    pub(crate) fn with_error(mut self, e: Error) -> Self {
        self.error = Some(e);
        self
    }

    fn below_upper(&self, k: &[u8]) -> bool {
        match &self.upper {
            Bound::Included(u) => k <= u.as_slice(),
            Bound::Excluded(u) => k < u.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn above_lower(&self, k: &[u8]) -> bool {
        match &self.lower {
            Bound::Included(l) => k >= l.as_slice(),
            Bound::Excluded(l) => k > l.as_slice(),
            Bound::Unbounded => true,
        }
    }

    fn fail(&mut self, e: Error) -> Option<Result<(Key, Value)>> {
        self.done = true;
        Some(Err(e))
    }

    fn corrupt_key(it: &dyn InternalIterator) -> Error {
        Error::corruption(
            "<memtable>",
            0,
            format!("malformed internal key {:?}", it.key().escape_ascii().to_string()),
        )
    }

    fn step_front(&mut self) -> Option<Result<(Key, Value)>> {
        let seqno = self.seqno;
        let it = match &mut self.front {
            Some(it) => it,
            None => {
                let mut it = self.view.internal_iter_filling(self.fill_cache);
                match &self.front_from {
                    Bound::Included(k) | Bound::Excluded(k) => {
                        it.seek(&key::lookup_key(k, MAX_SEQNO))
                    }
                    Bound::Unbounded => it.seek_to_first(),
                }
                if let Bound::Excluded(k) = &self.front_from {
                    self.front_last = Some(k.clone());
                }
                self.front.insert(it)
            }
        };
        // Invariant on entry: `it` is at or before the first entry not yet considered.
        while it.valid() {
            let Some(p) = key::parse_internal_key(it.key()) else {
                let e = Self::corrupt_key(it.as_ref());
                return self.fail(e);
            };
            if p.seqno > seqno || self.front_last.as_deref() == Some(p.user_key) {
                it.next();
                continue;
            }
            // The newest visible version of a key not seen yet: resolve the key from it
            // and the versions after it.
            remember(&mut self.front_last, p.user_key);
            let k = self.front_last.as_deref().unwrap_or_default();
            let cover = self.tombstones.iter().map(|f| f.max_cover(k, seqno)).max().unwrap_or(0);
            let value = if cover == 0 && p.kind == Kind::Put {
                // A table's value is shared with its block rather than copied.
                let v = match self.keys_only {
                    true => Value::default(),
                    false => it.value_view().unwrap_or_else(|| Value::copy_from(it.value())),
                };
                it.next();
                Ok(Some(v))
            } else {
                let mut r = Resolver::new(&self.ctx, k);
                r.cover(cover);
                let mut fed = r.feed(p.seqno, p.kind, it.value());
                it.next();
                while matches!(fed, Ok(Walk::More)) && it.valid() {
                    match key::parse_internal_key(it.key()) {
                        Some(q) if q.user_key == k => fed = r.feed(q.seqno, q.kind, it.value()),
                        _ => break,
                    }
                    it.next();
                }
                fed.and_then(|_| r.finish())
            };
            let value = match value {
                Ok(Some(v)) => v,
                Ok(None) => continue,
                Err(e) => return self.fail(e),
            };
            let met_back = self.back_last.as_deref().is_some_and(|b| k >= b);
            if !self.below_upper(k) || met_back {
                break;
            }
            let key = Key::copy_from(k);
            remember(&mut self.front_yielded, &key);
            return Some(Ok((key, value)));
        }
        self.done = true;
        match self.front.as_ref().map(|it| it.status()) {
            Some(Err(e)) => Some(Err(e)),
            _ => None,
        }
    }

    fn step_back(&mut self) -> Option<Result<(Key, Value)>> {
        let seqno = self.seqno;
        let it = match &mut self.back {
            Some(it) => it,
            None => {
                let mut it = self.view.internal_iter_filling(self.fill_cache);
                match &self.back_from {
                    Bound::Excluded(k) => it.seek_for_prev(&key::lookup_key(k, MAX_SEQNO)),
                    Bound::Included(k) => {
                        let mut oldest = k.clone();
                        oldest.extend_from_slice(&[0; TRAILER_LEN]);
                        it.seek_for_prev(&oldest);
                    }
                    Bound::Unbounded => it.seek_to_last(),
                }
                self.back.insert(it)
            }
        };
        // Walking backwards meets a key's versions oldest first: collect them until the
        // user key changes, then resolve the key from its newest version down. The key,
        // the versions and their values live in buffers the iterator reuses, so a step
        // allocates only the key and value it yields.
        let mut versions = std::mem::take(&mut self.versions);
        let mut bytes = std::mem::take(&mut self.version_bytes);
        let mut cur = std::mem::take(&mut self.back_key);
        versions.clear();
        bytes.clear();
        let mut has_cur = false;
        // The newest version's value as a view of its block, when it is a put and the
        // source can give one: its value is then not copied into `bytes` (its range
        // there is empty) unless an older version's merge operand needs it beside them.
        let mut view: Option<Value> = None;
        let mut found: Option<Result<Value>> = None;
        let mut damaged = None;
        loop {
            let p = if it.valid() {
                match key::parse_internal_key(it.key()) {
                    Some(p) => Some(p),
                    None => {
                        damaged = Some(Self::corrupt_key(it.as_ref()));
                        break;
                    }
                }
            } else {
                None
            };
            let key_changed = has_cur
                && match &p {
                    Some(p) => p.seqno <= seqno && p.user_key < cur.as_slice(),
                    None => true,
                };
            if key_changed {
                let keys_only = self.keys_only;
                let put_view = view.take();
                let back = Back { versions: &versions, bytes: &bytes, put_view };
                match resolve_back(&self.ctx, &self.tombstones, &cur, back, keys_only) {
                    Ok(Some(v)) => {
                        found = Some(Ok(v));
                        break;
                    }
                    Ok(None) => {
                        versions.clear();
                        bytes.clear();
                        has_cur = false;
                    }
                    Err(e) => {
                        found = Some(Err(e));
                        break;
                    }
                }
            }
            let Some(p) = p else { break };
            if p.seqno <= seqno {
                if !has_cur {
                    cur.clear();
                    cur.extend_from_slice(p.user_key);
                    has_cur = true;
                }
                if p.kind != Kind::Merge {
                    // A newer put or delete makes the older versions irrelevant.
                    versions.clear();
                    bytes.clear();
                } else if let Some(older) = view.take() {
                    // The put this merge applies to kept its value as a view: copy it
                    // in with the versions that will be resolved together.
                    let at = bytes.len();
                    bytes.extend_from_slice(&older);
                    if let Some(last) = versions.last_mut() {
                        last.2 = at..bytes.len();
                    }
                }
                view = match p.kind {
                    Kind::Put if !self.keys_only => it.value_view(),
                    _ => None,
                };
                let at = bytes.len();
                if view.is_none() {
                    bytes.extend_from_slice(it.value());
                }
                versions.push((p.seqno, p.kind, at..bytes.len()));
            }
            it.prev();
        }
        self.versions = versions;
        self.version_bytes = bytes;
        let result = match (damaged, found) {
            (Some(e), _) | (None, Some(Err(e))) => Err(e),
            (None, Some(Ok(v))) => Ok(Some(v)),
            (None, None) => Ok(None),
        };
        let status = self.back.as_ref().map_or(Ok(()), |it| it.status());
        let out = match (status, result) {
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(v)) => Ok(v),
        };
        let out = match out {
            Ok(Some(v)) => {
                let met_front = self.front_yielded.as_deref().is_some_and(|f| cur.as_slice() <= f);
                if !self.above_lower(&cur) || met_front {
                    self.done = true;
                    None
                } else {
                    let key = Key::copy_from(&cur);
                    remember(&mut self.back_last, &cur);
                    Some(Ok((key, v)))
                }
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        };
        self.back_key = cur;
        out
    }
}

/// One key's versions met walking backwards, oldest first, their values in `bytes`;
/// `put_view`: the value of the newest version, a put, as a view of its block, when
/// there is one (its range in `bytes` is then empty).
struct Back<'a> {
    versions: &'a [(u64, Kind, std::ops::Range<usize>)],
    bytes: &'a [u8],
    put_view: Option<Value>,
}

/// A key's value from its versions.
fn resolve_back(
    ctx: &ReadCtx,
    tombstones: &[Arc<Fragments>],
    k: &[u8],
    back: Back<'_>,
    keys_only: bool,
) -> Result<Option<Value>> {
    let Back { versions, bytes, put_view } = back;
    let cover = tombstones.iter().map(|f| f.max_cover(k, ctx.seqno)).max().unwrap_or(0);
    if let [(seqno, Kind::Put, range)] = versions {
        if *seqno >= cover {
            let v = match keys_only {
                true => Value::default(),
                false => put_view.unwrap_or_else(|| Value::copy_from(&bytes[range.clone()])),
            };
            return Ok(Some(v));
        }
    }
    let mut r = Resolver::new(ctx, k);
    r.cover(cover);
    let newest = versions.len().wrapping_sub(1);
    for (i, (seqno, kind, range)) in versions.iter().enumerate().rev() {
        let value = match &put_view {
            Some(v) if i == newest => v.as_bytes(),
            _ => &bytes[range.clone()],
        };
        if r.feed(*seqno, *kind, value)? == Walk::Done {
            break;
        }
    }
    r.finish()
}

/// The range tombstones of every source of `view` that can hold keys within the bounds.
pub(crate) fn gather_tombstones(
    view: &ReadView,
    lower: &Bound<Vec<u8>>,
    upper: &Bound<Vec<u8>>,
) -> Result<Vec<Arc<Fragments>>> {
    let mut out = Vec::new();
    for mem in std::iter::once(&view.mem).chain(&view.imms) {
        out.extend(mem.range_tombstones());
    }
    let lo = match lower {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
        Bound::Unbounded => None,
    };
    let hi = match upper {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
        Bound::Unbounded => None,
    };
    for level in 0..view.version.levels.len() {
        for file in view.version.overlapping_files(level, lo, hi) {
            if file.has_range_dels {
                out.extend(view.tables.get(&file)?.range_tombstones().cloned());
            }
        }
    }
    Ok(out)
}

impl Iterator for Iter {
    type Item = Result<(Key, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take().or_else(|| self.closed()) {
            return self.fail(e);
        }
        if self.done {
            return None;
        }
        self.step_front()
    }
}

impl DoubleEndedIterator for Iter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take().or_else(|| self.closed()) {
            return self.fail(e);
        }
        if self.done {
            return None;
        }
        self.step_back()
    }
}

/// The keys of an [`Iter`], from [`Iter::keys`]. Double-ended; an error ends it.
#[derive(Debug)]
pub struct Keys(Iter);

impl Iterator for Keys {
    type Item = Result<Key>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|r| r.map(|(k, _)| k))
    }
}

impl DoubleEndedIterator for Keys {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|r| r.map(|(k, _)| k))
    }
}

impl std::iter::FusedIterator for Keys {}

/// Once `next` (or `next_back`) has returned `None` it keeps returning `None`, until a
/// [`Iter::seek`] or [`Iter::seek_for_prev`] moves it again.
impl std::iter::FusedIterator for Iter {}

/// Sets `slot` to `key`, reusing its allocation: the iterator notes a key per step.
fn remember(slot: &mut Option<Vec<u8>>, key: &[u8]) {
    match slot {
        Some(v) => {
            v.clear();
            v.extend_from_slice(key);
        }
        None => *slot = Some(key.to_vec()),
    }
}
