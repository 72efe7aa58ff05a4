//! Helpers shared by the server's behaviour tests: an in-process server on a free
//! loopback port, and whether the Redis command-line tools are installed.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::Command;

use mylsm_server::{AppendFsync, ClusterConfig, Config, Server};

/// A server on a fresh database in a temporary directory.
pub struct TestServer {
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        Self::start_with(|_| {})
    }

    pub fn start_with(f: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut config = Config {
            db_dir: dir.path().to_path_buf(),
            bind: "127.0.0.1".into(),
            port: 0,
            appendfsync: AppendFsync::No,
            enable_debug_command: true,
            ..Config::default()
        };
        f(&mut config);
        let server = Server::start(config).expect("server starts");
        TestServer { server: Some(server), dir }
    }

    /// A cluster-mode server (`--raft-id 1`, a free Raft port) that is not a cluster
    /// yet: send `RAFT.INIT` to make it a one-voter cluster.
    pub fn start_cluster_node() -> TestServer {
        Self::start_with(|c| {
            c.cluster =
                Some(ClusterConfig { id: 1, raft_addr: "127.0.0.1:0".into(), stale_reads: false });
        })
    }

    /// Shuts the server down gracefully, as SIGTERM does.
    pub fn shutdown(mut self) {
        self.server.take().expect("running").shutdown().expect("clean shutdown");
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.as_ref().expect("running").addr()
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn url(&self, resp3: bool) -> String {
        let proto = if resp3 { "?protocol=resp3" } else { "" };
        format!("redis://{}/{proto}", self.addr())
    }

    pub fn client(&self, resp3: bool) -> redis::Connection {
        let client = redis::Client::open(self.url(resp3)).expect("client");
        let con = client
            .get_connection_with_timeout(std::time::Duration::from_secs(10))
            .expect("connects");
        con.set_read_timeout(Some(std::time::Duration::from_secs(30))).expect("timeout");
        con
    }
}

/// Whether `tool` (redis-cli, redis-benchmark) can run. Under CI (the `CI` variable
/// set) a missing tool fails the test, since `.ci/run` installs it; elsewhere the
/// test is skipped with a message.
pub fn have_tool(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!(
                "{tool} is not installed, and CI must run this test (.ci/run installs redis-tools)"
            );
        }
        eprintln!("skipped: {tool} is not installed (apt-get install redis-tools)");
    }
    found
}
