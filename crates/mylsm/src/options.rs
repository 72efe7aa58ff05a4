//! `Options` (how a database is opened) and `WriteOptions` (how one write is made
//! durable), plain structs with documented defaults in the manner of LevelDB's
//! `options.h`.

use std::sync::Arc;

use crate::fs::{FileSystem, OsFs};
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
            fs: Arc::new(OsFs),
        }
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
