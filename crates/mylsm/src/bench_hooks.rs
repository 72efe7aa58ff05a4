//! Thin wrappers that let the criterion benchmarks reach internal hot paths: the seek in
//! a data block and the backward walk through one, the bloom filter probe and the append
//! to the write-ahead log.
//!
//! Test scaffolding behind the `bench-hooks` feature, with no stability promise:
//! `crates/mylsm/benches/hot_paths.rs` is its only caller. Each wrapper forwards to the
//! crate-private type the engine itself uses, so a benchmark times the engine's code and
//! nothing added here.

use std::path::Path;
use std::sync::Arc;

use crate::fs::WritableFile;
use crate::iter::InternalIterator;
use crate::key::{self, Kind};
use crate::sstable::{self, Block, BlockBuilder, BlockLoc, FilterBuilder, TableOptions};
use crate::{wal, Result};

/// The internal key that a point lookup of `user_key` at snapshot `seqno` seeks to.
pub fn lookup_key(user_key: &[u8], seqno: u64) -> Vec<u8> {
    key::lookup_key(user_key, seqno)
}

/// Lays out a data block as the table builder does, with the default restart interval.
#[derive(Debug)]
pub struct DataBlockBuilder {
    inner: BlockBuilder,
    scratch: Vec<u8>,
}

impl Default for DataBlockBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl DataBlockBuilder {
    /// An empty block builder with the default restart interval.
    pub fn new() -> Self {
        let restart_interval = TableOptions::default().restart_interval;
        DataBlockBuilder { inner: BlockBuilder::new(restart_interval), scratch: Vec::new() }
    }

    /// Appends a put of `user_key` at `seqno`. User keys must ascend.
    pub fn add_put(&mut self, user_key: &[u8], seqno: u64, value: &[u8]) {
        self.scratch.clear();
        key::append_internal_key(&mut self.scratch, user_key, seqno, Kind::Put);
        self.inner.add(&self.scratch, value);
    }

    /// Whether the table builder would cut the block now: it has reached the default
    /// block size.
    pub fn is_full(&self) -> bool {
        self.inner.size_estimate() >= TableOptions::default().block_size
    }

    /// The block's size in bytes once finished.
    pub fn size_estimate(&self) -> usize {
        self.inner.size_estimate()
    }

    /// The finished block, ready to seek in.
    pub fn finish(mut self) -> DataBlock {
        let data: Arc<[u8]> = self.inner.finish().into();
        let loc = BlockLoc { file: Arc::from(Path::new("/bench/000001.sst")), offset: 0 };
        #[expect(
            clippy::expect_used,
            reason = "`Block::new` accepts every block `BlockBuilder::finish` lays out"
        )]
        let inner = Block::new(data, loc).expect("a block from BlockBuilder is valid");
        DataBlock { inner }
    }
}

/// A finished, uncompressed data block.
#[derive(Debug)]
pub struct DataBlock {
    inner: Block,
}

impl DataBlock {
    /// What a table's point lookup does in the block its index chose: opens a cursor,
    /// seeks to `lookup_key` and reports whether the entry it lands on has the lookup's
    /// user key.
    pub fn point_seek(&self, lookup_key: &[u8]) -> bool {
        let mut it = self.inner.iter();
        it.seek(lookup_key);
        it.valid() && key::user_key(it.key()) == key::user_key(lookup_key)
    }

    /// What a reverse scan does in the block: opens a cursor at the last entry and steps
    /// back to the first. Returns the entries met.
    pub fn scan_backward(&self) -> u64 {
        let mut it = self.inner.iter();
        it.seek_to_last();
        let mut n = 0;
        while it.valid() {
            n += 1;
            it.prev();
        }
        n
    }
}

/// A table's bloom filter over user keys, built as the table builder builds it.
#[derive(Debug)]
pub struct BloomFilter {
    inner: sstable::BloomFilter,
}

impl BloomFilter {
    /// The filter of a table holding `user_keys` (distinct), at `bits_per_key`.
    pub fn build<'a>(user_keys: impl IntoIterator<Item = &'a [u8]>, bits_per_key: usize) -> Self {
        let mut builder = FilterBuilder::new(bits_per_key);
        for k in user_keys {
            builder.add_key(k);
        }
        #[expect(
            clippy::expect_used,
            reason = "`BloomFilter::new` accepts every filter `FilterBuilder::finish` lays out"
        )]
        let inner = sstable::BloomFilter::new(builder.finish().into())
            .expect("a filter from FilterBuilder is valid");
        BloomFilter { inner }
    }

    /// False only if `user_key` was certainly not added.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        self.inner.may_contain(user_key)
    }
}

/// Appends records to a log file in the WAL format.
#[derive(Debug)]
pub struct LogWriter {
    inner: wal::LogWriter,
}

impl LogWriter {
    /// A writer appending to `file`.
    pub fn new(file: Box<dyn WritableFile>) -> Self {
        LogWriter { inner: wal::LogWriter::new(file) }
    }

    /// Appends one record, without syncing.
    ///
    /// # Errors
    /// Any I/O error of the file's append.
    pub fn add_record(&mut self, data: &[u8]) -> Result<()> {
        self.inner.add_record(data)
    }
}
