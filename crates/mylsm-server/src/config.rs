//! `Config`: the settings of one server, as `mylsm serve` takes them.

use std::path::PathBuf;

use crate::resp::Limits;

/// When acknowledged writes reach the disk, named after Redis's `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFsync {
    /// Every write is fsynced before it is acknowledged (`WriteOptions::sync`);
    /// concurrent clients share fsyncs through the engine's group commit.
    Always,
    /// Writes are acknowledged at once, and a background task syncs the database every
    /// second: a power loss loses at most about a second of writes.
    EverySec,
    /// Writes are acknowledged at once and synced when the engine's WAL fills or the
    /// server closes. Every acknowledged write still survives a crash of the process.
    No,
}

impl AppendFsync {
    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }

    pub fn parse(s: &str) -> Option<AppendFsync> {
        match s.to_ascii_lowercase().as_str() {
            "always" => Some(AppendFsync::Always),
            "everysec" => Some(AppendFsync::EverySec),
            "no" => Some(AppendFsync::No),
            _ => None,
        }
    }
}

/// The settings of cluster mode: this server is one member of a Raft group.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// This node's id in the cluster (any `u64` unique in the group; 0 is allowed but
    /// easily confused with "none", so `mylsm serve` asks for ids from 1).
    pub id: u64,
    /// The address the Raft transport binds, `HOST:PORT`; port 0 picks a free one. It is
    /// also the address RAFT.INIT without arguments gives the other members, so it must
    /// be one they can reach (not `0.0.0.0`), and a restarted node must reuse it.
    pub raft_addr: String,
    /// Answers reads from this node's state machine without checking with the leader
    /// (faster, may be stale). Default: off (reads are linearizable).
    pub stale_reads: bool,
}

/// The settings of a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// The database directory (created if missing).
    pub db_dir: PathBuf,
    /// The address to bind. Default: `127.0.0.1`.
    pub bind: String,
    /// The TCP port; 0 picks a free one. Default: 6379.
    pub port: u16,
    /// Default: `everysec`, as Redis's.
    pub appendfsync: AppendFsync,
    /// The password AUTH must give before any other command; `None`: no password.
    pub requirepass: Option<String>,
    /// The most connections served at once; one more is told
    /// `ERR max number of clients reached` and closed. Default: 10,000.
    pub maxclients: usize,
    /// What a request may declare.
    pub limits: Limits,
    /// The most bytes of unparsed requests one connection may buffer (Redis:
    /// `client-query-buffer-limit`); past it the connection is closed. Default: 1 GiB.
    pub max_query_buffer: usize,
    /// Serves `GET /metrics` (Prometheus text) on this port of `bind`; 0 picks a free
    /// one. Default: none.
    pub metrics_port: Option<u16>,
    /// Allows `DEBUG ADVANCE-CLOCK ms`, which moves the expiry clock of the whole
    /// server, and in cluster mode `DEBUG RAFT-DROP` (fault injection), for tests.
    /// Default: off.
    pub enable_debug_command: bool,
    /// Cluster mode (`--raft-id`, `--raft-addr`): the database directory holds this
    /// node's Raft log and state machine, and every write goes through Raft. Default:
    /// none (the single-node server).
    pub cluster: Option<ClusterConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db_dir: PathBuf::from("./mylsm-data"),
            bind: "127.0.0.1".into(),
            port: 6379,
            appendfsync: AppendFsync::EverySec,
            requirepass: None,
            maxclients: 10_000,
            limits: Limits::default(),
            max_query_buffer: 1 << 30,
            metrics_port: None,
            enable_debug_command: false,
            cluster: None,
        }
    }
}
