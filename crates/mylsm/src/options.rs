//! `Options` (how a database is opened) and `WriteOptions` (how one write is made
//! durable), plain structs with documented defaults in the manner of LevelDB's
//! `options.h`; and their split into database-wide settings (`DbOptions`) and the
//! settings of one tree (`TreeOptions`), which is what the engine reads.

use std::sync::Arc;
use std::time::Duration;

use crate::compaction::CompactionOptions;
use crate::expiry::{Clock, SystemClock};
use crate::filter::CompactionFilterFactory;
use crate::fs::{FileSystem, OsFs};
use crate::merge::MergeOperator;
pub use crate::sstable::Compression;
pub use crate::wal::RecoveryMode;

/// How to open a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// Create the directory and an empty database if the directory holds none (no
    /// `CURRENT` file). With `false`, opening a directory that holds no database fails
    /// with `InvalidArgument` ("no database at DIR") and writes nothing into it.
    /// A directory without `CURRENT` that holds tables or non-empty logs is never taken
    /// for a new database: that is `Corruption`. Default: `true`.
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
    /// At least 1 (`Db::open` fails with `InvalidArgument` on 0). Default: 1 MiB.
    pub max_write_group_bytes: usize,
    /// Bytes of writes the active memtable takes before it becomes immutable and is
    /// queued for flush to an L0 table (a new memtable and WAL start). Larger means
    /// fewer, bigger L0 tables and more memory; it also bounds the WAL replayed at open
    /// (which open writes into an L0 table, so logs never pile up across opens). At
    /// least 1 (`Db::open` fails with `InvalidArgument` on 0). Default: 64 MiB.
    pub write_buffer_size: usize,
    /// Bytes the live WAL may reach before every keyspace's memtable is cut loose and
    /// flushed and a new WAL starts, whatever their sizes. With many keyspaces sharing
    /// the WAL, each memtable may be far from full while the WAL holds their sum; this
    /// caps the WAL (and what an open replays). At least 1 (`Db::open` fails with
    /// `InvalidArgument` on 0). Default: 256 MiB.
    pub max_total_wal_size: u64,
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
    /// `l0_slowdown_writes_trigger`. At least 1 (`Db::open` fails with
    /// `InvalidArgument` on 0). Default: 16 MiB/s.
    pub delayed_write_rate: u64,
    /// Background threads for flushes and compactions. Flushes go first, and at most
    /// `max_background_jobs - 1` compactions run at once (tables no other compaction
    /// holds), so one thread is always free to flush. At least 2 (`Db::open` fails with
    /// `InvalidArgument` below). Default: the number of CPUs, between 2 and 4.
    pub max_background_jobs: usize,
    /// Smallest target of the base level (the level L0 compacts into). Targets derive
    /// from the largest level, each level `level_multiplier` times smaller than the one
    /// below, and levels whose target would fall under this one stay empty. Default:
    /// 64 MiB.
    pub max_bytes_for_level_base: u64,
    /// Size ratio between adjacent levels. Default: 10.
    pub level_multiplier: u64,
    /// Size at which a compaction cuts its output into a new table. At least 1 KiB
    /// (`Db::open` fails with `InvalidArgument` below). Default: 32 MiB.
    pub target_file_size: u64,
    /// How many tables are kept open (footer, index and filter in memory). At least 1
    /// (`Db::open` fails with `InvalidArgument` on 0). Default: 1000.
    pub max_open_files: usize,
    /// Bytes of uncompressed data blocks cached in memory, shared by all tables.
    /// 0 disables the cache. Default: 64 MiB.
    pub block_cache_bytes: usize,
    /// Target uncompressed size of a table's data block. Smaller blocks mean less read
    /// amplification per point lookup and a bigger index. At least 1 (`Db::open` fails
    /// with `InvalidArgument` on 0). Default: 4 KiB.
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
    /// The default keyspace's merge operator (see [`crate::merge`]); `None`: merges
    /// into the default keyspace fail with `InvalidArgument`. Default: `None`.
    pub merge_operator: Option<Arc<dyn MergeOperator>>,
    /// Merge operators a keyspace may name, found by name at open (the built-in ones,
    /// [`crate::merge::U64Add`] and [`crate::merge::Append`], are always known). Open
    /// fails with `InvalidArgument` if a keyspace names one that is in neither.
    /// Default: empty.
    pub merge_operators: Vec<Arc<dyn MergeOperator>>,
    /// Makes the compaction filter of each compaction, in every keyspace (see
    /// [`crate::filter`]). Default: `None`.
    pub compaction_filter: Option<Arc<dyn CompactionFilterFactory>>,
    /// The clock expiring values are judged by. Default: [`SystemClock`].
    pub clock: Arc<dyn Clock>,
    /// How often a background worker looks for tables whose entries have all expired,
    /// to compact them away without waiting for ordinary compaction. Default: 60 s.
    pub expiry_check_interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            create_if_missing: true,
            error_if_exists: false,
            wal_recovery_mode: RecoveryMode::default(),
            max_write_group_bytes: 1 << 20,
            write_buffer_size: 64 << 20,
            max_total_wal_size: 256 << 20,
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
            merge_operator: None,
            merge_operators: Vec::new(),
            compaction_filter: None,
            clock: Arc::new(SystemClock),
            expiry_check_interval: Duration::from_secs(60),
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
        if self.max_background_jobs < 2 {
            return bad(format!(
                "max_background_jobs ({}) must be at least 2: one worker is kept free for \
                 flushes, so compactions need another",
                self.max_background_jobs
            ));
        }
        if self.target_file_size < MIN_TARGET_FILE_SIZE {
            return bad(format!(
                "target_file_size ({}) is below {MIN_TARGET_FILE_SIZE} bytes: compactions \
                 would write a table per entry",
                self.target_file_size
            ));
        }
        let zero = [
            ("delayed_write_rate", self.delayed_write_rate == 0),
            ("max_total_wal_size", self.max_total_wal_size == 0),
            ("write_buffer_size", self.write_buffer_size == 0),
            ("max_write_group_bytes", self.max_write_group_bytes == 0),
            ("max_open_files", self.max_open_files == 0),
            ("block_size", self.block_size == 0),
        ];
        if let Some((name, _)) = zero.iter().find(|(_, z)| *z) {
            return bad(format!("{name} must be at least 1"));
        }
        Ok(())
    }

    /// The database-wide settings.
    pub(crate) fn db_options(&self) -> DbOptions {
        DbOptions {
            create_if_missing: self.create_if_missing,
            error_if_exists: self.error_if_exists,
            wal_recovery_mode: self.wal_recovery_mode,
            max_write_group_bytes: self.max_write_group_bytes,
            max_total_wal_size: self.max_total_wal_size,
            max_background_jobs: self.max_background_jobs,
            max_open_files: self.max_open_files,
            block_cache_bytes: self.block_cache_bytes,
            fs: Arc::clone(&self.fs),
            clock: Arc::clone(&self.clock),
            compaction_filter: self.compaction_filter.clone(),
            expiry_check_interval: self.expiry_check_interval,
        }
    }

    /// The settings of the database's tree.
    pub(crate) fn tree_options(&self) -> TreeOptions {
        TreeOptions {
            write_buffer_size: self.write_buffer_size,
            max_immutable_memtables: self.max_immutable_memtables.max(1),
            l0_slowdown_writes_trigger: self.l0_slowdown_writes_trigger,
            l0_stop_writes_trigger: self.l0_stop_writes_trigger,
            delayed_write_rate: self.delayed_write_rate,
            compaction: CompactionOptions {
                l0_compaction_trigger: self.l0_compaction_trigger,
                max_bytes_for_level_base: self.max_bytes_for_level_base,
                level_multiplier: self.level_multiplier,
                target_file_size: self.target_file_size,
            },
            table: crate::sstable::TableOptions::from(self),
            merge: self.merge_operator.clone(),
            max_merge_operands: DEFAULT_MAX_MERGE_OPERANDS,
        }
    }

    /// The merge operator `name` names: a registered one or a built-in.
    pub(crate) fn find_merge_operator(&self, name: &str) -> Option<Arc<dyn MergeOperator>> {
        let mut registered = self.merge_operators.iter().chain(&self.merge_operator);
        registered.find(|m| m.name() == name).cloned().or_else(|| crate::merge::builtin(name))
    }
}

/// How many merge operands of one key a memtable takes before the next merge is
/// written as the merged value instead.
const DEFAULT_MAX_MERGE_OPERANDS: usize = 64;

impl Options {
    /// The settings of a keyspace created with the options `encoded`
    /// (`KeyspaceOptions::encode`; empty: this `Options`' own, as for the default
    /// keyspace). `name` and `manifest` (the file that holds them) are for the error.
    pub(crate) fn keyspace_tree_options(
        &self,
        encoded: &[u8],
        name: &str,
        manifest: &std::path::Path,
    ) -> crate::Result<TreeOptions> {
        if encoded.is_empty() {
            return Ok(self.tree_options());
        }
        let (ks, merge_name) = KeyspaceOptions::decode(encoded).ok_or_else(|| {
            crate::Error::corruption(
                manifest,
                0,
                format!("options of keyspace {name:?} do not decode"),
            )
        })?;
        let mut opts = ks.apply_to(self).tree_options();
        opts.max_merge_operands = ks.max_merge_operands;
        opts.merge = match merge_name {
            Some(n) => Some(self.find_merge_operator(&n).ok_or_else(|| {
                crate::Error::InvalidArgument(format!(
                    "keyspace {name:?} uses merge operator {n:?}, which is neither built in \
                     nor in Options::merge_operators"
                ))
            })?),
            None => None,
        };
        Ok(opts)
    }
}

/// How one keyspace is tuned (RocksDB's column family options, fjall's keyspace
/// options). They are stored with the keyspace when it is created and used at every
/// open; the settings not listed here (L0 triggers, level sizes, stalls) are the
/// database's [`Options`].
///
/// ```
/// let opts = mylsm::KeyspaceOptions { bloom_bits_per_key: 16, ..Default::default() };
/// assert_eq!(opts.block_size, 4096);
/// ```
#[derive(Debug, Clone)]
pub struct KeyspaceOptions {
    /// Bytes of writes its memtable takes before it is flushed. Default: 64 MiB.
    pub write_buffer_size: usize,
    /// Target uncompressed size of a data block. Default: 4 KiB.
    pub block_size: usize,
    /// Bloom filter bits per key (0: none; at most 100). Default: 10.
    pub bloom_bits_per_key: usize,
    /// How data blocks are compressed. Default: [`Compression::Lz4`].
    pub compression: Compression,
    /// Size at which a compaction cuts its output into a new table (at least 1 KiB).
    /// Default: 32 MiB.
    pub target_file_size: u64,
    /// The keyspace's merge operator (see [`crate::merge`]). Its name is stored with
    /// the keyspace: later opens find it by name ([`Options::merge_operators`], or a
    /// built-in) and fail if they cannot. Default: `None`.
    pub merge_operator: Option<Arc<dyn MergeOperator>>,
    /// How many merge operands of one key the memtable takes before a merge is written
    /// as the merged value instead, so that a read never walks a long chain. At least
    /// 1. Default: 64.
    pub max_merge_operands: usize,
}

impl PartialEq for KeyspaceOptions {
    fn eq(&self, o: &Self) -> bool {
        let name = |k: &KeyspaceOptions| k.merge_operator.as_ref().map(|m| m.name().to_string());
        (self.write_buffer_size, self.block_size, self.bloom_bits_per_key, self.compression)
            == (o.write_buffer_size, o.block_size, o.bloom_bits_per_key, o.compression)
            && self.target_file_size == o.target_file_size
            && self.max_merge_operands == o.max_merge_operands
            && name(self) == name(o)
    }
}

impl Eq for KeyspaceOptions {}

impl Default for KeyspaceOptions {
    fn default() -> Self {
        KeyspaceOptions::from(&Options::default())
    }
}

impl From<&Options> for KeyspaceOptions {
    /// The keyspace settings `options` give the default keyspace.
    fn from(o: &Options) -> Self {
        KeyspaceOptions {
            write_buffer_size: o.write_buffer_size,
            block_size: o.block_size,
            bloom_bits_per_key: o.bloom_bits_per_key,
            compression: o.compression,
            target_file_size: o.target_file_size,
            merge_operator: o.merge_operator.clone(),
            max_merge_operands: DEFAULT_MAX_MERGE_OPERANDS,
        }
    }
}

impl KeyspaceOptions {
    /// `base` with these settings in place of its own.
    pub(crate) fn apply_to(&self, base: &Options) -> Options {
        Options {
            write_buffer_size: self.write_buffer_size,
            block_size: self.block_size,
            bloom_bits_per_key: self.bloom_bits_per_key,
            compression: self.compression,
            target_file_size: self.target_file_size,
            merge_operator: self.merge_operator.clone(),
            ..base.clone()
        }
    }

    /// The tree settings of a keyspace with these options in a database opened with
    /// `base`.
    pub(crate) fn tree_options(&self, base: &Options) -> TreeOptions {
        let mut t = self.apply_to(base).tree_options();
        t.max_merge_operands = self.max_merge_operands.max(1);
        t
    }

    /// The stored form: `(tag varint, value varint)*`; tags 1 write_buffer_size,
    /// 2 block_size, 3 bloom_bits_per_key, 4 compression (0 none, 1 LZ4, 2 Zstd),
    /// 5 target_file_size, 6 the merge operator's name (the value is its length, the
    /// bytes follow), 7 max_merge_operands. A reader skips tags 100 and above and
    /// refuses other unknown ones, so builds before merge operators refuse a keyspace
    /// that has one.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let compression = match self.compression {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd => 2,
        };
        let mut out = Vec::new();
        for (tag, v) in [
            (1, self.write_buffer_size as u64),
            (2, self.block_size as u64),
            (3, self.bloom_bits_per_key as u64),
            (4, compression),
            (5, self.target_file_size),
        ] {
            crate::coding::put_varint64(&mut out, tag);
            crate::coding::put_varint64(&mut out, v);
        }
        if let Some(m) = &self.merge_operator {
            crate::coding::put_varint64(&mut out, 6);
            crate::coding::put_varint64(&mut out, m.name().len() as u64);
            out.extend_from_slice(m.name().as_bytes());
            crate::coding::put_varint64(&mut out, 7);
            crate::coding::put_varint64(&mut out, self.max_merge_operands as u64);
        }
        out
    }

    /// Decodes `encode`'s output, with the stored merge operator's name (the operator
    /// itself is found by name at open); `None` if it is malformed.
    pub(crate) fn decode(bytes: &[u8]) -> Option<(KeyspaceOptions, Option<String>)> {
        let mut r = crate::coding::Reader::new(bytes);
        let mut o = KeyspaceOptions { merge_operator: None, ..KeyspaceOptions::default() };
        let mut merge_name = None;
        while !r.is_empty() {
            let tag = r.varint64("tag").ok()?;
            let v = r.varint64("value").ok()?;
            let size = usize::try_from(v).ok();
            match tag {
                1 => o.write_buffer_size = size?,
                2 => o.block_size = size?,
                3 => o.bloom_bits_per_key = size?,
                4 => {
                    o.compression = match v {
                        0 => Compression::None,
                        1 => Compression::Lz4,
                        2 => Compression::Zstd,
                        _ => return None,
                    }
                }
                5 => o.target_file_size = v,
                6 => {
                    let name = r.bytes(size?, "merge operator name").ok()?;
                    merge_name = Some(String::from_utf8(name.to_vec()).ok()?);
                }
                7 => o.max_merge_operands = size?.max(1),
                t if t >= 100 => {}
                _ => return None,
            }
        }
        Some((o, merge_name))
    }
}

/// The smallest `target_file_size` open accepts.
const MIN_TARGET_FILE_SIZE: u64 = 1 << 10;

/// What applies to the whole database: its files, threads and caches. (RocksDB's
/// `DBOptions`, fjall's `Config`.)
#[derive(Debug, Clone)]
pub(crate) struct DbOptions {
    pub create_if_missing: bool,
    pub error_if_exists: bool,
    pub wal_recovery_mode: RecoveryMode,
    pub max_write_group_bytes: usize,
    pub max_total_wal_size: u64,
    pub max_background_jobs: usize,
    pub max_open_files: usize,
    pub block_cache_bytes: usize,
    pub fs: Arc<dyn FileSystem>,
    pub clock: Arc<dyn Clock>,
    pub compaction_filter: Option<Arc<dyn CompactionFilterFactory>>,
    pub expiry_check_interval: Duration,
}

impl DbOptions {
    /// How many background compactions may run at once: one worker is kept for flushes.
    pub fn max_compactions(&self) -> usize {
        self.max_background_jobs.saturating_sub(1).max(1)
    }
}

/// What applies to one tree: its memtables, stall policy, level shape and table
/// layout. (RocksDB's `ColumnFamilyOptions`, fjall's keyspace options.)
#[derive(Debug, Clone)]
pub(crate) struct TreeOptions {
    pub write_buffer_size: usize,
    pub max_immutable_memtables: usize,
    pub l0_slowdown_writes_trigger: usize,
    pub l0_stop_writes_trigger: usize,
    pub delayed_write_rate: u64,
    pub compaction: CompactionOptions,
    pub table: crate::sstable::TableOptions,
    pub merge: Option<Arc<dyn MergeOperator>>,
    pub max_merge_operands: usize,
}

/// How one write is made durable, and whether it may wait.
///
/// Build it with [`WriteOptions::synced`] or the `with_` methods (new fields may come,
/// so it cannot be written as a struct literal outside this crate):
///
/// ```
/// let opts = mylsm::WriteOptions::synced().with_no_slowdown(true);
/// assert!(opts.sync && opts.no_slowdown);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriteOptions {
    /// Fsync the write-ahead log before acknowledging the write, so the write survives
    /// a power loss. Without it the write survives a process crash only (it is in the
    /// operating system's cache when acknowledged). Concurrent synced writes share one
    /// fsync through group commit. Default: `false`.
    pub sync: bool,
    /// Fail with [`Error::WouldStall`](crate::Error::WouldStall) instead of waiting when
    /// the database is stalling writes (L0 or the flush queue too long), writing
    /// nothing: for a server that would rather answer "busy" than hold a client.
    /// Default: `false`.
    pub no_slowdown: bool,
}

impl WriteOptions {
    /// The defaults: not fsynced, and may wait in a stall.
    pub const fn new() -> Self {
        WriteOptions { sync: false, no_slowdown: false }
    }

    /// Options for a write that is fsynced before it is acknowledged.
    pub const fn synced() -> Self {
        WriteOptions { sync: true, no_slowdown: false }
    }

    /// These options with `sync` set to `sync`.
    pub const fn with_sync(mut self, sync: bool) -> Self {
        self.sync = sync;
        self
    }

    /// These options with `no_slowdown` set to `no_slowdown`.
    pub const fn with_no_slowdown(mut self, no_slowdown: bool) -> Self {
        self.no_slowdown = no_slowdown;
        self
    }
}

/// How one read goes about it ([`Readable::range_opt`](crate::Readable::range_opt)).
/// Every block read from disk is checked against its checksum whatever the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Put the blocks the read loads from disk into the block cache. A long scan that
    /// will not be repeated sets it to `false`, so it does not push out the blocks that
    /// point lookups keep hitting (blocks already cached are used either way).
    /// Default: `true`.
    pub fill_cache: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions::new()
    }
}

impl ReadOptions {
    /// The defaults: fill the cache.
    pub const fn new() -> Self {
        ReadOptions { fill_cache: true }
    }

    /// These options with `fill_cache` set to `fill_cache`.
    pub const fn with_fill_cache(mut self, fill_cache: bool) -> Self {
        self.fill_cache = fill_cache;
        self
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
