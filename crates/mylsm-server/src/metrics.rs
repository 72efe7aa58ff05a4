//! `GET /metrics` on `--metrics-port`: the server's and the engine's counters in the
//! Prometheus text format (version 0.0.4), for scrapers.
//!
//! A deliberately tiny HTTP/1.x responder: it reads one request head (at most 8 KiB,
//! for at most 5 seconds), answers `/metrics` with 200 and anything else with 404, and
//! closes the connection. No keep-alive, no chunking: what a scraper needs and no more.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::shared::{Backend, Shared};

const MAX_HEAD: usize = 8 << 10;

/// Serves `listener` until `stop`.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((sock, _)) => {
                tokio::spawn(answer(sock, Arc::clone(&shared)));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn answer(mut sock: TcpStream, shared: Arc<Shared>) {
    let mut head = Vec::with_capacity(1024);
    let read = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    if read.is_err() {
        return;
    }
    let response = if head.starts_with(b"GET /metrics ") || head.starts_with(b"GET /metrics?") {
        let sh = Arc::clone(&shared);
        let Ok(body) = tokio::task::spawn_blocking(move || render(&sh)).await else { return };
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
    };
    let _ = sock.write_all(response.as_bytes()).await;
    let _ = sock.shutdown().await;
}

/// The metrics page (engine stats take the engine's locks: call it off the reactor).
pub fn render(sh: &Shared) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n");
    };
    let load = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed).to_string();
    metric(
        "mylsm_server_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
        sh.started.elapsed().as_secs().to_string(),
    );
    metric(
        "mylsm_server_connected_clients",
        "gauge",
        "Open client connections.",
        sh.connected_clients.load(Ordering::Relaxed).to_string(),
    );
    metric(
        "mylsm_server_connections_total",
        "counter",
        "Connections accepted.",
        load(&sh.total_connections),
    );
    metric(
        "mylsm_server_rejected_connections_total",
        "counter",
        "Connections refused at maxclients.",
        load(&sh.rejected_connections),
    );
    metric(
        "mylsm_server_commands_total",
        "counter",
        "Commands processed.",
        load(&sh.total_commands),
    );
    let store = match &sh.backend {
        Backend::Local(store) => store,
        Backend::Cluster(cluster) => {
            cluster.render_metrics(&mut metric);
            return out;
        }
    };
    metric(
        "mylsm_server_expired_keys_total",
        "counter",
        "Expired keys deleted.",
        load(&store.expired_keys),
    );
    let s = store.db().stats();
    for (name, kind, help, v) in [
        ("mylsm_last_seqno", "gauge", "Last sequence number written.", s.last_seqno),
        ("mylsm_memtable_bytes", "gauge", "Bytes in the active memtable.", s.memtable_bytes),
        (
            "mylsm_immutable_memtables",
            "gauge",
            "Memtables waiting for flush.",
            s.immutable_memtables,
        ),
        ("mylsm_flushes_total", "counter", "Memtable flushes.", s.flushes),
        ("mylsm_flushed_bytes_total", "counter", "Bytes written by flushes.", s.flushed_bytes),
        ("mylsm_compactions_total", "counter", "Compactions.", s.compactions),
        (
            "mylsm_compaction_read_bytes_total",
            "counter",
            "Bytes read by compactions.",
            s.compaction_read_bytes,
        ),
        (
            "mylsm_compaction_written_bytes_total",
            "counter",
            "Bytes written by compactions.",
            s.compaction_written_bytes,
        ),
        ("mylsm_write_groups_total", "counter", "Group commits.", s.write_groups),
        ("mylsm_write_batches_total", "counter", "Write batches.", s.write_batches),
        ("mylsm_wal_syncs_total", "counter", "WAL fsyncs.", s.wal_syncs),
        ("mylsm_write_stalls_total", "counter", "Writes slowed or stopped.", s.write_stalls),
        (
            "mylsm_stall_micros_total",
            "counter",
            "Microseconds writes spent stalled.",
            s.stall_micros,
        ),
        ("mylsm_block_cache_hits_total", "counter", "Block cache hits.", s.block_cache_hits),
        ("mylsm_block_cache_misses_total", "counter", "Block cache misses.", s.block_cache_misses),
    ] {
        metric(name, kind, help, v.to_string());
    }
    out.push_str("# HELP mylsm_level_files Table files per level (default keyspace).\n# TYPE mylsm_level_files gauge\n");
    for (i, l) in s.levels.iter().enumerate() {
        let _ = writeln!(out, "mylsm_level_files{{level=\"{i}\"}} {}", l.files);
    }
    out.push_str("# HELP mylsm_level_bytes Table bytes per level (default keyspace).\n# TYPE mylsm_level_bytes gauge\n");
    for (i, l) in s.levels.iter().enumerate() {
        let _ = writeln!(out, "mylsm_level_bytes{{level=\"{i}\"}} {}", l.bytes);
    }
    out
}
