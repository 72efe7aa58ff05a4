//! `Options` (how a database is opened) and `WriteOptions` (how one write is made
//! durable), plain structs with documented defaults in the manner of LevelDB's
//! `options.h`.

use std::sync::Arc;

use crate::fs::{FileSystem, OsFs};
pub use crate::sstable::Compression;
pub use crate::wal::RecoveryMode;

/// How to open a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Create the directory and an empty database if none exists.
    /// Default: `true`.
    pub create_if_missing: bool,
    /// Fail with `InvalidArgument` if the directory already holds a database.
    /// Default: `false`.
    pub error_if_exists: bool,
    /// What recovery does with a write-ahead log damaged anywhere but its torn tail.
    /// Default: [`RecoveryMode::TolerateTornTail`] (damage fails `open` with
    /// `Corruption`; nothing acknowledged is silently dropped).
    pub wal_recovery_mode: RecoveryMode,
    /// Upper bound on the bytes of write batches one group commit coalesces into a
    /// single WAL record. Larger groups mean fewer WAL appends and fsyncs under
    /// concurrency, at the cost of latency for the writers that wait in the group.
    /// Default: 1 MiB.
    pub max_write_group_bytes: usize,
    /// Bytes of writes the active memtable takes before it becomes immutable and is
    /// queued for flush to an L0 table (a new memtable and WAL start). Larger means
    /// fewer, bigger L0 tables and more memory; it also bounds the WAL replayed at open.
    /// Default: 64 MiB.
    pub write_buffer_size: usize,
    /// How many immutable memtables may wait for flush before writers stall until one
    /// is flushed (counted in `Stats::write_stalls`). Default: 2.
    pub max_immutable_memtables: usize,
    /// Number of L0 tables that triggers an L0 → L1 compaction. Default: 4.
    pub l0_compaction_trigger: usize,
    /// Number of L0 tables at which each write group is delayed by the time its bytes
    /// take at `delayed_write_rate`, giving compaction time to catch up (counted in
    /// `Stats`). Default: 20.
    pub l0_slowdown_writes_trigger: usize,
    /// Number of L0 tables at which writes stop until compaction brings the count down.
    /// Must be above `l0_compaction_trigger` (else `Db::open` fails with
    /// `InvalidArgument`). Default: 36.
    pub l0_stop_writes_trigger: usize,
    /// Bytes per second writes are held to while L0 is at or over
    /// `l0_slowdown_writes_trigger`. Default: 16 MiB/s.
    pub delayed_write_rate: u64,
    /// Background threads for flushes and compactions. Flushes go first, and at most
    /// `max_background_jobs - 1` compactions run at once (tables no other compaction
    /// holds), so one thread is always free to flush. At least 2. Default: the number
    /// of CPUs, between 2 and 4.
    pub max_background_jobs: usize,
    /// Smallest target of the base level (the level L0 compacts into). Targets derive
    /// from the largest level, each level `level_multiplier` times smaller than the one
    /// below, and levels whose target would fall under this one stay empty. Default:
    /// 64 MiB.
    pub max_bytes_for_level_base: u64,
    /// Size ratio between adjacent levels. Default: 10.
    pub level_multiplier: u64,
    /// Size at which a compaction cuts its output into a new table. Default: 32 MiB.
    pub target_file_size: u64,
    /// How many tables are kept open (footer, index and filter in memory).
    /// Default: 1000.
    pub max_open_files: usize,
    /// Bytes of uncompressed data blocks cached in memory, shared by all tables.
    /// 0 disables the cache. Default: 64 MiB.
    pub block_cache_bytes: usize,
    /// Target uncompressed size of a table's data block. Smaller blocks mean less read
    /// amplification per point lookup and a bigger index. Default: 4 KiB.
    pub block_size: usize,
    /// Bloom filter bits per key (0: no filter). 10 gives about a 1% false-positive
    /// rate, so a lookup of a missing key touches about one table in a hundred. At
    /// most 100 (`Db::open` fails with `InvalidArgument` above). Default: 10.
    pub bloom_bits_per_key: usize,
    /// How data blocks are compressed. Default: [`Compression::Lz4`].
    pub compression: Compression,
    /// The file system the database lives on. Tests use [`crate::fs::MemFs`] to
    /// simulate crashes and inject faults. Default: [`OsFs`], the real one.
    pub fs: Arc<dyn FileSystem>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create_if_missing: true,
            error_if_exists: false,
            wal_recovery_mode: RecoveryMode::default(),
            max_write_group_bytes: 1 << 20,
            write_buffer_size: 64 << 20,
            max_immutable_memtables: 2,
            l0_compaction_trigger: 4,
            l0_slowdown_writes_trigger: 20,
            l0_stop_writes_trigger: 36,
            delayed_write_rate: 16 << 20,
            max_background_jobs: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(2, 4),
            max_bytes_for_level_base: 64 << 20,
            level_multiplier: 10,
            target_file_size: 32 << 20,
            max_open_files: 1000,
            block_cache_bytes: 64 << 20,
            block_size: 4096,
            bloom_bits_per_key: 10,
            compression: Compression::Lz4,
            fs: Arc::new(OsFs),
        }
    }
}

/// The most bloom filter bits per key `Db::open` accepts: beyond about 20 the
/// false-positive rate is already below one in ten thousand, and more only costs memory.
const MAX_BLOOM_BITS_PER_KEY: usize = 100;

impl Options {
    /// Rejects settings the engine cannot run with, as `Error::InvalidArgument`.
    pub(crate) fn validate(&self) -> crate::Result<()> {
        let bad = |m: String| Err(crate::Error::InvalidArgument(m));
        let compaction = self.l0_compaction_trigger.max(1);
        if self.l0_stop_writes_trigger <= compaction {
            return bad(format!(
                "l0_stop_writes_trigger ({}) must be above l0_compaction_trigger ({compaction}): \
                 writes would stop before a compaction of L0 could start",
                self.l0_stop_writes_trigger
            ));
        }
        if self.bloom_bits_per_key > MAX_BLOOM_BITS_PER_KEY {
            return bad(format!(
                "bloom_bits_per_key ({}) is above {MAX_BLOOM_BITS_PER_KEY}",
                self.bloom_bits_per_key
            ));
        }
        Ok(())
    }
}

/// How to make one write durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Fsync the write-ahead log before acknowledging the write, so the write survives
    /// a power loss. Without it the write survives a process crash only (it is in the
    /// operating system's cache when acknowledged). Concurrent synced writes share one
    /// fsync through group commit. Default: `false`.
    pub sync: bool,
}

impl WriteOptions {
    /// Options for a write that is fsynced before it is acknowledged.
    pub fn synced() -> Self {
        WriteOptions { sync: true }
    }
}

impl From<&Options> for crate::sstable::TableOptions {
    fn from(o: &Options) -> Self {
        crate::sstable::TableOptions {
            block_size: o.block_size,
            bloom_bits_per_key: o.bloom_bits_per_key,
            compression: o.compression,
            ..Default::default()
        }
    }
}
