//! Test helpers: tables written to a `MemFs` through the real builder, entries to fill
//! them, and file metadata for tests that need no files at all.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::filename;
use crate::fs::{FileSystem, MemFs};
use crate::iter::conformance::Entry;
use crate::iter::InternalIterator;
use crate::key::{append_internal_key, Kind};
use crate::sstable::{Compression, TableBuilder, TableOptions};
use crate::table_cache::TableCache;
use crate::version::FileMeta;
use crate::version::LazyTableIter;

/// The directory the test tables live in.
pub(crate) const DIR: &str = "/db";

/// An internal entry `(user_key, seqno, kind) -> value`.
pub(crate) fn entry(user_key: &[u8], seqno: u64, kind: Kind, value: &[u8]) -> Entry {
    let mut k = Vec::new();
    append_internal_key(&mut k, user_key, seqno, kind);
    (k, value.to_vec())
}

/// A table's metadata without a file: for the picker, which never reads one.
pub(crate) fn meta(number: u64, smallest: &[u8], largest: &[u8], size: u64) -> Arc<FileMeta> {
    Arc::new(FileMeta {
        number,
        size,
        smallest: entry(smallest, 9, Kind::Put, b"").0,
        largest: entry(largest, 1, Kind::Put, b"").0,
        smallest_seqno: 1,
        largest_seqno: 9,
        has_range_dels: false,
        expires_by: 0,
        global_seqno: 0,
        num_entries: 0,
        num_deletes: 0,
    })
}

/// A file system with a table cache over it and a file-number counter.
pub(crate) struct TestTables {
    pub fs: MemFs,
    pub cache: Arc<TableCache>,
    pub next_number: AtomicU64,
    /// Small blocks, so a few hundred entries make a table of many blocks.
    pub opts: TableOptions,
}

impl TestTables {
    pub fn new() -> Self {
        let fs = MemFs::new();
        fs.create_dir_all(Path::new(DIR)).unwrap();
        let shared: Arc<dyn FileSystem> = Arc::new(fs.clone());
        let blocks = Arc::new(BlockCache::new(1 << 20));
        let cache = Arc::new(TableCache::new(shared, DIR.into(), 100, blocks));
        let opts =
            TableOptions { block_size: 256, compression: Compression::None, ..Default::default() };
        TestTables { fs, cache, next_number: AtomicU64::new(1), opts }
    }

    pub fn new_file_number(&self) -> u64 {
        self.next_number.fetch_add(1, Ordering::Relaxed)
    }

    /// Writes `entries` (sorted, not empty) as a table with the next file number.
    pub fn table(&self, entries: &[Entry]) -> Arc<FileMeta> {
        let number = self.new_file_number();
        let path = filename::table_file(Path::new(DIR), number);
        let mut b = TableBuilder::new(self.fs.create(&path).unwrap(), path, self.opts.clone());
        for (k, v) in entries {
            b.add(k, v).unwrap();
        }
        let props = b.finish().unwrap();
        Arc::new(FileMeta::from_properties(number, props))
    }

    /// Writes `entries` (sorted) and range tombstones as a table.
    pub fn table_with_tombstones(
        &self,
        entries: &[Entry],
        tombstones: Vec<crate::range_del::Tombstone>,
    ) -> Arc<FileMeta> {
        let number = self.new_file_number();
        let path = filename::table_file(Path::new(DIR), number);
        let mut b = TableBuilder::new(self.fs.create(&path).unwrap(), path, self.opts.clone());
        b.set_range_tombstones(crate::range_del::Fragments::new(tombstones));
        for (k, v) in entries {
            b.add(k, v).unwrap();
        }
        let props = b.finish().unwrap();
        Arc::new(FileMeta::from_properties(number, props))
    }

    /// Every entry of table `file`, in order.
    pub fn read(&self, file: &FileMeta) -> Vec<Entry> {
        let mut it = LazyTableIter::new(Arc::clone(&self.cache), Arc::new(file.clone()));
        let mut out = Vec::new();
        it.seek_to_first();
        while it.valid() {
            out.push((it.key().to_vec(), it.value().to_vec()));
            it.next();
        }
        it.status().unwrap();
        out
    }
}
