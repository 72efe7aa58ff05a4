//! Simulated power loss on `MemFs`: after any crash the database is a prefix of the
//! acknowledged history that includes every write acknowledged as durable.

mod common;

use common::*;
use mylsm::fs::{CrashMode, MemFs};
use mylsm::{Db, WriteOptions};
use rand::Rng;

/// What one life of the database (open → writes → crash) acknowledged.
struct Life {
    /// State the life started from.
    base: Model,
    /// Acknowledged batches, in order.
    acked: Vec<Vec<Op>>,
    /// Batches `..durable` were made durable (synced write or `Db::sync`).
    durable: usize,
}

impl Life {
    /// Panics unless `got` is the base plus a prefix of `acked` at least `durable` long.
    fn check(&self, got: &Model, ctx: &str) {
        let mut state = self.base.clone();
        for op in &self.acked[..self.durable] {
            apply(&mut state, op);
        }
        if &state == got {
            return;
        }
        for op in &self.acked[self.durable..] {
            apply(&mut state, op);
            if &state == got {
                return;
            }
        }
        panic!(
            "{ctx}: recovered state is not a prefix of the acknowledged history \
             ({} acked, {} durable; recovered {} keys)",
            self.acked.len(),
            self.durable,
            got.len()
        );
    }
}

fn live(db: &Db, rng: &mut rand::rngs::SmallRng, base: Model, steps: usize) -> Life {
    let mut life = Life { base, acked: Vec::new(), durable: 0 };
    for _ in 0..steps {
        if rng.random_bool(0.03) {
            db.sync().unwrap();
            life.durable = life.acked.len();
            continue;
        }
        let ops = random_batch(rng, 24);
        let sync = rng.random_bool(0.15);
        db.write_opt(to_batch(&ops), &WriteOptions { sync }).unwrap();
        life.acked.push(ops);
        if sync {
            life.durable = life.acked.len();
        }
    }
    life
}

fn crash_loop(mode: CrashMode, seeds: std::ops::Range<u64>, write_buffer_size: usize) {
    for seed in seeds {
        let mut rng = rng(seed);
        let mut fs = MemFs::new();
        let mut base = Model::new();
        for round in 0..3 {
            let ctx = format!("{mode:?} seed {seed} round {round}");
            let opts = mylsm::Options { write_buffer_size, ..options(&fs) };
            let db = Db::open(DIR, opts).unwrap();
            assert_eq!(contents(&db), base, "{ctx}: reopened state changed");
            let steps = rng.random_range(0..120);
            let life = live(&db, &mut rng, base, steps);
            // Power fails now; the old handle keeps running against the old file system.
            let crashed = fs.crash(mode, seed * 31 + round);
            drop(db);
            fs = crashed;
            let db = Db::open(DIR, mylsm::Options { write_buffer_size, ..options(&fs) })
                .unwrap_or_else(|e| panic!("{ctx}: reopen: {e}"));
            let got = contents(&db);
            life.check(&got, &ctx);
            for (k, v) in &got {
                assert_eq!(
                    db.get(k).unwrap().as_deref(),
                    Some(v.as_slice()),
                    "{ctx}: get disagrees with scan"
                );
            }
            base = got;
            db.close().unwrap();
        }
    }
}

#[test]
fn power_loss_dropping_unsynced_data_keeps_a_prefix_with_every_synced_write() {
    crash_loop(CrashMode::DropUnsynced, 0..250, 64 << 20);
}

#[test]
fn power_loss_while_memtables_are_being_flushed_keeps_a_prefix() {
    // A write buffer this small cuts a memtable every few batches, so crashes land
    // before, during and after flushes and manifest edits on the background thread.
    crash_loop(CrashMode::DropUnsynced, 500..700, 2 << 10);
    crash_loop(CrashMode::KeepRandomPrefix, 700..900, 2 << 10);
}

#[test]
fn power_loss_keeping_a_random_prefix_of_unsynced_data_keeps_a_prefix() {
    crash_loop(CrashMode::KeepRandomPrefix, 1000..1250, 64 << 20);
}

#[test]
fn a_process_crash_loses_no_acknowledged_write() {
    for seed in 0..50 {
        let mut rng = rng(seed);
        let fs = MemFs::new();
        let db = open(&fs);
        let life = live(&db, &mut rng, Model::new(), 80);
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
    db.write_opt(
        to_batch(&[Op::Put(b"b".to_vec(), b"synced".to_vec())]),
        &WriteOptions { sync: true },
    )
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
    db.write_opt(
        to_batch(&[Op::Put(b"second".to_vec(), b"2".to_vec())]),
        &WriteOptions { sync: true },
    )
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
