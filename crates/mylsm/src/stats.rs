//! `Stats`: a point-in-time report of the database's sizes and counters.

/// Files and bytes of one level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// Number of table files.
    pub files: u64,
    /// Total size of those files.
    pub bytes: u64,
}

/// Sizes and counters, as returned by `Db::stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The newest sequence number visible to reads.
    pub last_seqno: u64,
    /// Bytes the active memtable's arena has allocated.
    pub memtable_bytes: u64,
    /// Versions (puts and deletes) held by the active memtable.
    pub memtable_entries: u64,
    /// Memtables waiting for flush.
    pub immutable_memtables: u64,
    /// Bytes held by the memtables waiting for flush.
    pub immutable_bytes: u64,
    /// Per level, L0 first.
    pub levels: Vec<LevelStats>,
    /// Memtables flushed to L0 since open.
    pub flushes: u64,
    /// Bytes of tables written by flushes since open.
    pub flushed_bytes: u64,
    /// WAL records written by group commit since open (one per group).
    pub write_groups: u64,
    /// Write batches committed since open; `write_batches / write_groups` is the
    /// average group size.
    pub write_batches: u64,
    /// WAL fsyncs since open.
    pub wal_syncs: u64,
    /// Times a writer stalled because too many memtables were waiting for flush.
    pub write_stalls: u64,
    /// Total time writers spent stalled, in microseconds.
    pub stall_micros: u64,
    /// Data-block reads served from the block cache.
    pub block_cache_hits: u64,
    /// Data-block reads that went to the file.
    pub block_cache_misses: u64,
    /// Bytes held by the block cache.
    pub block_cache_bytes: u64,
    /// The block cache's budget in bytes (`Options::block_cache_bytes`).
    pub block_cache_capacity: u64,
    /// Set when this open used `RecoveryMode::PointInTime` and discarded a damaged log
    /// tail: which file, at which offset, and why.
    pub recovery_truncated: Option<String>,
}
