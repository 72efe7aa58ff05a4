//! `Shared`: what every connection of one server shares — the backend (the local store
//! or the Raft node), the settings that CONFIG reads and changes, the counters INFO
//! prints and the SCAN cursor table.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use crate::cluster::Cluster;
use crate::config::{AppendFsync, Config};
use crate::store::Store;

/// The most SCAN cursors remembered at once; the oldest is forgotten first, and a
/// forgotten cursor restarts its scan from the beginning (SCAN may repeat keys).
const MAX_CURSORS: usize = 16 * 1024;

/// Where commands read and write.
#[derive(Debug)]
pub enum Backend {
    /// The single-node server: this process's own database, with the whole command set.
    Local(Store),
    /// Cluster mode: a member of a Raft group; every write goes through the replicated
    /// log (`cluster/`), and only plain string keys are served.
    Cluster(Cluster),
}

#[derive(Debug)]
pub struct Shared {
    pub backend: Backend,
    pub config: Config,
    /// CONFIG SET can change these three.
    pub requirepass: RwLock<Option<String>>,
    pub maxclients: AtomicUsize,
    pub appendfsync: Mutex<AppendFsync>,
    pub started: Instant,
    pub next_client_id: AtomicU64,
    pub connected_clients: AtomicUsize,
    pub total_connections: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands: AtomicU64,
    pub shutting_down: AtomicBool,
    cursors: Mutex<Cursors>,
}

#[derive(Debug, Default)]
struct Cursors {
    next: u64,
    map: HashMap<u64, (usize, Vec<u8>)>,
    order: VecDeque<u64>,
}

impl Shared {
    pub fn new(backend: Backend, config: Config) -> Shared {
        Shared {
            backend,
            requirepass: RwLock::new(config.requirepass.clone()),
            maxclients: AtomicUsize::new(config.maxclients),
            appendfsync: Mutex::new(config.appendfsync),
            config,
            started: Instant::now(),
            next_client_id: AtomicU64::new(1),
            connected_clients: AtomicUsize::new(0),
            total_connections: AtomicU64::new(0),
            rejected_connections: AtomicU64::new(0),
            total_commands: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            cursors: Mutex::new(Cursors { next: 1, ..Cursors::default() }),
        }
    }

    /// The local store; `None` in cluster mode.
    pub fn store(&self) -> Option<&Store> {
        match &self.backend {
            Backend::Local(store) => Some(store),
            Backend::Cluster(_) => None,
        }
    }

    /// The Raft transport's address, in cluster mode.
    pub fn raft_addr(&self) -> Option<std::net::SocketAddr> {
        match &self.backend {
            Backend::Cluster(cluster) => Some(cluster.raft_addr()),
            Backend::Local(_) => None,
        }
    }

    pub fn requirepass(&self) -> Option<String> {
        self.requirepass.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether AUTH is required (without copying the password).
    pub fn has_password(&self) -> bool {
        self.requirepass.read().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    pub fn appendfsync(&self) -> AppendFsync {
        *self.appendfsync.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers where a scan of database `db` resumes; returns its cursor (never 0).
    pub fn save_cursor(&self, db: usize, next_key: Vec<u8>) -> u64 {
        let mut c = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        let id = c.next;
        c.next = c.next.wrapping_add(1).max(1);
        c.map.insert(id, (db, next_key));
        c.order.push_back(id);
        while c.order.len() > MAX_CURSORS {
            if let Some(old) = c.order.pop_front() {
                c.map.remove(&old);
            }
        }
        id
    }

    /// Where the scan with `cursor` resumes; the start for 0 or a forgotten cursor.
    pub fn cursor_key(&self, db: usize, cursor: u64) -> Vec<u8> {
        let c = self.cursors.lock().unwrap_or_else(|p| p.into_inner());
        match c.map.get(&cursor) {
            Some((d, k)) if *d == db => k.clone(),
            _ => Vec::new(),
        }
    }

    pub fn count_command(&self) {
        self.total_commands.fetch_add(1, Ordering::Relaxed);
    }
}
