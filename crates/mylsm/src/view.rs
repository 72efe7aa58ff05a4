//! `ReadView`: one consistent set of sources a read consults, shared by `Arc`.
//!
//! A reader clones the current view's `Arc` and then reads without any lock, so a
//! writer, a flush or a compaction swapping in a new view never blocks it and never
//! changes what it sees.

use std::sync::Arc;

use crate::iter::InternalIterator;
use crate::memtable::{Lookup, MemTable};
use crate::{Result, Value};

/// The sources of data at one moment: today only the memtable.
#[derive(Debug)]
pub(crate) struct ReadView {
    pub mem: Arc<MemTable>,
}

impl ReadView {
    /// The newest version of `key` visible at `seqno`.
    pub fn get(&self, key: &[u8], seqno: u64) -> Result<Option<Value>> {
        Ok(match self.mem.get(key, seqno) {
            Lookup::Found(v) => Some(v),
            Lookup::Deleted | Lookup::Absent => None,
        })
    }

    /// A cursor over every internal entry of the view.
    pub fn internal_iter(&self) -> Box<dyn InternalIterator> {
        Box::new(self.mem.iter())
    }
}
