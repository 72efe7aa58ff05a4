//! `mylsm serve`: its options, and running the RESP server of `mylsm-server` on a database.

use std::path::Path;

use clap::Args;

use crate::error::CliError;

/// The options of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: String,
    /// The TCP port; 0 picks a free one (the line `listening on` names it).
    #[arg(long, default_value_t = 6379)]
    pub port: u16,
    /// When writes reach the disk: always (fsync before each reply), everysec (a
    /// sync every second) or no (the engine's default; survives a process crash).
    #[arg(long, default_value = "everysec", value_parser = ["always", "everysec", "no"])]
    pub appendfsync: String,
    /// Require AUTH with this password before any other command.
    #[arg(long, value_name = "PASSWORD")]
    pub requirepass: Option<String>,
    /// The most clients connected at once.
    #[arg(long, default_value_t = 10_000)]
    pub maxclients: usize,
    /// Also serve `GET /metrics` (Prometheus text) on this port; 0 picks a free one.
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,
    /// Allow DEBUG ADVANCE-CLOCK, which moves the expiry clock, and in cluster mode
    /// DEBUG RAFT-DROP, which drops Raft messages (tests only).
    #[arg(long, hide = true)]
    pub enable_debug_command: bool,
    /// Cluster mode: this node's id in a Raft group (from 1). The database directory
    /// then holds the node's Raft log and state machine, every write goes through Raft,
    /// and only plain string keys are served. Wire nodes with RAFT.INIT,
    /// RAFT.ADDLEARNER and RAFT.CHANGEMEMBERSHIP (docs/server.md, cluster mode).
    #[arg(long, value_name = "N", requires = "raft_addr",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub raft_id: Option<u64>,
    /// Cluster mode: the address of this node's Raft transport, HOST:PORT, reachable by
    /// the other nodes; port 0 picks a free one (printed as `raft listening on ADDR`).
    /// A restarted node must be given the same address.
    #[arg(long, value_name = "HOST:PORT", requires = "raft_id")]
    pub raft_addr: Option<String>,
    /// Cluster mode: answer reads from this node's state without asking the leader
    /// (faster; a read may miss the latest writes).
    #[arg(long, requires = "raft_id")]
    pub stale_reads: bool,
}

/// Runs the RESP server on `dir` until a signal stops it.
pub fn serve(dir: &Path, a: ServeArgs) -> Result<(), CliError> {
    let config = mylsm_server::Config {
        db_dir: dir.to_path_buf(),
        bind: a.bind,
        port: a.port,
        appendfsync: mylsm_server::AppendFsync::parse(&a.appendfsync)
            .ok_or_else(|| CliError::Input(format!("bad --appendfsync {}", a.appendfsync)))?,
        requirepass: a.requirepass,
        maxclients: a.maxclients,
        metrics_port: a.metrics_port,
        enable_debug_command: a.enable_debug_command,
        cluster: match (a.raft_id, a.raft_addr) {
            (Some(id), Some(raft_addr)) => {
                Some(mylsm_server::ClusterConfig { id, raft_addr, stale_reads: a.stale_reads })
            }
            _ => None,
        },
        ..mylsm_server::Config::default()
    };
    mylsm_server::run(config).map_err(|source| CliError::Io { context: "serve".into(), source })
}
