//! The whole-database target: input bytes are a program of operations run on `MemFs`
//! with tiny limits (so flushes and compactions happen constantly), checked against a
//! `BTreeMap` model.
//!
//! Keys with an odd number live in a second keyspace, `ks`, the rest in the default one,
//! so a batch of several keys usually spans both: every check covers both keyspaces,
//! and every recovered state must keep cross-keyspace batches all or nothing. Batches
//! mix puts and deletes with range deletes (written to both keyspaces), merge operands
//! (an `Append` operator in both) and expiring puts (a TTL of zero, expired at once, or
//! of a day, which no run outlives).
//!
//! Ingests add a table written by `SstWriter` (puts and deletes of one keyspace's keys)
//! as one write of the history; a successful ingest makes every write before it durable.
//!
//! Checkpoints taken at any step open as databases holding exactly the model (no
//! write runs beside them here), and are removed again.
//!
//! While no fault is armed, every read must match the model exactly. After a fault is
//! armed, operations may fail and reads go unchecked; what is required then is the
//! durability contract: the next reopen (plain, or after a simulated crash) succeeds,
//! and the database holds the model after some prefix of the write history that
//! includes every write made durable (`docs/durability.md`, guarantees 1, 3, 4 and 8).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::Choices;
use crate::fs::{CrashMode, MemFs};
use crate::{
    Compression, Db, Keyspace, KeyspaceOptions, Options, RecoveryMode, Snapshot, WriteBatch,
    WriteOptions,
};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const DIR: &str = "/db";
/// The most operations one input runs, so one exec stays short.
const MAX_OPS: usize = 200;
const MAX_SNAPSHOTS: usize = 4;

/// One record of a write.
#[derive(Debug, Clone)]
enum Rec {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    /// Deletes `[lo, hi)` in both keyspaces.
    Range(Vec<u8>, Vec<u8>),
    Merge(Vec<u8>, Vec<u8>),
    /// An expiring put: at once (`false`) or in a day.
    Ttl(Vec<u8>, Vec<u8>, bool),
}

/// One write of the history.
type Batch = Vec<Rec>;

struct Harness {
    fs: MemFs,
    db: Db,
    /// The second keyspace (odd keys).
    ks: Keyspace,
    compression: Compression,
    /// What the last open recovered (durable from then on).
    base: Model,
    /// Writes since the last open, acknowledged or failed, in order.
    history: Vec<Batch>,
    /// How many of `history` are durable for certain.
    durable: usize,
    /// How many of `history` were acknowledged (failures only come last).
    acked: usize,
    /// The model: `base` with every acknowledged write applied.
    model: Model,
    /// Armed since the last open: results are no longer checked exactly.
    faulty: bool,
    snapshots: Vec<(Snapshot, Model)>,
    /// Checkpoints taken, which name their directories.
    checkpoints: u32,
}

fn options(fs: &MemFs, compression: Compression, mode: RecoveryMode) -> Options {
    Options {
        fs: Arc::new(fs.clone()),
        wal_recovery_mode: mode,
        write_buffer_size: 4 << 10,
        merge_operator: Some(Arc::new(crate::merge::Append::new(","))),
        l0_compaction_trigger: 2,
        max_bytes_for_level_base: 16 << 10,
        target_file_size: 4 << 10,
        block_size: 256,
        block_cache_bytes: 64 << 10,
        compression,
        ..Options::default()
    }
}

fn key(c: &mut Choices<'_>) -> Vec<u8> {
    format!("k{:02}", c.u8() % 48).into_bytes()
}

fn value(c: &mut Choices<'_>) -> Vec<u8> {
    let n = c.u8();
    // Now and then a value long enough to cross WAL blocks and fill a memtable.
    let len = if n == 255 { 40_000 } else { usize::from(n) };
    let fill = c.u8();
    (0..len).map(|i| fill.wrapping_add(i as u8)).collect()
}

fn apply(model: &mut Model, batch: &Batch) {
    for rec in batch {
        match rec {
            Rec::Put(k, v) | Rec::Ttl(k, v, true) => {
                model.insert(k.clone(), v.clone());
            }
            Rec::Delete(k) | Rec::Ttl(k, _, false) => {
                model.remove(k);
            }
            Rec::Range(lo, hi) => model.retain(|k, _| !(k >= lo && k < hi)),
            Rec::Merge(k, op) => {
                let merged = match model.get(k) {
                    Some(v) => [v.as_slice(), b",", op].concat(),
                    None => op.clone(),
                };
                model.insert(k.clone(), merged);
            }
        }
    }
}

/// A random record.
fn record(c: &mut Choices<'_>) -> Rec {
    match c.u8() % 10 {
        0..=4 => Rec::Put(key(c), value(c)),
        5 => Rec::Delete(key(c)),
        6 => {
            let (a, b) = (key(c), key(c));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            Rec::Range(lo, hi)
        }
        7 | 8 => {
            let v = value(c);
            Rec::Merge(key(c), v[..v.len().min(8)].to_vec())
        }
        _ => Rec::Ttl(key(c), value(c), c.bool()),
    }
}

/// Whether `key` lives in the second keyspace.
fn in_ks(key: &[u8]) -> bool {
    key.last().is_some_and(|d| d % 2 == 1)
}

/// The second keyspace of `db`, created if it is not there yet.
fn second_keyspace(db: &Db) -> Keyspace {
    let opts = || KeyspaceOptions {
        merge_operator: Some(Arc::new(crate::merge::Append::new(","))),
        max_merge_operands: 4,
        ..KeyspaceOptions::default()
    };
    db.keyspace_or_create("ks", opts).expect("the second keyspace opens")
}

/// Both keyspaces' contents, as one map (their keys are disjoint).
fn contents(db: &Db) -> Model {
    let ks = db.keyspace("ks").expect("the second keyspace is there");
    db.iter()
        .chain(ks.iter())
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<crate::Result<_>>()
        .expect("a database that opened reads back")
}

/// Runs the program in `data`.
pub fn db_ops(data: &[u8]) {
    let mut c = Choices::new(data);
    let compression = match c.u8() % 3 {
        0 => Compression::None,
        1 => Compression::Lz4,
        _ => Compression::Zstd,
    };
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs, compression, RecoveryMode::default()))
        .expect("a fresh database opens");
    let ks = second_keyspace(&db);
    let mut h = Harness {
        fs,
        db,
        ks,
        compression,
        base: Model::new(),
        history: Vec::new(),
        durable: 0,
        acked: 0,
        model: Model::new(),
        faulty: false,
        snapshots: Vec::new(),
        checkpoints: 0,
    };
    for _ in 0..MAX_OPS {
        if c.is_empty() {
            break;
        }
        h.step(&mut c);
    }
    h.reopen(None);
}

impl Harness {
    fn step(&mut self, c: &mut Choices<'_>) {
        match c.u8() % 18 {
            16 => self.ingest(c),
            17 => self.checkpoint(),
            0..=2 => {
                let (k, v, sync) = (key(c), value(c), c.bool());
                self.write(vec![Rec::Put(k, v)], sync);
            }
            3 => {
                let (rec, sync) = (record(c), c.bool());
                self.write(vec![rec], sync);
            }
            4 => {
                let n = 1 + c.u8() % 8;
                let batch = (0..n).map(|_| record(c)).collect();
                let sync = c.bool();
                self.write(batch, sync);
            }
            5 => {
                let k = key(c);
                let got = if in_ks(&k) { self.ks.get(&k) } else { self.db.get(&k) };
                if !self.faulty {
                    let got = got.expect("get").map(|v| v.to_vec());
                    assert_eq!(got.as_ref(), self.model.get(&k), "get {}", k.escape_ascii());
                }
            }
            6 => self.scan(c),
            7 => {
                let r = self.db.flush();
                assert!(self.faulty || r.is_ok(), "flush: {r:?}");
            }
            8 => {
                let (a, b) = (key(c), key(c));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let r = self.db.compact_range(lo..hi);
                assert!(self.faulty || r.is_ok(), "compact_range: {r:?}");
                if c.bool() {
                    let r = self.db.wait_for_compactions();
                    assert!(self.faulty || r.is_ok(), "wait_for_compactions: {r:?}");
                }
            }
            9 => {
                if self.snapshots.len() == MAX_SNAPSHOTS {
                    self.snapshots.remove(0);
                }
                self.snapshots.push((self.db.snapshot(), self.model.clone()));
            }
            10 => self.check_snapshot(c),
            11 => {
                let r = self.db.sync();
                if r.is_ok() {
                    self.durable = self.acked;
                }
                assert!(self.faulty || r.is_ok(), "sync: {r:?}");
            }
            12 => self.reopen(None),
            13 => {
                let mode = match c.u8() % 4 {
                    0 => Some(CrashMode::DropUnsynced),
                    1 => Some(CrashMode::KeepRandomPrefix),
                    2 => Some(CrashMode::TornPages),
                    _ => None,
                };
                let seed = u64::from(c.u16());
                self.reopen(Some((mode, seed)));
            }
            14 => {
                let n = u64::from(c.u8() % 32);
                if c.bool() {
                    self.fs.fail_write_after(n);
                } else {
                    self.fs.fail_sync_after(n);
                }
                self.faulty = true;
            }
            _ => {
                let r = self.db.verify();
                assert!(self.faulty || r.is_ok(), "verify: {r:?}");
                self.check_read_only();
            }
        }
    }

    /// A read-only open beside the writing handle reads exactly the model (and
    /// verifies), while flushes and compactions may be deleting files under it.
    fn check_read_only(&mut self) {
        if self.faulty {
            return;
        }
        let opts = options(&self.fs, self.compression, RecoveryMode::default());
        let ro = Db::open_read_only(Path::new(DIR), opts).expect("read-only open");
        assert!(contents(&ro) == self.model, "a read-only open disagrees with the model");
        ro.verify().expect("read-only verify");
        ro.close().expect("read-only close");
    }

    fn write(&mut self, batch: Batch, sync: bool) {
        let mut b = WriteBatch::new();
        let day = std::time::Duration::from_secs(86_400);
        let ttl = |long: bool| if long { day } else { std::time::Duration::ZERO };
        for rec in &batch {
            match rec {
                Rec::Put(k, v) if in_ks(k) => b.put_in(&self.ks, k, v),
                Rec::Put(k, v) => b.put(k, v),
                Rec::Delete(k) if in_ks(k) => b.delete_in(&self.ks, k),
                Rec::Delete(k) => b.delete(k),
                Rec::Merge(k, v) if in_ks(k) => b.merge_in(&self.ks, k, v),
                Rec::Merge(k, v) => b.merge(k, v),
                Rec::Ttl(k, v, long) if in_ks(k) => b.put_with_ttl_in(&self.ks, k, v, ttl(*long)),
                Rec::Ttl(k, v, long) => b.put_with_ttl(k, v, ttl(*long)),
                Rec::Range(lo, hi) => {
                    b.delete_range(lo.clone()..hi.clone()).expect("an ordered range");
                    b.delete_range_in(&self.ks, lo.clone()..hi.clone()).expect("an ordered range");
                }
            }
        }
        let r = self.db.write_opt(b, &WriteOptions::default().with_sync(sync));
        assert!(self.faulty || r.is_ok(), "write: {r:?}");
        if r.is_ok() {
            assert_eq!(self.acked, self.history.len(), "a write succeeded after one failed");
            apply(&mut self.model, &batch);
            self.acked += 1;
            if sync {
                self.durable = self.acked;
            }
        }
        self.history.push(batch);
    }

    /// Writes a table of puts and deletes of one keyspace's keys and ingests it.
    fn ingest(&mut self, c: &mut Choices<'_>) {
        let odd = c.bool();
        let mut recs: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
        for _ in 0..1 + c.u8() % 12 {
            let k = key(c);
            if in_ks(&k) == odd {
                let v = (!c.u8().is_multiple_of(4)).then(|| value(c));
                recs.insert(k, v);
            }
        }
        if recs.is_empty() {
            return;
        }
        let path = format!("/ingest/{}.sst", self.history.len());
        let written = (|| {
            let fs: Arc<dyn crate::fs::FileSystem> = Arc::new(self.fs.clone());
            fs.create_dir_all(Path::new("/ingest"))?;
            let mut w = crate::SstWriter::create_with_fs(fs, &path, &KeyspaceOptions::default())?;
            for (k, v) in &recs {
                match v {
                    Some(v) => w.put(k, v)?,
                    None => w.delete(k)?,
                }
            }
            w.finish()
        })();
        if let Err(e) = written {
            assert!(self.faulty, "sst write: {e}");
            return;
        }
        let opts = crate::IngestOptions::moving();
        let r = if odd { self.ks.ingest([&path], opts) } else { self.db.ingest([&path], opts) };
        assert!(self.faulty || r.is_ok(), "ingest: {r:?}");
        // A failed ingest that left the database working (staging failed) changed
        // nothing: every failure after it starts changing the database is latched.
        if r.is_err() && self.db.sync().is_ok() {
            self.durable = self.acked;
            return;
        }
        let batch: Batch = recs
            .into_iter()
            .map(|(k, v)| match v {
                Some(v) => Rec::Put(k, v),
                None => Rec::Delete(k),
            })
            .collect();
        if r.is_ok() {
            assert_eq!(self.acked, self.history.len(), "an ingest succeeded after a failure");
            apply(&mut self.model, &batch);
            self.acked += 1;
            // The ingest's marker was fsynced with everything before it.
            self.durable = self.acked;
        }
        self.history.push(batch);
    }

    /// Takes a checkpoint, opens it and compares it with the model (unless a fault is
    /// armed: then only a checkpoint that succeeded must open), then removes it.
    fn checkpoint(&mut self) {
        // A fresh directory each time: a removal that failed under a fault (or came
        // back with a crash) leaves the last one behind.
        self.checkpoints += 1;
        let dir = format!("/checkpoint-{}", self.checkpoints);
        let dir = Path::new(&dir);
        let r = self.db.checkpoint(dir, crate::CheckpointOptions::default());
        assert!(self.faulty || r.is_ok(), "checkpoint: {r:?}");
        if r.is_ok() {
            let opts = Options {
                create_if_missing: false,
                ..options(&self.fs, self.compression, RecoveryMode::default())
            };
            let faults = self.faulty;
            match Db::open(dir, opts) {
                Ok(copy) => {
                    if !faults {
                        let got = contents(&copy);
                        assert!(got == self.model, "a checkpoint differs from the model");
                    }
                    let closed = copy.close();
                    assert!(faults || closed.is_ok(), "checkpoint close: {closed:?}");
                }
                Err(e) => assert!(faults, "a checkpoint that succeeded does not open: {e}"),
            }
        }
        let fs: &dyn crate::fs::FileSystem = &self.fs;
        if let Ok(names) = fs.list_dir(dir) {
            for name in names {
                let _ = fs.remove_file(&dir.join(name));
            }
        }
        let _ = fs.remove_dir(dir);
    }

    fn scan(&mut self, c: &mut Choices<'_>) {
        let (a, b, reverse) = (key(c), key(c), c.bool());
        let (lo, hi) = (a.clone().min(b.clone()), a.max(b));
        let scan = |it: crate::Iter| -> crate::Result<Vec<(Vec<u8>, Vec<u8>)>> {
            let mut got: Vec<_> = if reverse {
                it.rev()
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                    .collect::<crate::Result<_>>()?
            } else {
                it.map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                    .collect::<crate::Result<_>>()?
            };
            if reverse {
                got.reverse();
            }
            Ok(got)
        };
        let range = lo.as_slice()..hi.as_slice();
        let got = scan(self.db.range(range.clone())).and_then(|mut d| {
            d.extend(scan(self.ks.range(range))?);
            d.sort();
            Ok(d)
        });
        if self.faulty {
            return;
        }
        let got = got.expect("scan");
        let want: Vec<_> = self.model.range(lo..hi).map(|(k, v)| (k.clone(), v.clone())).collect();
        assert!(got == want, "scan: {} entries, the model has {}", got.len(), want.len());
    }

    fn check_snapshot(&mut self, c: &mut Choices<'_>) {
        if self.snapshots.is_empty() || self.faulty {
            return;
        }
        let i = usize::from(c.u8()) % self.snapshots.len();
        let (snap, model) = &self.snapshots[i];
        let k = key(c);
        let got = if in_ks(&k) { snap.get_in(&self.ks, &k) } else { snap.get(&k) };
        let got = got.expect("snapshot get").map(|v| v.to_vec());
        assert_eq!(got.as_ref(), model.get(&k), "snapshot get {}", k.escape_ascii());
        let all: Model = snap
            .iter()
            .chain(snap.iter_in(&self.ks))
            .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<crate::Result<_>>()
            .expect("snapshot iter");
        assert!(all == *model, "a snapshot changed: {} keys, {} expected", all.len(), model.len());
    }

    /// Closes (or crashes, `Some((mode, seed))`; mode `None` is a process crash) and
    /// reopens, then checks what survived against the history.
    fn reopen(&mut self, crash: Option<(Option<CrashMode>, u64)>) {
        self.snapshots.clear();
        self.fs.clear_faults();
        let mut lowest = self.acked;
        let mut recovery = RecoveryMode::default();
        match crash {
            None => {
                let r = self.db.close();
                if self.faulty {
                    lowest = self.durable;
                } else {
                    r.expect("close");
                }
            }
            Some((mode, seed)) => {
                let image = match mode {
                    Some(m) => self.fs.crash(m, seed),
                    None => self.fs.crash_process(),
                };
                if mode.is_some() || self.faulty {
                    lowest = self.durable;
                }
                // Pages written out of order are damage only point-in-time recovery
                // accepts (`RecoveryMode::PointInTime`).
                if mode == Some(CrashMode::TornPages) {
                    recovery = RecoveryMode::PointInTime;
                }
                self.fs = image;
            }
        }
        let opts = options(&self.fs, self.compression, recovery);
        let db = Db::open(Path::new(DIR), opts).unwrap_or_else(|e| panic!("reopen: {e}"));
        drop(std::mem::replace(&mut self.db, db));
        self.ks = second_keyspace(&self.db);
        let got = contents(&self.db);
        let mut state = self.base.clone();
        let mut matched = false;
        for k in 0..=self.history.len() {
            if k > 0 {
                apply(&mut state, &self.history[k - 1]);
            }
            if k >= lowest && state == got {
                matched = true;
                break;
            }
        }
        assert!(
            matched,
            "after {crash:?} the database ({} keys) is not the state after any of writes \
             {lowest}..={} of this session",
            got.len(),
            self.history.len()
        );
        self.base = got.clone();
        self.model = got;
        self.history.clear();
        self.durable = 0;
        self.acked = 0;
        self.faulty = false;
    }
}
