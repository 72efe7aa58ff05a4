//! The client side of the node-to-node transport: a [`Peer`] connection that sends one
//! framed request and waits for its reply, and openraft's [`RaftNetworkFactory`] /
//! [`RaftNetwork`] on top of it.
//!
//! Each openraft network client (one per replication stream or vote round) owns one
//! reusable TCP connection to its target, opened lazily and dropped after any error or
//! timeout (a late reply must never be read as the answer to the next request), so the
//! next request reconnects. Requests on one connection are strictly one at a time.
//!
//! Error mapping, which decides how openraft retries:
//!
//! | What happened | openraft error |
//! |---|---|
//! | blocked by [`Faults`], or no connection could be made | `RPCError::Unreachable` (backs off, request not sent) |
//! | no reply within `RPCOption::hard_ttl` | `RPCError::Timeout` |
//! | the connection failed after sending, or the reply did not decode | `RPCError::Network` |
//! | the peer's Raft answered an error | `RPCError::RemoteError` |
//!
//! Snapshots go chunk by chunk through `install_snapshot` (openraft's default
//! `full_snapshot` splits them into `snapshot_max_chunk_size` pieces), so every frame
//! stays small whatever the snapshot's size and the frame cap never blocks a transfer.

use std::io;
use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Timeout, Unreachable,
};
use openraft::network::{Backoff, RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, RPCTypes};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

use crate::faults::Faults;
use crate::frame::{self, read_frame, write_frame, Kind, REPLY};
use crate::types::{NodeId, TypeConfig};

/// Why a [`Peer::call`] got no reply.
#[derive(Debug, Clone)]
pub(crate) enum CallError {
    /// Not sent: blocked by a fault, or no connection could be made.
    Unreachable(String),
    /// Sent (perhaps), and no reply before the deadline: the outcome is unknown.
    Timeout,
    /// The connection failed after the request may have been sent, or the reply was
    /// not understood: the outcome is unknown.
    Network(String),
}

/// The error a forwarded client call answers with (the remote half of
/// [`NodeError`](crate::NodeError)).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WireError {
    /// The receiver is not the leader (its hint, if it knows one); nothing was done.
    NotLeader(Option<NodeId>),
    /// The receiver gave up waiting; the outcome is unknown.
    Timeout,
    /// openraft refused or failed.
    Raft(String),
    /// A membership change is still in progress; nothing was done, try again.
    Busy(String),
    /// The request was refused as invalid.
    Invalid(String),
    /// The receiver is shutting down.
    Shutdown,
}

/// One connection to a peer, opened on first use and after any failure.
#[derive(Debug)]
pub(crate) struct Peer {
    target: NodeId,
    addr: String,
    faults: Faults,
    conn: Option<TcpStream>,
}

impl Peer {
    pub(crate) fn new(target: NodeId, addr: String, faults: Faults) -> Peer {
        Peer { target, addr, faults, conn: None }
    }

    /// The address this peer connects to.
    pub(crate) fn addr(&self) -> &str {
        &self.addr
    }

    /// Sends `req` as a `kind` frame and decodes the reply, all within `ttl`.
    pub(crate) async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &mut self,
        kind: Kind,
        req: &Req,
        ttl: Duration,
    ) -> Result<Resp, CallError> {
        if self.faults.is_blocked(self.target) {
            self.conn = None;
            return Err(CallError::Unreachable(format!(
                "requests to node {} are dropped (fault injection)",
                self.target
            )));
        }
        let payload = frame::encode(req).map_err(|e| CallError::Unreachable(e.to_string()))?;
        let deadline = Instant::now() + ttl;
        let delay = self.faults.delay();
        if !delay.is_zero() {
            tokio::time::sleep(delay.min(ttl)).await;
        }
        let mut conn = match self.conn.take().filter(still_open) {
            Some(conn) => conn,
            None => match timeout_at(deadline, TcpStream::connect(&self.addr)).await {
                Err(_) => {
                    return Err(CallError::Unreachable(format!(
                        "connect to {}: timed out",
                        self.addr
                    )))
                }
                Ok(Err(e)) => {
                    return Err(CallError::Unreachable(format!("connect to {}: {e}", self.addr)))
                }
                Ok(Ok(conn)) => {
                    // Frames are written whole; waiting to coalesce only adds latency.
                    let _ = conn.set_nodelay(true);
                    conn
                }
            },
        };
        let exchange = async {
            write_frame(&mut conn, kind as u8, &payload).await?;
            read_frame(&mut conn).await
        };
        match timeout_at(deadline, exchange).await {
            Err(_) => Err(CallError::Timeout),
            Ok(Err(e)) => Err(CallError::Network(format!("{}: {e}", self.addr))),
            Ok(Ok((reply_kind, bytes))) => {
                if reply_kind != kind as u8 | REPLY {
                    return Err(CallError::Network(format!(
                        "{}: reply of another kind",
                        self.addr
                    )));
                }
                let resp = frame::decode(&bytes)
                    .map_err(|e| CallError::Network(format!("{}: bad reply: {e}", self.addr)))?;
                self.conn = Some(conn);
                Ok(resp)
            }
        }
    }
}

/// Whether an idle connection can carry a request: the peer has not closed it (a
/// restarted or stopped peer has) and sent nothing unasked. Checking costs one
/// non-blocking read, and spares the request an error whose outcome would look unknown.
fn still_open(conn: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(conn.try_read(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

/// Makes openraft's network clients for one node: each a [`PeerNetwork`] with its own
/// connection, subject to the node's [`Faults`].
#[derive(Debug, Clone)]
pub struct NetworkFactory {
    id: NodeId,
    faults: Faults,
}

impl NetworkFactory {
    /// The factory of node `id`, whose outgoing requests `faults` may drop or delay.
    pub fn new(id: NodeId, faults: Faults) -> NetworkFactory {
        NetworkFactory { id, faults }
    }
}

/// openraft's client for one target node, over one reusable connection.
#[derive(Debug)]
pub struct PeerNetwork {
    id: NodeId,
    peer: Peer,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerNetwork;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerNetwork {
        PeerNetwork { id: self.id, peer: Peer::new(target, node.addr.clone(), self.faults.clone()) }
    }
}

type RpcResult<T, E = openraft::error::Infallible> =
    Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl PeerNetwork {
    async fn raft_call<Req, Resp, E>(
        &mut self,
        kind: Kind,
        action: RPCTypes,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let target = self.peer.target;
        let ttl = option.hard_ttl();
        match self.peer.call::<Req, Result<Resp, RaftError<NodeId, E>>>(kind, req, ttl).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(RPCError::RemoteError(RemoteError::new(target, e))),
            Err(CallError::Unreachable(m)) => {
                Err(RPCError::Unreachable(Unreachable::new(&io::Error::other(m))))
            }
            Err(CallError::Timeout) => {
                Err(RPCError::Timeout(Timeout { action, id: self.id, target, timeout: ttl }))
            }
            Err(CallError::Network(m)) => {
                Err(RPCError::Network(NetworkError::new(&io::Error::other(m))))
            }
        }
    }
}

impl RaftNetwork<TypeConfig> for PeerNetwork {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>> {
        self.raft_call(Kind::AppendEntries, RPCTypes::AppendEntries, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.raft_call(Kind::InstallSnapshot, RPCTypes::InstallSnapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>> {
        self.raft_call(Kind::Vote, RPCTypes::Vote, &rpc, &option).await
    }

    fn backoff(&self) -> Backoff {
        // Shorter than openraft's 500 ms: an unreachable peer here is usually a
        // partition the tests (or an operator) heal, and a reconnect costs little.
        Backoff::new(std::iter::repeat(Duration::from_millis(200)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A server that answers one frame per connection with `Ok(7u32)`, then closes it.
    async fn one_shot_server() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (kind, _) = read_frame(&mut conn).await.unwrap();
                let reply = frame::encode(&Ok::<u32, WireError>(7)).unwrap();
                write_frame(&mut conn, kind | REPLY, &reply).await.unwrap();
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_connection_the_peer_closed_is_replaced_before_sending() {
        let addr = one_shot_server().await;
        let mut peer = Peer::new(2, addr, Faults::new());
        let ttl = Duration::from_secs(5);
        for _ in 0..3 {
            let r: Result<u32, WireError> = peer.call(Kind::Read, &(), ttl).await.unwrap();
            assert_eq!(r.unwrap(), 7);
            // Let the server's close arrive before the next call.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn a_blocked_or_absent_peer_is_unreachable() {
        let addr = one_shot_server().await;
        let faults = Faults::new();
        let mut peer = Peer::new(2, addr, faults.clone());
        faults.block(2);
        let r = peer.call::<_, Result<u32, WireError>>(Kind::Read, &(), Duration::from_secs(1));
        assert!(matches!(r.await, Err(CallError::Unreachable(_))));
        // Nothing listens on port 1.
        let mut peer = Peer::new(3, "127.0.0.1:1".into(), Faults::new());
        let r = peer.call::<_, Result<u32, WireError>>(Kind::Read, &(), Duration::from_secs(1));
        assert!(matches!(r.await, Err(CallError::Unreachable(_))));
    }
}
