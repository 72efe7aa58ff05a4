//! With `appendfsync always`, every write the server acknowledged survives a SIGKILL
//! of the server process, through a loop of kills and restarts; with `appendfsync no`,
//! SIGTERM closes the server cleanly and loses nothing.
//!
//! The server runs in a child process: this test binary itself, started again with
//! `MYLSM_SERVER_CHILD_DIR` set, where `child_server` serves until it is killed.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::cmd;

const CHILD_ENV: &str = "MYLSM_SERVER_CHILD_DIR";
const CHILD_FSYNC_ENV: &str = "MYLSM_SERVER_CHILD_FSYNC";

/// The body of the child process; does nothing in a normal test run.
#[test]
fn child_server() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let config = mylsm_server::Config {
        db_dir: dir.into(),
        port: 0,
        appendfsync: std::env::var(CHILD_FSYNC_ENV)
            .ok()
            .and_then(|s| mylsm_server::AppendFsync::parse(&s))
            .unwrap_or(mylsm_server::AppendFsync::Always),
        ..mylsm_server::Config::default()
    };
    mylsm_server::run(config).expect("serves");
}

/// Starts the child server on `dir` (appendfsync always) and returns it with its
/// address.
fn start(dir: &std::path::Path) -> (Child, String) {
    start_with(dir, "always")
}

fn start_with(dir: &std::path::Path, appendfsync: &str) -> (Child, String) {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", "child_server", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .env(CHILD_FSYNC_ENV, appendfsync)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints "test child_server ... " before the server's line.
            if let Some(at) = line.find("listening on ") {
                let _ = tx.send(line[at + "listening on ".len()..].trim().to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(60)).expect("the child listens");
    (child, addr)
}

fn connect(addr: &str) -> redis::Connection {
    let con = redis::Client::open(format!("redis://{addr}/"))
        .unwrap()
        .get_connection_with_timeout(Duration::from_secs(10))
        .unwrap();
    con.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    con
}

#[test]
fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    // Per writer: how many SETs and RPUSHes were acknowledged, over all rounds.
    let mut acked = [0u64; 2];
    for round in 0..3 {
        let (mut child, addr) = start(dir.path());
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..2usize)
            .map(|w| {
                let (addr, stop) = (addr.clone(), Arc::clone(&stop));
                let start = acked[w];
                std::thread::spawn(move || {
                    let mut con = connect(&addr);
                    let mut n = start;
                    while !stop.load(Ordering::Relaxed) {
                        let set: redis::RedisResult<()> =
                            cmd("SET").arg(format!("w{w}:{n}")).arg(n).query(&mut con);
                        let push: redis::RedisResult<i64> =
                            cmd("RPUSH").arg(format!("list{w}")).arg(n).query(&mut con);
                        if set.is_err() || push.is_err() {
                            break;
                        }
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(400));
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        stop.store(true, Ordering::Relaxed);
        for (w, t) in writers.into_iter().enumerate() {
            acked[w] = t.join().unwrap();
        }
        // Restart and check everything acknowledged so far.
        let (mut child, addr) = start(dir.path());
        let mut con = connect(&addr);
        for (w, slot) in acked.iter_mut().enumerate() {
            let n = *slot;
            assert!(n > 0, "round {round}: writer {w} wrote nothing");
            for i in 0..n {
                let v: Option<u64> = cmd("GET").arg(format!("w{w}:{i}")).query(&mut con).unwrap();
                assert_eq!(v, Some(i), "round {round}: acknowledged w{w}:{i} lost");
            }
            let len: u64 = cmd("LLEN").arg(format!("list{w}")).query(&mut con).unwrap();
            assert!(len >= n, "round {round}: list{w} has {len} of {n} acknowledged pushes");
            // The unacknowledged SET of the last attempt may or may not be there;
            // continue numbering after whatever the list holds so keys stay unique.
            let _: () = cmd("SET").arg(format!("w{w}:{len}")).arg(len).query(&mut con).unwrap();
            let _: i64 = cmd("RPUSH").arg(format!("list{w}")).arg(len).query(&mut con).unwrap();
            *slot = len + 1;
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
    }
}

#[test]
fn sigterm_finishes_in_flight_work_and_closes_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = start_with(dir.path(), "no");
    let mut con = connect(&addr);
    // A pipeline of writes, answered in full before the signal.
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    pipe.cmd("DBSIZE");
    let (n,): (u64,) = pipe.query(&mut con).unwrap();
    assert_eq!(n, 2000);
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exited = child.wait().unwrap();
    assert!(exited.success(), "the server exits cleanly on SIGTERM: {exited:?}");
    // Closed cleanly: nothing lost though nothing was synced before the signal.
    let (mut child, addr) = start_with(dir.path(), "no");
    let mut con = connect(&addr);
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut con).unwrap(), 2000);
    assert_eq!(redis::cmd("GET").arg("k1999").query::<u64>(&mut con).unwrap(), 1999);
    child.kill().unwrap();
    let _ = child.wait();
}
