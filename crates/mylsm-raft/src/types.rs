//! The Raft type configuration: node ids, the client writes a log entry carries, and
//! what applying one answers.

use std::io::Cursor;

use serde::{Deserialize, Serialize};

openraft::declare_raft_types!(
    /// The openraft type configuration of a replicated mylsm: `u64` node ids,
    /// [`BasicNode`](openraft::BasicNode) addresses, [`Request`] log payloads,
    /// [`Response`] answers and snapshots held in memory as bytes.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A node's id in the cluster.
pub type NodeId = u64;

/// A log entry of [`TypeConfig`].
pub type Entry = openraft::Entry<TypeConfig>;

/// A log id of [`TypeConfig`].
pub type LogId = openraft::LogId<NodeId>;

/// The error every storage method returns.
pub type StorageError = openraft::StorageError<NodeId>;

/// The cluster configuration as last applied, with the id of the entry that set it.
pub type StoredMembership = openraft::StoredMembership<NodeId, openraft::BasicNode>;

/// The metadata of a state-machine snapshot.
pub type SnapshotMeta = openraft::SnapshotMeta<NodeId, openraft::BasicNode>;

/// A client write, replicated through the log and applied in log order on every
/// replica. Applying it depends only on the state machine and the request, so every
/// replica computes the same state and the same [`Response`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Sets `key` to `value` in the data keyspace.
    Set {
        /// The key.
        key: Vec<u8>,
        /// The new value.
        value: Vec<u8>,
    },
    /// Deletes `key` from the data keyspace.
    Del {
        /// The key.
        key: Vec<u8>,
    },
    /// Adds `by` to the signed decimal integer stored at `key` (a missing key counts as
    /// 0) and stores the sum as decimal text, as Redis' `INCRBY` does. A current value
    /// that is not a decimal `i64`, or a sum that overflows, answers
    /// [`Response::Invalid`] and changes nothing, alike on every replica.
    IncrBy {
        /// The key.
        key: Vec<u8>,
        /// The amount to add (negative to subtract).
        by: i64,
    },
    /// Several requests applied in order, atomically with the entry that carries them.
    Batch(Vec<Request>),
}

/// What applying one log entry answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// The entry carried no client request (a blank or membership entry).
    None,
    /// A [`Request::Set`] was applied.
    Ok,
    /// A [`Request::Del`] was applied; `true` if the key existed.
    Deleted(bool),
    /// A [`Request::IncrBy`] was applied; the key's new value.
    Int(i64),
    /// The answers to a [`Request::Batch`], in order.
    Batch(Vec<Response>),
    /// The request could not be applied (a key or value over the engine's limits, an
    /// increment of a non-integer or one that overflows) and changed nothing; every
    /// replica refuses it alike.
    Invalid(String),
}
