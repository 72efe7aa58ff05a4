//! `LevelIter`: iterates the sorted, non-overlapping tables of one level (L1 and below)
//! as one sorted run, opening each table only when the cursor reaches it.
//!
//! This is LevelDB's two-level iterator over a `LevelFileNumIterator`, without the
//! file-list iterator: the files are a slice, so a seek binary-searches it directly.
//! Unlike LevelDB, an error in one table stops the walk instead of skipping to the next
//! table, so a caller that ignores `status` sees a short run, never a run with a hole.

use std::cmp::Ordering;
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::LazyTableIter;
use crate::iter::InternalIterator;
use crate::key::InternalKeyComparator;
use crate::table_cache::TableCache;
use crate::version::FileMeta;
use crate::{Error, Result};

/// A cursor over the files of one sorted level. Holding the `FileMeta`s pins the files
/// for as long as the iterator lives.
pub(crate) struct LevelIter {
    tables: Arc<TableCache>,
    /// Sorted by key, non-overlapping (a level of a `Version`, or a run of it).
    files: Vec<Arc<FileMeta>>,
    /// The file `cur` reads, with its index in `files`.
    cur: Option<(usize, LazyTableIter)>,
    /// The first error met in any file; it ends the walk.
    error: Option<Error>,
    /// Whether blocks read go into the block cache.
    fill_cache: bool,
}

impl LevelIter {
    pub fn new(tables: Arc<TableCache>, files: Vec<Arc<FileMeta>>) -> Self {
        LevelIter { tables, files, cur: None, error: None, fill_cache: true }
    }

    /// This iterator, caching the blocks it reads only if `fill`.
    pub fn filling(mut self, fill: bool) -> Self {
        self.fill_cache = fill;
        self
    }

    /// Points `cur` at file `i`, reusing the open cursor if it already reads that file.
    fn open(&mut self, i: usize) -> &mut LazyTableIter {
        if self.cur.as_ref().is_some_and(|(at, _)| *at != i) {
            self.cur = None;
        }
        let (tables, files, fill) = (&self.tables, &self.files, self.fill_cache);
        &mut self
            .cur
            .get_or_insert_with(|| {
                (i, LazyTableIter::new(Arc::clone(tables), Arc::clone(&files[i])).filling(fill))
            })
            .1
    }

    /// Drops the cursor if its file failed, keeping the error; true if it failed.
    fn latch_error(&mut self) -> bool {
        let Some((_, it)) = &self.cur else { return false };
        match it.status() {
            Ok(()) => false,
            Err(e) => {
                self.error.get_or_insert(e);
                self.cur = None;
                true
            }
        }
    }

    /// Moves past exhausted files towards the end of the level.
    fn skip_forward(&mut self) {
        while let Some((i, it)) = &self.cur {
            if it.valid() {
                return;
            }
            let next = *i + 1;
            if self.latch_error() || next == self.files.len() {
                self.cur = None;
                return;
            }
            self.open(next).seek_to_first();
        }
    }

    /// Moves past exhausted files towards the start of the level.
    fn skip_backward(&mut self) {
        while let Some((i, it)) = &self.cur {
            if it.valid() {
                return;
            }
            let Some(prev) = i.checked_sub(1) else {
                self.latch_error();
                self.cur = None;
                return;
            };
            if self.latch_error() {
                return;
            }
            self.open(prev).seek_to_last();
        }
    }

    /// Whether the walk was stopped by an error; a stopped iterator stays unpositioned.
    fn stopped(&self) -> bool {
        self.error.is_some()
    }
}

impl InternalIterator for LevelIter {
    fn valid(&self) -> bool {
        self.cur.as_ref().is_some_and(|(_, it)| it.valid())
    }

    fn seek(&mut self, target: &[u8]) {
        // The first file whose largest key is at or after the target holds the answer,
        // unless the target falls past its last entry (then the next file's first does).
        let i = self.files.partition_point(|f| {
            InternalKeyComparator.compare(&f.largest, target) == Ordering::Less
        });
        if self.stopped() || i == self.files.len() {
            self.cur = None;
            return;
        }
        self.open(i).seek(target);
        self.skip_forward();
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        // The last file whose smallest key is at or before the target.
        let n = self.files.partition_point(|f| {
            InternalKeyComparator.compare(&f.smallest, target) != Ordering::Greater
        });
        if self.stopped() || n == 0 {
            self.cur = None;
            return;
        }
        self.open(n - 1).seek_for_prev(target);
        self.skip_backward();
    }

    fn seek_to_first(&mut self) {
        if self.stopped() || self.files.is_empty() {
            self.cur = None;
            return;
        }
        self.open(0).seek_to_first();
        self.skip_forward();
    }

    fn seek_to_last(&mut self) {
        if self.stopped() || self.files.is_empty() {
            self.cur = None;
            return;
        }
        self.open(self.files.len() - 1).seek_to_last();
        self.skip_backward();
    }

    fn next(&mut self) {
        if let Some((_, it)) = &mut self.cur {
            it.next();
            self.skip_forward();
        }
    }

    fn prev(&mut self) {
        if let Some((_, it)) = &mut self.cur {
            it.prev();
            self.skip_backward();
        }
    }

    fn key(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |(_, it)| it.key())
    }

    fn value(&self) -> &[u8] {
        self.cur.as_ref().map_or(&[], |(_, it)| it.value())
    }

    fn value_view(&self) -> Option<crate::Value> {
        self.cur.as_ref().and_then(|(_, it)| it.value_view())
    }

    fn status(&self) -> Result<()> {
        match (&self.error, &self.cur) {
            (Some(e), _) => Err(e.clone()),
            (None, Some((_, it))) => it.status(),
            (None, None) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compaction::testing::{TestTables, DIR};
    use crate::filename;
    use crate::iter::conformance::{check_iterator, random_entries, Entry, KeyShape, ALL_SHAPES};
    use crate::key;

    /// Splits sorted `entries` into up to `n` tables, never between two versions of
    /// one user key, as a sorted level requires.
    fn level_of(t: &TestTables, entries: &[Entry], n: usize) -> Vec<Arc<FileMeta>> {
        let mut files = Vec::new();
        let mut start = 0;
        for i in 1..=entries.len() {
            let boundary = i == entries.len()
                || (i - start >= entries.len() / n.max(1)
                    && key::user_key(&entries[i].0) != key::user_key(&entries[i - 1].0));
            if boundary && i > start {
                files.push(t.table(&entries[start..i]));
                start = i;
            }
        }
        files
    }

    #[test]
    fn level_iterator_conforms_over_many_tables() {
        for (i, shape) in ALL_SHAPES.into_iter().enumerate() {
            for n in [1, 3, 8] {
                let t = TestTables::new();
                let entries = random_entries(shape, 300, i as u64);
                let files = level_of(&t, &entries, n);
                let make = || -> Box<dyn InternalIterator> {
                    Box::new(LevelIter::new(Arc::clone(&t.cache), files.clone()))
                };
                check_iterator(&entries, &make, 10 * i as u64 + n as u64);
            }
        }
    }

    #[test]
    fn empty_level_iterator_conforms() {
        let t = TestTables::new();
        check_iterator(&[], &|| Box::new(LevelIter::new(Arc::clone(&t.cache), Vec::new())), 3);
    }

    #[test]
    fn a_damaged_table_stops_the_walk_with_corruption() {
        let t = TestTables::new();
        let entries = random_entries(KeyShape::Binary, 300, 5);
        let files = level_of(&t, &entries, 3);
        let path = filename::table_file(std::path::Path::new(DIR), files[1].number);
        let mut bytes = t.fs.file_contents(&path).unwrap();
        bytes[10] ^= 0x40;
        t.fs.write_file(&path, &bytes);

        let mut it = LevelIter::new(Arc::clone(&t.cache), files.clone());
        it.seek_to_first();
        let mut seen = 0;
        while it.valid() {
            seen += 1;
            it.next();
        }
        assert!(it.status().unwrap_err().is_corruption());
        // The walk stopped in the damaged table: nothing of the third table was read.
        assert!(seen < entries.len() - t.read(&files[2]).len());
        it.seek_to_first();
        assert!(!it.valid(), "an iterator that met damage stays stopped");
    }
}
