//! Range deletes, merge operands, expiring values and compaction filters.
//!
//! The model test mixes all of them with puts and deletes in two keyspaces, under tiny
//! limits so flushes and compactions cut outputs often, with snapshots held, forward
//! and reverse scans, random `compact_range`, a clock that moves and reopens; the
//! model is a `BTreeMap` applying the same semantics. Then power loss with counters
//! and range deletes, and one regression test per pitfall the anchors shipped.

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use mylsm::expiry::ManualClock;
use mylsm::filter::{self, Decision};
use mylsm::fs::{CrashMode, MemFs};
use mylsm::merge::{Append, MergeError, MergeOperator, U64Add};
use mylsm::{Db, Error, Keyspace, KeyspaceOptions, Options, Snapshot, WriteBatch, WriteOptions};
use rand::rngs::SmallRng;
use rand::Rng;

/// A key's state in the model: its last put (value, expiry) and the merge operands
/// written since.
#[derive(Debug, Clone, Default)]
struct Entry {
    base: Option<(Vec<u8>, Option<u64>)>,
    ops: Vec<Vec<u8>>,
}

type Map = BTreeMap<Vec<u8>, Entry>;

/// What a reader at time `now` reads for `e` (operands apply to a base while it lives).
fn value_at(e: &Entry, now: u64) -> Option<Vec<u8>> {
    let base = e.base.as_ref().filter(|(_, exp)| exp.is_none_or(|x| x > now)).map(|(v, _)| v);
    if e.ops.is_empty() {
        return base.cloned();
    }
    let mut parts: Vec<&[u8]> = base.map(Vec::as_slice).into_iter().collect();
    parts.extend(e.ops.iter().map(Vec::as_slice));
    Some(parts.join(&b","[..]))
}

fn visible(m: &Map, now: u64) -> Model {
    m.iter().filter_map(|(k, e)| value_at(e, now).map(|v| (k.clone(), v))).collect()
}

fn tiny(fs: &MemFs, clock: &Arc<ManualClock>) -> Options {
    Options {
        write_buffer_size: 2 << 10,
        target_file_size: 1 << 10,
        l0_compaction_trigger: 2,
        max_bytes_for_level_base: 1 << 10,
        level_multiplier: 3,
        block_size: 128,
        merge_operator: Some(Arc::new(Append::new(","))),
        clock: clock.clone(),
        ..options(fs)
    }
}

/// One write, kept so the model can apply it.
#[derive(Debug, Clone)]
enum W {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    Ttl(Vec<u8>, Vec<u8>, u64),
    Merge(Vec<u8>, Vec<u8>),
    Range(Bound<Vec<u8>>, Bound<Vec<u8>>),
}

/// Keys `k000`..`k299`.
const KEYS: u32 = 300;

fn key_n(n: u32) -> Vec<u8> {
    format!("k{n:03}").into_bytes()
}

fn key(rng: &mut SmallRng) -> Vec<u8> {
    key_n(rng.random_range(0..KEYS))
}

fn random_write(rng: &mut SmallRng, step: usize) -> W {
    let k = key(rng);
    // Values long enough that the tree grows several levels under the tiny limits.
    // (Random letters: LZ4 would shrink a repeated one to nothing.)
    let pad: String = (0..rng.random_range(20..120)).map(|_| rng.random_range('a'..='z')).collect();
    let v = format!("v{step}-{pad}").into_bytes();
    match rng.random_range(0..100) {
        0..35 => W::Put(k, v),
        35..45 => W::Delete(k),
        45..60 => W::Ttl(k, v, rng.random_range(1..200)),
        60..88 => W::Merge(k, format!("m{step}").into_bytes()),
        88..95 => {
            let a = rng.random_range(0..KEYS);
            let (a, b) = (key_n(a), key_n(a + rng.random_range(0..12)));
            let lo = if rng.random_bool(0.5) { Bound::Included(a) } else { Bound::Excluded(a) };
            let hi = match rng.random_range(0..5) {
                0 => Bound::Unbounded,
                1 | 2 => Bound::Included(b),
                _ => Bound::Excluded(b),
            };
            W::Range(lo, hi)
        }
        _ => {
            // A short prefix range: `k12` deletes k120..k129.
            let p = format!("k{:02}", rng.random_range(0..30)).into_bytes();
            let mut end = p.clone();
            *end.last_mut().unwrap() += 1;
            W::Range(Bound::Included(p), Bound::Excluded(end))
        }
    }
}

fn apply(m: &mut Map, w: &W, now: u64) {
    match w {
        W::Put(k, v) => {
            m.insert(k.clone(), Entry { base: Some((v.clone(), None)), ops: vec![] });
        }
        W::Delete(k) => {
            m.remove(k);
        }
        W::Ttl(k, v, ttl) => {
            m.insert(k.clone(), Entry { base: Some((v.clone(), Some(now + ttl))), ops: vec![] });
        }
        W::Merge(k, op) => m.entry(k.clone()).or_default().ops.push(op.clone()),
        W::Range(lo, hi) => {
            let r = (lo.clone(), hi.clone());
            let doomed: Vec<Vec<u8>> =
                m.keys().filter(|k| std::ops::RangeBounds::contains(&r, *k)).cloned().collect();
            for k in doomed {
                m.remove(&k);
            }
        }
    }
}

fn add_to(b: &mut WriteBatch, ks: Option<&Keyspace>, w: &W) {
    match (w, ks) {
        (W::Put(k, v), None) => b.put(k, v),
        (W::Put(k, v), Some(ks)) => b.put_in(ks, k, v),
        (W::Delete(k), None) => b.delete(k),
        (W::Delete(k), Some(ks)) => b.delete_in(ks, k),
        (W::Ttl(k, v, t), None) => b.put_with_ttl(k, v, Duration::from_millis(*t)),
        (W::Ttl(k, v, t), Some(ks)) => b.put_with_ttl_in(ks, k, v, Duration::from_millis(*t)),
        (W::Merge(k, o), None) => b.merge(k, o),
        (W::Merge(k, o), Some(ks)) => b.merge_in(ks, k, o),
        (W::Range(lo, hi), None) => b.delete_range((lo.clone(), hi.clone())).unwrap(),
        (W::Range(lo, hi), Some(ks)) => b.delete_range_in(ks, (lo.clone(), hi.clone())).unwrap(),
    }
}

fn scan(it: mylsm::Iter) -> Model {
    it.map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("iter")).collect()
}

fn scan_rev(it: mylsm::Iter) -> Model {
    it.rev().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("iter")).collect()
}

fn same(got: &Model, want: &Model, ctx: &str) {
    assert!(got == want, "{ctx}: {}", diff(got, want));
}

struct Held {
    snap: Snapshot,
    models: [Model; 2],
}

/// Checks both keyspaces (the default and `ks`) against the model, at the present and
/// at every held snapshot, by point reads and by scans in both directions.
fn check(db: &Db, ks: &Keyspace, models: &[Map; 2], now: u64, held: &[Held], ctx: &str) {
    let want = [visible(&models[0], now), visible(&models[1], now)];
    same(&scan(db.iter()), &want[0], &format!("{ctx}: default forward"));
    same(&scan_rev(db.iter()), &want[0], &format!("{ctx}: default reverse"));
    same(&scan(ks.iter()), &want[1], &format!("{ctx}: ks forward"));
    same(&scan_rev(ks.iter()), &want[1], &format!("{ctx}: ks reverse"));
    for i in (0..KEYS).step_by(7) {
        let k = key_n(i);
        assert_eq!(
            db.get(&k).unwrap().map(|v| v.to_vec()),
            want[0].get(&k).cloned(),
            "{ctx}: get {i}"
        );
        assert_eq!(
            ks.get(&k).unwrap().map(|v| v.to_vec()),
            want[1].get(&k).cloned(),
            "{ctx}: ks get {i}"
        );
    }
    // A bounded scan starting inside the key space, both ways.
    let lo = b"k130".to_vec();
    let hi = b"k171".to_vec();
    let part: Model =
        want[0].range(lo.clone()..hi.clone()).map(|(k, v)| (k.clone(), v.clone())).collect();
    same(&scan(db.range(lo.clone()..hi.clone())), &part, &format!("{ctx}: range"));
    same(&scan_rev(db.range(lo..hi)), &part, &format!("{ctx}: range reverse"));
    for (n, h) in held.iter().enumerate() {
        same(&scan(h.snap.iter()), &h.models[0], &format!("{ctx}: snapshot {n}"));
        same(&scan_rev(h.snap.iter()), &h.models[0], &format!("{ctx}: snapshot {n} reverse"));
        same(&scan(h.snap.iter_in(ks)), &h.models[1], &format!("{ctx}: snapshot {n} in ks"));
        for (k, v) in &h.models[0] {
            assert_eq!(h.snap.get(k).unwrap().as_deref(), Some(v.as_slice()), "{ctx}: snap get");
        }
    }
}

fn run_model(seed: u64, steps: usize) {
    let fs = MemFs::new();
    let clock = ManualClock::new(1_000_000);
    let opts = tiny(&fs, &clock);
    let ks_opts = KeyspaceOptions {
        merge_operator: Some(Arc::new(Append::new(","))),
        max_merge_operands: 5,
        block_size: 128,
        ..KeyspaceOptions::from(&opts)
    };
    let mut db = Db::open(DIR, opts.clone()).unwrap();
    let mut ks = db.create_keyspace("ks", ks_opts).unwrap();
    let mut rng = rng(seed);
    let mut models: [Map; 2] = [Map::new(), Map::new()];
    let mut held: Vec<Held> = Vec::new();
    for step in 0..steps {
        let now = clock.now_millis_for_test();
        match rng.random_range(0..100) {
            0..70 => {
                let which = rng.random_range(0..2);
                let n = rng.random_range(1..4);
                let mut b = WriteBatch::new();
                for _ in 0..n {
                    let w = random_write(&mut rng, step);
                    add_to(&mut b, (which == 1).then_some(&ks), &w);
                    apply(&mut models[which], &w, now);
                }
                db.write(b).unwrap();
            }
            70..78 => clock.advance(Duration::from_millis(rng.random_range(1..80))),
            78..83 => {
                if held.len() < 3 {
                    let snap = db.snapshot();
                    let t = snap.now_millis();
                    held.push(Held {
                        snap,
                        models: [visible(&models[0], t), visible(&models[1], t)],
                    });
                } else {
                    held.remove(rng.random_range(0..held.len()));
                }
            }
            83..87 => {
                let (a, b) = (key(&mut rng), key(&mut rng));
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                db.compact_range(a..=b).unwrap();
                ks.compact_range::<&[u8], _>(..).unwrap();
            }
            87..90 => {
                db.flush().unwrap();
                ks.flush().unwrap();
            }
            90..92 if held.is_empty() => {
                drop(ks);
                db.close().unwrap();
                drop(db);
                db = Db::open(DIR, opts.clone()).unwrap();
                ks = db.keyspace("ks").unwrap();
            }
            _ => {}
        }
        if step % 7 == 0 || step + 1 == steps {
            let now = clock.now_millis_for_test();
            check(&db, &ks, &models, now, &held, &format!("seed {seed} step {step}"));
        }
    }
    drop(held);
    if std::env::var("SHOW").is_ok() {
        let lv: Vec<(u64, u64)> = db.stats().levels.iter().map(|l| (l.files, l.bytes)).collect();
        eprintln!("seed {seed}: levels {lv:?}");
    }
    db.wait_for_compactions().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    let now = clock.now_millis_for_test();
    check(&db, &ks, &models, now, &[], &format!("seed {seed} final"));
}

trait NowForTest {
    fn now_millis_for_test(&self) -> u64;
}

impl NowForTest for ManualClock {
    fn now_millis_for_test(&self) -> u64 {
        mylsm::expiry::Clock::now_millis(self)
    }
}

#[test]
fn every_kind_of_write_matches_the_model_through_flushes_compactions_snapshots_and_reopens() {
    let seeds: u64 =
        std::env::var("MYLSM_MODEL_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let steps = std::env::var("MYLSM_MODEL_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(600);
    for seed in 0..seeds {
        run_model(seed, steps);
    }
}

fn small(fs: &MemFs) -> Options {
    Options {
        l0_compaction_trigger: 100,
        l0_slowdown_writes_trigger: 200,
        l0_stop_writes_trigger: 300,
        ..options(fs)
    }
}

/// RocksDB v1 range deletes: a table the bloom filter rules out for a key may still
/// hold the tombstone that deletes it.
#[test]
fn tombstones_in_a_bloom_negative_table_still_delete() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    for i in 0..100 {
        db.put(format!("a{i:03}"), b"old").unwrap();
    }
    db.flush().unwrap();
    // The next table holds the tombstone and one unrelated key: its filter says no to
    // every `a` key.
    db.delete_range(b"a000".as_slice()..b"a050".as_slice()).unwrap();
    db.put(b"b", b"other").unwrap();
    db.flush().unwrap();
    assert!(db.stats().levels[0].files >= 2, "both tables stay in L0, unmerged");
    for i in 0..100 {
        let got = db.get(format!("a{i:03}")).unwrap();
        assert_eq!(got.is_some(), i >= 50, "a{i:03}");
    }
    assert_eq!(scan(db.iter()).len(), 51);
    assert_eq!(scan_rev(db.iter()).len(), 51);
}

/// An `Append` that records the longest operand list any merge was given.
struct Counting(Append, Arc<Mutex<usize>>);

impl MergeOperator for Counting {
    fn name(&self) -> &str {
        "counting-append"
    }
    fn full_merge(
        &self,
        key: &[u8],
        base: Option<&[u8]>,
        ops: &[&[u8]],
    ) -> Result<Vec<u8>, MergeError> {
        let mut most = self.1.lock().unwrap();
        *most = (*most).max(ops.len());
        self.0.full_merge(key, base, ops)
    }
}

/// RocksDB #1988: 50,000 appends to one key made a get walk 50,000 operands (20 s).
/// Here a merge that would make the memtable's chain longer than `max_merge_operands`
/// is written as the merged value, so a get merges a bounded number of operands.
#[test]
fn fifty_thousand_appends_to_one_key_then_a_get() {
    let fs = MemFs::new();
    let most = Arc::new(Mutex::new(0));
    let op: Arc<dyn MergeOperator> = Arc::new(Counting(Append::new(""), Arc::clone(&most)));
    let opts = Options { merge_operator: Some(op), write_buffer_size: 256 << 10, ..options(&fs) };
    let db = Db::open(DIR, opts.clone()).unwrap();
    for i in 0..50_000u32 {
        db.merge(b"log", [b'a' + (i % 26) as u8]).unwrap();
    }
    *most.lock().unwrap() = 0;
    let v = db.get(b"log").unwrap().unwrap();
    assert_eq!(v.len(), 50_000);
    assert!(v.starts_with(b"abcdefghijklmnopqrstuvwxyzab"));
    let walked = *most.lock().unwrap();
    assert!((1..=64).contains(&walked), "a get merged {walked} operands");
    // The same after the memtables are flushed and compacted, and after a reopen
    // (which replays the operands from the log, not the collapsed values).
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(db.get(b"log").unwrap().unwrap(), v);
    db.close().unwrap();
    let db = Db::open(DIR, opts).unwrap();
    assert_eq!(db.get(b"log").unwrap().unwrap(), v);
}

#[test]
fn counters_add_up_and_bad_merges_are_refused_or_fail_only_their_read() {
    let fs = MemFs::new();
    let opts = Options { merge_operator: Some(Arc::new(U64Add)), ..options(&fs) };
    let db = Db::open(DIR, opts.clone()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    db.merge(b"hits", 1u64.to_le_bytes()).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(db.get(b"hits").unwrap().as_deref(), Some(&2000u64.to_le_bytes()[..]));
    // A value the operator cannot read fails the read that needs it, nothing else.
    db.put(b"bad", b"not eight bytes").unwrap();
    db.merge(b"bad", 1u64.to_le_bytes()).unwrap();
    assert!(matches!(db.get(b"bad"), Err(Error::MergeFailed(_))));
    assert!(db.get(b"hits").unwrap().is_some());
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    assert!(matches!(db.get(b"bad"), Err(Error::MergeFailed(_))), "compaction kept the operands");
    assert!(db.stats().merge_failures >= 1);
    db.put(b"bad", 5u64.to_le_bytes()).unwrap();
    assert_eq!(db.get(b"bad").unwrap().as_deref(), Some(&5u64.to_le_bytes()[..]));
    // A keyspace without an operator refuses merges at write time.
    let plain = db.create_keyspace("plain", KeyspaceOptions::default()).unwrap();
    assert!(matches!(plain.merge(b"k", b"v"), Err(Error::InvalidArgument(_))));
    let counted = db
        .create_keyspace(
            "counted",
            KeyspaceOptions { merge_operator: Some(Arc::new(U64Add)), ..Default::default() },
        )
        .unwrap();
    counted.merge(b"n", 3u64.to_le_bytes()).unwrap();
    db.close().unwrap();
    // Reopening: the keyspace finds its built-in operator by the stored name.
    let db = Db::open(DIR, opts).unwrap();
    let counted = db.keyspace("counted").unwrap();
    counted.merge(b"n", 4u64.to_le_bytes()).unwrap();
    assert_eq!(counted.get(b"n").unwrap().as_deref(), Some(&7u64.to_le_bytes()[..]));
    let ro = Db::open_read_only(DIR, options(&fs));
    // Read-only opens resolve built-in operators by name too.
    if let Ok(ro) = ro {
        assert_eq!(
            ro.keyspace("counted").unwrap().get(b"n").unwrap().as_deref(),
            Some(&7u64.to_le_bytes()[..])
        );
    }
}

#[test]
fn a_merge_operator_unknown_or_different_at_open_is_refused() {
    let fs = MemFs::new();
    let op: Arc<dyn MergeOperator> = Arc::new(Counting(Append::new(""), Arc::default()));
    let db = Db::open(DIR, options(&fs)).unwrap();
    db.create_keyspace(
        "logs",
        KeyspaceOptions { merge_operator: Some(op.clone()), ..Default::default() },
    )
    .unwrap();
    db.close().unwrap();
    let e = Db::open(DIR, options(&fs)).unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument(m) if m.contains("counting-append")), "{e}");
    let db = Db::open(DIR, Options { merge_operators: vec![op], ..options(&fs) }).unwrap();
    db.keyspace("logs").unwrap().merge(b"k", b"v").unwrap();
    db.close().unwrap();
    // The default keyspace's operator is stored too: another one is refused, and a
    // built-in one is found by name when none is given.
    let fs = MemFs::new();
    let add = Options { merge_operator: Some(Arc::new(U64Add)), ..options(&fs) };
    let db = Db::open(DIR, add.clone()).unwrap();
    db.merge(b"n", 2u64.to_le_bytes()).unwrap();
    db.close().unwrap();
    let other = Options { merge_operator: Some(Arc::new(Append::new(","))), ..options(&fs) };
    let e = Db::open(DIR, other).unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument(m) if m.contains("mylsm.u64add")), "{e}");
    let db = Db::open(DIR, options(&fs)).unwrap();
    assert_eq!(db.get(b"n").unwrap().as_deref(), Some(&2u64.to_le_bytes()[..]));
    db.merge(b"n", 3u64.to_le_bytes()).unwrap();
    assert_eq!(db.get(b"n").unwrap().as_deref(), Some(&5u64.to_le_bytes()[..]));
}

#[test]
fn delete_range_refuses_reversed_ranges_and_ignores_empty_ones() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    for k in ["a", "b", "c", "d"] {
        db.put(k, k).unwrap();
    }
    let e = db.delete_range(b"c".as_slice()..b"a".as_slice()).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    db.delete_range(b"b".as_slice()..b"b".as_slice()).unwrap();
    db.delete_range::<&[u8], _>((
        Bound::Excluded(b"b".as_slice()),
        Bound::Excluded(b"c".as_slice()),
    ))
    .unwrap();
    assert_eq!(scan(db.iter()).len(), 4);
    db.delete_range(b"b".as_slice()..=b"c".as_slice()).unwrap();
    assert_eq!(scan(db.iter()).keys().cloned().collect::<Vec<_>>(), [b"a".to_vec(), b"d".to_vec()]);
    db.delete_prefix(b"").unwrap();
    assert!(scan(db.iter()).is_empty());
    db.put("z", "z").unwrap();
    assert_eq!(db.get("z").unwrap().as_deref(), Some(&b"z"[..]), "a later write is not deleted");
}

#[test]
fn expiring_values_vanish_on_time_and_snapshots_keep_their_own_now() {
    let fs = MemFs::new();
    let clock = ManualClock::new(1_000);
    let db = Db::open(DIR, Options { clock: clock.clone(), ..options(&fs) }).unwrap();
    db.put(b"k", b"old").unwrap();
    db.put_with_ttl(b"k", b"new", Duration::from_secs(10)).unwrap();
    let snap = db.snapshot();
    clock.advance(Duration::from_secs(9));
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"new"[..]));
    clock.advance(Duration::from_secs(1));
    assert_eq!(db.get(b"k").unwrap(), None, "expired, and the older put stays hidden");
    assert_eq!(
        snap.get(b"k").unwrap().as_deref(),
        Some(&b"new"[..]),
        "the snapshot's now is fixed"
    );
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(snap.get(b"k").unwrap().as_deref(), Some(&b"new"[..]), "kept for the snapshot");
    drop(snap);
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(db.get(b"k").unwrap(), None);
    assert_eq!(db.stats().levels.iter().map(|l| l.files).sum::<u64>(), 0, "reclaimed");
}

/// svix/diom #934: values that expire in a table nothing writes over were never
/// reclaimed. A worker that has been idle `expiry_check_interval` compacts them away.
#[test]
fn an_expired_value_in_a_table_no_ordinary_compaction_reaches_is_reclaimed() {
    let fs = MemFs::new();
    let clock = ManualClock::new(1_000);
    let opts = Options {
        clock: clock.clone(),
        expiry_check_interval: Duration::from_millis(20),
        ..options(&fs)
    };
    let db = Db::open(DIR, opts).unwrap();
    for i in 0..200 {
        db.put_with_ttl(format!("s{i:03}"), [7u8; 100], Duration::from_secs(60)).unwrap();
    }
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    let files = |db: &Db| db.stats().levels.iter().map(|l| l.files).sum::<u64>();
    assert!(files(&db) > 0);
    std::thread::sleep(Duration::from_millis(100));
    assert!(files(&db) > 0, "nothing has expired yet");
    clock.advance(Duration::from_secs(61));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while files(&db) > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(files(&db), 0, "the expired table was compacted away");
    assert!(db.iter().next().is_none());
}

/// RocksDB gave up snapshot safety for compaction filters in 6.0. Here the filter sees
/// only versions no snapshot can see, and a snapshot taken while a filtering compaction
/// runs reads the tables as they were.
#[test]
fn a_compaction_filter_never_changes_what_a_snapshot_reads() {
    let fs = MemFs::new();
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let gate = Arc::new(Mutex::new(Some((entered_tx, go_rx))));
    let factory = filter::from_fn("drop-tmp", move |key: &[u8], _value: &[u8]| {
        if let Some((entered, go)) = gate.lock().unwrap().take() {
            entered.send(()).unwrap();
            go.recv().unwrap();
        }
        if key.starts_with(b"tmp") {
            Decision::Remove
        } else {
            Decision::Keep
        }
    });
    let db = Db::open(DIR, Options { compaction_filter: Some(factory), ..small(&fs) }).unwrap();
    for i in 0..50 {
        db.put(format!("tmp{i:02}"), b"t").unwrap();
        db.put(format!("keep{i:02}"), b"k").unwrap();
    }
    let held = db.snapshot();
    db.flush().unwrap();
    // The snapshot sees every version: the filter may touch none of them.
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(scan(db.iter()).len(), 100);
    assert_eq!(scan(held.iter()).len(), 100);
    drop(held);
    // Now a snapshot taken while the filtering compaction runs.
    let db2 = db.clone();
    let compaction = std::thread::spawn(move || db2.compact_range::<&[u8], _>(..).unwrap());
    entered_rx.recv().unwrap();
    let during = db.snapshot();
    go_tx.send(()).unwrap();
    compaction.join().unwrap();
    assert_eq!(scan(during.iter()).len(), 100, "the snapshot still reads what it could");
    assert_eq!(during.get(b"tmp07").unwrap().as_deref(), Some(&b"t"[..]));
    assert_eq!(scan(db.iter()).len(), 50, "the present has lost the filtered keys");
    assert_eq!(db.get(b"tmp07").unwrap(), None);
    drop(during);
    db.compact_range::<&[u8], _>(..).unwrap();
    assert_eq!(scan(db.iter()).len(), 50, "Remove left tombstones, so nothing reappears");
}

/// Power loss with counters and range deletes in every crash mode: the survivors are
/// exactly the first n batches for some n at least the last synced one, so no counter
/// double-counts or loses an acknowledged add and no range-deleted key comes back.
#[test]
fn power_loss_keeps_counters_and_range_deletes_a_prefix_of_the_history() {
    for seed in 0..24u64 {
        let fs = MemFs::new();
        let opts = Options {
            write_buffer_size: 4 << 10,
            target_file_size: 2 << 10,
            l0_compaction_trigger: 2,
            max_bytes_for_level_base: 8 << 10,
            merge_operator: Some(Arc::new(U64Add)),
            ..options(&fs)
        };
        let db = Db::open(DIR, opts.clone()).unwrap();
        let mut rng = rng(500 + seed);
        let total = rng.random_range(50..300);
        let mut synced = 0;
        // The model after each batch.
        let mut states: Vec<Model> = vec![Model::new()];
        let mut model = Model::new();
        for i in 1..=total {
            let mut b = WriteBatch::new();
            b.merge(b"count", 1u64.to_le_bytes());
            let n = model
                .get(&b"count"[..])
                .map_or(0, |v| u64::from_le_bytes(v[..].try_into().unwrap()));
            model.insert(b"count".to_vec(), (n + 1).to_le_bytes().to_vec());
            let k = format!("k{:03}", rng.random_range(0..200)).into_bytes();
            b.put(&k, format!("{i}"));
            model.insert(k, format!("{i}").into_bytes());
            if i % 7 == 0 {
                let a = rng.random_range(0..190);
                let (lo, hi) =
                    (format!("k{a:03}").into_bytes(), format!("k{:03}", a + 10).into_bytes());
                b.delete_range(lo.clone()..hi.clone()).unwrap();
                model.retain(|k, _| !(k >= &lo && k < &hi));
            }
            let sync = rng.random_bool(0.05);
            db.write_opt(b, &WriteOptions::default().with_sync(sync)).unwrap();
            if sync {
                synced = i;
            }
            states.push(model.clone());
        }
        let modes = [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix, CrashMode::TornPages];
        let mode = modes[seed as usize % 3];
        let crashed = fs.crash(mode, seed);
        drop(db);
        let recovery = if mode == CrashMode::TornPages {
            mylsm::RecoveryMode::PointInTime
        } else {
            mylsm::RecoveryMode::default()
        };
        let reopen = Options { fs: Arc::new(crashed), wal_recovery_mode: recovery, ..opts.clone() };
        let db = Db::open(DIR, reopen).unwrap();
        let got = contents(&db);
        let n = got.get(&b"count"[..]).map_or(0, |v| u64::from_le_bytes(v[..].try_into().unwrap()))
            as usize;
        assert!(n >= synced, "seed {seed} ({mode:?}): lost synced batch {synced}, kept {n}");
        assert!(
            got == states[n],
            "seed {seed} ({mode:?}): not the first {n} batches: {}",
            diff(&got, &states[n])
        );
        db.compact_range::<&[u8], _>(..).unwrap();
        assert!(contents(&db) == states[n], "seed {seed}: compaction changed the recovered state");
    }
}
