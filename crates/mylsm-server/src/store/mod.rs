//! `Store`: the engine as the commands see it — one keyspace per Redis database, the
//! value envelope, lazy expiry, key locks and the write durability setting.
//!
//! Expiry lives in the envelope and is enforced here: a key whose `expire_at_ms` has
//! passed reads as absent everywhere, and its rows are deleted when the key is next
//! written (or by DEL, FLUSHDB, ...). The clock is [`Store::now_ms`], the system clock
//! plus an offset tests can move. When the engine's own TTL lands, a string with an
//! expiry can be written with `put_with_ttl` instead and this check kept as the
//! authority, since the engine drops expired rows only at compaction.

pub mod locks;
pub mod meta;
pub mod sweep;
mod sync;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use mylsm::{Db, Keyspace, WriteBatch, WriteOptions};

use self::locks::Locks;
use self::meta::{Meta, META_PREFIX};
use self::sync::SyncGroup;

/// The number of Redis databases (SELECT 0..15).
pub const DATABASES: usize = 16;

/// The largest write batch built by FLUSHDB and by deleting a big collection, in rows.
const DELETE_BATCH: usize = 1000;

thread_local! {
    /// Inside [`Store::with_deferred_sync`] on this thread: whether a write was
    /// deferred (`Some(false)`: none yet).
    static DEFERRED: Cell<Option<bool>> = const { Cell::new(None) };
}

/// The name of the keyspace of Redis database `db`.
pub fn keyspace_name(db: usize) -> String {
    format!("db{db}")
}

/// Live keys with their metadata, and the key a scan resumes from (`None`: done).
pub type ScanPage = (Vec<(Vec<u8>, Meta)>, Option<Vec<u8>>);

#[derive(Debug)]
pub struct Store {
    db: Db,
    keyspaces: Vec<OnceLock<Keyspace>>,
    pub locks: Locks,
    /// Every command holds it shared; EXEC holds it exclusively, so a transaction's
    /// commands run with nothing in between.
    pub exec_lock: RwLock<()>,
    /// Whether every write is fsynced before it is acknowledged (`appendfsync always`).
    sync_writes: AtomicBool,
    syncs: SyncGroup,
    clock_offset_ms: AtomicI64,
    next_version: AtomicU64,
    /// Bumped by FLUSHDB and FLUSHALL, which touch every key: WATCH compares it too.
    pub flush_epoch: AtomicU64,
    /// Expired keys deleted, by a write that found them or by the sweeper (INFO's
    /// `expired_keys`).
    pub expired_keys: AtomicU64,
}

impl Store {
    /// Wraps an open database; keyspaces `db0`..`db15` that exist are opened, the others
    /// are created on the first write to that database.
    pub fn new(db: Db, sync_writes: bool) -> Store {
        let keyspaces: Vec<OnceLock<Keyspace>> = (0..DATABASES).map(|_| OnceLock::new()).collect();
        for (i, slot) in keyspaces.iter().enumerate() {
            if let Ok(ks) = db.keyspace(&keyspace_name(i)) {
                let _ = slot.set(ks);
            }
        }
        // Collection versions only need to differ between incarnations of one key; the
        // clock in microseconds makes them grow across restarts too.
        let start =
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64);
        Store {
            db,
            keyspaces,
            locks: Locks::default(),
            exec_lock: RwLock::new(()),
            sync_writes: AtomicBool::new(sync_writes),
            syncs: SyncGroup::default(),
            clock_offset_ms: AtomicI64::new(0),
            next_version: AtomicU64::new(start),
            flush_epoch: AtomicU64::new(0),
            expired_keys: AtomicU64::new(0),
        }
    }

    pub fn set_sync_writes(&self, sync: bool) {
        self.sync_writes.store(sync, Ordering::Relaxed);
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Milliseconds since the Unix epoch, as expiry sees them.
    pub fn now_ms(&self) -> u64 {
        let sys = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
        sys.saturating_add(self.clock_offset_ms.load(Ordering::Relaxed)).max(0) as u64
    }

    /// Moves the expiry clock forward (tests: `DEBUG ADVANCE-CLOCK`).
    pub fn advance_clock(&self, ms: i64) {
        self.clock_offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub fn new_version(&self) -> u64 {
        self.next_version.fetch_add(1, Ordering::Relaxed)
    }

    /// The keyspace of database `db`, if anything was ever written there.
    pub fn keyspace(&self, db: usize) -> Option<&Keyspace> {
        self.keyspaces.get(db)?.get()
    }

    /// The keyspace of database `db`, created if needed.
    pub fn keyspace_for_write(&self, db: usize) -> mylsm::Result<&Keyspace> {
        let slot = self
            .keyspaces
            .get(db)
            .ok_or_else(|| mylsm::Error::InvalidArgument(format!("no database {db}")))?;
        if let Some(ks) = slot.get() {
            return Ok(ks);
        }
        let ks = self.db.keyspace_or_create(&keyspace_name(db), Default::default)?;
        Ok(slot.get_or_init(|| ks))
    }

    /// The live (unexpired) metadata of `key` in `db`.
    pub fn read_meta(&self, db: usize, key: &[u8], now: u64) -> mylsm::Result<Option<Meta>> {
        let Some(ks) = self.keyspace(db) else { return Ok(None) };
        Ok(ks
            .get(meta::meta_key(key))?
            .and_then(|v| Meta::decode(&v))
            .filter(|m| !m.is_expired(now)))
    }

    /// Writes `batch` with the server's durability setting.
    pub fn commit(&self, batch: WriteBatch) -> mylsm::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut sync = self.sync_writes.load(Ordering::Relaxed);
        if sync && DEFERRED.get().is_some() {
            DEFERRED.set(Some(true));
            sync = false;
        }
        self.db.write_opt(batch, &WriteOptions { sync })
    }

    /// Runs `f` (on this thread) with the fsync of its synced writes deferred to one
    /// `Db::sync` at the end, which runs only if `f` wrote. For a pipeline of several
    /// commands: one fsync before their replies go out, as Redis does per event-loop
    /// turn, instead of one per command. A failed final sync is returned; the caller
    /// must then acknowledge none of the writes.
    pub fn with_deferred_sync<T>(&self, f: impl FnOnce() -> T) -> (T, mylsm::Result<()>) {
        DEFERRED.set(Some(false));
        let out = f();
        let wrote = DEFERRED.replace(None) == Some(true);
        let synced = if wrote { self.syncs.sync(&self.db) } else { Ok(()) };
        (out, synced)
    }

    /// Deletes every row of database `db`, in batches.
    pub fn flush_db(&self, db: usize) -> mylsm::Result<()> {
        let Some(ks) = self.keyspace(db) else { return Ok(()) };
        let mut batch = WriteBatch::new();
        for item in ks.iter() {
            let (k, _) = item?;
            batch.delete_in(ks, &k);
            if batch.len() >= DELETE_BATCH {
                self.commit(std::mem::take(&mut batch))?;
            }
        }
        self.commit(batch)
    }

    /// The live keys of `db` from `start` on (inclusive), in key order, each with its
    /// metadata; at most `limit` rows examined. Returns the keys and the key to resume
    /// from (`None`: the end was reached).
    pub fn scan(&self, db: usize, start: &[u8], limit: usize, now: u64) -> mylsm::Result<ScanPage> {
        let Some(ks) = self.keyspace(db) else { return Ok((Vec::new(), None)) };
        let from = meta::meta_key(start);
        let mut out = Vec::new();
        for (seen, item) in ks.range(from..).enumerate() {
            let (k, v) = item?;
            if !k.starts_with(META_PREFIX) {
                return Ok((out, None));
            }
            let user = k[META_PREFIX.len()..].to_vec();
            if seen == limit {
                return Ok((out, Some(user)));
            }
            if let Some(m) = Meta::decode(&v).filter(|m| !m.is_expired(now)) {
                out.push((user, m));
            }
        }
        Ok((out, None))
    }

    /// Starts a read-modify-write on database `db`.
    pub fn tx(&self, db: usize, now: u64) -> mylsm::Result<Tx<'_>> {
        let ks = self.keyspace_for_write(db)?.clone();
        Ok(Tx { store: self, ks, batch: WriteBatch::new(), now })
    }
}

/// One command's writes, gathered into one atomic batch. The caller holds the stripes
/// of every key it touches.
#[derive(Debug)]
pub struct Tx<'a> {
    pub store: &'a Store,
    pub ks: Keyspace,
    pub batch: WriteBatch,
    pub now: u64,
}

impl Tx<'_> {
    /// The live metadata of `key`. An expired key reads as absent, and its rows are
    /// queued for deletion (a write that follows overwrites the metadata row anyway).
    pub fn meta(&mut self, key: &[u8]) -> mylsm::Result<Option<Meta>> {
        let Some(v) = self.ks.get(meta::meta_key(key))? else { return Ok(None) };
        let Some(m) = Meta::decode(&v) else { return Ok(None) };
        if m.is_expired(self.now) {
            self.delete(key, &m)?;
            self.store.expired_keys.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        Ok(Some(m))
    }

    pub fn put_meta(&mut self, key: &[u8], m: &Meta) {
        self.batch.put_in(&self.ks, meta::meta_key(key), m.encode());
    }

    /// Deletes `key` and, for a collection, all its rows.
    pub fn delete(&mut self, key: &[u8], m: &Meta) -> mylsm::Result<()> {
        self.batch.delete_in(&self.ks, meta::meta_key(key));
        if let Some(c) = m.coll().filter(|c| c.size > 0) {
            for item in self.ks.prefix(meta::sub_prefix_all(key, c.version)) {
                let (k, _) = item?;
                self.batch.delete_in(&self.ks, &k);
                if self.batch.len() >= DELETE_BATCH {
                    // A big collection goes in several batches; the metadata row, deleted
                    // in the first, already hides the rest.
                    self.store.commit(std::mem::take(&mut self.batch))?;
                }
            }
        }
        Ok(())
    }

    pub fn put(&mut self, row: &[u8], value: &[u8]) {
        self.batch.put_in(&self.ks, row, value);
    }

    pub fn del(&mut self, row: &[u8]) {
        self.batch.delete_in(&self.ks, row);
    }

    pub fn get(&self, row: &[u8]) -> mylsm::Result<Option<mylsm::Value>> {
        self.ks.get(row)
    }

    pub fn commit(self) -> mylsm::Result<()> {
        self.store.commit(self.batch)
    }
}
