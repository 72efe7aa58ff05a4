//! Model test: random puts, deletes, batches, gets, scans and reopens compared with a
//! `BTreeMap`, on the in-memory file system and on the real one.

mod common;

use std::ops::Bound;

use common::*;
use mylsm::fs::MemFs;
use mylsm::{Db, Options};
use rand::Rng;

/// Runs one seeded sequence; `reopen` closes and reopens the database its own way.
fn run(
    seed: u64,
    steps: usize,
    mut db: Db,
    mut reopen: impl FnMut(Db, &mut rand::rngs::SmallRng) -> Db,
) {
    let mut rng = rng(seed);
    let mut model = Model::new();
    for step in 0..steps {
        let ctx = format!("seed {seed} step {step}");
        match rng.random_range(0..100) {
            0..=54 => {
                let ops = random_batch(&mut rng, 48);
                db.write(to_batch(&ops)).unwrap();
                apply(&mut model, &ops);
            }
            55..=79 => {
                let k = random_key(&mut rng, 52);
                let got = db.get(&k).unwrap().map(|v| v.to_vec());
                assert_eq!(got, model.get(&k).cloned(), "{ctx}: get {k:?}");
            }
            80..=91 => check_range(&db, &model, &mut rng, &ctx),
            92..=95 => {
                let snap = db.snapshot();
                let before = model.clone();
                let ops = random_batch(&mut rng, 48);
                db.write(to_batch(&ops)).unwrap();
                apply(&mut model, &ops);
                let seen: Model = snap
                    .iter()
                    .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                    .collect();
                assert_eq!(seen, before, "{ctx}: snapshot moved");
            }
            _ => {
                db = reopen(db, &mut rng);
                assert_eq!(contents(&db), model, "{ctx}: after reopen");
            }
        }
    }
    assert_eq!(contents(&db), model, "seed {seed}: final");
}

fn random_bound(rng: &mut rand::rngs::SmallRng) -> Bound<Vec<u8>> {
    match rng.random_range(0..3) {
        0 => Bound::Unbounded,
        1 => Bound::Included(random_key(rng, 52)),
        _ => Bound::Excluded(random_key(rng, 52)),
    }
}

/// Compares a random range read forwards, backwards and from both ends at once.
fn check_range(db: &Db, model: &Model, rng: &mut rand::rngs::SmallRng, ctx: &str) {
    let (lo, hi) = (random_bound(rng), random_bound(rng));
    let want: Vec<(Vec<u8>, Vec<u8>)> = match (&lo, &hi) {
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b))
            if a > b =>
        {
            Vec::new()
        }
        (Bound::Excluded(a), Bound::Excluded(b)) if a == b => Vec::new(),
        _ => model.range((lo.clone(), hi.clone())).map(|(k, v)| (k.clone(), v.clone())).collect(),
    };
    let pair = |r: mylsm::Result<(mylsm::Key, mylsm::Value)>| {
        let (k, v) = r.unwrap();
        (k.to_vec(), v.to_vec())
    };
    let fwd: Vec<_> = db.range((lo.clone(), hi.clone())).map(pair).collect();
    assert_eq!(fwd, want, "{ctx}: forward {lo:?}..{hi:?}");
    let mut rev: Vec<_> = db.range((lo.clone(), hi.clone())).rev().map(pair).collect();
    rev.reverse();
    assert_eq!(rev, want, "{ctx}: reverse {lo:?}..{hi:?}");
    // Alternate ends: every element exactly once, none twice where the ends meet.
    let mut it = db.range((lo.clone(), hi.clone()));
    let (mut front, mut back) = (Vec::new(), Vec::new());
    loop {
        let next = if rng.random_bool(0.5) {
            it.next().map(|r| (true, r))
        } else {
            it.next_back().map(|r| (false, r))
        };
        match next {
            Some((true, r)) => front.push(pair(r)),
            Some((false, r)) => back.push(pair(r)),
            None => break,
        }
    }
    back.reverse();
    front.extend(back);
    assert_eq!(front, want, "{ctx}: mixed ends {lo:?}..{hi:?}");
    let p = random_key(rng, 52)[..6].to_vec();
    let want_p: Vec<_> = model
        .iter()
        .filter(|(k, _)| k.starts_with(&p))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(db.prefix(&p).map(pair).collect::<Vec<_>>(), want_p, "{ctx}: prefix {p:?}");
}

#[test]
fn random_operations_match_a_btreemap_across_clean_reopens() {
    for seed in 0..60 {
        let fs = MemFs::new();
        run(seed, 400, open(&fs), |db, _| {
            db.close().unwrap();
            drop(db);
            open(&fs)
        });
    }
}

#[test]
fn random_operations_match_a_btreemap_with_flushes_to_tables() {
    for seed in 300..340 {
        let fs = MemFs::new();
        let opts = || Options { write_buffer_size: 4 << 10, ..options(&fs) };
        run(seed, 400, Db::open(DIR, opts()).unwrap(), |db, rng| {
            if rng.random_bool(0.5) {
                db.flush().unwrap();
            }
            db.close().unwrap();
            drop(db);
            Db::open(DIR, opts()).unwrap()
        });
    }
}

#[test]
fn random_operations_match_a_btreemap_across_process_crashes() {
    for seed in 100..160 {
        let mut fs = MemFs::new();
        run(seed, 400, open(&fs), |db, _| {
            // The process dies: whatever reached the OS stays, nothing else runs.
            let after = fs.crash_process();
            drop(db);
            fs = after;
            open(&fs)
        });
    }
}

#[test]
fn random_operations_match_a_btreemap_on_the_real_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    for seed in 200..205 {
        let sub = path.join(seed.to_string());
        let db = Db::open(&sub, Options::default()).unwrap();
        run(seed, 300, db, |db, _| {
            drop(db);
            Db::open(&sub, Options::default()).unwrap()
        });
    }
}

#[test]
fn tiny_limits_flush_and_compact_constantly_and_held_snapshots_never_diverge() {
    // One, two and four background workers: one flusher beside one or three compactors.
    let mut most_at_once = 0;
    for seed in 400..418 {
        let fs = MemFs::new();
        let opts = Options {
            max_background_jobs: [2, 3, 4][seed as usize % 3],
            write_buffer_size: 2 << 10,
            target_file_size: 2 << 10,
            l0_compaction_trigger: 2,
            max_bytes_for_level_base: 8 << 10,
            level_multiplier: 4,
            block_size: 256,
            ..options(&fs)
        };
        let db = Db::open(DIR, opts).unwrap();
        let mut rng = rng(seed);
        let mut model = Model::new();
        // Snapshots and one open iterator, each with the model as of its creation.
        let mut held: Vec<(mylsm::Snapshot, Model)> = Vec::new();
        let mut iter_held: Option<(mylsm::Iter, Model)> = None;
        for step in 0..600 {
            let ops = random_batch(&mut rng, 200);
            db.write(to_batch(&ops)).unwrap();
            apply(&mut model, &ops);
            match rng.random_range(0..40) {
                0 => held.push((db.snapshot(), model.clone())),
                1 if !held.is_empty() => drop(held.remove(rng.random_range(0..held.len()))),
                2 => db.compact_range::<&[u8], _>(..).unwrap(),
                3 if iter_held.is_none() => iter_held = Some((db.iter(), model.clone())),
                4 => {
                    if let Some((it, want)) = iter_held.take() {
                        let got: Model =
                            it.map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
                        assert_eq!(got, want, "seed {seed} step {step}: held iterator diverged");
                    }
                }
                _ => {}
            }
            if step % 50 == 49 {
                for (i, (snap, want)) in held.iter().enumerate() {
                    let got: Model = snap
                        .iter()
                        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                        .collect();
                    assert!(
                        &got == want,
                        "seed {seed} step {step}: snapshot {i} diverged: {}",
                        diff(&got, want)
                    );
                }
                assert_eq!(contents(&db), model, "seed {seed} step {step}");
            }
        }
        let s = db.stats();
        assert!(s.flushes > 10 && s.compactions > 3, "seed {seed}: {s:?}");
        db.wait_for_compactions().unwrap();
        assert_eq!(contents(&db), model, "seed {seed}: final");
        most_at_once = most_at_once.max(db.stats().compactions_peak_parallel);
    }
    println!("most compactions at once: {most_at_once}");
}
