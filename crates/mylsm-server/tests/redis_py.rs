//! redis-py 8 (RESP3 by default, which hangs on a RESP2 null) against the server:
//! `tests/py/smoke.py` in RESP3 and RESP2, and `tests/py/cluster_smoke.py` against a
//! 1-node cluster (cluster mode). Skipped with a message where Python has no
//! `redis` package (`pip install redis==8.1.0`; `.ci/run` installs it in a venv and
//! points `MYLSM_TEST_PYTHON` at it, and under CI a missing package fails the test).

mod common;

use std::process::Command;

use common::TestServer;

fn python() -> Option<String> {
    let python = std::env::var("MYLSM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import redis"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        // Under CI (`.ci/run` installs it in a venv) a missing package is a failure.
        assert!(std::env::var_os("CI").is_none(), "CI must give {python} the redis package");
        eprintln!("skipped: {python} has no redis package (pip install redis==8.1.0)");
    }
    ok.then_some(python)
}

#[test]
fn redis_py_works_in_resp3_and_resp2() {
    let Some(python) = python() else { return };
    let server = TestServer::start();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/smoke.py");
    let out = Command::new("timeout")
        .args(["60", &python, script, &server.port().to_string()])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("redis-py protocol 3 ok") && stdout.contains("redis-py protocol 2 ok"),
        "{stdout}"
    );
}

#[test]
fn redis_py_works_against_a_cluster_node() {
    let Some(python) = python() else { return };
    let server = common::TestServer::start_cluster_node();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/cluster_smoke.py");
    let out = Command::new("timeout")
        .args(["60", &python, script, &server.addr().port().to_string()])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("redis-py cluster protocol 3 ok")
            && stdout.contains("redis-py cluster protocol 2 ok"),
        "{stdout}"
    );
    server.shutdown();
}
