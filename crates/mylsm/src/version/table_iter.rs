//! `LazyTableIter`: iterates one table, opening it through the table cache only when
//! first positioned, so building a view's iterator does no I/O.

use std::sync::Arc;

use crate::iter::InternalIterator;
use crate::sstable::TableIter;
use crate::table_cache::TableCache;
use crate::version::FileMeta;
use crate::{Error, Result};

/// An iterator over one table file that opens it on first use. Holding the `FileMeta`
/// keeps the file alive for as long as the iterator may read it.
pub(crate) struct LazyTableIter {
    tables: Arc<TableCache>,
    file: Arc<FileMeta>,
    it: Option<TableIter>,
    error: Option<Error>,
    /// Whether blocks read go into the block cache (`ReadOptions::fill_cache`).
    fill_cache: bool,
}

impl LazyTableIter {
    pub fn new(tables: Arc<TableCache>, file: Arc<FileMeta>) -> Self {
        LazyTableIter { tables, file, it: None, error: None, fill_cache: true }
    }

    /// This iterator, caching the blocks it reads only if `fill`.
    pub fn filling(mut self, fill: bool) -> Self {
        self.fill_cache = fill;
        self
    }

    /// The table's iterator, opening the table if needed; `None` if opening failed.
    fn open(&mut self) -> Option<&mut TableIter> {
        if self.it.is_none() && self.error.is_none() {
            match self.tables.get(&self.file) {
                Ok(table) => self.it = Some(table.iter_filling(self.fill_cache)),
                Err(e) => self.error = Some(e),
            }
        }
        self.it.as_mut()
    }
}

impl InternalIterator for LazyTableIter {
    fn valid(&self) -> bool {
        self.it.as_ref().is_some_and(|it| it.valid())
    }
    fn seek(&mut self, target: &[u8]) {
        if let Some(it) = self.open() {
            it.seek(target);
        }
    }
    fn seek_for_prev(&mut self, target: &[u8]) {
        if let Some(it) = self.open() {
            it.seek_for_prev(target);
        }
    }
    fn seek_to_first(&mut self) {
        if let Some(it) = self.open() {
            it.seek_to_first();
        }
    }
    fn seek_to_last(&mut self) {
        if let Some(it) = self.open() {
            it.seek_to_last();
        }
    }
    fn next(&mut self) {
        if let Some(it) = self.it.as_mut() {
            it.next();
        }
    }
    fn prev(&mut self) {
        if let Some(it) = self.it.as_mut() {
            it.prev();
        }
    }
    fn key(&self) -> &[u8] {
        self.it.as_ref().map_or(&[], |it| it.key())
    }
    fn value(&self) -> &[u8] {
        self.it.as_ref().map_or(&[], |it| it.value())
    }
    fn value_view(&self) -> Option<crate::Value> {
        self.it.as_ref().and_then(|it| it.value_view())
    }
    fn status(&self) -> Result<()> {
        match (&self.error, &self.it) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(it)) => it.status(),
            (None, None) => Ok(()),
        }
    }
}
