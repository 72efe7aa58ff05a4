//! `Stats`: a point-in-time report of the database's sizes and counters.

/// Sizes and counters, as returned by `Db::stats`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The newest sequence number visible to reads.
    pub last_seqno: u64,
    /// Bytes held by the active memtable's arena.
    pub memtable_bytes: u64,
    /// Versions (puts and deletes) held by the active memtable.
    pub memtable_entries: u64,
    /// WAL records written by group commit since open (one per group).
    pub write_groups: u64,
    /// Write batches committed since open; `write_batches / write_groups` is the
    /// average group size.
    pub write_batches: u64,
    /// WAL fsyncs since open.
    pub wal_syncs: u64,
    /// Set when this open used `RecoveryMode::PointInTime` and discarded a damaged log
    /// tail: which file, at which offset, and why.
    pub recovery_truncated: Option<String>,
}
