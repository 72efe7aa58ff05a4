//! The user's iterator: newest visible version per key at one sequence number,
//! tombstones hidden, bounded, usable from both ends (LevelDB's `db_iter.cc`, with two
//! cursors so that `next` and `next_back` can be mixed as `DoubleEndedIterator` allows).

use std::ops::Bound;
use std::sync::Arc;

use crate::iter::InternalIterator;
use crate::key::{self, Kind, MAX_SEQNO, TRAILER_LEN};
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
    seqno: u64,
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
}

impl std::fmt::Debug for Iter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter").field("seqno", &self.seqno).field("done", &self.done).finish()
    }
}

impl Iter {
    pub(crate) fn new(
        view: Arc<ReadView>,
        seqno: u64,
        lower: Bound<Vec<u8>>,
        upper: Bound<Vec<u8>>,
    ) -> Self {
        Iter {
            view,
            seqno,
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
            error: None,
        }
    }

    /// Moves the front: the next [`Iterator::next`] yields the first key at or after
    /// `key` that lies within the iterator's range. A seek forgets what either end has
    /// yielded, so the two ends no longer stop at each other until they yield again;
    /// seeking backwards re-reads keys already yielded.
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
                let mut it = self.view.internal_iter();
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
            // The newest visible version of a key not seen yet.
            let put = (p.kind == Kind::Put).then(|| Value::copy_from(it.value()));
            remember(&mut self.front_last, p.user_key);
            it.next();
            let Some(value) = put else { continue };
            let k = self.front_last.as_deref().unwrap_or_default();
            let met_back = self.back_last.as_deref().is_some_and(|b| k >= b);
            if !self.below_upper(k) || met_back {
                break;
            }
            remember(&mut self.front_yielded, k);
            return Some(Ok((Key::copy_from(k), value)));
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
                let mut it = self.view.internal_iter();
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
        // Walking backwards meets a key's versions oldest first, so the newest visible
        // version is the last one seen before the user key changes.
        let mut saved: Option<(Vec<u8>, Kind, Value)> = None;
        while it.valid() {
            let Some(p) = key::parse_internal_key(it.key()) else {
                let e = Self::corrupt_key(it.as_ref());
                return self.fail(e);
            };
            if p.seqno <= seqno {
                if let Some((k, Kind::Put, _)) = &saved {
                    if p.user_key < k.as_slice() {
                        break;
                    }
                }
                let value = match p.kind {
                    Kind::Put => Value::copy_from(it.value()),
                    Kind::Delete => Value::copy_from(b""),
                };
                saved = Some((p.user_key.to_vec(), p.kind, value));
            }
            it.prev();
        }
        if let Some(Err(e)) = self.back.as_ref().map(|it| it.status()) {
            return self.fail(e);
        }
        match saved {
            Some((k, Kind::Put, v)) => {
                let met_front = self.front_yielded.as_deref().is_some_and(|f| k.as_slice() <= f);
                if !self.above_lower(&k) || met_front {
                    self.done = true;
                    return None;
                }
                let key = Key::copy_from(&k);
                self.back_last = Some(k);
                Some(Ok((key, v)))
            }
            _ => {
                self.done = true;
                None
            }
        }
    }
}

impl Iterator for Iter {
    type Item = Result<(Key, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
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
        if let Some(e) = self.error.take() {
            return self.fail(e);
        }
        if self.done {
            return None;
        }
        self.step_back()
    }
}

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

/// The bounds of `r`, owned.
pub(crate) fn owned_bounds<K: AsRef<[u8]>, R: std::ops::RangeBounds<K>>(
    r: &R,
) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let own = |b: Bound<&K>| match b {
        Bound::Included(k) => Bound::Included(k.as_ref().to_vec()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref().to_vec()),
        Bound::Unbounded => Bound::Unbounded,
    };
    (own(r.start_bound()), own(r.end_bound()))
}

/// The bounds of the keys starting with `prefix`.
pub(crate) fn prefix_bounds(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let hi = prefix_successor(prefix).map_or(Bound::Unbounded, Bound::Excluded);
    (Bound::Included(prefix.to_vec()), hi)
}

/// The smallest key greater than every key starting with `prefix`, if one exists.
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last != 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_successor_skips_trailing_ff() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }
}
