//! Linearizability of what clients observe from a three-node cluster while a nemesis
//! partitions, heals, shuts down and restarts nodes — and proof that the check can
//! fail: stale reads from a partitioned node are caught.
//!
//! The story: client tasks issue GETs and SETs of a few keys through any running node,
//! every SET writing a value unique to its key. Each operation's invoke and return are
//! stamped from one global counter, so their order is the real-time order. An
//! operation that fails with an unknown outcome (any failed write: it may still be
//! applied) ends its client "process", which continues under a new process id (the
//! Jepsen convention); its response is placed after everything else. Failed reads had
//! no effect and are left out. Each key's history is checked on its own (a history is
//! linearizable iff each key's is) with todc-utils' Wing–Gong–Lowe checker against
//! its etcd register specification. A non-linearizable history is saved under
//! `CARGO_TARGET_TMPDIR` and its path printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{runtime, Cluster};
use mylsm_raft::{NodeError, NodeId, RaftNode, Request};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use todc_utils::linearizability::WGLChecker;
use todc_utils::specifications::etcd::{EtcdOperation, EtcdSpecification, EtcdStatus};
use todc_utils::{Action, History};

const KEYS: usize = 5;

/// One completed (or abandoned) client operation.
#[derive(Debug, Clone)]
struct Op {
    process: usize,
    key: usize,
    /// `None` for a read, the value written for a write.
    write: Option<u32>,
    invoke: u64,
    outcome: Outcome,
}

#[derive(Debug, Clone)]
enum Outcome {
    /// Returned at `at`; for a read, the value it saw.
    Ok { at: u64, read: Option<u32> },
    /// A read that failed, or a write refused before it was proposed (no leader):
    /// no effect, left out of the history.
    Failed,
    /// A write whose effect is unknown.
    Unknown,
}

/// The real-time clock of the history: every invoke and return takes the next tick.
static CLOCK: AtomicU64 = AtomicU64::new(0);

fn tick() -> u64 {
    CLOCK.fetch_add(1, Ordering::SeqCst)
}

fn key_name(key: usize) -> Vec<u8> {
    format!("lin-{key}").into_bytes()
}

/// Reads `key` through `node`, recording the operation.
async fn read(node: &RaftNode, process: usize, key: usize) -> Op {
    let invoke = tick();
    let outcome = match node.get(&[key_name(key)]).await {
        Ok(values) => {
            let at = tick();
            let read = values[0].as_ref().map(|v| std::str::from_utf8(v).unwrap().parse().unwrap());
            Outcome::Ok { at, read }
        }
        Err(_) => Outcome::Failed,
    };
    Op { process, key, write: None, invoke, outcome }
}

/// Writes `value` to `key` through `node`, recording the operation.
async fn write(node: &RaftNode, process: usize, key: usize, value: u32) -> Op {
    let invoke = tick();
    let req = Request::Set { key: key_name(key), value: value.to_string().into_bytes() };
    let outcome = match node.write(req).await {
        Ok(_) => Outcome::Ok { at: tick(), read: None },
        // Retried while never proposed, and never proposed in the end.
        Err(NodeError::NoLeader) => Outcome::Failed,
        Err(_) => Outcome::Unknown,
    };
    Op { process, key, write: Some(value), invoke, outcome }
}

/// The todc history of `key`'s operations: calls and returns in clock order, unknown
/// writes' responses at the end. An unknown write whose value no read saw is left out:
/// it can always be linearized last, where it changes nothing anyone observed, so
/// dropping it keeps the verdict and spares the checker a branch (Knossos does the
/// same).
fn history_of(ops: &[Op], key: usize) -> Vec<(usize, Action<EtcdOperation>)> {
    let seen: std::collections::HashSet<u32> = ops
        .iter()
        .filter(|op| op.key == key)
        .filter_map(|op| match op.outcome {
            Outcome::Ok { read, .. } => read,
            _ => None,
        })
        .collect();
    let mut timed: Vec<(u64, usize, Action<EtcdOperation>)> = Vec::new();
    let mut unknown = Vec::new();
    for op in ops.iter().filter(|op| op.key == key) {
        if matches!(op.outcome, Outcome::Unknown) && !op.write.is_some_and(|v| seen.contains(&v)) {
            continue;
        }
        let call = match op.write {
            Some(v) => EtcdOperation::Write(EtcdStatus::Invoke, v),
            None => EtcdOperation::Read(EtcdStatus::Invoke, None),
        };
        match &op.outcome {
            Outcome::Failed => {}
            Outcome::Ok { at, read } => {
                timed.push((op.invoke, op.process, Action::Call(call)));
                let ret = match op.write {
                    Some(v) => EtcdOperation::Write(EtcdStatus::Okay, v),
                    None => EtcdOperation::Read(EtcdStatus::Okay, *read),
                };
                timed.push((*at, op.process, Action::Response(ret)));
            }
            Outcome::Unknown => {
                timed.push((op.invoke, op.process, Action::Call(call)));
                let v = op.write.unwrap_or_default();
                unknown.push((
                    op.process,
                    Action::Response(EtcdOperation::Write(EtcdStatus::Unknown, v)),
                ));
            }
        }
    }
    timed.sort_by_key(|(at, _, _)| *at);
    timed.into_iter().map(|(_, p, a)| (p, a)).chain(unknown).collect()
}

/// Checks every key's history; on a violation saves the whole history and returns
/// the file's path.
fn check(ops: &[Op], name: &str) -> Result<(), PathBuf> {
    let mut bad = Vec::new();
    for key in 0..KEYS {
        let actions = history_of(ops, key);
        if actions.is_empty() {
            continue;
        }
        // The search is exponential in the worst case: bound it, so a pathological
        // history fails the test instead of hanging it.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(WGLChecker::<EtcdSpecification>::is_linearizable(
                History::from_actions(actions),
            ));
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(true) => {}
            Ok(false) => bad.push(key),
            Err(_) => panic!("the checker did not finish within 60 s on key {key}"),
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-history.txt"));
    let mut text =
        format!("# not linearizable: keys {bad:?}\n# process key op value invoke return\n");
    for op in ops {
        let (ret, seen) = match &op.outcome {
            Outcome::Ok { at, read } => (at.to_string(), format!("{read:?}")),
            Outcome::Failed => ("fail".into(), String::new()),
            Outcome::Unknown => ("unknown".into(), String::new()),
        };
        let what = match op.write {
            Some(v) => format!("write {v}"),
            None => format!("read {seen}"),
        };
        text.push_str(&format!("{} {} {what} {} {ret}\n", op.process, op.key, op.invoke));
    }
    std::fs::write(&path, text).unwrap();
    Err(path)
}

/// The nodes clients may use, kept current by the nemesis.
type Live = Arc<Mutex<BTreeMap<NodeId, RaftNode>>>;

/// One client: random GETs and SETs through random live nodes until `stop`.
async fn client(
    seed: u64,
    live: Live,
    values: Arc<Vec<AtomicU32>>,
    processes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) -> Vec<Op> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut process = processes.fetch_add(1, Ordering::SeqCst) as usize;
    let mut ops = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let node = {
            let live = live.lock().unwrap();
            let nodes: Vec<&RaftNode> = live.values().collect();
            if nodes.is_empty() {
                None
            } else {
                Some(nodes[rng.random_range(0..nodes.len())].clone())
            }
        };
        let Some(node) = node else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let key = rng.random_range(0..KEYS);
        let op = if rng.random_bool(0.5) {
            read(&node, process, key).await
        } else {
            let value = values[key].fetch_add(1, Ordering::SeqCst);
            write(&node, process, key, value).await
        };
        if matches!(op.outcome, Outcome::Unknown) {
            process = processes.fetch_add(1, Ordering::SeqCst) as usize;
        }
        ops.push(op);
        // A pause between operations keeps the history to a few hundred operations
        // per key, which the checker handles in well under a second.
        tokio::time::sleep(Duration::from_millis(rng.random_range(10..40))).await;
    }
    ops
}

#[test]
fn histories_under_partitions_and_restarts_are_linearizable() {
    runtime().block_on(async {
        let mut c = Cluster::voters(3, |config| config.op_timeout = Duration::from_secs(2)).await;
        let live: Live = Arc::new(Mutex::new(c.nodes.clone()));
        let values = Arc::new((0..KEYS).map(|_| AtomicU32::new(1)).collect::<Vec<_>>());
        let processes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..4)
            .map(|i| {
                let (live, values, processes, stop) =
                    (live.clone(), values.clone(), processes.clone(), stop.clone());
                tokio::spawn(client(i, live, values, processes, stop))
            })
            .collect();

        // The nemesis: six rounds of a partition or a shutdown, each undone after a
        // while, with quiet gaps between them.
        let mut rng = SmallRng::seed_from_u64(7);
        let mut events = Vec::new();
        for round in 0..6 {
            tokio::time::sleep(Duration::from_millis(rng.random_range(300..800))).await;
            // Half the time the current leader, so leadership moves under the clients.
            let leader = c.node(1).metrics().current_leader;
            let victim = match leader {
                Some(l) if rng.random_bool(0.5) => l,
                _ => rng.random_range(1..=3),
            };
            if round % 2 == 0 {
                events.push(format!("isolate {victim}"));
                c.isolate(victim);
                tokio::time::sleep(Duration::from_millis(rng.random_range(1000..2000))).await;
                c.heal();
                events.push("heal".to_string());
            } else {
                events.push(format!("shutdown {victim}"));
                live.lock().unwrap().remove(&victim);
                c.stop(victim).await;
                tokio::time::sleep(Duration::from_millis(rng.random_range(1000..2000))).await;
                c.start(victim).await;
                live.lock().unwrap().insert(victim, c.node(victim).clone());
                events.push(format!("restart {victim}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::SeqCst);
        let mut ops = Vec::new();
        for client in clients {
            ops.extend(client.await.unwrap());
        }
        let ok = ops.iter().filter(|op| matches!(op.outcome, Outcome::Ok { .. })).count();
        let unknown = ops.iter().filter(|op| matches!(op.outcome, Outcome::Unknown)).count();
        let failed = ops.len() - ok - unknown;
        println!(
            "{} ops ({ok} ok, {failed} failed, {unknown} unknown); nemesis: {events:?}",
            ops.len()
        );
        assert!(ok >= 50, "too few operations succeeded to mean anything: {ok}");
        if let Err(path) = check(&ops, "nemesis") {
            panic!("history is not linearizable; saved to {}", path.display());
        }
        c.wait_converged(Duration::from_secs(20)).await;
        c.shutdown().await;
    });
}

#[test]
fn the_checker_catches_stale_reads_from_a_partitioned_node() {
    runtime().block_on(async {
        let c = Cluster::voters(3, |config| config.stale_reads = config.id == 3).await;
        let leader = c.wait_leader(&[1, 2, 3], Duration::from_secs(5)).await;
        let majority = if leader == 3 { 1 } else { leader };
        let mut ops = vec![write(c.node(majority), 0, 0, 1).await];
        c.wait_converged(Duration::from_secs(10)).await;
        ops.push(read(c.node(3), 1, 0).await);
        c.isolate(3);
        // Node 3 may have led; the other two elect a leader among themselves.
        let others: Vec<NodeId> = (1..=2).collect();
        c.wait_leader(&others, Duration::from_secs(10)).await;
        ops.push(write(c.node(1), 0, 0, 2).await);
        ops.push(read(c.node(3), 1, 0).await);
        assert!(
            matches!(ops[3].outcome, Outcome::Ok { read: Some(1), .. }),
            "the isolated stale-read node should answer the old value: {ops:?}"
        );
        match check(&ops, "stale-reads") {
            Ok(()) => panic!("a stale read was judged linearizable: {ops:?}"),
            Err(path) => {
                println!("stale-read history (expected to fail) saved to {}", path.display())
            }
        }
        c.heal();
        c.shutdown().await;
    });
}
