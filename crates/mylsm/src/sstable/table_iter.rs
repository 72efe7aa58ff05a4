//! `TableIter`: a cursor over a whole table, an index-block cursor driving data-block
//! cursors (LevelDB's `TwoLevelIterator`, specialised to tables).
//!
//! The cursor holds an `Arc<Table>`, so the table (and its file) stays open while any
//! cursor over it lives. The first error — a damaged or unreadable block — is kept,
//! leaves the cursor invalid for good and is reported by `status`.

use std::sync::Arc;

use super::block::BlockIter;
use super::Table;
use crate::iter::InternalIterator;
use crate::key::InternalKeyComparator;
use crate::{Error, Result};
use mylsm_skiplist::Comparator;

/// An [`InternalIterator`] over every entry of a table.
#[derive(Debug)]
pub(crate) struct TableIter {
    table: Arc<Table>,
    index: BlockIter,
    data: Option<BlockIter>,
    /// The index value (block handle) `data` was read from, so that moving back onto
    /// the same block does not read it again.
    data_handle: Vec<u8>,
    err: Option<Error>,
    /// For an ingested table (global seqno > 0): the current key with that seqno.
    patched: Vec<u8>,
    /// Whether blocks read from disk go into the block cache.
    fill_cache: bool,
}

impl TableIter {
    pub(super) fn new(table: Arc<Table>) -> Self {
        let index = table.index_iter();
        TableIter {
            table,
            index,
            data: None,
            data_handle: Vec::new(),
            err: None,
            patched: vec![],
            fill_cache: true,
        }
    }

    /// This cursor, caching the blocks it reads only if `fill`.
    pub(super) fn filling(mut self, fill: bool) -> Self {
        self.fill_cache = fill;
        self
    }

    /// After a move: the current key as read at the table's global seqno, if it has one.
    fn patch(&mut self) {
        let g = self.table.global_seqno();
        if g != 0 && self.valid() {
            let stored = self.data.as_ref().map_or(&[][..], |d| d.key());
            crate::key::set_with_seqno(&mut self.patched, stored, g);
        }
    }

    fn raw_seek(&mut self, target: &[u8]) {
        if self.err.is_none() {
            self.index.seek(target);
            self.load_data_block();
            if let Some(d) = &mut self.data {
                d.seek(target);
            }
            self.skip_forward();
        }
    }

    fn raw_seek_for_prev(&mut self, target: &[u8]) {
        if self.err.is_none() {
            // Entries at or before `target` lie in the first block whose separator is
            // at or after it, or earlier; past every separator, in the last block.
            self.index.seek(target);
            if !self.index.valid() && self.index.status().is_ok() {
                self.index.seek_to_last();
            }
            self.load_data_block();
            if let Some(d) = &mut self.data {
                d.seek_for_prev(target);
            }
            self.skip_backward();
        }
    }

    fn raw_next(&mut self) {
        if let Some(d) = &mut self.data {
            d.next();
        }
        self.skip_forward();
    }

    fn raw_prev(&mut self) {
        if let Some(d) = &mut self.data {
            d.prev();
        }
        self.skip_backward();
    }

    fn fail(&mut self, e: Error) {
        self.err.get_or_insert(e);
        self.data = None;
    }

    /// Points `data` at the block the index cursor is on (none once the index is
    /// exhausted). The caller positions it.
    fn load_data_block(&mut self) {
        if !self.index.valid() {
            if let Err(e) = self.index.status() {
                self.fail(e);
            }
            self.data = None;
            return;
        }
        if self.data.is_some() && self.data_handle == self.index.value() {
            return;
        }
        match self.table.data_block_filling(self.index.value(), self.fill_cache) {
            Ok(block) => {
                self.data_handle.clear();
                self.data_handle.extend_from_slice(self.index.value());
                self.data = Some(block.iter_reusing(self.data.take()));
            }
            Err(e) => self.fail(e),
        }
    }

    /// Whether the data cursor is exhausted (recording its error, if it has one).
    fn data_exhausted(&mut self) -> bool {
        match &self.data {
            Some(d) if d.valid() => false,
            Some(d) => {
                if let Err(e) = d.status() {
                    self.fail(e);
                }
                true
            }
            None => true,
        }
    }

    /// Moves forward past exhausted blocks to the first entry of the next non-empty one.
    fn skip_forward(&mut self) {
        while self.err.is_none() && self.data.is_some() && self.data_exhausted() {
            if self.err.is_some() {
                return;
            }
            self.index.next();
            self.load_data_block();
            if let Some(d) = &mut self.data {
                d.seek_to_first();
            }
        }
    }

    /// Moves backward past exhausted blocks to the last entry of the previous one.
    fn skip_backward(&mut self) {
        while self.err.is_none() && self.data.is_some() && self.data_exhausted() {
            if self.err.is_some() {
                return;
            }
            self.index.prev();
            self.load_data_block();
            if let Some(d) = &mut self.data {
                d.seek_to_last();
            }
        }
    }
}

impl InternalIterator for TableIter {
    fn valid(&self) -> bool {
        self.err.is_none() && self.data.as_ref().is_some_and(|d| d.valid())
    }

    fn seek(&mut self, target: &[u8]) {
        if self.table.global_seqno() == 0 {
            return self.raw_seek(target);
        }
        // Stored seqnos are not the ones read: seek to the user key's first entry,
        // then step past entries that read as before the target.
        let user = crate::key::user_key(target);
        self.raw_seek(&crate::key::lookup_key(user, crate::key::MAX_SEQNO));
        self.patch();
        while self.valid() && InternalKeyComparator.compare(&self.patched, target).is_lt() {
            self.raw_next();
            self.patch();
        }
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        if self.table.global_seqno() == 0 {
            return self.raw_seek_for_prev(target);
        }
        let user = crate::key::user_key(target);
        self.raw_seek_for_prev(&crate::key::last_key_of(user));
        self.patch();
        while self.valid() && InternalKeyComparator.compare(&self.patched, target).is_gt() {
            self.raw_prev();
            self.patch();
        }
    }

    fn seek_to_first(&mut self) {
        if self.err.is_none() {
            self.index.seek_to_first();
            self.load_data_block();
            if let Some(d) = &mut self.data {
                d.seek_to_first();
            }
            self.skip_forward();
        }
        self.patch();
    }

    fn seek_to_last(&mut self) {
        if self.err.is_none() {
            self.index.seek_to_last();
            self.load_data_block();
            if let Some(d) = &mut self.data {
                d.seek_to_last();
            }
            self.skip_backward();
        }
        self.patch();
    }

    fn next(&mut self) {
        debug_assert!(self.valid());
        self.raw_next();
        self.patch();
    }

    fn prev(&mut self) {
        debug_assert!(self.valid());
        self.raw_prev();
        self.patch();
    }

    fn key(&self) -> &[u8] {
        if self.table.global_seqno() != 0 {
            return &self.patched;
        }
        self.data.as_ref().map_or(&[], |d| d.key())
    }

    fn value(&self) -> &[u8] {
        self.data.as_ref().map_or(&[], |d| d.value())
    }

    fn value_view(&self) -> Option<crate::Value> {
        self.data.as_ref().filter(|d| d.valid()).map(|d| d.value_slice())
    }

    fn status(&self) -> Result<()> {
        if let Some(e) = &self.err {
            return Err(e.clone());
        }
        self.index.status()?;
        self.data.as_ref().map_or(Ok(()), |d| d.status())
    }
}
