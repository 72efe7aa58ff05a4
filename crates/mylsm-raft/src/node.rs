//! A networked Raft node: a mylsm database holding the log and the state machine, an
//! openraft [`Raft`] over the TCP transport, and the client calls (write, read,
//! membership) that go to the leader wherever they are made.
//!
//! Client calls on a follower are forwarded to the leader the metrics name, over a
//! small pool of connections per leader; the leader handles them itself and never
//! forwards again. Every call is bounded by a deadline ([`NodeConfig::op_timeout`], or
//! [`NodeConfig::membership_timeout`] for membership changes) and retried within it
//! only when retrying cannot apply anything twice:
//!
//! - a write is retried only when it was certainly not proposed: no known leader, the
//!   receiver is not the leader, or the request could not be sent at all. A timeout or
//!   a connection lost after sending ends the call with an outcome the caller cannot
//!   know ([`NodeError::Timeout`], [`NodeError::Unreachable`]);
//! - reads and membership changes are idempotent and are retried on any transient
//!   failure until the deadline.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use mylsm::Db;
use openraft::{BasicNode, Raft, RaftMetrics};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::faults::Faults;
use crate::frame::{self, Kind};
use crate::network::{CallError, NetworkFactory, Peer, WireError};
use crate::service::Service;
use crate::types::{LogId, NodeId, Request, Response, TypeConfig};
use crate::{LogStore, StateMachine};

/// How to start a [`RaftNode`].
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// The node's id, unique in the cluster.
    pub id: NodeId,
    /// The node's mylsm database directory (log and state machine in one `Db`),
    /// created if missing. A restart with the same directory rejoins with its state.
    pub dir: PathBuf,
    /// Where the Raft RPC listener binds; port 0 picks a free port
    /// ([`RaftNode::raft_addr`] tells which). A restarted node must listen where the
    /// membership says it does, so restarts pass the address they had.
    pub listen: SocketAddr,
    /// openraft's settings: heartbeat, election timeouts, snapshot policy ...
    /// [`NodeConfig::new`] sets a 100 ms heartbeat and 400–800 ms election timeouts,
    /// which hold up on a loaded two-core machine (openraft's 50 / 150–300 ms do not).
    pub raft: openraft::Config,
    /// The database's options.
    pub db_options: mylsm::Options,
    /// Debug only: [`RaftNode::get`] answers from this replica's state machine without
    /// asking the leader, so reads may be stale (the linearizability test uses it to
    /// show that its checker catches stale reads).
    pub stale_reads: bool,
    /// The bound on a client write or read, retries and forwarding included
    /// (default 5 s).
    pub op_timeout: Duration,
    /// The bound on `add_learner` (which waits for the learner to catch up) and
    /// `change_membership` (default 60 s).
    pub membership_timeout: Duration,
}

impl NodeConfig {
    /// The settings of node `id` keeping its data in `dir`: listening on
    /// 127.0.0.1 with a free port, a 100 ms heartbeat, 400–800 ms election timeouts,
    /// openraft's default snapshot policy (every 5,000 logs), default database
    /// options, linearizable reads, 5 s client timeouts.
    pub fn new(id: NodeId, dir: impl Into<PathBuf>) -> NodeConfig {
        NodeConfig {
            id,
            dir: dir.into(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            raft: openraft::Config {
                heartbeat_interval: 100,
                election_timeout_min: 400,
                election_timeout_max: 800,
                ..openraft::Config::default()
            },
            db_options: mylsm::Options::default(),
            stale_reads: false,
            op_timeout: Duration::from_secs(5),
            membership_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a node call failed.
///
/// For a write, [`NodeError::NoLeader`] and [`NodeError::InvalidArgument`] mean it was
/// not applied, and so does [`NodeError::Shutdown`] when the node was already shutting
/// down as the call began; [`NodeError::Timeout`], [`NodeError::Unreachable`],
/// [`NodeError::Raft`] and a `Shutdown` that interrupted the call leave the outcome
/// unknown (it may be applied later).
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeError {
    /// No leader is known, or the node asked is no longer the leader, until the
    /// deadline.
    NoLeader,
    /// No answer before the deadline.
    Timeout,
    /// The leader could not be reached, or the connection to it failed.
    Unreachable(String),
    /// openraft refused or failed (the message says why).
    Raft(String),
    /// This node's database failed.
    Storage(mylsm::Error),
    /// The arguments or configuration cannot work.
    InvalidArgument(String),
    /// This node is shutting down or shut down.
    Shutdown,
    /// The RPC listener could not be bound.
    Io(std::io::Error),
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NodeError::NoLeader => write!(f, "no raft leader is known"),
            NodeError::Timeout => write!(f, "raft request timed out"),
            NodeError::Unreachable(m) => write!(f, "raft leader unreachable: {m}"),
            NodeError::Raft(m) => write!(f, "raft: {m}"),
            NodeError::Storage(e) => write!(f, "raft storage: {e}"),
            NodeError::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            NodeError::Shutdown => write!(f, "raft node is shut down"),
            NodeError::Io(e) => write!(f, "raft listener: {e}"),
        }
    }
}

impl std::error::Error for NodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            NodeError::Storage(e) => Some(e),
            NodeError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// A wire error answered by `from` (this node, or the leader a call went to).
fn node_error(e: WireError, from: NodeId, me: NodeId) -> NodeError {
    match e {
        WireError::NotLeader(_) => NodeError::NoLeader,
        WireError::Timeout => NodeError::Timeout,
        WireError::Raft(m) | WireError::Busy(m) => NodeError::Raft(m),
        WireError::Invalid(m) => NodeError::InvalidArgument(m),
        WireError::Shutdown if from == me => NodeError::Shutdown,
        WireError::Shutdown => NodeError::Unreachable(format!("leader {from} is shutting down")),
    }
}

fn call_error(e: CallError) -> NodeError {
    match e {
        CallError::Unreachable(m) | CallError::Network(m) => NodeError::Unreachable(m),
        CallError::Timeout => NodeError::Timeout,
    }
}

/// One member of a replicated mylsm cluster. Cloning is cheap and shares the node.
#[derive(Clone, Debug)]
pub struct RaftNode {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: NodeId,
    addr: SocketAddr,
    stale_reads: bool,
    op_timeout: Duration,
    membership_timeout: Duration,
    /// The pause between attempts while no leader is known (the heartbeat interval).
    retry: Duration,
    faults: Faults,
    service: Arc<Service>,
    db: Db,
    /// Turned true to stop the RPC listener and its connections.
    stop: watch::Sender<bool>,
    listener: Mutex<Option<JoinHandle<()>>>,
    /// Set when shutdown starts: client calls fail fast from then on.
    closing: AtomicBool,
    /// Serializes shutdowns; true once one has finished.
    shut: tokio::sync::Mutex<bool>,
    /// Idle connections to leaders, for forwarded client calls.
    pool: Mutex<HashMap<NodeId, Vec<Peer>>>,
}

/// At most this many idle forwarding connections are kept per leader.
const POOL_PER_PEER: usize = 8;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Guarded values here stay valid whatever a panicking holder did.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl RaftNode {
    /// Opens (or creates) the node's database, binds the RPC listener and starts Raft.
    /// A node started on a directory that already holds a log rejoins its cluster; a
    /// fresh one waits to be initialized or added.
    ///
    /// # Errors
    /// [`NodeError::InvalidArgument`] for an invalid `raft` configuration;
    /// [`NodeError::Io`] if the listener cannot bind; [`NodeError::Storage`] if the
    /// database cannot open; [`NodeError::Raft`] if openraft cannot start on it.
    pub async fn start(config: NodeConfig) -> Result<RaftNode, NodeError> {
        let raft_config = Arc::new(
            config
                .raft
                .clone()
                .validate()
                .map_err(|e| NodeError::InvalidArgument(e.to_string()))?,
        );
        let listener = TcpListener::bind(config.listen).await.map_err(NodeError::Io)?;
        let addr = listener.local_addr().map_err(NodeError::Io)?;
        let (dir, options) = (config.dir.clone(), config.db_options.clone());
        let opened = tokio::task::spawn_blocking(move || {
            let db = Db::open(dir, options)?;
            let stores = LogStore::open(&db).and_then(|l| Ok((l, StateMachine::open(&db)?)));
            match stores {
                Ok((log, sm)) => Ok((db, log, sm)),
                Err(e) => {
                    let _ = db.close();
                    Err(e)
                }
            }
        })
        .await
        .map_err(|e| NodeError::Raft(format!("opening the database: {e}")))?;
        let (db, log, sm) = opened.map_err(NodeError::Storage)?;
        let faults = Faults::new();
        let network = NetworkFactory::new(config.id, faults.clone());
        let raft = match Raft::new(config.id, raft_config, network, log, sm.clone()).await {
            Ok(raft) => raft,
            Err(e) => {
                let _ = tokio::task::spawn_blocking(move || db.close()).await;
                return Err(NodeError::Raft(e.to_string()));
            }
        };
        let service = Arc::new(Service {
            raft,
            sm,
            op_timeout: config.op_timeout,
            membership_timeout: config.membership_timeout,
        });
        let (stop, stop_rx) = watch::channel(false);
        let listener = tokio::spawn(crate::server::serve(listener, service.clone(), stop_rx));
        Ok(RaftNode {
            inner: Arc::new(Inner {
                id: config.id,
                addr,
                stale_reads: config.stale_reads,
                op_timeout: config.op_timeout,
                membership_timeout: config.membership_timeout,
                retry: Duration::from_millis(config.raft.heartbeat_interval.clamp(10, 500)),
                faults,
                service,
                db,
                stop,
                listener: Mutex::new(Some(listener)),
                closing: AtomicBool::new(false),
                shut: tokio::sync::Mutex::new(false),
                pool: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.inner.id
    }

    /// The address the RPC listener is bound to.
    pub fn raft_addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The faults this node's transport injects into its outgoing requests.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The openraft handle, for what this type does not wrap.
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.inner.service.raft
    }

    /// openraft's current metrics of this node (state, term, leader, log, applied,
    /// snapshot, purged, membership, replication).
    pub fn metrics(&self) -> RaftMetrics<NodeId, BasicNode> {
        self.raft().metrics().borrow().clone()
    }

    /// Makes `members` (id → Raft address) the first membership of a new cluster. Call
    /// it on one node only, once; the others join as it replicates.
    ///
    /// # Errors
    /// [`NodeError::Raft`] if this node already has a log or vote, or is not in
    /// `members`; [`NodeError::Timeout`], [`NodeError::Shutdown`].
    pub async fn initialize(&self, members: BTreeMap<NodeId, String>) -> Result<(), NodeError> {
        self.check_open()?;
        let nodes: BTreeMap<NodeId, BasicNode> =
            members.into_iter().map(|(id, addr)| (id, BasicNode { addr })).collect();
        match tokio::time::timeout(self.inner.membership_timeout, self.raft().initialize(nodes))
            .await
        {
            Err(_) => Err(NodeError::Timeout),
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(NodeError::Raft(e.to_string())),
        }
    }

    /// Adds node `id`, listening at `raft_addr`, as a learner (a non-voting member)
    /// and returns once it has caught up with the leader's log. Forwarded to the
    /// leader when called elsewhere; adding a node already there is harmless.
    ///
    /// # Errors
    /// [`NodeError::NoLeader`], [`NodeError::Timeout`] (past
    /// [`NodeConfig::membership_timeout`]), [`NodeError::Unreachable`],
    /// [`NodeError::Raft`], [`NodeError::Shutdown`].
    pub async fn add_learner(&self, id: NodeId, raft_addr: String) -> Result<(), NodeError> {
        let ttl = self.inner.membership_timeout;
        self.leader_call(Kind::AddLearner, &(id, raft_addr), ttl, true).await
    }

    /// Makes `voters` the voting members (each must be a member already, e.g. a
    /// learner); members left out leave the cluster. Returns once the new membership
    /// is committed. Forwarded to the leader when called elsewhere.
    ///
    /// # Errors
    /// [`NodeError::InvalidArgument`] for an empty set; [`NodeError::Raft`] for a
    /// voter that is not a member; otherwise as [`RaftNode::add_learner`].
    pub async fn change_membership(&self, voters: BTreeSet<NodeId>) -> Result<(), NodeError> {
        let ttl = self.inner.membership_timeout;
        self.leader_call(Kind::ChangeMembership, &voters, ttl, true).await
    }

    /// Replicates `req` through the leader (this node, or forwarded to it) and returns
    /// what applying it answered, once it is committed and applied on the leader.
    ///
    /// # Errors
    /// See [`NodeError`] for which errors leave the outcome unknown.
    pub async fn write(&self, req: Request) -> Result<Response, NodeError> {
        self.leader_call(Kind::ClientWrite, &req, self.inner.op_timeout, false).await
    }

    /// Reads `keys` linearizably: the leader confirms its leadership with a quorum and
    /// waits until it has applied everything committed before the call, then reads
    /// (forwarded to the leader when called elsewhere). With
    /// [`NodeConfig::stale_reads`] it reads this replica instead.
    ///
    /// # Errors
    /// [`NodeError::NoLeader`], [`NodeError::Timeout`], [`NodeError::Unreachable`],
    /// [`NodeError::Raft`] (no quorum), [`NodeError::Shutdown`].
    pub async fn get(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, NodeError> {
        self.check_open()?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        if self.inner.stale_reads {
            let service = &self.inner.service;
            return service.read_local(keys.to_vec()).await.map_err(|e| self.local_error(e));
        }
        self.leader_call(Kind::Read, &keys.to_vec(), self.inner.op_timeout, true).await
    }

    /// Reads `key` from this replica's state machine as it is now: no leader, possibly
    /// stale.
    ///
    /// # Errors
    /// [`NodeError::Storage`] if the database fails or is closed.
    pub fn local_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        let data = self.inner.service.sm.data();
        Ok(data.get(key).map_err(NodeError::Storage)?.map(|v| v.to_vec()))
    }

    /// This replica's applied log id and a hash of every key and value of its
    /// replicated data, read at one instant: two replicas with equal digests at equal
    /// applied ids hold the same data.
    ///
    /// # Errors
    /// [`NodeError::Storage`] if the database fails or is closed.
    pub fn data_digest(&self) -> Result<(Option<LogId>, u64), NodeError> {
        self.inner.service.sm.digest().map_err(NodeError::Storage)
    }

    /// Stops Raft and the RPC listener and closes the database; client calls fail with
    /// [`NodeError::Shutdown`] from the moment it starts. Calling it again (or on a
    /// clone) does nothing.
    ///
    /// # Errors
    /// [`NodeError::Raft`] if openraft's task had failed; [`NodeError::Storage`] for
    /// the database's final sync.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.inner.closing.store(true, Ordering::SeqCst);
        let mut shut = self.inner.shut.lock().await;
        if *shut {
            return Ok(());
        }
        *shut = true;
        let stopped = self.raft().shutdown().await;
        let _ = self.inner.stop.send(true);
        let listener = lock(&self.inner.listener).take();
        if let Some(listener) = listener {
            let _ = listener.await;
        }
        lock(&self.inner.pool).clear();
        let db = self.inner.db.clone();
        let closed = tokio::task::spawn_blocking(move || db.close()).await;
        stopped.map_err(|e| NodeError::Raft(format!("raft task: {e}")))?;
        match closed {
            Ok(r) => r.map_err(NodeError::Storage),
            Err(e) => Err(NodeError::Raft(format!("closing the database: {e}"))),
        }
    }

    fn check_open(&self) -> Result<(), NodeError> {
        if self.inner.closing.load(Ordering::SeqCst) {
            return Err(NodeError::Shutdown);
        }
        Ok(())
    }

    fn local_error(&self, e: WireError) -> NodeError {
        node_error(e, self.inner.id, self.inner.id)
    }

    /// The leader this node knows of, with its Raft address from the membership (for
    /// redirecting clients, `RAFT.LEADER`); `None` while there is none (an election, or
    /// a node not yet in a cluster). It may be stale: only calls that go through the
    /// leader confirm it.
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let metrics = self.raft().metrics();
        let m = metrics.borrow();
        let leader = m.current_leader?;
        let node = m.membership_config.membership().get_node(&leader)?;
        Some((leader, node.addr.clone()))
    }

    /// Runs a client call on the leader (here, or forwarded) within `ttl`. Retries
    /// while the call certainly did nothing (no leader, not the leader, not sent), and
    /// if `idempotent` also after failures whose outcome is unknown.
    async fn leader_call<Req, Resp>(
        &self,
        kind: Kind,
        req: &Req,
        ttl: Duration,
        idempotent: bool,
    ) -> Result<Resp, NodeError>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        let deadline = Instant::now() + ttl;
        let mut last = NodeError::NoLeader;
        loop {
            self.check_open()?;
            let now = Instant::now();
            if now >= deadline {
                return Err(last);
            }
            if let Some((leader, addr)) = self.leader() {
                let outcome = if leader == self.inner.id {
                    self.call_here(kind, req, deadline - now).await
                } else {
                    self.forward(leader, &addr, kind, req, deadline - now).await
                };
                match outcome {
                    Ok(Ok(resp)) => return Ok(resp),
                    Ok(Err(WireError::NotLeader(_))) => last = NodeError::NoLeader,
                    Ok(Err(e @ (WireError::Invalid(_) | WireError::Shutdown))) => {
                        return Err(node_error(e, leader, self.inner.id))
                    }
                    Ok(Err(e @ WireError::Busy(_))) => last = node_error(e, leader, self.inner.id),
                    Ok(Err(e)) if idempotent => last = node_error(e, leader, self.inner.id),
                    Ok(Err(e)) => return Err(node_error(e, leader, self.inner.id)),
                    Err(e @ CallError::Unreachable(_)) => last = call_error(e),
                    Err(e) if idempotent => last = call_error(e),
                    Err(e) => return Err(call_error(e)),
                }
            }
            let pause = self.inner.retry.min(deadline.saturating_duration_since(Instant::now()));
            tokio::time::sleep(pause).await;
        }
    }

    /// A client call handled by this node's own service (it believes it leads).
    async fn call_here<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        kind: Kind,
        req: &Req,
        ttl: Duration,
    ) -> Result<Result<Resp, WireError>, CallError> {
        let payload = frame::encode(req).map_err(|e| CallError::Unreachable(e.to_string()))?;
        match tokio::time::timeout(ttl, self.inner.service.dispatch(kind, &payload)).await {
            Err(_) => Err(CallError::Timeout),
            Ok(Err(e)) => Err(CallError::Network(e.to_string())),
            Ok(Ok(reply)) => frame::decode(&reply).map_err(|e| CallError::Network(e.to_string())),
        }
    }

    /// A client call sent to `leader` at `addr` over a pooled connection.
    async fn forward<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        leader: NodeId,
        addr: &str,
        kind: Kind,
        req: &Req,
        ttl: Duration,
    ) -> Result<Result<Resp, WireError>, CallError> {
        let pooled = {
            let mut pool = lock(&self.inner.pool);
            let idle = pool.entry(leader).or_default();
            idle.retain(|p| p.addr() == addr);
            idle.pop()
        };
        let mut peer = pooled
            .unwrap_or_else(|| Peer::new(leader, addr.to_string(), self.inner.faults.clone()));
        let result = peer.call(kind, req, ttl).await;
        if result.is_ok() {
            let mut pool = lock(&self.inner.pool);
            let idle = pool.entry(leader).or_default();
            if idle.len() < POOL_PER_PEER {
                idle.push(peer);
            }
        }
        result
    }
}
