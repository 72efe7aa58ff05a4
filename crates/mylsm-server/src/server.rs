//! The network side: the accept loop, the connection limit, one task per connection,
//! the `everysec` sync task and graceful shutdown.
//!
//! A connection task reads bytes, decodes every complete request in its buffer, and
//! hands the whole batch to one blocking-pool call that runs the commands in order and
//! encodes their replies; then it writes the replies and reads again. So pipelined
//! commands run in order, engine calls (which may wait for an fsync or a write stall)
//! never run on the reactor, and concurrent connections reach the engine's group
//! commit together. (tokio's mini-redis is the model for the listener and shutdown.)
//!
//! In cluster mode (`Config::cluster`) the same loop serves, but a batch runs on the
//! connection's own task through `cluster::Cluster::run_batch`, which awaits the Raft
//! node (writes are replicated, reads checked with the leader), still in order.
//!
//! Shutdown (SIGTERM, SIGINT or [`Server::shutdown`]): the listener closes at once;
//! each connection finishes the batch it is running, writes its replies and closes;
//! then the database is closed, which syncs it (in cluster mode: the Raft node is shut
//! down, which closes its database).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::cluster::Cluster;
use crate::cmd::{execute, Session};
use crate::config::{AppendFsync, Config};
use crate::resp::{Reply, RequestDecoder};
use crate::shared::{Backend, Shared};
use crate::store::Store;

/// The most requests run in one blocking-pool call; a longer pipeline takes several.
const MAX_BATCH: usize = 1024;

/// A server running on its own threads in this process.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    raft_addr: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Server {
    /// Opens the database, binds and starts serving; returns once it accepts.
    pub fn start(config: Config) -> io::Result<Server> {
        let (stop, stop_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new().name("mylsm-server".into()).spawn(move || {
            let rt = runtime()?;
            rt.block_on(async move {
                let (listeners, shared) = match open(config).await {
                    Ok(v) => v,
                    Err(e) => {
                        let _ = ready_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                        return Err(e);
                    }
                };
                let addrs = listeners.addrs().map(|(a, m)| (a, m, shared.raft_addr()));
                let _ = ready_tx.send(addrs);
                serve(listeners, shared, stop_rx).await
            })
        })?;
        let (addr, metrics_addr, raft_addr) = ready_rx
            .recv()
            .map_err(|_| io::Error::other("the server thread ended before it listened"))??;
        Ok(Server { addr, metrics_addr, raft_addr, stop, thread: Some(thread) })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address of `GET /metrics`, if `Config::metrics_port` asked for one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The address of the Raft transport, in cluster mode.
    pub fn raft_addr(&self) -> Option<SocketAddr> {
        self.raft_addr
    }

    /// Stops accepting, lets in-flight commands finish, closes the database.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        let _ = self.stop.send(true);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| io::Error::other("the server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("mylsm-net").build()
}

/// Serves `config` until SIGTERM or SIGINT, printing `listening on ADDR` once bound
/// (and in cluster mode then `raft listening on ADDR`).
///
/// # Errors
///
/// When the database cannot be opened (or the Raft node started), a port cannot be
/// bound, or closing the database fails.
pub fn run(config: Config) -> io::Result<()> {
    runtime()?.block_on(async move {
        let (listeners, shared) = open(config).await?;
        let (addr, metrics) = listeners.addrs()?;
        println!("listening on {addr}");
        if let Some(raft) = shared.raft_addr() {
            println!("raft listening on {raft}");
        }
        if let Some(m) = metrics {
            println!("metrics on http://{m}/metrics");
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            eprintln!("mylsm serve: shutting down");
            let _ = stop.send(true);
        });
        serve(listeners, shared, stop_rx).await
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The bound sockets: the RESP port and, optionally, the metrics port.
struct Listeners {
    resp: TcpListener,
    metrics: Option<TcpListener>,
}

impl Listeners {
    fn addrs(&self) -> io::Result<(SocketAddr, Option<SocketAddr>)> {
        Ok((self.resp.local_addr()?, self.metrics.as_ref().map(|m| m.local_addr()).transpose()?))
    }
}

/// Opens the database (on the blocking pool: recovery reads files) or starts the Raft
/// node, and binds.
async fn open(config: Config) -> io::Result<(Listeners, Arc<Shared>)> {
    let backend = match &config.cluster {
        Some(cluster) => Backend::Cluster(Cluster::start(&config.db_dir, cluster).await?),
        None => {
            let dir = config.db_dir.clone();
            let sync = config.appendfsync == AppendFsync::Always;
            let db = tokio::task::spawn_blocking(move || {
                mylsm::Db::open(dir, mylsm::Options::default())
            })
            .await
            .map_err(io::Error::other)?
            .map_err(|e| io::Error::other(format!("cannot open the database: {e}")))?;
            Backend::Local(Store::new(db, sync))
        }
    };
    let listeners = match bind(&config).await {
        Ok(l) => l,
        Err(e) => {
            if let Backend::Cluster(cluster) = &backend {
                let _ = cluster.shutdown().await;
            }
            return Err(e);
        }
    };
    Ok((listeners, Arc::new(Shared::new(backend, config))))
}

/// Binds the RESP port and, if configured, the metrics port.
async fn bind(config: &Config) -> io::Result<Listeners> {
    let resp = TcpListener::bind((config.bind.as_str(), config.port)).await?;
    let metrics = match config.metrics_port {
        Some(port) => Some(TcpListener::bind((config.bind.as_str(), port)).await?),
        None => None,
    };
    Ok(Listeners { resp, metrics })
}

async fn serve(
    listeners: Listeners,
    shared: Arc<Shared>,
    stop: watch::Receiver<bool>,
) -> io::Result<()> {
    let Listeners { resp: listener, metrics } = listeners;
    if let Some(m) = metrics {
        tokio::spawn(crate::metrics::serve(m, Arc::clone(&shared), stop.clone()));
    }
    let mut conns = JoinSet::new();
    // The local store's background tasks; the Raft node runs its own.
    let mut background = Vec::new();
    if shared.store().is_some() {
        background.push(tokio::spawn(sync_every_second(Arc::clone(&shared), stop.clone())));
        background.push(tokio::spawn(sweep_expired(Arc::clone(&shared), stop.clone())));
    }
    let mut stop_accept = stop.clone();
    loop {
        tokio::select! {
            _ = stop_accept.wait_for(|s| *s) => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    shared.total_connections.fetch_add(1, Ordering::Relaxed);
                    if shared.connected_clients.load(Ordering::Relaxed)
                        >= shared.maxclients.load(Ordering::Relaxed)
                    {
                        shared.rejected_connections.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(refuse(sock));
                        continue;
                    }
                    conns.spawn(connection(sock, peer, Arc::clone(&shared), stop.clone()));
                }
                // Out of file descriptors and the like: pause rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    shared.shutting_down.store(true, Ordering::Relaxed);
    while conns.join_next().await.is_some() {}
    // They watch `stop` too: they end after the step they may be in.
    for task in background {
        let _ = task.await;
    }
    match &shared.backend {
        Backend::Cluster(cluster) => cluster.shutdown().await,
        Backend::Local(store) => {
            let db = store.db().clone();
            tokio::task::spawn_blocking(move || db.close())
                .await
                .map_err(io::Error::other)?
                .map_err(|e| io::Error::other(format!("closing the database: {e}")))
        }
    }
}

async fn refuse(mut sock: TcpStream) {
    let _ = sock.write_all(b"-ERR max number of clients reached\r\n").await;
    let _ = sock.shutdown().await;
}

/// `appendfsync everysec`: syncs the database once a second while that is the setting.
async fn sync_every_second(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tick.tick() => {}
        }
        if shared.appendfsync() == AppendFsync::EverySec {
            let Some(store) = shared.store() else { return };
            let db = store.db().clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || db.sync()).await {
                eprintln!("mylsm serve: background sync failed: {e}");
            }
        }
    }
}

/// Deletes expired keys in the background: one sweep step (a page of keys) every
/// 100 ms, sooner while steps keep finding expired keys.
async fn sweep_expired(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut cursor = Some(crate::store::sweep::SweepCursor::default());
    let mut pause = Duration::from_millis(100);
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(pause) => {}
        }
        let Some(mut c) = cursor.take() else { return };
        let sh = Arc::clone(&shared);
        let Ok((c, result)) = tokio::task::spawn_blocking(move || {
            let r = match sh.store() {
                Some(store) => store.sweep_step(&mut c),
                None => Ok(0),
            };
            (c, r)
        })
        .await
        else {
            return;
        };
        pause = match result {
            Ok(n) if n > 0 => Duration::from_millis(1),
            Ok(_) => Duration::from_millis(100),
            Err(e) => {
                eprintln!("mylsm serve: expiry sweep failed: {e}");
                Duration::from_secs(1)
            }
        };
        cursor = Some(c);
    }
}

/// Counts a connection while it lives.
struct Connected(Arc<Shared>);

impl Drop for Connected {
    fn drop(&mut self) {
        self.0.connected_clients.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn connection(
    sock: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    shared.connected_clients.fetch_add(1, Ordering::Relaxed);
    let _counted = Connected(Arc::clone(&shared));
    let _ = sock.set_nodelay(true);
    let (mut rd, mut wr) = sock.into_split();
    let mut buf = BytesMut::with_capacity(16 << 10);
    let mut decoder = RequestDecoder::new(shared.config.limits);
    let mut session = Some(Session {
        id: shared.next_client_id.fetch_add(1, Ordering::Relaxed),
        addr: peer.to_string(),
        authed: shared.requirepass().is_none(),
        ..Session::default()
    });
    loop {
        let mut requests = Vec::new();
        let mut protocol_error = None;
        while requests.len() < MAX_BATCH {
            match decoder.decode(&mut buf) {
                Ok(Some(r)) if r.is_empty() => {}
                Ok(Some(r)) => requests.push(r),
                Ok(None) => break,
                Err(e) => {
                    protocol_error = Some(e);
                    break;
                }
            }
        }
        if requests.is_empty() && protocol_error.is_none() {
            if buf.len() > shared.config.max_query_buffer {
                return;
            }
            tokio::select! {
                read = rd.read_buf(&mut buf) => match read {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                },
                _ = stop.wait_for(|s| *s) => return,
            }
        }
        let Some(mut sess) = session.take() else { return };
        let ran = match &shared.backend {
            Backend::Local(_) => run_local(Arc::clone(&shared), sess, requests).await,
            Backend::Cluster(cluster) => {
                let mut out = Vec::new();
                cluster.run_batch(&shared, &mut sess, &requests, &mut out).await;
                Some((sess, out))
            }
        };
        let Some((sess, mut out)) = ran else { return };
        if let Some(e) = &protocol_error {
            Reply::error(format!("ERR {e}")).encode(sess.proto, &mut out);
        }
        if wr.write_all(&out).await.is_err() {
            return;
        }
        if sess.close || protocol_error.is_some() || *stop.borrow() {
            let _ = wr.shutdown().await;
            return;
        }
        session = Some(sess);
    }
}

/// Runs a batch of requests on the local store, in order, on the blocking pool; returns
/// the session and the encoded replies, or `None` when the connection must close
/// without them (the task failed, or the batch's writes could not be synced).
async fn run_local(
    shared: Arc<Shared>,
    mut sess: Session,
    requests: Vec<Vec<Bytes>>,
) -> Option<(Session, Vec<u8>)> {
    let ran = tokio::task::spawn_blocking(move || {
        let store = shared.store()?;
        let mut out = Vec::new();
        let mut run_all = || {
            for args in &requests {
                let reply = execute(&shared, store, &mut sess, args);
                reply.encode(sess.proto, &mut out);
                if sess.close {
                    break;
                }
            }
        };
        // One request: its synced write joins the engine's group commit. Several:
        // one fsync for all of them, before any reply is sent.
        let synced = if requests.len() > 1 {
            store.with_deferred_sync(run_all).1
        } else {
            run_all();
            Ok(())
        };
        Some((sess, out, synced))
    })
    .await;
    let (sess, out, synced) = ran.ok()??;
    if let Err(e) = synced {
        // The batch's writes are not durable: acknowledge none of them.
        eprintln!("mylsm serve: sync failed, closing {}: {e}", sess.addr);
        return None;
    }
    Some((sess, out))
}
