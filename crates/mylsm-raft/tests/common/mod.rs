//! The in-process cluster harness of the node tests: N `RaftNode`s on loopback, each
//! with its own database directory, partitions through the nodes' `Faults`, stops and
//! restarts from the same directory and address, and convergence checks.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use mylsm_raft::{LogId, NodeConfig, NodeId, RaftNode};
use tokio::time::{sleep, Instant};

/// Test-sized settings: 100 ms heartbeat, 400–800 ms elections (openraft's defaults
/// flap on a loaded two-core machine), small memtables, 3 s client timeouts.
pub fn test_config(id: NodeId, dir: std::path::PathBuf) -> NodeConfig {
    let mut c = NodeConfig::new(id, dir);
    c.db_options.write_buffer_size = 1 << 20;
    c.db_options.max_background_jobs = 2;
    c.op_timeout = Duration::from_secs(3);
    c.membership_timeout = Duration::from_secs(20);
    c
}

/// A cluster of in-process nodes.
pub struct Cluster {
    pub base: tempfile::TempDir,
    /// The running nodes.
    pub nodes: BTreeMap<NodeId, RaftNode>,
    /// Every node's Raft address, kept across restarts.
    pub addrs: BTreeMap<NodeId, SocketAddr>,
    /// Applied to each node's config before it starts (first start and restarts).
    pub tweak: fn(&mut NodeConfig),
}

impl Cluster {
    /// Starts nodes `1..=n` (not yet members of anything).
    pub async fn start_nodes(n: u64, tweak: fn(&mut NodeConfig)) -> Cluster {
        let base = tempfile::tempdir().unwrap();
        let mut c = Cluster { base, nodes: BTreeMap::new(), addrs: BTreeMap::new(), tweak };
        for id in 1..=n {
            c.start(id).await;
        }
        c
    }

    /// Starts nodes `1..=n`, initializes {1}, adds the others as learners and makes
    /// them all voters.
    pub async fn voters(n: u64, tweak: fn(&mut NodeConfig)) -> Cluster {
        let c = Cluster::start_nodes(n, tweak).await;
        let one = c.node(1);
        one.initialize(BTreeMap::from([(1, c.addrs[&1].to_string())])).await.unwrap();
        c.wait_leader(&[1], Duration::from_secs(10)).await;
        for id in 2..=n {
            one.add_learner(id, c.addrs[&id].to_string()).await.unwrap();
        }
        one.change_membership((1..=n).collect()).await.unwrap();
        c
    }

    /// Starts (or restarts from its directory and address) node `id`.
    pub async fn start(&mut self, id: NodeId) {
        let mut config = test_config(id, self.base.path().join(format!("node-{id}")));
        if let Some(addr) = self.addrs.get(&id) {
            config.listen = *addr;
        }
        (self.tweak)(&mut config);
        let node = RaftNode::start(config).await.unwrap();
        self.addrs.insert(id, node.raft_addr());
        self.nodes.insert(id, node);
    }

    /// Shuts node `id` down and forgets its handle.
    pub async fn stop(&mut self, id: NodeId) {
        if let Some(node) = self.nodes.remove(&id) {
            node.shutdown().await.unwrap();
        }
    }

    pub fn node(&self, id: NodeId) -> &RaftNode {
        &self.nodes[&id]
    }

    /// Cuts `id` off from every other node, both directions.
    pub fn isolate(&self, id: NodeId) {
        for (&other, node) in &self.nodes {
            if other == id {
                node.faults().block_all();
            } else {
                node.faults().block(id);
            }
        }
    }

    /// Lifts every partition.
    pub fn heal(&self) {
        for node in self.nodes.values() {
            node.faults().heal();
        }
    }

    /// Waits until one of `among` leads and every running node in `among` agrees.
    pub async fn wait_leader(&self, among: &[NodeId], timeout: Duration) -> NodeId {
        let deadline = Instant::now() + timeout;
        loop {
            let leaders: BTreeSet<Option<NodeId>> =
                among.iter().map(|id| self.node(*id).metrics().current_leader).collect();
            if let Some(Some(l)) = leaders.iter().next() {
                if leaders.len() == 1 && among.contains(l) {
                    return *l;
                }
            }
            assert!(Instant::now() < deadline, "no agreed leader among {among:?}: {leaders:?}");
            sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until every running node has applied the same log id and holds the same
    /// data, and returns that digest.
    pub async fn wait_converged(&self, timeout: Duration) -> (Option<LogId>, u64) {
        let deadline = Instant::now() + timeout;
        loop {
            let digests: BTreeMap<NodeId, (Option<LogId>, u64)> =
                self.nodes.iter().map(|(id, n)| (*id, n.data_digest().unwrap())).collect();
            let distinct: BTreeSet<_> = digests.values().collect();
            if distinct.len() == 1 {
                return *digests.values().next().unwrap();
            }
            assert!(Instant::now() < deadline, "replicas did not converge: {digests:?}");
            sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn shutdown(mut self) {
        let ids: Vec<NodeId> = self.nodes.keys().copied().collect();
        for id in ids {
            self.stop(id).await;
        }
    }
}

/// A multi-thread runtime with two workers, like the CI machine's two cores.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}
