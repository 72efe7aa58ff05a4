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

fn others(of: u64) -> Vec<u64> {
    (1..=3).filter(|&id| id != of).collect()
}

#[test]
fn a_new_leader_takes_over_after_leader_shutdown_and_the_restarted_node_catches_up() {
    runtime().block_on(async {
        let mut c = Cluster::voters(3, |_| {}).await;
        let old = c.wait_leader(&[1, 2, 3], Duration::from_secs(5)).await;
        let mut acked = Vec::new();
        for i in 0..200 {
            let (k, v) = (format!("a{i}").into_bytes(), format!("x{i}").into_bytes());
            c.node(1 + i % 3)
                .write(Request::Set { key: k.clone(), value: v.clone() })
                .await
                .unwrap();
            acked.push((k, v));
        }
        c.stop(old).await;
        let survivors = others(old);
        let new = c.wait_leader(&survivors, Duration::from_secs(10)).await;
        assert_ne!(new, old);
        for i in 0..100 {
            let (k, v) = (format!("b{i}").into_bytes(), format!("y{i}").into_bytes());
            let via = c.node(survivors[i % 2]);
            via.write(Request::Set { key: k.clone(), value: v.clone() }).await.unwrap();
            acked.push((k, v));
        }
        // Every acknowledged write is there, read linearizably through each survivor.
        let keys: Vec<Vec<u8>> = acked.iter().map(|(k, _)| k.clone()).collect();
        let want: Vec<Option<Vec<u8>>> = acked.iter().map(|(_, v)| Some(v.clone())).collect();
        for &id in &survivors {
            assert_eq!(c.node(id).get(&keys).await.unwrap(), want, "through node {id}");
        }
        // The old leader restarts from its directory and address, rejoins, catches up.
        c.start(old).await;
        c.wait_converged(Duration::from_secs(20)).await;
        for (k, v) in &acked {
            assert_eq!(c.node(old).local_get(k).unwrap().as_ref(), Some(v));
        }
        c.shutdown().await;
    });
}

#[test]
fn an_isolated_leader_cannot_acknowledge_writes_and_the_majority_carries_on() {
    runtime().block_on(async {
        let c = Cluster::voters(3, |_| {}).await;
        let old = c.wait_leader(&[1, 2, 3], Duration::from_secs(5)).await;
        for i in 0..50 {
            c.node(old)
                .write(Request::Set { key: key(i), value: b"before".to_vec() })
                .await
                .unwrap();
        }
        c.isolate(old);
        // The old leader still believes it leads: its write is proposed but can never
        // commit, so it must fail (time out), never be acknowledged.
        let stale = {
            let node = c.node(old).clone();
            tokio::spawn(async move {
                node.write(Request::Set { key: b"stale".to_vec(), value: b"lost".to_vec() }).await
            })
        };
        let majority = others(old);
        let new = c.wait_leader(&majority, Duration::from_secs(10)).await;
        assert_ne!(new, old);
        for i in 0..100 {
            let via = c.node(majority[i % 2]);
            via.write(Request::Set { key: key(i), value: b"after".to_vec() }).await.unwrap();
        }
        let outcome = stale.await.unwrap();
        assert!(outcome.is_err(), "an isolated leader acknowledged a write: {outcome:?}");
        // Reads through the isolated node cannot be served either.
        assert!(c.node(old).get(&[key(0)]).await.is_err());
        c.heal();
        let (applied, _) = c.wait_converged(Duration::from_secs(20)).await;
        assert!(applied.is_some());
        for id in 1..=3 {
            let node = c.node(id);
            assert_eq!(node.local_get(b"stale").unwrap(), None, "node {id}");
            assert_eq!(node.local_get(&key(0)).unwrap(), Some(b"after".to_vec()), "node {id}");
        }
        c.shutdown().await;
    });
}

#[test]
fn a_follower_behind_a_purge_catches_up_by_snapshot() {
    runtime().block_on(async {
        let c = Cluster::voters(3, |config| {
            config.raft.snapshot_policy = openraft::SnapshotPolicy::LogsSinceLast(50);
            config.raft.max_in_snapshot_log_to_keep = 5;
            config.raft.purge_batch_size = 1;
        })
        .await;
        let leader = c.wait_leader(&[1, 2, 3], Duration::from_secs(5)).await;
        let behind = others(leader)[0];
        c.isolate(behind);
        let last_seen = c.node(behind).metrics().last_log_index.unwrap_or(0);
        for i in 0..300 {
            let value = format!("v{i}").into_bytes();
            c.node(leader).write(Request::Set { key: key(i), value }).await.unwrap();
        }
        // Wait until the leader has purged past everything the follower has.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let purged = loop {
            let purged = c.node(leader).metrics().purged.map_or(0, |p| p.index);
            if purged > last_seen + 1 {
                break purged;
            }
            assert!(tokio::time::Instant::now() < deadline, "leader never purged: {purged}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        c.heal();
        c.wait_converged(Duration::from_secs(30)).await;
        // The entries it lacked are gone from every log: only a snapshot brought them.
        let snapshot = c.node(behind).metrics().snapshot;
        assert!(snapshot.is_some_and(|s| s.index >= purged), "{snapshot:?} < {purged}");
        assert_eq!(c.node(behind).local_get(&key(299)).unwrap(), Some(b"v299".to_vec()));
        c.shutdown().await;
    });
}

#[test]
fn garbage_from_a_peer_closes_its_connection_and_nothing_else() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    runtime().block_on(async {
        let c = Cluster::voters(1, |_| {}).await;
        let addr = c.node(1).raft_addr();
        let bad_frames: [Vec<u8>; 3] = [
            // A declared length over the cap: refused before reading (or allocating) it.
            [&u32::MAX.to_be_bytes()[..], &[1]].concat(),
            // An unknown kind.
            [&3u32.to_be_bytes()[..], &[0x42, 1, 2, 3]].concat(),
            // A vote request whose payload does not decode.
            [&3u32.to_be_bytes()[..], &[2, 0xff, 0xff, 0xff]].concat(),
        ];
        for frame in bad_frames {
            let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
            conn.write_all(&frame).await.unwrap();
            let mut buf = [0u8; 16];
            let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
                .await
                .expect("the node closes the connection")
                .unwrap_or(0);
            assert_eq!(n, 0, "no reply to a bad frame");
        }
        let r = c.node(1).write(Request::Set { key: b"k".to_vec(), value: b"v".to_vec() }).await;
        assert_eq!(r.unwrap(), Response::Ok);
        c.shutdown().await;
    });
}

#[test]
fn calls_on_a_node_without_a_leader_or_shut_down_fail_promptly() {
    runtime().block_on(async {
        let mut c = Cluster::start_nodes(1, |config| {
            config.op_timeout = Duration::from_millis(500);
        })
        .await;
        // Never initialized: no leader.
        let started = tokio::time::Instant::now();
        let r = c.node(1).write(Request::Del { key: b"k".to_vec() }).await;
        assert!(matches!(r, Err(mylsm_raft::NodeError::NoLeader)), "{r:?}");
        assert!(c.node(1).get(&[b"k".to_vec()]).await.is_err());
        assert!(started.elapsed() < Duration::from_secs(3));
        let node = c.node(1).clone();
        c.stop(1).await;
        let r = node.write(Request::Del { key: b"k".to_vec() }).await;
        assert!(matches!(r, Err(mylsm_raft::NodeError::Shutdown)), "{r:?}");
        node.shutdown().await.unwrap(); // idempotent
    });
}

#[test]
fn a_slow_network_still_replicates() {
    runtime().block_on(async {
        let c = Cluster::voters(3, |_| {}).await;
        for id in 1..=3 {
            c.node(id).faults().set_delay(Duration::from_millis(30));
        }
        let started = tokio::time::Instant::now();
        for i in 0..20 {
            let via = c.node(1 + (i as u64 % 3));
            via.write(Request::Set { key: key(i), value: b"slow".to_vec() }).await.unwrap();
        }
        // Each write needs at least one delayed round trip to a quorum.
        assert!(started.elapsed() >= Duration::from_millis(20 * 30));
        c.wait_converged(Duration::from_secs(20)).await;
        c.shutdown().await;
    });
}

#[test]
fn concurrent_increments_through_every_node_are_each_applied_once() {
    runtime().block_on(async {
        let c = Cluster::voters(3, |_| {}).await;
        let tasks: Vec<_> = (0..8u64)
            .map(|t| {
                let node = c.node(1 + t % 3).clone();
                tokio::spawn(async move {
                    for _ in 0..50 {
                        let r = node.write(Request::IncrBy { key: b"hits".to_vec(), by: 1 });
                        assert!(matches!(r.await.unwrap(), Response::Int(_)));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        c.wait_converged(Duration::from_secs(20)).await;
        for id in 1..=3 {
            assert_eq!(c.node(id).local_get(b"hits").unwrap(), Some(b"400".to_vec()));
        }
        c.shutdown().await;
    });
}
