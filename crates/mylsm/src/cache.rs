//! `BlockCache`: uncompressed data blocks shared by every open table, bounded in bytes.
//!
//! Keys are (table file number, block offset). File numbers are never reused, so a
//! deleted table's blocks can never be mistaken for another's; they simply age out.
//! Only data blocks pass through the cache: each open table holds its own index and
//! filter. Eviction is `quick_cache`'s CLOCK-Pro-like policy, weighted by block length.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;

/// Weighs a cached block by its length, so the capacity is a byte budget.
#[derive(Debug, Clone, Copy)]
struct BlockWeighter;

impl Weighter<(u64, u64), Arc<[u8]>> for BlockWeighter {
    fn weight(&self, _key: &(u64, u64), block: &Arc<[u8]>) -> u64 {
        // A zero weight would never be evicted; blocks are never empty, but be safe.
        (block.len() as u64).max(1)
    }
}

/// Blocks by (file number, offset), weighed by length.
type BlockMap = Cache<(u64, u64), Arc<[u8]>, BlockWeighter>;

/// A byte-bounded cache of uncompressed data blocks; capacity 0 disables it.
#[derive(Debug)]
pub(crate) struct BlockCache {
    cache: Option<BlockMap>,
    capacity: u64,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The block size the cache expects on average, to size its tables.
const TYPICAL_BLOCK: u64 = 4096;

impl BlockCache {
    pub fn new(capacity_bytes: u64) -> Self {
        let cache = (capacity_bytes > 0).then(|| {
            let items = usize::try_from(capacity_bytes / TYPICAL_BLOCK).unwrap_or(usize::MAX);
            Cache::with_weighter(items.max(16), capacity_bytes, BlockWeighter)
        });
        BlockCache {
            cache,
            capacity: capacity_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The block at `offset` of table `file_number`, if cached. Counts a hit or a miss.
    pub fn get(&self, file_number: u64, offset: u64) -> Option<Arc<[u8]>> {
        let found = self.cache.as_ref().and_then(|c| c.get(&(file_number, offset)));
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Caches a block just read from disk.
    pub fn insert(&self, file_number: u64, offset: u64, block: Arc<[u8]>) {
        if let Some(c) = &self.cache {
            c.insert((file_number, offset), block);
        }
    }

    /// Bytes of blocks held now.
    pub fn usage(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| c.weight())
    }

    /// The byte budget given at creation.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_found_after_insertion_and_counted() {
        let c = BlockCache::new(1 << 20);
        assert!(c.get(1, 0).is_none());
        c.insert(1, 0, Arc::from(vec![7u8; 100]));
        assert_eq!(c.get(1, 0).as_deref(), Some(&[7u8; 100][..]));
        assert!(c.get(2, 0).is_none(), "keyed by file number too");
        assert_eq!((c.hits(), c.misses()), (1, 2));
        assert_eq!(c.usage(), 100);
    }

    #[test]
    fn usage_stays_within_the_byte_budget() {
        let c = BlockCache::new(64 << 10);
        for i in 0..1000 {
            c.insert(1, i * 4096, Arc::from(vec![0u8; 4096]));
            assert!(c.usage() <= c.capacity(), "usage {} after {i}", c.usage());
        }
        assert!(c.usage() > 0);
    }

    #[test]
    fn capacity_zero_caches_nothing() {
        let c = BlockCache::new(0);
        c.insert(1, 0, Arc::from(vec![1u8; 10]));
        assert!(c.get(1, 0).is_none());
        assert_eq!((c.usage(), c.capacity(), c.misses()), (0, 0, 1));
    }
}
