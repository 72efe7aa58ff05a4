//! Replicated mylsm on [openraft] 0.9: a networked [`RaftNode`] whose log and state
//! machine live in one mylsm [`Db`](mylsm::Db).
//!
//! - [`RaftNode`] (`node.rs`): start on a directory, initialize or join a cluster,
//!   [`write`](RaftNode::write) and linearizable [`get`](RaftNode::get) from any node
//!   (followers forward to the leader), membership changes, metrics, shutdown.
//! - The transport: length-prefixed postcard frames over TCP ([`frame`]), openraft's
//!   [`RaftNetwork`](openraft::network::RaftNetwork) in [`NetworkFactory`] /
//!   [`PeerNetwork`], a listener answering peers (`server.rs`, `service.rs`), and
//!   [`Faults`] to drop or delay a node's outgoing requests (partitions in tests and
//!   `DEBUG RAFT-DROP`).
//! - Storage: a [`LogStore`] (the replicated log and the vote) and a [`StateMachine`]
//!   (the replicated data, its applied log id and snapshots), kept in keyspaces of the
//!   node's database with the engine's atomic cross-keyspace batches doing the
//!   crash-consistency work; every engine call runs on tokio's blocking pool.
//!
//! [`TypeConfig`] fixes openraft's types: `u64` node ids, [`Request`] log payloads
//! (set, delete, increment, batch) and [`Response`] answers. `docs/replication.md`
//! describes the protocol, the key layout, the durability of every operation and the
//! snapshot format.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mylsm_raft::{LogStore, StateMachine};
//! let dir = tempfile::tempdir()?;
//! let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
//! let log_store = LogStore::open(&db)?; // what RaftNode::start hands to openraft
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
mod faults;
pub mod frame;
mod log_store;
mod network;
mod node;
mod server;
mod service;
pub mod snapshot_format;
mod state_machine;
mod types;

pub use faults::Faults;
pub use network::{NetworkFactory, PeerNetwork};
pub use node::{NodeConfig, NodeError, RaftNode};

pub use log_store::{LogStore, LOG_KEYSPACE, LOG_META_KEYSPACE};
pub use state_machine::{SnapshotBuilder, StateMachine, DATA_KEYSPACE, SM_META_KEYSPACE};
pub use types::{
    Entry, LogId, NodeId, Request, Response, SnapshotMeta, StorageError, StoredMembership,
    TypeConfig,
};
