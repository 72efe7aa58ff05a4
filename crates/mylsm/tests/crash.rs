//! Simulated power loss on `MemFs`: after any crash the database is a prefix of the
//! acknowledged history that includes every write acknowledged as durable.
//!
//! The main test runs seeded random lives (writes, syncs, flushes, compactions,
//! snapshots, injected I/O failures), cuts the power at a random moment in one of the
//! three [`CrashMode`]s, sometimes cuts it again while the database recovers, and checks
//! the recovered state against the acknowledged history. `MYLSM_CRASH_SEEDS=N` sets how
//! many seeds run, `MYLSM_CRASH_SEED_START=S` where they start, and `MYLSM_CRASH_SEED=N`
//! replays one seed.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use common::*;
use mylsm::fs::{CrashMode, MemFs};
use mylsm::{Compression, Db, Options, RecoveryMode, WriteOptions};
use rand::rngs::SmallRng;
use rand::Rng;

/// Seeds a default run covers (a third per crash mode): enough to hit flushes,
/// compactions and manifest switches at many different moments, while the file runs
/// in about a minute in the debug profile on a two-core machine.
const DEFAULT_SEEDS: u64 = 3000;

const MODES: [CrashMode; 3] =
    [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix, CrashMode::TornPages];

/// What the seeds exercised, summed over a run, so a run can show (and the default
/// run can assert) that crashes really landed around flushes, compactions and faults.
#[derive(Default)]
struct Coverage {
    lives: AtomicU64,
    acked: AtomicU64,
    flushes: AtomicU64,
    compactions: AtomicU64,
    faulted_lives: AtomicU64,
    truncated_recoveries: AtomicU64,
    second_crashes: AtomicU64,
}

static COVERAGE: Coverage = Coverage {
    lives: AtomicU64::new(0),
    acked: AtomicU64::new(0),
    flushes: AtomicU64::new(0),
    compactions: AtomicU64::new(0),
    faulted_lives: AtomicU64::new(0),
    truncated_recoveries: AtomicU64::new(0),
    second_crashes: AtomicU64::new(0),
};

fn count(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Ordering::Relaxed);
}

/// What one life of the database (open → operations → crash) acknowledged.
struct Life {
    /// State the life started from.
    base: Model,
    /// Acknowledged batches, in order.
    acked: Vec<Vec<Op>>,
    /// Batches `..durable` were made durable (synced write or `Db::sync`).
    durable: usize,
    /// A batch whose write returned an error, after every acknowledged one: it may or
    /// may not have been applied.
    maybe: Option<Vec<Op>>,
}

impl Life {
    fn new(base: Model) -> Self {
        Life { base, acked: Vec::new(), durable: 0, maybe: None }
    }

    /// The states the database may hold after a crash, each with the number of
    /// batches it includes: the base plus `acked[..n]` for `durable <= n`, then that
    /// plus the failed batch.
    fn allowed(&self) -> Vec<(usize, Model)> {
        let mut state = self.base.clone();
        for ops in &self.acked[..self.durable] {
            apply(&mut state, ops);
        }
        let mut out = vec![(self.durable, state.clone())];
        for (i, ops) in self.acked.iter().enumerate().skip(self.durable) {
            apply(&mut state, ops);
            out.push((i + 1, state.clone()));
        }
        if let Some(ops) = &self.maybe {
            apply(&mut state, ops);
            out.push((self.acked.len() + 1, state));
        }
        out
    }

    /// Panics unless `got` is the base plus a prefix of the history at least `durable`
    /// batches long; returns how many batches it holds.
    fn check(&self, got: &Model, ctx: &str) -> usize {
        let allowed = self.allowed();
        if let Some((n, _)) = allowed.iter().find(|(_, m)| m == got) {
            return *n;
        }
        panic!(
            "{ctx}: recovered state is not a prefix of the acknowledged history \
             ({} acked, {} durable, failed batch: {}; recovered {} keys). \
             Against the last durable state: {}. Against everything acknowledged: {}",
            self.acked.len(),
            self.durable,
            self.maybe.is_some(),
            got.len(),
            diff(got, &allowed[0].1),
            diff(got, &allowed[allowed.len() - 1].1),
        );
    }
}

/// One seed's configuration: tiny limits so that a few hundred writes cut memtables,
/// flush, compact into several levels and switch manifests.
fn seed_options(fs: &MemFs, rng: &mut SmallRng, mode: CrashMode) -> Options {
    let pick = |rng: &mut SmallRng, xs: &[usize]| xs[rng.random_range(0..xs.len())];
    Options {
        write_buffer_size: pick(rng, &[1 << 10, 3 << 10, 8 << 10, 64 << 20]),
        max_immutable_memtables: pick(rng, &[1, 2]),
        l0_compaction_trigger: pick(rng, &[2, 4]),
        target_file_size: pick(rng, &[4 << 10, 16 << 10]) as u64,
        max_bytes_for_level_base: 16 << 10,
        level_multiplier: 4,
        block_size: pick(rng, &[256, 1024, 4096]),
        block_cache_bytes: pick(rng, &[0, 1 << 20]),
        compression: [Compression::None, Compression::Lz4][rng.random_range(0..2)],
        // A torn page in the unsynced tail of a log is damage, not a torn tail (zeros
        // followed by data); the documented way to open after such a power loss is
        // point-in-time recovery, which stops at the damage.
        wal_recovery_mode: if mode == CrashMode::TornPages {
            RecoveryMode::PointInTime
        } else {
            RecoveryMode::TolerateTornTail
        },
        ..options(fs)
    }
}

/// A value unique to this write, so a value from the wrong write cannot pass for the
/// right one; a few are long enough to span WAL blocks.
fn unique_value(rng: &mut SmallRng, id: u64) -> Vec<u8> {
    let mut v = format!("v{id}-").into_bytes();
    let extra = match rng.random_range(0..100) {
        0 => rng.random_range(33_000..40_000),
        1..=4 => rng.random_range(500..5_000),
        _ => rng.random_range(0..30),
    };
    v.resize(v.len() + extra, b'a' + (id % 26) as u8);
    v
}

fn seed_batch(rng: &mut SmallRng, id: &mut u64) -> Vec<Op> {
    let n = if rng.random_bool(0.7) { 1 } else { rng.random_range(2..8) };
    (0..n)
        .map(|_| {
            let k = random_key(rng, 48);
            *id += 1;
            if rng.random_bool(0.25) {
                Op::Delete(k)
            } else {
                Op::Put(k, unique_value(rng, *id))
            }
        })
        .collect()
}

/// Runs `steps` random operations on `db`, checking reads against the model as it
/// goes. With `faults`, a write or sync failure is armed on `fs` at a random step in
/// three lives out of ten; the life ends at the first error an operation returns.
fn live(
    db: &Db,
    fs: &MemFs,
    rng: &mut SmallRng,
    base: Model,
    steps: usize,
    faults: bool,
    ctx: &str,
) -> Life {
    let mut life = Life::new(base);
    let mut model = life.base.clone();
    let fault_at =
        if faults && rng.random_bool(0.3) { rng.random_range(0..steps.max(1)) } else { usize::MAX };
    let mut armed = false;
    let mut snapshot: Option<(mylsm::Snapshot, Model)> = None;
    let mut id = rng.random::<u32>() as u64 * 1_000_000;
    for step in 0..steps {
        let ctx = format!("{ctx} step {step}");
        if step == fault_at {
            let after = rng.random_range(0..30);
            if rng.random_bool(0.5) {
                fs.fail_write_after(after);
            } else {
                fs.fail_sync_after(after);
            }
            armed = true;
        }
        // Errors are expected only once a failure is armed; before that, one is a bug.
        let fail = |what: &str, e: mylsm::Error| {
            assert!(armed, "{ctx}: {what} failed with no fault armed: {e}");
        };
        match rng.random_range(0..100) {
            0..=69 => {
                let ops = seed_batch(rng, &mut id);
                let sync = rng.random_bool(0.15);
                match db.write_opt(to_batch(&ops), &WriteOptions::default().with_sync(sync)) {
                    Ok(()) => {
                        apply(&mut model, &ops);
                        life.acked.push(ops);
                        if sync {
                            life.durable = life.acked.len();
                        }
                    }
                    Err(e) => {
                        fail("write", e);
                        life.maybe = Some(ops);
                        return life;
                    }
                }
            }
            70..=72 => match db.sync() {
                Ok(()) => life.durable = life.acked.len(),
                Err(e) => return (fail("sync", e), life).1,
            },
            73..=77 => {
                if let Err(e) = db.flush() {
                    return (fail("flush", e), life).1;
                }
            }
            78..=79 => {
                let (a, b) = (random_key(rng, 48), random_key(rng, 48));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let r = if rng.random_bool(0.5) {
                    db.compact_range::<&[u8], _>(..)
                } else {
                    db.compact_range(lo.as_slice()..=hi.as_slice())
                };
                if let Err(e) = r {
                    return (fail("compact_range", e), life).1;
                }
            }
            80..=86 => match snapshot.take() {
                // A snapshot sees exactly the writes acknowledged before it was taken,
                // however many flushes and compactions ran since.
                Some((snap, then)) => {
                    let seen: Model = snap
                        .iter()
                        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
                        .collect::<Result<_, _>>()
                        .unwrap_or_else(|e| panic!("{ctx}: snapshot scan: {e}"));
                    assert!(seen == then, "{ctx}: snapshot changed: {}", diff(&seen, &then));
                }
                None => snapshot = Some((db.snapshot(), model.clone())),
            },
            _ => {
                let k = random_key(rng, 48);
                let got = db.get(&k).unwrap_or_else(|e| panic!("{ctx}: get: {e}"));
                assert_eq!(got.as_deref(), model.get(&k).map(Vec::as_slice), "{ctx}: get");
            }
        }
    }
    life
}

/// Opens `fs` and reads everything back, checking point reads against the scan.
fn open_and_read(fs: &MemFs, opts: &Options, ctx: &str) -> (Db, Model) {
    let opts = Options { fs: std::sync::Arc::new(fs.clone()), ..opts.clone() };
    // A read-only open of the crashed image first: it must recover the same state
    // while writing nothing.
    let untouched: Vec<_> = fs.paths().into_iter().map(|p| (fs.file_contents(&p), p)).collect();
    let ro = Db::open_read_only(DIR, opts.clone())
        .unwrap_or_else(|e| panic!("{ctx}: read-only reopen: {e}"));
    let ro_got: Result<Model, _> =
        ro.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect();
    drop(ro);
    let after: Vec<_> = fs.paths().into_iter().map(|p| (fs.file_contents(&p), p)).collect();
    assert!(untouched == after, "{ctx}: a read-only open changed the crashed image");
    let db = Db::open(DIR, opts).unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
    count(&COVERAGE.truncated_recoveries, u64::from(db.stats().recovery_truncated.is_some()));
    let got: Model = db
        .iter()
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{ctx}: scan: {e}"));
    for (k, v) in &got {
        let point = db.get(k).unwrap_or_else(|e| panic!("{ctx}: get: {e}"));
        assert_eq!(point.as_deref(), Some(v.as_slice()), "{ctx}: get disagrees with scan");
    }
    let ro_got = ro_got.unwrap_or_else(|e| panic!("{ctx}: read-only scan: {e}"));
    assert!(ro_got == got, "{ctx}: the read-only open read another state");
    (db, got)
}

/// Recovers from the power loss that left `crashed`, sometimes losing power again
/// while recovering. Returns the file system and state the database ends up with.
fn recover(
    crashed: MemFs,
    opts: &Options,
    rng: &mut SmallRng,
    life: &Life,
    ctx: &str,
) -> (MemFs, Model) {
    let mode = MODES[rng.random_range(0..3)];
    match rng.random_range(0..10) {
        // Power fails again after a successful open (which wrote a new log and manifest
        // and may be flushing or compacting): what it recovered must not be lost.
        0..=1 => {
            count(&COVERAGE.second_crashes, 1);
            let (db, first) = open_and_read(&crashed, opts, ctx);
            life.check(&first, ctx);
            let again = crashed.crash(mode, rng.random());
            drop(db);
            let ctx = format!("{ctx}, then {mode:?} after a clean reopen");
            let (db, got) = open_and_read(&again, opts, &ctx);
            assert!(got == first, "{ctx}: lost what recovery had: {}", diff(&got, &first));
            db.close().unwrap_or_else(|e| panic!("{ctx}: close: {e}"));
            (again, got)
        }
        // Power fails during recovery: the open's n-th write or sync fails, then the
        // power goes. The next open must still find a prefix of the history.
        2..=3 => {
            count(&COVERAGE.second_crashes, 1);
            let n = rng.random_range(0..12);
            let write = rng.random_bool(0.5);
            if write {
                crashed.fail_write_after(n);
            } else {
                crashed.fail_sync_after(n);
            }
            let faulted =
                Db::open(DIR, Options { fs: std::sync::Arc::new(crashed.clone()), ..opts.clone() });
            let again = crashed.crash(mode, rng.random());
            drop(faulted);
            let what = if write { "write" } else { "sync" };
            let ctx = format!("{ctx}, then {mode:?} at {what} {n} of recovery");
            let (db, got) = open_and_read(&again, opts, &ctx);
            life.check(&got, &ctx);
            db.close().unwrap_or_else(|e| panic!("{ctx}: close: {e}"));
            (again, got)
        }
        _ => {
            let (db, got) = open_and_read(&crashed, opts, ctx);
            life.check(&got, ctx);
            db.close().unwrap_or_else(|e| panic!("{ctx}: close: {e}"));
            (crashed, got)
        }
    }
}

/// One seed: three lives, each ended by a power loss, each checked after recovery.
fn run_seed(seed: u64) {
    let mut rng = rng(seed);
    let mode = MODES[(seed % 3) as usize];
    let mut fs = MemFs::new();
    let opts = seed_options(&fs, &mut rng, mode);
    let mut base = Model::new();
    for round in 0..3 {
        let ctx = format!("seed {seed} ({mode:?}) round {round}");
        let opts = Options { fs: std::sync::Arc::new(fs.clone()), ..opts.clone() };
        let db = Db::open(DIR, opts.clone()).unwrap_or_else(|e| panic!("{ctx}: open: {e}"));
        let steps = rng.random_range(0..160);
        let life = live(&db, &fs, &mut rng, base, steps, true, &ctx);
        let stats = db.stats();
        count(&COVERAGE.lives, 1);
        count(&COVERAGE.acked, life.acked.len() as u64);
        count(&COVERAGE.flushes, stats.flushes);
        count(&COVERAGE.compactions, stats.compactions);
        count(&COVERAGE.faulted_lives, u64::from(life.maybe.is_some()));
        // Power fails now, at whatever point the background flush or compaction has
        // reached; the old handle keeps running against the old file system.
        let crashed = fs.crash(mode, rng.random());
        drop(db);
        let (next, got) = recover(crashed, &opts, &mut rng, &life, &ctx);
        fs = next;
        base = got;
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    Some(v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (payload.downcast_ref::<String>(), payload.downcast_ref::<&str>()) {
        (Some(s), _) => s.clone(),
        (_, Some(s)) => (*s).to_string(),
        _ => "non-string panic".to_string(),
    }
}

#[test]
fn power_loss_at_random_points_recovers_a_prefix_of_the_acknowledged_history() {
    let (start, count) = match env_u64("MYLSM_CRASH_SEED") {
        Some(seed) => (seed, 1),
        None => (
            env_u64("MYLSM_CRASH_SEED_START").unwrap_or(0),
            env_u64("MYLSM_CRASH_SEEDS").unwrap_or(DEFAULT_SEEDS),
        ),
    };
    let next = AtomicU64::new(start);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<(u64, String)>> = Mutex::new(None);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= start + count {
                        return;
                    }
                    if let Err(p) = panic::catch_unwind(AssertUnwindSafe(|| run_seed(seed))) {
                        stop.store(true, Ordering::Relaxed);
                        let mut f = failure.lock().unwrap_or_else(|p| p.into_inner());
                        // Report the smallest failing seed if several workers fail.
                        if f.as_ref().is_none_or(|(s, _)| seed < *s) {
                            *f = Some((seed, panic_message(p.as_ref())));
                        }
                    }
                }
            });
        }
    });
    if let Some((seed, msg)) = failure.into_inner().unwrap_or_else(|p| p.into_inner()) {
        panic!(
            "simulated power loss failed at seed {seed}: {msg}\n\
             replay just this seed with:\n  MYLSM_CRASH_SEED={seed} cargo test -p mylsm \
             --test crash power_loss_at_random_points -- --nocapture\n\
             (background threads decide how far a flush or compaction got when the power \
             fails, so a replay may need a few runs to hit the same moment)"
        );
    }
    let c = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let cov = &COVERAGE;
    eprintln!(
        "simulated power loss: seeds {start}..{} passed: {} lives, {} acknowledged batches, \
         {} flushes, {} compactions, {} lives ended by an injected failure, {} opens \
         truncated a torn log, {} second power losses during or after recovery",
        start + count,
        c(&cov.lives),
        c(&cov.acked),
        c(&cov.flushes),
        c(&cov.compactions),
        c(&cov.faulted_lives),
        c(&cov.truncated_recoveries),
        c(&cov.second_crashes),
    );
    if count >= 1000 {
        // A change to the options or the workload that stopped crashes from landing
        // around flushes, compactions or failures would make this test quietly weaker.
        // Torn logs that need truncating are rare (the unsynced tail must span pages,
        // which only the large write buffer allows): about one seed in 200.
        for (what, n, per) in [
            ("flushes", c(&cov.flushes), 20),
            ("compactions", c(&cov.compactions), 20),
            ("faulted lives", c(&cov.faulted_lives), 20),
            ("truncated recoveries", c(&cov.truncated_recoveries), 500),
            ("second crashes", c(&cov.second_crashes), 20),
        ] {
            assert!(n >= count / per, "only {n} {what} in {count} seeds");
        }
    }
}

/// Builds a write-ahead log full of unsynced writes (several memtables' worth), then
/// fails the n-th write or sync of the open that recovers it after a process crash,
/// for every n, and cuts the power: whatever the recovery had done, the next open
/// finds a prefix of the history with every synced write.
#[test]
fn a_crash_at_every_write_and_sync_of_recovery_keeps_a_prefix() {
    for (kind, mode) in [
        ("write", CrashMode::DropUnsynced),
        ("sync", CrashMode::DropUnsynced),
        ("write", CrashMode::TornPages),
        ("sync", CrashMode::KeepRandomPrefix),
    ] {
        let mut n = 0;
        loop {
            let fs = MemFs::new();
            let opts = Options {
                write_buffer_size: 4 << 10,
                wal_recovery_mode: if mode == CrashMode::TornPages {
                    RecoveryMode::PointInTime
                } else {
                    RecoveryMode::TolerateTornTail
                },
                ..options(&fs)
            };
            let db = Db::open(DIR, opts.clone()).unwrap();
            let mut life = Life::new(Model::new());
            for i in 0..150u32 {
                let ops = vec![Op::Put(
                    format!("key{:03}", i % 97).into_bytes(),
                    format!("value{i}-{}", "x".repeat(100)).into_bytes(),
                )];
                let sync = i % 40 == 39;
                db.write_opt(to_batch(&ops), &WriteOptions::default().with_sync(sync)).unwrap();
                life.acked.push(ops);
                if sync {
                    life.durable = life.acked.len();
                }
            }
            let process_crashed = fs.crash_process();
            drop(db);
            match kind {
                "write" => process_crashed.fail_write_after(n),
                _ => process_crashed.fail_sync_after(n),
            }
            let opened = Db::open(
                DIR,
                Options { fs: std::sync::Arc::new(process_crashed.clone()), ..opts.clone() },
            );
            let ok = opened.is_ok();
            let crashed = process_crashed.crash(mode, n);
            drop(opened);
            let ctx = format!("{kind} {n} of recovery, then {mode:?}");
            let (_db, got) = open_and_read(&crashed, &opts, &ctx);
            life.check(&got, &ctx);
            if ok {
                // Open writes at least a manifest and CURRENT, and syncs the replayed
                // logs, the new log, the manifest, CURRENT and the directory.
                assert!(n >= 2, "{ctx}: recovery did almost no I/O");
                break;
            }
            n += 1;
        }
    }
}

#[test]
fn a_process_crash_loses_no_acknowledged_write() {
    for seed in 0..50 {
        let mut rng = rng(seed);
        let fs = MemFs::new();
        let db = open(&fs);
        let life = live(&db, &fs, &mut rng, Model::new(), 80, false, &format!("seed {seed}"));
        let crashed = fs.crash_process();
        drop(db);
        let mut want = Model::new();
        for ops in &life.acked {
            apply(&mut want, ops);
        }
        assert_eq!(contents(&open(&crashed)), want, "seed {seed}");
    }
}

#[test]
fn synced_writes_survive_power_loss_even_when_nothing_else_was_synced_after() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.put(b"a", b"unsynced-before").unwrap();
    db.write_opt(to_batch(&[Op::Put(b"b".to_vec(), b"synced".to_vec())]), &WriteOptions::synced())
        .unwrap();
    db.put(b"c", b"unsynced-after").unwrap();
    let crashed = fs.crash(CrashMode::DropUnsynced, 7);
    drop(db);
    let db = open(&crashed);
    // The synced write, and everything before it in the log, survives; the later one
    // was never promised to.
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"unsynced-before"[..]));
    assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"synced"[..]));
    assert_eq!(db.get(b"c").unwrap(), None);
}

#[test]
fn writes_replayed_at_open_are_durable_before_new_synced_writes() {
    // A process crash leaves an unsynced write in the OS; the next process replays it
    // and then makes a synced write. A power loss must not keep the second and lose
    // the first.
    let fs = MemFs::new();
    let db = open(&fs);
    db.put(b"first", b"1").unwrap();
    let after_process_crash = fs.crash_process();
    drop(db);
    let db = open(&after_process_crash);
    db.write_opt(to_batch(&[Op::Put(b"second".to_vec(), b"2".to_vec())]), &WriteOptions::synced())
        .unwrap();
    let after_power_loss = after_process_crash.crash(CrashMode::DropUnsynced, 1);
    drop(db);
    let db = open(&after_power_loss);
    assert_eq!(db.get(b"first").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"second").unwrap().as_deref(), Some(&b"2"[..]));
}

#[test]
fn seqnos_continue_after_reopen_so_new_writes_win() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.put(b"k", b"old").unwrap();
    let seq = db.stats().last_seqno;
    db.close().unwrap();
    let db = open(&fs);
    assert_eq!(db.stats().last_seqno, seq);
    db.put(b"k", b"new").unwrap();
    assert!(db.stats().last_seqno > seq);
    db.close().unwrap();
    let db = open(&fs);
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"new"[..]));
}
