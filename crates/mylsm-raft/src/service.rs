//! What a node does for a request that reached it: the Raft RPCs handed to openraft,
//! and the client calls (write, linearizable read, membership) done here as the leader.
//!
//! A client call that arrives here is never forwarded again: a node that is not the
//! leader answers [`WireError::NotLeader`] and the forwarding node retries (see
//! `node.rs`), so a request cannot bounce between nodes while leadership moves.

use std::collections::BTreeSet;
use std::io;
use std::time::Duration;

use openraft::error::{
    ChangeMembershipError, CheckIsLeaderError, ClientWriteError, Fatal, RaftError,
};
use openraft::{BasicNode, Raft};
use serde::Serialize;

use crate::frame::{decode, encode, Kind};
use crate::network::WireError;
use crate::state_machine::StateMachine;
use crate::types::{NodeId, Request, Response, TypeConfig};

/// A node's Raft handle and state machine, as the RPC listener and the node's own
/// client calls use them.
pub(crate) struct Service {
    pub(crate) raft: Raft<TypeConfig>,
    pub(crate) sm: StateMachine,
    /// The bound on a client write or read, waiting for commit or quorum included.
    pub(crate) op_timeout: Duration,
    /// The bound on a membership change (adding a learner waits for its catch-up).
    pub(crate) membership_timeout: Duration,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("op_timeout", &self.op_timeout).finish_non_exhaustive()
    }
}

/// Maps an openraft error of a client call onto the wire error.
fn wire<E: std::error::Error>(
    e: RaftError<NodeId, E>,
    not_leader: Option<Option<NodeId>>,
) -> WireError {
    match (e, not_leader) {
        (_, Some(hint)) => WireError::NotLeader(hint),
        (RaftError::Fatal(Fatal::Stopped), None) => WireError::Shutdown,
        (e, None) => WireError::Raft(e.to_string()),
    }
}

fn write_error(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> WireError {
    if let RaftError::APIError(ClientWriteError::ChangeMembershipError(
        ChangeMembershipError::InProgress(p),
    )) = &e
    {
        return WireError::Busy(p.to_string());
    }
    let hint = e.forward_to_leader::<BasicNode>().map(|f| f.leader_id);
    wire(e, hint)
}

impl Service {
    /// Proposes `req` here, if this node is the leader, and answers what applying it
    /// answered.
    pub(crate) async fn local_write(&self, req: Request) -> Result<Response, WireError> {
        match tokio::time::timeout(self.op_timeout, self.raft.client_write(req)).await {
            Err(_) => Err(WireError::Timeout),
            Ok(Ok(resp)) => Ok(resp.data),
            Ok(Err(e)) => Err(write_error(e)),
        }
    }

    /// Reads `keys` after confirming, with a quorum, that this node is still the leader
    /// and its state machine has applied everything committed before the call.
    pub(crate) async fn local_read(
        &self,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<Option<Vec<u8>>>, WireError> {
        let confirmed = async {
            self.raft.ensure_linearizable().await.map_err(|e| {
                let hint = match &e {
                    RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => {
                        Some(f.leader_id)
                    }
                    _ => None,
                };
                wire(e, hint)
            })?;
            self.read_local(keys).await
        };
        match tokio::time::timeout(self.op_timeout, confirmed).await {
            Err(_) => Err(WireError::Timeout),
            Ok(r) => r,
        }
    }

    /// Reads `keys` from this replica's state machine as it is now.
    pub(crate) async fn read_local(
        &self,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<Option<Vec<u8>>>, WireError> {
        let data = self.sm.data().clone();
        let read = tokio::task::spawn_blocking(move || {
            keys.iter()
                .map(|k| data.get(k).map(|v| v.map(|v| v.to_vec())))
                .collect::<mylsm::Result<Vec<_>>>()
        });
        match read.await {
            Ok(Ok(values)) => Ok(values),
            Ok(Err(mylsm::Error::Closed)) => Err(WireError::Shutdown),
            Ok(Err(e)) => Err(WireError::Raft(format!("reading the state machine: {e}"))),
            Err(e) => Err(WireError::Raft(format!("reading the state machine: {e}"))),
        }
    }

    /// Adds `id` at `addr` as a learner and waits until it has caught up.
    pub(crate) async fn local_add_learner(
        &self,
        id: NodeId,
        addr: String,
    ) -> Result<(), WireError> {
        let add = self.raft.add_learner(id, BasicNode { addr }, true);
        match tokio::time::timeout(self.membership_timeout, add).await {
            Err(_) => Err(WireError::Timeout),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(write_error(e)),
        }
    }

    /// Makes `voters` the voting members; nodes dropped from it leave the cluster.
    pub(crate) async fn local_change_membership(
        &self,
        voters: BTreeSet<NodeId>,
    ) -> Result<(), WireError> {
        if voters.is_empty() {
            return Err(WireError::Invalid("a cluster needs at least one voter".into()));
        }
        let change = self.raft.change_membership(voters, false);
        match tokio::time::timeout(self.membership_timeout, change).await {
            Err(_) => Err(WireError::Timeout),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(write_error(e)),
        }
    }

    /// Handles one request frame and returns the reply's payload.
    ///
    /// # Errors
    /// `InvalidData` for a payload that does not decode as `kind`'s request: the
    /// listener then closes the connection.
    pub(crate) async fn dispatch(&self, kind: Kind, payload: &[u8]) -> io::Result<Vec<u8>> {
        match kind {
            Kind::AppendEntries => reply(self.raft.append_entries(decode(payload)?).await),
            Kind::Vote => reply(self.raft.vote(decode(payload)?).await),
            Kind::InstallSnapshot => reply(self.raft.install_snapshot(decode(payload)?).await),
            Kind::ClientWrite => reply(self.local_write(decode(payload)?).await),
            Kind::Read => reply(self.local_read(decode(payload)?).await),
            Kind::AddLearner => {
                let (id, addr): (NodeId, String) = decode(payload)?;
                reply(self.local_add_learner(id, addr).await)
            }
            Kind::ChangeMembership => reply(self.local_change_membership(decode(payload)?).await),
        }
    }
}

fn reply<T: Serialize>(value: T) -> io::Result<Vec<u8>> {
    encode(&value)
}
