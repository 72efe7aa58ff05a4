//! Sorted string tables: immutable files of internal entries that flushes and
//! compactions write and reads search through a sparse index and a bloom filter.
//!
//! ```text
//! table      := data_block* filter_block? index_block properties_block meta_index_block
//!               footer
//! each block := contents  compression: u8  checksum: fixed32      (the 5-byte trailer)
//! meta_index := block names ("mylsm.filter", "mylsm.properties") -> block handles
//! footer     := 64 bytes at the end of the file, naming the index and meta-index
//!               blocks (see `footer.rs`)
//! ```
//!
//! The layout is LevelDB's `table_format.md` with a fixed-width footer, one bloom filter
//! for the whole table instead of a filter per 2 KiB of data, and a properties block
//! listed in the meta-index. That is format version 2; format 1 tables, whose footer
//! names the filter and properties itself and which have no meta-index, are still
//! read. `docs/table_format.md` is the byte-exact description; each writer file's
//! header carries the grammar of what it writes.
//!
//! Principal types: [`TableBuilder`] writes a table, [`Table`] reads one (point lookups
//! through [`Table::get`], scans through [`TableIter`]), [`TableOptions`] shapes it.

mod block;
mod block_builder;
mod builder;
mod compression;
mod file_meta;
mod filter;
mod footer;
mod meta_index;
mod properties;
mod raw_block;
mod reader;
mod table_iter;

#[cfg(test)]
mod block_tests;
#[cfg(test)]
mod corruption_tests;
#[cfg(test)]
mod format_v1_tests;
#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod test_util;

// The block layer is internal to tables; `crate::fuzzing` and `crate::bench_hooks`
// (each behind its feature) reach it through these.
#[cfg(any(feature = "fuzzing", feature = "bench-hooks"))]
pub(crate) use block::{Block, BlockLoc};
#[cfg(any(feature = "fuzzing", feature = "bench-hooks"))]
pub(crate) use block_builder::BlockBuilder;
pub(crate) use builder::TableBuilder;
pub use compression::Compression;
pub use file_meta::FileMeta;
#[cfg(feature = "bench-hooks")]
pub(crate) use filter::BloomFilter;
#[cfg(feature = "bench-hooks")]
pub(crate) use filter::FilterBuilder;
#[cfg(feature = "fuzzing")]
pub(crate) use footer::BlockHandle;
pub(crate) use properties::KeyspaceTag;
pub use properties::TableProperties;
#[cfg(feature = "fuzzing")]
pub(crate) use raw_block::read_block;
pub use reader::{BlockInfo, FilterInfo};
pub(crate) use reader::{FilterCounters, Table};
pub(crate) use table_iter::TableIter;

/// How a table is laid out; the defaults are LevelDB's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableOptions {
    /// Uncompressed bytes after which a data block is cut. Smaller blocks make a point
    /// lookup read and decode less; larger ones compress better and shrink the index.
    /// Default: 4096.
    pub block_size: usize,
    /// Keys between restart points in a data block. Larger saves space through prefix
    /// compression; smaller makes a seek scan fewer entries. Default: 16.
    pub restart_interval: usize,
    /// Bloom filter bits per distinct user key; 0 writes no filter. 10 bits give about
    /// a 1% false-positive rate. Default: 10.
    pub bloom_bits_per_key: usize,
    /// How data blocks are compressed. Default: [`Compression::Lz4`].
    pub compression: Compression,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            block_size: 4096,
            restart_interval: 16,
            bloom_bits_per_key: 10,
            compression: Compression::default(),
        }
    }
}
