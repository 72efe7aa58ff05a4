//! Three server processes in cluster mode form a Raft group that Redis clients use
//! unchanged: wired with RAFT.INIT, RAFT.ADDLEARNER and RAFT.CHANGEMEMBERSHIP; redis-cli
//! and redis-benchmark through the leader and through a follower; the leader cut off
//! with `DEBUG RAFT-DROP all on` (the majority goes on, the isolated node acknowledges
//! nothing) and healed; the leader killed with SIGKILL, a survivor acknowledging
//! writes again within a bounded time; the killed node restarted from its directory
//! with `--stale-reads` catching up to the same data as the others, and restarted
//! without it (after missing more writes) answering linearizable reads of what it
//! missed at once.
//!
//! Each node is a child process: this test binary started again with
//! `MYLSM_CLUSTER_CHILD_DIR` set, where `cluster_child` runs `mylsm_server::run`, the
//! function `mylsm serve --raft-id N --raft-addr ADDR` runs. Every wait is bounded,
//! and every child is killed when its [`Node`] drops, a failing test included. Set
//! `MYLSM_CLUSTER_TEST_LOG=1` to see the children's stderr.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::have_tool;
use redis::cmd;

const CHILD_DIR: &str = "MYLSM_CLUSTER_CHILD_DIR";
const CHILD_ID: &str = "MYLSM_CLUSTER_CHILD_ID";
const CHILD_RAFT_ADDR: &str = "MYLSM_CLUSTER_CHILD_RAFT_ADDR";
const CHILD_STALE_READS: &str = "MYLSM_CLUSTER_CHILD_STALE_READS";

/// How long a node may take to elect a leader, apply a change or catch up.
const CONVERGE: Duration = Duration::from_secs(20);

/// The body of a child process; does nothing in a normal test run.
#[test]
fn cluster_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else { return };
    let id: u64 = std::env::var(CHILD_ID).unwrap().parse().unwrap();
    let config = mylsm_server::Config {
        db_dir: dir.into(),
        port: 0,
        enable_debug_command: true,
        cluster: Some(mylsm_server::ClusterConfig {
            id,
            raft_addr: std::env::var(CHILD_RAFT_ADDR).unwrap(),
            stale_reads: std::env::var_os(CHILD_STALE_READS).is_some(),
        }),
        ..mylsm_server::Config::default()
    };
    mylsm_server::run(config).expect("serves");
}

/// One server process of the cluster; killed (SIGKILL) when dropped.
struct Node {
    id: u64,
    dir: PathBuf,
    child: Option<Child>,
    /// The RESP address, as printed.
    resp: String,
    /// The Raft address, as printed.
    raft: String,
}

impl Node {
    /// Starts node `id` on `dir`, its Raft transport on `raft_addr` (port 0: any).
    fn start(id: u64, dir: &Path, raft_addr: &str) -> Node {
        Self::start_with(id, dir, raft_addr, false)
    }

    /// [`Node::start`], with `--stale-reads` if `stale_reads`.
    fn start_with(id: u64, dir: &Path, raft_addr: &str, stale_reads: bool) -> Node {
        let exe = std::env::current_exe().expect("test binary");
        let log = std::env::var_os("MYLSM_CLUSTER_TEST_LOG").is_some();
        let mut command = Command::new(exe);
        if stale_reads {
            command.env(CHILD_STALE_READS, "1");
        }
        let mut child = command
            .args(["--exact", "cluster_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_DIR, dir)
            .env(CHILD_ID, id.to_string())
            .env(CHILD_RAFT_ADDR, raft_addr)
            .stdout(Stdio::piped())
            .stderr(if log { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .expect("child starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // libtest prints "test cluster_child ... " before the server's first line.
                for (tag, what) in [("raft listening on ", "raft"), ("listening on ", "resp")] {
                    if let Some(at) = line.find(tag) {
                        let _ = tx.send((what, line[at + tag.len()..].trim().to_string()));
                        break;
                    }
                }
            }
        });
        let mut node = Node {
            id,
            dir: dir.to_path_buf(),
            child: Some(child),
            resp: String::new(),
            raft: String::new(),
        };
        while node.resp.is_empty() || node.raft.is_empty() {
            let (what, addr) = rx.recv_timeout(Duration::from_secs(60)).expect("node listens");
            match what {
                "raft" => node.raft = addr,
                _ => node.resp = addr,
            }
        }
        node
    }

    fn port(&self) -> String {
        self.resp.rsplit(':').next().unwrap_or_default().to_string()
    }

    fn client(&self) -> redis::Connection {
        let con = redis::Client::open(format!("redis://{}/", self.resp))
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(10))
            .unwrap();
        con.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        con
    }

    /// RAFT.METRICS as a map of field to value.
    fn metrics(&self) -> HashMap<String, String> {
        let text: String = cmd("RAFT.METRICS").query(&mut self.client()).unwrap();
        fields(&text)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn fields(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs redis-cli on `node` (at most 30 seconds) and returns its stdout.
fn cli(node: &Node, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["30", "redis-cli", "-h", "127.0.0.1", "-p", &node.port()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    assert!(out.status.success(), "redis-cli {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Polls `f` until it returns `Some`, for at most `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The id of the leader `node` knows, if any.
fn leader_seen_by(node: &Node) -> Option<u64> {
    node.metrics().get("current_leader").and_then(|l| l.parse().ok())
}

/// The (applied index, digest) of RAFT.DIGEST on `node`.
fn digest(node: &Node) -> (String, String) {
    let text: String = cmd("RAFT.DIGEST").query(&mut node.client()).unwrap();
    let f = fields(&text);
    (f["applied"].clone(), f["digest"].clone())
}

/// Starts three nodes and makes them one cluster of three voters, node 1 leading.
fn three_node_cluster(dir: &Path) -> Vec<Node> {
    let nodes: Vec<Node> = (1..=3)
        .map(|id| {
            let d = dir.join(format!("n{id}"));
            Node::start(id, &d, "127.0.0.1:0")
        })
        .collect();
    let mut admin = nodes[0].client();
    let _: () = cmd("RAFT.INIT").query(&mut admin).unwrap();
    wait_for("node 1 leads", CONVERGE, || (leader_seen_by(&nodes[0]) == Some(1)).then_some(()));
    for n in &nodes[1..] {
        let _: () = cmd("RAFT.ADDLEARNER").arg(n.id).arg(&n.raft).query(&mut admin).unwrap();
    }
    let _: () = cmd("RAFT.CHANGEMEMBERSHIP").arg(1).arg(2).arg(3).query(&mut admin).unwrap();
    for n in &nodes {
        wait_for("every node sees three voters", CONVERGE, || {
            let m = n.metrics();
            (m["membership"].starts_with("voters=1,2,3;") && m["current_leader"] == "1")
                .then_some(())
        });
    }
    nodes
}

#[test]
fn three_processes_serve_redis_clients_through_a_partition_and_a_leader_kill() {
    if !have_tool("redis-cli") || !have_tool("redis-benchmark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = three_node_cluster(dir.path());

    // redis-cli through the leader and through a follower (which forwards writes).
    assert_eq!(cli(&nodes[0], &["set", "k", "v"]), "OK\n");
    assert_eq!(cli(&nodes[1], &["get", "k"]), "v\n");
    assert_eq!(cli(&nodes[2], &["set", "k2", "v2"]), "OK\n");
    assert_eq!(cli(&nodes[0], &["get", "k2"]), "v2\n");
    assert_eq!(cli(&nodes[1], &["incrby", "n", "5"]), "5\n");
    assert_eq!(cli(&nodes[2], &["del", "k", "nokey"]), "1\n");
    assert!(cli(&nodes[1], &["lpush", "l", "x"]).contains("cluster mode"));
    assert!(cli(&nodes[1], &["set", "k", "v", "ex", "10"]).contains("not supported"));

    // redis-benchmark against a follower: every SET is forwarded to the leader.
    let out = Command::new("timeout")
        .args(["60", "redis-benchmark", "-h", "127.0.0.1", "-p", &nodes[2].port()])
        .args(["-t", "set,get", "-n", "2000", "-r", "1000", "-d", "100", "--csv"])
        .output()
        .expect("redis-benchmark runs");
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-benchmark: {csv}{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').next()).collect();
    assert_eq!(rows, ["\"SET\"", "\"GET\""], "{csv}");

    // A pipeline through a follower: its writes travel as one entry, in order.
    let mut pipe = redis::pipe();
    for i in 0..200 {
        pipe.cmd("SET").arg(format!("p{i}")).arg(i).ignore();
    }
    pipe.cmd("INCR").arg("n").cmd("MGET").arg("p0").arg("p199").arg("nokey");
    let (n, got): (i64, Vec<Option<i64>>) = pipe.query(&mut nodes[1].client()).unwrap();
    assert_eq!((n, got), (6, vec![Some(0), Some(199), None]));

    // Cut the leader off (DEBUG RAFT-DROP all on drops everything it sends): the
    // others elect a new leader and acknowledge writes; a write through the isolated
    // node fails rather than succeeding alone; healed, it reads the others' write.
    let isolated = leader_seen_by(&nodes[1]).expect("a leader") as usize - 1;
    let drop_all = |on: &str| {
        let _: () = cmd("DEBUG")
            .arg("RAFT-DROP")
            .arg("all")
            .arg(on)
            .query(&mut nodes[isolated].client())
            .unwrap();
    };
    drop_all("on");
    let others: Vec<usize> = (0..3).filter(|&i| i != isolated).collect();
    wait_for("the majority acknowledges a SET", CONVERGE, || {
        let set: redis::RedisResult<()> =
            cmd("SET").arg("partitioned").arg("majority").query(&mut nodes[others[0]].client());
        set.ok()
    });
    let alone: redis::RedisResult<()> =
        cmd("SET").arg("partitioned").arg("alone").query(&mut nodes[isolated].client());
    let refusal = alone.expect_err("an isolated node acknowledged a write");
    eprintln!("partition: a SET through the isolated node answered {refusal}");
    drop_all("off");
    let got: String = wait_for("the healed node reads the majority's write", CONVERGE, || {
        cmd("GET").arg("partitioned").query(&mut nodes[isolated].client()).ok()
    });
    assert_eq!(got, "majority");

    // SIGKILL the leader; a survivor acknowledges a write within a bounded time.
    let leader =
        wait_for("a leader after the heal", CONVERGE, || leader_seen_by(&nodes[0])) as usize - 1;
    let raft_addr = nodes[leader].raft.clone();
    nodes[leader].kill();
    let killed = Instant::now();
    let survivors: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let mut attempt = 0;
    wait_for("a survivor acknowledges a SET", CONVERGE, || {
        attempt += 1;
        let node = &nodes[survivors[attempt % 2]];
        let set: redis::RedisResult<()> =
            cmd("SET").arg("after-kill").arg(attempt).query(&mut node.client());
        set.ok()
    });
    eprintln!("failover: first acknowledged SET {:?} after the kill", killed.elapsed());
    let mut con = nodes[survivors[0]].client();
    for i in 0..100 {
        let _: () = cmd("SET").arg(format!("missed{i}")).arg(i).query(&mut con).unwrap();
    }

    // Restart it from its directory on its Raft address, with --stale-reads: its own
    // state machine catches up (reads of it see the writes it missed within a bounded
    // time) to the same data as the others.
    let id = leader as u64 + 1;
    let dir_of = nodes[leader].dir.clone();
    nodes[leader] = Node::start_with(id, &dir_of, &raft_addr, true);
    assert_eq!(nodes[leader].metrics()["stale_reads"], "1");
    wait_for("the restarted node's own state has the missed writes", CONVERGE, || {
        let v: Option<i64> = cmd("GET").arg("missed99").query(&mut nodes[leader].client()).ok()?;
        (v == Some(99)).then_some(())
    });
    wait_for("the restarted node catches up to the same data", CONVERGE, || {
        let digests: Vec<_> = nodes.iter().map(digest).collect();
        digests.iter().all(|d| *d == digests[0]).then_some(())
    });

    // Once more without --stale-reads: a linearizable read through the restarted node
    // sees what it missed at once (the leader answers), with no waiting for catch-up.
    nodes[leader].kill();
    for i in 0..100 {
        let _: () = cmd("SET").arg(format!("missed{i}")).arg(i + 1000).query(&mut con).unwrap();
    }
    nodes[leader] = Node::start(id, &dir_of, &raft_addr);
    let v: Option<i64> = wait_for("a read through the restarted node", CONVERGE, || {
        cmd("GET").arg("missed99").query(&mut nodes[leader].client()).ok()
    });
    assert_eq!(v, Some(1099));
    let got: Option<String> = cmd("GET").arg("k2").query(&mut nodes[leader].client()).unwrap();
    assert_eq!(got.as_deref(), Some("v2"));
    wait_for("the restarted node catches up again", CONVERGE, || {
        let digests: Vec<_> = nodes.iter().map(digest).collect();
        digests.iter().all(|d| *d == digests[0]).then_some(())
    });
}

/// A single-node cluster in this process: the commands cluster mode refuses say so,
/// and the ones it serves answer as Redis does, MULTI/EXEC of only writes or only
/// reads included.
#[test]
fn cluster_mode_serves_plain_keys_and_refuses_the_rest() {
    let server = common::TestServer::start_cluster_node();
    assert!(server.server.as_ref().is_some_and(|s| s.raft_addr().is_some()));
    let mut con = redis::Client::open(format!("redis://{}/", server.addr()))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap();
    let _: () = cmd("RAFT.INIT").query(&mut con).unwrap();
    let _: () = wait_for("a single node leads", CONVERGE, || {
        cmd("SET").arg("a").arg("1").query(&mut con).ok()
    });
    let _: () = cmd("MSET").arg("b").arg("2").arg("c").arg("x").query(&mut con).unwrap();
    let got: Vec<Option<String>> = cmd("MGET").arg("a").arg("b").arg("z").query(&mut con).unwrap();
    assert_eq!(got, [Some("1".to_string()), Some("2".to_string()), None]);
    assert_eq!(cmd("EXISTS").arg("a").arg("a").arg("z").query::<i64>(&mut con).unwrap(), 2);
    assert_eq!(cmd("INCR").arg("a").query::<i64>(&mut con).unwrap(), 2);
    assert_eq!(cmd("DECRBY").arg("a").arg(5).query::<i64>(&mut con).unwrap(), -3);
    assert!(cmd("INCR").arg("c").query::<i64>(&mut con).is_err());
    assert_eq!(cmd("DEL").arg("a").arg("b").arg("z").query::<i64>(&mut con).unwrap(), 2);
    let _: () = cmd("SELECT").arg(0).query(&mut con).unwrap();
    for refused in [&["SELECT", "1"][..], &["HSET", "h", "f", "v"], &["SET", "k", "v", "NX"]] {
        let e = cmd(refused[0]).arg(&refused[1..]).query::<()>(&mut con).unwrap_err();
        assert!(e.to_string().contains("cluster mode"), "{refused:?}: {e}");
    }
    // MULTI/EXEC: only writes (one Raft entry) or only reads; anything else aborts.
    let (x, y): (i64, i64) = redis::pipe()
        .atomic()
        .cmd("INCR")
        .arg("x")
        .cmd("INCRBY")
        .arg("x")
        .arg(9)
        .query(&mut con)
        .unwrap();
    assert_eq!((x, y), (1, 10));
    let (got,): (Vec<Option<i64>>,) =
        redis::pipe().atomic().cmd("MGET").arg("x").arg("z").query(&mut con).unwrap();
    assert_eq!(got, [Some(10), None]);
    let mixed =
        redis::pipe().atomic().cmd("GET").arg("x").cmd("SET").arg("x").arg(0).query::<()>(&mut con);
    let mixed = mixed.unwrap_err();
    assert!(mixed.to_string().contains("both reads and writes"), "{mixed}");
    let _: () = cmd("MULTI").query(&mut con).unwrap();
    assert!(cmd("LPUSH").arg("l").arg(1).query::<()>(&mut con).is_err());
    let aborted = cmd("EXEC").query::<()>(&mut con).unwrap_err();
    assert!(aborted.to_string().contains("Transaction discarded"), "{aborted}");
    assert_eq!(cmd("GET").arg("x").query::<i64>(&mut con).unwrap(), 10);
    let info: String = cmd("INFO").arg("raft").query(&mut con).unwrap();
    assert!(info.contains("# Raft") && info.contains("state:leader"), "{info}");
    let _: () = cmd("DEBUG").arg("RAFT-DROP").arg("all").arg("off").query(&mut con).unwrap();
    server.shutdown();
}

/// Concurrent clients' writes are gathered into shared Raft entries (the group commit)
/// and reads into shared linearizable reads: every INCR is applied exactly once and
/// answers its own value, and a client reads its own last write.
#[test]
fn concurrent_clients_share_entries_and_every_write_applies_once() {
    let server = common::TestServer::start_cluster_node();
    let url = format!("redis://{}/", server.addr());
    let connect = || {
        redis::Client::open(url.as_str())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(10))
            .unwrap()
    };
    let mut con = connect();
    let _: () = cmd("RAFT.INIT").query(&mut con).unwrap();
    let _: () = wait_for("a single node leads", CONVERGE, || {
        cmd("SET").arg("ready").arg(1).query(&mut con).ok()
    });
    let (clients, each) = (8, 150);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let mut con = connect();
            std::thread::spawn(move || {
                let mut seen = Vec::with_capacity(each);
                for i in 0..each {
                    seen.push(cmd("INCR").arg("counter").query::<i64>(&mut con).unwrap());
                    let _: () = cmd("SET").arg(format!("c{c}")).arg(i).query(&mut con).unwrap();
                    let mine: usize = cmd("GET").arg(format!("c{c}")).query(&mut con).unwrap();
                    assert_eq!(mine, i, "client {c} did not read its own write");
                }
                seen
            })
        })
        .collect();
    let mut all: Vec<i64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    all.sort_unstable();
    let expected: Vec<i64> = (1..=(clients * each) as i64).collect();
    assert_eq!(all, expected, "every INCR answers a distinct value, none lost");
    assert_eq!(cmd("GET").arg("counter").query::<i64>(&mut con).unwrap(), expected.len() as i64);
    let metrics: String = cmd("RAFT.METRICS").query(&mut con).unwrap();
    eprintln!(
        "group commit: {} writes in {} log entries",
        2 * clients * each,
        fields(&metrics)["last_log_index"]
    );
    server.shutdown();
}
