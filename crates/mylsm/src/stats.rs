//! `Stats`: a point-in-time report of the database's sizes and counters.

/// Files and bytes of one level.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct LevelStats {
    /// Number of table files.
    pub files: u64,
    /// Total size of those files.
    pub bytes: u64,
    /// The size the level is kept under (0 for L0, which is kept by file count).
    pub target_bytes: u64,
    /// Compaction score: files over the trigger for L0, bytes over the target below;
    /// a level scoring 1 or more is compacted.
    pub score: f64,
}

/// Sizes and counters, as returned by `Db::stats`.
#[derive(Debug, Clone, Default, PartialEq)]
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
    /// Compactions run since open (trivial moves included).
    pub compactions: u64,
    /// The most background compactions that ran at the same time since open.
    pub compactions_peak_parallel: u64,
    /// Bytes of tables compactions read and wrote since open. Write amplification is
    /// `(flushed_bytes + compaction_written_bytes) / bytes written by the user`.
    pub compaction_read_bytes: u64,
    /// (See `compaction_read_bytes`.)
    pub compaction_written_bytes: u64,
    /// Entries compactions dropped: overwritten versions no snapshot needed, and
    /// tombstones that reached the bottom.
    pub compaction_dropped_entries: u64,
    /// Stripes of merge operands that compaction could not merge (the operator failed)
    /// and kept as they were.
    pub merge_failures: u64,
    /// WAL records written by group commit since open (one per group).
    pub write_groups: u64,
    /// Write batches committed since open; `write_batches / write_groups` is the
    /// average group size.
    pub write_batches: u64,
    /// WAL fsyncs since open.
    pub wal_syncs: u64,
    /// Write groups delayed or stopped, all causes together (a group that waited for
    /// two reasons counts once per reason).
    pub write_stalls: u64,
    /// Total time writers spent stalled, in microseconds.
    pub stall_micros: u64,
    /// Stalls because too many memtables were waiting for flush, and their time (µs).
    pub stalls_memtables: u64,
    /// (See `stalls_memtables`.)
    pub stall_micros_memtables: u64,
    /// Groups delayed (at `delayed_write_rate`) because L0 reached
    /// `l0_slowdown_writes_trigger`, and the time.
    pub stalls_l0_slowdown: u64,
    /// (See `stalls_l0_slowdown`.)
    pub stall_micros_l0_slowdown: u64,
    /// Groups stopped because L0 reached `l0_stop_writes_trigger`, and time.
    pub stalls_l0_stop: u64,
    /// (See `stalls_l0_stop`.)
    pub stall_micros_l0_stop: u64,
    /// Key and value bytes of every put and delete written since open.
    pub user_bytes_written: u64,
    /// `(flushed_bytes + compaction_written_bytes) / user_bytes_written` since open
    /// (0 before the first write): bytes of tables written per byte the user wrote.
    pub write_amplification: f64,
    /// Data-block reads served from the block cache.
    pub block_cache_hits: u64,
    /// Data-block reads that went to the file.
    pub block_cache_misses: u64,
    /// Point lookups that consulted a table's bloom filter.
    pub filter_checks: u64,
    /// Of those, lookups the filter answered "absent" (a block read spared).
    pub filter_negatives: u64,
    /// Of those, lookups the filter let through that found nothing in the table.
    /// The false-positive rate is `filter_false_positives / (filter_negatives +
    /// filter_false_positives)`.
    pub filter_false_positives: u64,
    /// Bytes held by the block cache.
    pub block_cache_bytes: u64,
    /// The block cache's budget in bytes (`Options::block_cache_bytes`).
    pub block_cache_capacity: u64,
    /// Set when this open used `RecoveryMode::PointInTime` and discarded a damaged log
    /// tail: which file, at which offset, and why.
    pub recovery_truncated: Option<String>,
}
