//! `Engine`, the operations a key-value store offers the benchmark, and
//! `EngineConfig`, the budget every store is given so that they compete on equal terms.

use mylsm::Compression;

/// One entry of a write batch: a put when `value` is `Some`, else a delete.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// A key-value store as the workloads see it. Every method is called from several
/// threads at once, so implementations share one handle (`Sync`).
///
/// The methods hand keys and values to callbacks rather than returning them, so that
/// each store reads through its cheapest path (a pinned slice, a reference-counted
/// buffer) and no store pays for an allocation the others avoid.
pub trait Engine: Sync {
    /// The store's error type.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Applies `entries` atomically, as one batch (a B-tree: one transaction). With
    /// `sync` the batch is durable against power loss when this returns; without it,
    /// the store's weakest logged mode (see docs/benchmarks.md for each store's).
    fn write(&self, entries: &[Entry<'_>], sync: bool) -> Result<(), Self::Error>;

    /// The length of `key`'s value, `None` when absent.
    fn get(&self, key: &[u8]) -> Result<Option<usize>, Self::Error>;

    /// Positions at the first key at or after `key` and visits up to `limit` entries
    /// from there in key order.
    fn seek(
        &self,
        key: &[u8],
        limit: usize,
        visit: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Result<(), Self::Error>;

    /// Visits every entry in key order, or in reverse order when `reverse`.
    fn scan(&self, reverse: bool, visit: &mut dyn FnMut(&[u8], &[u8])) -> Result<(), Self::Error>;

    /// Deletes the keys in `[start, end)` with one write (a range tombstone); `Ok(false)`
    /// where the store has no range delete.
    fn delete_range(&self, start: &[u8], end: &[u8]) -> Result<bool, Self::Error> {
        let _ = (start, end);
        Ok(false)
    }

    /// Adds `n` to the u64 (little-endian) counter at `key` with a merge operand,
    /// reading nothing; `Ok(false)` where the store has no merge operator.
    fn merge_add(&self, key: &[u8], n: u64) -> Result<bool, Self::Error> {
        let _ = (key, n);
        Ok(false)
    }

    /// Adds `n` to the u64 (little-endian) counter at `key` by reading it and writing
    /// it back (not atomic between threads); `Ok(false)` where not implemented.
    fn update_add(&self, key: &[u8], n: u64) -> Result<bool, Self::Error> {
        let _ = (key, n);
        Ok(false)
    }

    /// In one optimistic transaction, reads `a` and `b` and writes both (each gets the
    /// other's value, or `a`'s key where absent); `Ok(Some(committed))`, `false` on a
    /// conflict; `Ok(None)` where the store has no such transactions.
    fn txn_swap(&self, a: &[u8], b: &[u8]) -> Result<Option<bool>, Self::Error> {
        let _ = (a, b);
        Ok(None)
    }

    /// Waits for the store's background work (flushes, compactions, deferred commits)
    /// so that the next workload starts from a settled store. Not timed.
    fn settle(&self) -> Result<(), Self::Error>;
}

/// The budget every store is opened with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Bytes of writes the active memtable takes before it is flushed.
    pub memtable_bytes: usize,
    /// Bytes of block cache (for a B-tree: its page cache, see `btree_cache_bytes`).
    pub cache_bytes: usize,
    /// Data block compression.
    pub compression: Compression,
    /// Bloom filter bits per key.
    pub bloom_bits_per_key: usize,
    /// Background threads for flushes and compactions (where the store has a pool).
    pub background_jobs: usize,
}

impl EngineConfig {
    /// The cache a B-tree store gets: the block cache plus the memtable, since an LSM
    /// tree holds both in memory and a B-tree's page cache is its only buffer.
    pub fn btree_cache_bytes(&self) -> usize {
        self.cache_bytes + self.memtable_bytes
    }
}

impl Default for EngineConfig {
    /// mylsm's defaults: 64 MiB memtable, 64 MiB block cache, LZ4, 10 bits per key.
    fn default() -> Self {
        let o = mylsm::Options::default();
        EngineConfig {
            memtable_bytes: o.write_buffer_size,
            cache_bytes: o.block_cache_bytes,
            compression: o.compression,
            bloom_bits_per_key: o.bloom_bits_per_key,
            background_jobs: o.max_background_jobs,
        }
    }
}

/// The `--compression` spelling of `c`.
pub fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}
