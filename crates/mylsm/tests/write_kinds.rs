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
