//! `Store`: the engine as the commands see it — one keyspace per Redis database, the
//! value envelope, lazy expiry, key locks and the write durability setting.
//!
//! Expiry lives in the envelope and is enforced here: a key whose `expire_at_ms` has
//! passed reads as absent everywhere, and its rows are deleted when the key is next
//! written (or by DEL, FLUSHDB, ...). The clock is [`Store::now_ms`], the system clock
//! plus an offset tests can move. When the engine's own TTL lands, a string with an
//! expiry can be written with `put_with_ttl` instead and this check kept as the
//! authority, since the engine drops expired rows only at compaction.
//!
//! Every read and write goes through a [`Target`]: the engine, or the transaction of the
//! EXEC the command runs in (`exec.rs`), so a command reads the same way in both.

mod exec;
pub mod locks;
pub mod meta;
pub mod sweep;
mod sync;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use mylsm::{Db, Keyspace, WriteBatch, WriteOptions, MAX_KEY_LEN, MAX_VALUE_LEN};

use self::exec::Op;
pub use self::exec::{ExecTx, Rows, Target, View};
use self::locks::Locks;
use self::meta::{Meta, META_PREFIX};
use self::sync::SyncGroup;

/// The number of Redis databases (SELECT 0..15).
pub const DATABASES: usize = 16;

/// The largest write batch built by deleting a big collection, in rows.
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

    /// Reads of database `db` through `target`, if anything was ever written there.
    pub fn view<'t>(&self, target: Target<'t>, db: usize) -> Option<View<'t>> {
        Some(View { ks: self.keyspace(db)?.clone(), target })
    }

    /// The live (unexpired) metadata of `key` in `db`.
    pub fn read_meta(
        &self,
        target: Target<'_>,
        db: usize,
        key: &[u8],
        now: u64,
    ) -> mylsm::Result<Option<Meta>> {
        let Some(view) = self.view(target, db) else { return Ok(None) };
        Ok(view
            .get(meta::meta_key(key))?
            .and_then(|v| Meta::decode(&v))
            .filter(|m| !m.is_expired(now)))
    }

    /// Writes `batch` with the server's durability setting.
    pub fn commit(&self, batch: WriteBatch) -> mylsm::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let sync = self.sync_now(true);
        self.db.write_opt(batch, &WriteOptions::default().with_sync(sync))
    }

    /// Whether a write (`wrote`) must be synced by itself; under a deferred sync it is
    /// only noted, for the one sync at the end.
    fn sync_now(&self, wrote: bool) -> bool {
        let sync = wrote && self.sync_writes.load(Ordering::Relaxed);
        if sync && DEFERRED.get().is_some() {
            DEFERRED.set(Some(true));
            return false;
        }
        sync
    }

    /// Begins the transaction of an EXEC (see `exec.rs`).
    pub fn begin_exec(&self) -> ExecTx {
        let sync = self.sync_writes.load(Ordering::Relaxed) && DEFERRED.get().is_none();
        ExecTx::begin(&self.db, sync)
    }

    /// Commits an EXEC's writes as one batch, durable as the server's setting says:
    /// synced by the commit itself, or, under a deferred sync, by the one at the end.
    pub fn commit_exec(&self, exec: ExecTx) -> mylsm::Result<()> {
        self.sync_now(exec.wrote());
        exec.commit()
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

    /// Deletes every row of database `db`, with one range delete.
    pub fn flush_db(&self, target: Target<'_>, db: usize) -> mylsm::Result<()> {
        let Some(ks) = self.keyspace(db) else { return Ok(()) };
        match target {
            Target::Engine => {
                let mut batch = WriteBatch::new();
                batch.delete_range_in::<&[u8], _>(ks, ..)?;
                self.commit(batch)
            }
            Target::Exec(x) => x.apply(ks, vec![Op::DeleteAll]),
        }
    }

    /// The live keys of `db` from `start` on (inclusive), in key order, each with its
    /// metadata; at most `limit` rows examined. Returns the keys and the key to resume
    /// from (`None`: the end was reached).
    pub fn scan(
        &self,
        target: Target<'_>,
        db: usize,
        start: &[u8],
        limit: usize,
        now: u64,
    ) -> mylsm::Result<ScanPage> {
        let Some(view) = self.view(target, db) else { return Ok((Vec::new(), None)) };
        let from = meta::meta_key(start);
        let mut out = Vec::new();
        for (seen, item) in view.range(from..).enumerate() {
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

    /// Starts a read-modify-write on database `db`, reading and writing through
    /// `target`.
    pub fn tx<'t>(&'t self, target: Target<'t>, db: usize, now: u64) -> mylsm::Result<Tx<'t>> {
        let ks = self.keyspace_for_write(db)?.clone();
        let writes = match target {
            Target::Engine => Writes::Batch(WriteBatch::new()),
            Target::Exec(x) => Writes::Exec(x, Vec::new()),
        };
        Ok(Tx { store: self, view: View { ks, target }, writes, now })
    }
}

/// Where a [`Tx`] gathers its writes until it commits.
#[derive(Debug)]
enum Writes<'a> {
    Batch(WriteBatch),
    /// Kept in order and added to the EXEC's transaction at the commit, so that a
    /// command sees its own writes no sooner than it would outside EXEC.
    Exec(&'a ExecTx, Vec<Op>),
}

/// One command's writes, gathered into one atomic batch (inside EXEC: added to the
/// EXEC's transaction). The caller holds the stripes of every key it touches.
#[derive(Debug)]
pub struct Tx<'a> {
    pub store: &'a Store,
    view: View<'a>,
    writes: Writes<'a>,
    pub now: u64,
}

impl Tx<'_> {
    /// The live metadata of `key`. An expired key reads as absent, and its rows are
    /// queued for deletion (a write that follows overwrites the metadata row anyway).
    pub fn meta(&mut self, key: &[u8]) -> mylsm::Result<Option<Meta>> {
        let Some(v) = self.view.get(meta::meta_key(key))? else { return Ok(None) };
        let Some(m) = Meta::decode(&v) else { return Ok(None) };
        if m.is_expired(self.now) {
            self.delete(key, &m)?;
            self.store.expired_keys.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        Ok(Some(m))
    }

    pub fn put_meta(&mut self, key: &[u8], m: &Meta) {
        self.put(&meta::meta_key(key), &m.encode());
    }

    /// Deletes `key` and, for a collection, all its rows.
    pub fn delete(&mut self, key: &[u8], m: &Meta) -> mylsm::Result<()> {
        self.del(&meta::meta_key(key));
        if let Some(c) = m.coll().filter(|c| c.size > 0) {
            for item in self.view.prefix(meta::sub_prefix_all(key, c.version)) {
                let (k, _) = item?;
                self.del(&k);
                if self.len() >= DELETE_BATCH {
                    // A big collection goes in several batches; the metadata row, deleted
                    // in the first, already hides the rest.
                    self.flush()?;
                }
            }
        }
        Ok(())
    }

    pub fn put(&mut self, row: &[u8], value: &[u8]) {
        match &mut self.writes {
            Writes::Batch(b) => b.put_in(&self.view.ks, row, value),
            Writes::Exec(_, ops) => ops.push(Op::Put(row.to_vec(), value.to_vec())),
        }
    }

    pub fn del(&mut self, row: &[u8]) {
        match &mut self.writes {
            Writes::Batch(b) => b.delete_in(&self.view.ks, row),
            Writes::Exec(_, ops) => ops.push(Op::Delete(row.to_vec())),
        }
    }

    /// The number of writes gathered.
    pub fn len(&self) -> usize {
        match &self.writes {
            Writes::Batch(b) => b.len(),
            Writes::Exec(_, ops) => ops.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, row: &[u8]) -> mylsm::Result<Option<mylsm::Value>> {
        self.view.get(row)
    }

    pub fn range<K: AsRef<[u8]>, R: std::ops::RangeBounds<K>>(&self, range: R) -> Rows {
        self.view.range(range)
    }

    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Rows {
        self.view.prefix(prefix)
    }

    /// Writes what has been gathered so far (inside EXEC: adds it to the transaction).
    fn flush(&mut self) -> mylsm::Result<()> {
        match &mut self.writes {
            Writes::Batch(b) => self.store.commit(std::mem::take(b)),
            Writes::Exec(x, ops) => {
                // The engine would refuse these at the EXEC's commit, failing all of
                // it; refused here, they fail only this command, as outside EXEC.
                for op in ops.iter() {
                    if let Op::Put(k, v) = op {
                        check_lengths(k, v)?;
                    }
                }
                x.apply(&self.view.ks, std::mem::take(ops))
            }
        }
    }

    pub fn commit(mut self) -> mylsm::Result<()> {
        self.flush()
    }
}

/// The engine's limits on a row, with its error text (`WriteBatch` checks them when
/// written).
fn check_lengths(key: &[u8], value: &[u8]) -> mylsm::Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(mylsm::Error::InvalidArgument(format!(
            "key of {} bytes exceeds the {MAX_KEY_LEN}-byte limit",
            key.len()
        )));
    }
    if value.len() > MAX_VALUE_LEN {
        return Err(mylsm::Error::InvalidArgument(format!(
            "value of {} bytes exceeds the {MAX_VALUE_LEN}-byte limit",
            value.len()
        )));
    }
    Ok(())
}
