//! `TxIter`: a transaction's snapshot iterator with the transaction's own writes laid
//! over it, in both directions.

use std::collections::VecDeque;

use super::{contains, KeyRange};
use crate::{Error, Iter, Key, Result, Value};

/// An iterator over what a transaction sees in a key range: its snapshot, with the
/// transaction's own writes laid over it. Double-ended; an error ends it.
pub struct TxIter {
    snap: Option<Iter>,
    /// An error to yield before anything else.
    error: Option<Error>,
    /// The transaction's own keys in range with their values (`None`: deleted), in key
    /// order.
    own: VecDeque<(Vec<u8>, Option<Value>)>,
    /// Ranges the transaction deleted: the snapshot's keys in them are gone.
    deleted: Vec<KeyRange>,
    snap_front: Option<(Key, Value)>,
    snap_back: Option<(Key, Value)>,
    done: bool,
}

impl std::fmt::Debug for TxIter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxIter").field("own", &self.own.len()).finish()
    }
}

impl TxIter {
    /// An iterator over `snap` with the transaction's own keys `own` (in key order,
    /// `None`: deleted) laid over it, and the snapshot's keys in `deleted` hidden.
    pub(super) fn new(
        snap: Iter,
        own: VecDeque<(Vec<u8>, Option<Value>)>,
        deleted: Vec<KeyRange>,
    ) -> TxIter {
        TxIter {
            snap: Some(snap),
            error: None,
            own,
            deleted,
            snap_front: None,
            snap_back: None,
            done: false,
        }
    }

    /// An iterator that yields `e` and ends.
    pub(super) fn failed(e: Error) -> TxIter {
        TxIter {
            snap: None,
            error: Some(e),
            own: Default::default(),
            deleted: Vec::new(),
            snap_front: None,
            snap_back: None,
            done: false,
        }
    }

    /// The next snapshot entry from the front that the transaction neither wrote nor
    /// deleted.
    fn snap_next(&mut self) -> Option<Result<(Key, Value)>> {
        loop {
            let item = match self.snap_front.take() {
                Some(kv) => kv,
                None => match self.snap.as_mut().and_then(Iterator::next) {
                    Some(Ok(kv)) => kv,
                    Some(Err(e)) => return Some(Err(e)),
                    None => self.snap_back.take()?,
                },
            };
            if !self.deleted.iter().any(|r| contains(r, &item.0)) {
                return Some(Ok(item));
            }
        }
    }

    fn snap_next_back(&mut self) -> Option<Result<(Key, Value)>> {
        loop {
            let item = match self.snap_back.take() {
                Some(kv) => kv,
                None => match self.snap.as_mut().and_then(DoubleEndedIterator::next_back) {
                    Some(Ok(kv)) => kv,
                    Some(Err(e)) => return Some(Err(e)),
                    None => self.snap_front.take()?,
                },
            };
            if !self.deleted.iter().any(|r| contains(r, &item.0)) {
                return Some(Ok(item));
            }
        }
    }
}

impl Iterator for TxIter {
    type Item = Result<(Key, Value)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            self.done = true;
            return Some(Err(e));
        }
        while !self.done {
            let snap = match self.snap_next() {
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                other => other.and_then(|r| r.ok()),
            };
            let own_key = self.own.front().map(|(k, _)| k.clone());
            match (snap, own_key) {
                (None, None) => return None,
                (Some(s), Some(o)) if o.as_slice() <= &s.0[..] => {
                    if o.as_slice() < &s.0[..] {
                        self.snap_front = Some(s);
                    }
                    let (k, v) = self.own.pop_front()?;
                    if let Some(v) = v {
                        return Some(Ok((Key::from(k), v)));
                    }
                }
                (Some(s), _) => return Some(Ok(s)),
                (None, Some(_)) => {
                    let (k, v) = self.own.pop_front()?;
                    if let Some(v) = v {
                        return Some(Ok((Key::from(k), v)));
                    }
                }
            }
        }
        None
    }
}

impl DoubleEndedIterator for TxIter {
    fn next_back(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.error.take() {
            self.done = true;
            return Some(Err(e));
        }
        while !self.done {
            let snap = match self.snap_next_back() {
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                other => other.and_then(|r| r.ok()),
            };
            let own_key = self.own.back().map(|(k, _)| k.clone());
            match (snap, own_key) {
                (None, None) => return None,
                (Some(s), Some(o)) if o.as_slice() >= &s.0[..] => {
                    if o.as_slice() > &s.0[..] {
                        self.snap_back = Some(s);
                    }
                    let (k, v) = self.own.pop_back()?;
                    if let Some(v) = v {
                        return Some(Ok((Key::from(k), v)));
                    }
                }
                (Some(s), _) => return Some(Ok(s)),
                (None, Some(_)) => {
                    let (k, v) = self.own.pop_back()?;
                    if let Some(v) = v {
                        return Some(Ok((Key::from(k), v)));
                    }
                }
            }
        }
        None
    }
}
