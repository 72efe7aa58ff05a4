//! Optimistic transactions: the Hermitage anomaly suite under serializable and snapshot
//! isolation, every interleaving of two transactions on the write-skew and lost-update
//! cases, a bank of accounts over two keyspaces transferred between by several threads
//! (and under power loss), and the API's edges.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use mylsm::fs::{CrashMode, MemFs};
use mylsm::merge::U64Add;
use mylsm::{Db, Error, Isolation, Keyspace, KeyspaceOptions, Options, Transaction, TxOptions};
use rand::Rng;

const SER: TxOptions =
    TxOptions { isolation: Isolation::Serializable, write: mylsm::WriteOptions::new() };
const SI: TxOptions =
    TxOptions { isolation: Isolation::Snapshot, write: mylsm::WriteOptions::new() };

/// Hermitage's table: keys 1 and 2 with values 10 and 20.
fn hermitage(fs: &MemFs) -> Db {
    let db = Db::open(DIR, options(fs)).unwrap();
    db.put("1", "10").unwrap();
    db.put("2", "20").unwrap();
    db
}

fn get(tx: &mut Transaction, k: &str) -> Option<String> {
    tx.get(k).unwrap().map(|v| String::from_utf8(v.to_vec()).unwrap())
}

fn value(db: &Db, k: &str) -> Option<String> {
    db.get(k).unwrap().map(|v| String::from_utf8(v.to_vec()).unwrap())
}

fn is_conflict<T: std::fmt::Debug>(r: mylsm::Result<T>) -> bool {
    matches!(r, Err(Error::Conflict { .. }))
}

fn scan(tx: &mut Transaction) -> Vec<(String, String)> {
    tx.iter()
        .map(|r| {
            let (k, v) = r.unwrap();
            (String::from_utf8(k.to_vec()).unwrap(), String::from_utf8(v.to_vec()).unwrap())
        })
        .collect()
}

/// G0, write cycles: interleaved blind writes end as one transaction's or the other's,
/// never a mix.
#[test]
fn g0_write_cycles_never_mix() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let (mut t1, mut t2) = (db.transaction_opt(opts), db.transaction_opt(opts));
        t1.put("1", "11");
        t2.put("1", "12");
        t1.put("2", "21");
        t1.commit().unwrap();
        t2.put("2", "22");
        let second = t2.commit();
        let state = (value(&db, "1").unwrap(), value(&db, "2").unwrap());
        match second {
            Ok(()) => assert_eq!(state, ("12".into(), "22".into())),
            Err(_) => assert_eq!(state, ("11".into(), "21".into())),
        }
        if opts == SI {
            assert!(is_conflict(second), "snapshot isolation refuses the second writer of key 1");
        }
    }
}

/// G1a (aborted reads) and G1b (intermediate reads): no transaction sees another's
/// uncommitted or intermediate writes.
#[test]
fn g1a_and_g1b_no_aborted_or_intermediate_reads() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let mut t1 = db.transaction_opt(opts);
        let mut t2 = db.transaction_opt(opts);
        t1.put("1", "101");
        assert_eq!(get(&mut t2, "1").as_deref(), Some("10"));
        t1.rollback();
        assert_eq!(get(&mut t2, "1").as_deref(), Some("10"));
        t2.commit().unwrap();
        let mut t1 = db.transaction_opt(opts);
        let mut t2 = db.transaction_opt(opts);
        t1.put("1", "101");
        assert_eq!(get(&mut t2, "1").as_deref(), Some("10"));
        t1.put("1", "11");
        t1.commit().unwrap();
        assert_eq!(get(&mut t2, "1").as_deref(), Some("10"), "a snapshot, not T1's write");
        t2.commit().unwrap();
        assert_eq!(value(&db, "1").as_deref(), Some("11"));
    }
}

/// G1c, circular information flow: each sees the other's key as it was.
#[test]
fn g1c_no_circular_information_flow() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let (mut t1, mut t2) = (db.transaction_opt(opts), db.transaction_opt(opts));
        t1.put("1", "11");
        t2.put("2", "22");
        assert_eq!(get(&mut t1, "2").as_deref(), Some("20"));
        assert_eq!(get(&mut t2, "1").as_deref(), Some("10"));
        t1.commit().unwrap();
        let second = t2.commit();
        if opts == SER {
            assert!(is_conflict(second), "T2 read key 1, which T1 changed");
        } else {
            second.unwrap();
        }
    }
}

/// OTV, observed transaction vanishes: a reader sees all of a transaction or none.
#[test]
fn otv_observed_transaction_never_vanishes() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let (mut t1, mut t2) = (db.transaction_opt(opts), db.transaction_opt(opts));
        t1.put("1", "11");
        t1.put("2", "19");
        t2.put("1", "12");
        t1.commit().unwrap();
        let mut t3 = db.transaction_opt(opts);
        assert_eq!(get(&mut t3, "1").as_deref(), Some("11"));
        t2.put("2", "18");
        assert_eq!(get(&mut t3, "2").as_deref(), Some("19"));
        let _ = t2.commit();
        assert_eq!(get(&mut t3, "2").as_deref(), Some("19"));
        assert_eq!(get(&mut t3, "1").as_deref(), Some("11"));
        t3.commit().unwrap();
    }
}

/// PMP, predicate-many-preceders: a range read repeats, and a serializable writer whose
/// range gained a key conflicts.
#[test]
fn pmp_predicate_reads_repeat_and_phantoms_conflict() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let mut t1 = db.transaction_opt(opts);
        let before = scan(&mut t1);
        let mut t2 = db.transaction_opt(opts);
        t2.put("3", "30");
        t2.commit().unwrap();
        assert_eq!(scan(&mut t1), before, "the range read repeats");
        t1.put("summary", before.len().to_string());
        let r = t1.commit();
        if opts == SER {
            assert!(is_conflict(r), "the range T1 read gained key 3");
        } else {
            r.unwrap();
        }
    }
}

/// P4, lost update: of two read-modify-writes of one key, one fails.
#[test]
fn p4_no_lost_update() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let (mut t1, mut t2) = (db.transaction_opt(opts), db.transaction_opt(opts));
        let a: u32 = get(&mut t1, "1").unwrap().parse().unwrap();
        let b: u32 = get(&mut t2, "1").unwrap().parse().unwrap();
        t1.put("1", (a + 1).to_string());
        t2.put("1", (b + 1).to_string());
        t1.commit().unwrap();
        assert!(is_conflict(t2.commit()), "{opts:?}: the second increment must not be lost");
        assert_eq!(value(&db, "1").as_deref(), Some("11"));
    }
}

/// G-single, read skew: a transaction sees both keys as of its snapshot.
#[test]
fn g_single_no_read_skew() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let mut t1 = db.transaction_opt(opts);
        assert_eq!(get(&mut t1, "1").as_deref(), Some("10"));
        let mut t2 = db.transaction_opt(opts);
        get(&mut t2, "1");
        get(&mut t2, "2");
        t2.put("1", "12");
        t2.put("2", "18");
        t2.commit().unwrap();
        assert_eq!(get(&mut t1, "2").as_deref(), Some("20"), "not 18: the sum stays 30");
        t1.put("seen", "x");
        let r = t1.commit();
        if opts == SER {
            assert!(is_conflict(r), "T1 read keys T2 changed, and wrote");
        } else {
            r.unwrap();
        }
    }
}

/// G2-item, write skew: serializable refuses it; snapshot isolation allows it.
#[test]
fn g2_item_write_skew_is_refused_only_when_serializable() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let (mut t1, mut t2) = (db.transaction_opt(opts), db.transaction_opt(opts));
        // The constraint: 1 + 2 must stay at least 20 (each "doctor" goes off duty only
        // if the other is on).
        let sum = |tx: &mut Transaction| -> u32 {
            ["1", "2"].iter().map(|k| get(tx, k).unwrap().parse::<u32>().unwrap()).sum()
        };
        assert_eq!(sum(&mut t1), 30);
        assert_eq!(sum(&mut t2), 30);
        t1.put("1", "0");
        t2.put("2", "0");
        t1.commit().unwrap();
        let r = t2.commit();
        if opts == SER {
            assert!(is_conflict(r));
            assert_eq!(
                (value(&db, "1").unwrap(), value(&db, "2").unwrap()),
                ("0".into(), "20".into())
            );
        } else {
            r.unwrap();
            assert_eq!(
                (value(&db, "1").unwrap(), value(&db, "2").unwrap()),
                ("0".into(), "0".into()),
                "snapshot isolation allows write skew"
            );
        }
    }
}

/// G2, anti-dependency cycles through a predicate (phantoms): each inserts into the
/// range the other read.
#[test]
fn g2_phantoms_are_refused_only_when_serializable() {
    for opts in [SER, SI] {
        let fs = MemFs::new();
        let db = hermitage(&fs);
        let (mut t1, mut t2) = (db.transaction_opt(opts), db.transaction_opt(opts));
        assert_eq!(scan(&mut t1).len(), 2);
        assert_eq!(scan(&mut t2).len(), 2);
        t1.put("3", "30");
        t2.put("4", "42");
        t1.commit().unwrap();
        let r = t2.commit();
        if opts == SER {
            assert!(is_conflict(r));
        } else {
            r.unwrap();
        }
    }
}

/// Two transactions as steps, run in every interleaving on one thread; checks what
/// committed against the serial outcomes. `make` builds a transaction's steps for its
/// index; `check` judges the final state given which committed.
fn every_interleaving(
    steps: usize,
    opts: TxOptions,
    run_step: &dyn Fn(&Db, &mut Transaction, usize, usize) -> bool,
    check: &dyn Fn(&Db, [bool; 2]),
) -> usize {
    // An interleaving: which transaction moves at each of 2 × steps moments.
    let mut count = 0;
    for mask in 0u32..(1 << (2 * steps)) {
        if mask.count_ones() as usize != steps {
            continue;
        }
        count += 1;
        let fs = MemFs::new();
        let db = Db::open(DIR, options(&fs)).unwrap();
        db.put("x", "50").unwrap();
        db.put("y", "50").unwrap();
        let mut txs: [Option<Transaction>; 2] = [None, None];
        let mut pos = [0usize; 2];
        let mut committed = [false; 2];
        for m in 0..2 * steps {
            let who = ((mask >> m) & 1) as usize;
            let step = pos[who];
            pos[who] += 1;
            if step == 0 {
                txs[who] = Some(db.transaction_opt(opts));
            }
            if step + 1 == steps {
                let tx = txs[who].take().unwrap();
                committed[who] = match tx.commit() {
                    Ok(()) => true,
                    Err(Error::Conflict { .. }) => false,
                    Err(e) => panic!("{e}"),
                };
            } else if let Some(tx) = txs[who].as_mut() {
                run_step(&db, tx, who, step);
            }
        }
        check(&db, committed);
    }
    count
}

fn num(db: &Db, k: &str) -> i64 {
    value(db, k).unwrap().parse().unwrap()
}

/// The write-skew and lost-update cases in every interleaving of their steps (begin,
/// reads, write, commit): validation and seqno assignment happen in one step of the
/// write leader, so no interleaving lets both commit where a serial order would not.
#[test]
fn every_interleaving_of_write_skew_and_lost_update_is_serializable() {
    // Write skew: each reads x and y and, if x + y >= 100, takes 100 from its own key.
    let skew = |_: &Db, tx: &mut Transaction, who: usize, step: usize| -> bool {
        if step == 2 {
            let x: i64 = get(tx, "x").unwrap().parse().unwrap();
            let y: i64 = get(tx, "y").unwrap().parse().unwrap();
            if x + y >= 100 {
                let k = if who == 0 { "x" } else { "y" };
                let v: i64 = get(tx, k).unwrap().parse().unwrap();
                tx.put(k, (v - 100).to_string());
            }
        }
        true
    };
    let n = every_interleaving(4, SER, &skew, &|db, committed| {
        assert!(num(db, "x") + num(db, "y") >= 0, "write skew broke the constraint: {committed:?}");
        assert!(committed.iter().any(|&c| c), "one of them always commits");
    });
    assert_eq!(n, 70);
    // Under snapshot isolation some interleaving does break it.
    let mut broke = false;
    let flag = std::cell::Cell::new(false);
    every_interleaving(4, SI, &skew, &|db, _| {
        if num(db, "x") + num(db, "y") < 0 {
            flag.set(true);
        }
    });
    broke |= flag.get();
    assert!(broke, "snapshot isolation allows write skew in some interleaving");
    // Lost update: each adds 1 to x by reading and writing it.
    let incr = |_: &Db, tx: &mut Transaction, _who: usize, step: usize| -> bool {
        if step == 1 {
            let x: i64 = get(tx, "x").unwrap().parse().unwrap();
            tx.put("x", (x + 1).to_string());
        }
        true
    };
    for opts in [SER, SI] {
        every_interleaving(3, opts, &incr, &|db, committed| {
            let n = committed.iter().filter(|&&c| c).count() as i64;
            assert_eq!(num(db, "x"), 50 + n, "{opts:?}: {committed:?}");
            assert!(n >= 1);
        });
    }
}

/// A bank: accounts split over two keyspaces, threads moving random amounts between
/// random accounts in transactions (with retries); every snapshot taken meanwhile, and
/// the end, hold the same total and no negative balance.
#[test]
fn bank_transfers_keep_the_total_under_concurrency() {
    let fs = MemFs::new();
    let db = Db::open(DIR, Options { write_buffer_size: 16 << 10, ..options(&fs) }).unwrap();
    let other = db.create_keyspace("accounts-b", KeyspaceOptions::default()).unwrap();
    const ACCOUNTS: usize = 16;
    const START: u64 = 1000;
    for i in 0..ACCOUNTS {
        let mut tx = db.transaction();
        account_put(&mut tx, &other, i, START);
        tx.commit().unwrap();
    }
    let total = START * ACCOUNTS as u64;
    let stop = Arc::new(AtomicBool::new(false));
    let conflicts = Arc::new(AtomicU64::new(0));
    let checker = {
        let (db, other, stop) = (db.clone(), other.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut checks = 0;
            while !stop.load(Ordering::Relaxed) || checks == 0 {
                let snap = db.snapshot();
                let mut sum = 0;
                for i in 0..ACCOUNTS {
                    let v = if i.is_multiple_of(2) {
                        snap.get(key(i))
                    } else {
                        snap.get_in(&other, key(i))
                    };
                    sum += parse(&v.unwrap().unwrap());
                }
                assert_eq!(sum, total, "a snapshot saw money appear or vanish");
                checks += 1;
            }
            checks
        })
    };
    let workers: Vec<_> = (0..4u64)
        .map(|t| {
            let (db, other, conflicts) = (db.clone(), other.clone(), Arc::clone(&conflicts));
            std::thread::spawn(move || {
                let mut rng = rng(t);
                for _ in 0..300 {
                    let (a, b) = (rng.random_range(0..ACCOUNTS), rng.random_range(0..ACCOUNTS));
                    let amount = rng.random_range(1..200);
                    let mut tries = 0;
                    db.run_transaction(|tx| {
                        tries += 1;
                        transfer(tx, &other, a, b, amount)
                    })
                    .unwrap();
                    conflicts.fetch_add(tries - 1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let checks = checker.join().unwrap();
    let sum: u64 = balances(&db, &other).iter().sum();
    assert_eq!(sum, total);
    assert!(checks > 0);
    eprintln!(
        "1200 transfers, {} conflicts retried, {checks} snapshot checks",
        conflicts.load(Ordering::Relaxed)
    );
}

fn key(i: usize) -> String {
    format!("acct{i:03}")
}

fn parse(v: &[u8]) -> u64 {
    std::str::from_utf8(v).unwrap().parse().unwrap()
}

/// Even accounts live in the default keyspace, odd ones in `other`.
fn account_get(tx: &mut Transaction, other: &Keyspace, i: usize) -> mylsm::Result<u64> {
    let v = if i.is_multiple_of(2) { tx.get(key(i))? } else { tx.get_in(other, key(i))? };
    Ok(parse(&v.expect("every account exists")))
}

fn account_put(tx: &mut Transaction, other: &Keyspace, i: usize, v: u64) {
    if i.is_multiple_of(2) {
        tx.put(key(i), v.to_string());
    } else {
        tx.put_in(other, key(i), v.to_string()).unwrap();
    }
}

fn transfer(
    tx: &mut Transaction,
    other: &Keyspace,
    a: usize,
    b: usize,
    amount: u64,
) -> mylsm::Result<()> {
    let from = account_get(tx, other, a)?;
    if a == b || from < amount {
        return Ok(());
    }
    let to = account_get(tx, other, b)?;
    account_put(tx, other, a, from - amount);
    account_put(tx, other, b, to + amount);
    Ok(())
}

fn balances(db: &Db, other: &Keyspace) -> Vec<u64> {
    (0..16usize)
        .map(|i| {
            let v = if i.is_multiple_of(2) { db.get(key(i)) } else { other.get(key(i)) };
            parse(&v.unwrap().unwrap())
        })
        .collect()
}

/// The bank under power loss, in every crash mode: after each crash the total holds.
#[test]
fn bank_transfers_keep_the_total_through_power_loss() {
    for seed in 0..18u64 {
        let fs = MemFs::new();
        let opts = Options { write_buffer_size: 4 << 10, ..options(&fs) };
        let db = Db::open(DIR, opts.clone()).unwrap();
        let other = db.create_keyspace("accounts-b", KeyspaceOptions::default()).unwrap();
        let mut tx = db.transaction_opt(TxOptions { write: mylsm::WriteOptions::synced(), ..SER });
        for i in 0..16 {
            account_put(&mut tx, &other, i, 1000);
        }
        tx.commit().unwrap();
        let mut rng = rng(seed);
        for _ in 0..rng.random_range(20..200) {
            let (a, b) = (rng.random_range(0..16), rng.random_range(0..16));
            let sync = rng.random_bool(0.1);
            let mut tx = db.transaction_opt(TxOptions {
                write: mylsm::WriteOptions::default().with_sync(sync),
                ..SER
            });
            transfer(&mut tx, &other, a, b, rng.random_range(1..300)).unwrap();
            tx.commit().unwrap();
        }
        let mode = [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix, CrashMode::TornPages]
            [seed as usize % 3];
        let crashed = fs.crash(mode, seed);
        drop(other);
        drop(db);
        let recovery = if mode == CrashMode::TornPages {
            mylsm::RecoveryMode::PointInTime
        } else {
            mylsm::RecoveryMode::default()
        };
        let db =
            Db::open(DIR, Options { fs: Arc::new(crashed), wal_recovery_mode: recovery, ..opts })
                .unwrap();
        let other = db.keyspace("accounts-b").unwrap();
        let sum: u64 = balances(&db, &other).iter().sum();
        assert_eq!(sum, 16_000, "seed {seed} ({mode:?})");
    }
}

/// Reads see the transaction's own writes (puts, deletes, range deletes, merges) over
/// its snapshot, in both directions; a plain write after the snapshot conflicts.
#[test]
fn reads_see_own_writes_and_plain_writes_conflict() {
    let fs = MemFs::new();
    let db =
        Db::open(DIR, Options { merge_operator: Some(Arc::new(U64Add)), ..options(&fs) }).unwrap();
    for (k, v) in [("a", 1u64), ("b", 2), ("c", 3), ("d", 4)] {
        db.put(k, v.to_le_bytes()).unwrap();
    }
    let mut tx = db.transaction();
    tx.put("e", 5u64.to_le_bytes());
    tx.delete("a");
    tx.merge("b", 10u64.to_le_bytes()).unwrap();
    tx.delete_range("c".."d").unwrap();
    tx.merge("c", 7u64.to_le_bytes()).unwrap();
    let read = |tx: &mut Transaction, rev: bool| -> BTreeMap<String, u64> {
        let it: Vec<_> = if rev { tx.iter().rev().collect() } else { tx.iter().collect() };
        it.into_iter()
            .map(|r| {
                let (k, v) = r.unwrap();
                (
                    String::from_utf8(k.to_vec()).unwrap(),
                    u64::from_le_bytes(v[..].try_into().unwrap()),
                )
            })
            .collect()
    };
    let want: BTreeMap<String, u64> = [("b", 12), ("c", 7), ("d", 4), ("e", 5)]
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(read(&mut tx, false), want);
    assert_eq!(read(&mut tx, true), want);
    assert_eq!(tx.get("c").unwrap().as_deref(), Some(&7u64.to_le_bytes()[..]));
    assert_eq!(tx.get("a").unwrap(), None);
    assert_eq!(db.get("e").unwrap(), None, "nothing is visible before commit");
    // A plain write to a key the transaction read conflicts too.
    db.put("d", 40u64.to_le_bytes()).unwrap();
    assert!(is_conflict(tx.commit()));
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&1u64.to_le_bytes()[..]), "nothing written");
    // Untracked reads are not validated; blind merges of two transactions both commit.
    let mut t1 = db.transaction();
    let mut t2 = db.transaction();
    t1.get_untracked("b").unwrap();
    t1.merge("hits", 1u64.to_le_bytes()).unwrap();
    t2.merge("hits", 1u64.to_le_bytes()).unwrap();
    db.put("b", 0u64.to_le_bytes()).unwrap();
    t1.commit().unwrap();
    t2.commit().unwrap();
    assert_eq!(db.get("hits").unwrap().as_deref(), Some(&2u64.to_le_bytes()[..]));
    // A transaction is Send and holds no borrow of the database.
    fn assert_send<T: Send + 'static>(_: &T) {}
    let tx = db.transaction();
    assert_send(&tx);
    let handle = std::thread::spawn(move || {
        let mut tx = tx;
        tx.put("moved", "1");
        tx.commit()
    });
    handle.join().unwrap().unwrap();
    assert!(db.get("moved").unwrap().is_some());
}

/// A merge that fails over the transaction's own value leaves that value: the
/// transaction reads what its commit writes.
#[test]
fn a_failed_merge_over_an_own_write_keeps_the_write() {
    let fs = MemFs::new();
    let db =
        Db::open(DIR, Options { merge_operator: Some(Arc::new(U64Add)), ..options(&fs) }).unwrap();
    db.put("k", 1u64.to_le_bytes()).unwrap();
    let mut tx = db.transaction();
    tx.put("k", "not a number");
    assert!(matches!(tx.merge("k", 1u64.to_le_bytes()), Err(Error::MergeFailed(_))));
    assert_eq!(tx.get("k").unwrap().as_deref(), Some(&b"not a number"[..]));
    tx.commit().unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"not a number"[..]));
}

/// `run_transaction` retries conflicts and returns the committed closure's value.
#[test]
fn run_transaction_retries_conflicts() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    db.put("n", "0").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..50 {
                    db.run_transaction(|tx| {
                        let n: u64 = get(tx, "n").unwrap().parse().unwrap();
                        tx.put("n", (n + 1).to_string());
                        Ok(n)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(value(&db, "n").as_deref(), Some("200"), "no increment lost");
}
