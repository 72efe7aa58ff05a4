//! Raft storage for mylsm on [openraft] 0.9: a [`LogStore`] (the replicated log and
//! the vote) and a [`StateMachine`] (the replicated data, its applied log id and
//! snapshots), both kept in keyspaces of a mylsm [`Db`](mylsm::Db) with the engine's
//! atomic cross-keyspace batches doing the crash-consistency work.
//!
//! [`TypeConfig`] fixes openraft's types: `u64` node ids, [`Request`] log payloads
//! (set, delete, batch) and [`Response`] answers. `docs/replication.md` describes the
//! key layout, the durability of every operation and the snapshot format.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mylsm_raft::{LogStore, StateMachine};
//! let dir = tempfile::tempdir()?;
//! let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
//! let log_store = LogStore::open(&db)?; // hand both to `openraft::Raft::new`
//! let state_machine = StateMachine::open(&db)?;
//! assert!(state_machine.data().iter().next().is_none());
//! # drop(log_store); Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![expect(
    clippy::result_large_err,
    reason = "openraft's traits fix the error type, StorageError; our helpers return it too"
)]

mod codec;
mod log_store;
pub mod snapshot_format;
mod state_machine;
mod types;

pub use log_store::{LogStore, LOG_KEYSPACE, LOG_META_KEYSPACE};
pub use state_machine::{SnapshotBuilder, StateMachine, DATA_KEYSPACE, SM_META_KEYSPACE};
pub use types::{
    Entry, LogId, NodeId, Request, Response, SnapshotMeta, StorageError, StoredMembership,
    TypeConfig,
};
