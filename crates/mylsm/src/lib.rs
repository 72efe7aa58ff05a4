//! mylsm: an embeddable, crash-safe LSM-tree key-value storage engine.
//!
//! The principal types: [`Db`], an open database (cheap to clone, `Send + Sync`);
//! [`WriteBatch`], an atomic set of puts and deletes; [`Snapshot`], a read-only view
//! at one moment; [`Iter`], an ordered, double-ended iterator; [`Options`] and
//! [`WriteOptions`]; [`Error`].
//!
//! ```
//! # fn main() -> mylsm::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
//! db.put(b"user:1", b"ada")?;
//! let mut batch = mylsm::WriteBatch::new();
//! batch.put(b"user:2", b"grace");
//! batch.delete(b"user:1");
//! db.write_opt(batch, &mylsm::WriteOptions::synced())?;
//! assert_eq!(db.get(b"user:1")?, None);
//! let users: Vec<_> = db.prefix(b"user:").collect::<mylsm::Result<_>>()?;
//! assert_eq!(users.len(), 1);
//! db.close()?;
//! # Ok(()) }
//! ```
//!
//! Durability: a write acknowledged with `sync: true` survives power loss; one
//! acknowledged without it survives a crash of the process; after any crash the
//! database holds a prefix of the acknowledged history (see `docs/durability.md`).
//!
//! Cargo features, all off by default: `test-util` lets [`fs::MemFs`] make power-loss
//! and process-crash images of itself and inject I/O failures, for crash tests of your
//! own; `fuzzing` and `bench-hooks` open internals to this repository's fuzz targets and
//! benchmarks, with no stability promise.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// A panic in library code takes down the user's process; errors are returned instead.
// Where an invariant makes a failure impossible, `#[expect(.., reason)]` names it.
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::missing_errors_doc)]

pub mod backup;
mod batch;
#[cfg(feature = "bench-hooks")]
pub mod bench_hooks;
mod bounds;
mod cache;
pub mod checkpoint;
mod coding;
mod compaction;
mod db;
mod db_iter;
mod engine;
mod error;
pub mod expiry;
mod filename;
pub mod filter;
pub mod fs;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod ingest;
pub mod inspect;
mod iter;
mod jobs;
mod key;
mod keyspace;
mod latch;
mod maintenance;
mod memtable;
pub mod merge;
mod options;
mod range_del;
mod readable;
mod recovery;
pub mod repair;
mod resolve;
mod slice;
mod snapshot;
mod sst_writer;
mod sstable;
mod stats;
mod table_cache;
pub mod txn;
mod version;
mod view;
mod wal;
mod write;

pub use backup::{BackupEngine, BackupInfo, BackupVerifyReport};
pub use batch::{WriteBatch, MAX_KEY_LEN, MAX_VALUE_LEN};
pub use checkpoint::{CheckpointInfo, CheckpointOptions};
pub use db::Db;
pub use db_iter::{Iter, Keys};
pub use error::{Error, ErrorKind, Result};
pub use ingest::{IngestInfo, IngestOptions, IngestedFile};
pub use keyspace::{Keyspace, MAX_KEYSPACE_NAME_LEN};
pub use maintenance::VerifyReport;
pub use options::{Compression, KeyspaceOptions, Options, ReadOptions, RecoveryMode, WriteOptions};
pub use readable::Readable;
pub use repair::{repair, RepairReport};
pub use slice::{Key, Slice, Value};
pub use snapshot::Snapshot;
pub use sst_writer::{SstInfo, SstWriter};
pub use stats::{LevelStats, Stats};
pub use txn::{Isolation, Transaction, TxIter, TxOptions};

// The handles are shared across threads; a change that made one of them lose `Send` or
// `Sync` would break every multi-threaded user, so it fails the build instead.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    const fn send<T: Send>() {}
    send_sync::<Db>();
    send_sync::<Keyspace>();
    send_sync::<Snapshot>();
    send_sync::<WriteBatch>();
    send_sync::<Error>();
    send::<Iter>();
    send::<Transaction>();
    send::<TxIter>();
};

/// The README's example, compiled and run as a doctest so that it stays true.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
