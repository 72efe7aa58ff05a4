//! Three in-process `RaftNode`s on loopback, talking over the TCP transport: membership
//! changes, replication and convergence, leader loss and restart, partitions through
//! the transport's fault injection, and catch-up by snapshot after a purge.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{runtime, Cluster};
use mylsm_raft::{Request, Response};

fn key(i: usize) -> Vec<u8> {
    format!("key-{:04}", i % 300).into_bytes()
}

#[test]
fn three_nodes_replicate_writes_made_through_any_node_and_converge() {
    runtime().block_on(async {
        let c = Cluster::voters(3, |_| {}).await;
        for i in 0..1000 {
            let via = c.node(1 + (i as u64 % 3));
            let req = match i % 10 {
                7 => Request::Del { key: key(i) },
                8 => Request::IncrBy { key: b"counter".to_vec(), by: 2 },
                _ => Request::Set { key: key(i), value: format!("v{i}").into_bytes() },
            };
            via.write(req).await.unwrap();
        }
        let (applied, _) = c.wait_converged(Duration::from_secs(20)).await;
        assert!(applied.unwrap().index >= 1000);
        // 100 increments of 2, every one applied exactly once.
        for id in 1..=3 {
            assert_eq!(c.node(id).local_get(b"counter").unwrap(), Some(b"200".to_vec()));
        }
        // A linearizable read through a follower sees the last write.
        let leader = c.wait_leader(&[1, 2, 3], Duration::from_secs(5)).await;
        let follower = if leader == 1 { 2 } else { 1 };
        let got = c.node(follower).get(&[key(999), b"counter".to_vec()]).await.unwrap();
        assert_eq!(got, vec![Some(b"v999".to_vec()), Some(b"200".to_vec())]);
        let r = c.node(follower).write(Request::IncrBy { key: key(999), by: 1 }).await.unwrap();
        assert!(matches!(r, Response::Invalid(_)), "{r:?}");
        c.shutdown().await;
    });
}
