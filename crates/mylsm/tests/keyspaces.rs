//! Keyspaces: many sorted maps in one database, one WAL, atomic batches across them.
//! A model test (a `BTreeMap` per keyspace) under tiny limits with cross-keyspace
//! batches, snapshots, drops and re-creations under the same name and reopens; power
//! loss with cross-keyspace batches; a dropped keyspace that stays dropped; a quiet
//! keyspace that pins no WAL; and the API's errors.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use mylsm::fs::{CrashMode, MemFs};
use mylsm::{Db, Error, Keyspace, KeyspaceOptions, Options, WriteBatch, WriteOptions};
use rand::Rng;

fn tiny(fs: &MemFs) -> Options {
    Options {
        write_buffer_size: 2 << 10,
        target_file_size: 2 << 10,
        l0_compaction_trigger: 2,
        max_bytes_for_level_base: 8 << 10,
        level_multiplier: 4,
        block_size: 256,
        ..options(fs)
    }
}

fn read(ks: &Keyspace) -> Model {
    ks.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("iter")).collect()
}

/// Every live keyspace's contents, by name.
fn read_all(db: &Db) -> BTreeMap<String, Model> {
    db.keyspaces().into_iter().map(|n| (n.clone(), read(&db.keyspace(&n).unwrap()))).collect()
}

#[test]
fn three_keyspaces_match_their_models_through_batches_drops_and_reopens() {
    for seed in 0..6u64 {
        let fs = MemFs::new();
        let opts = tiny(&fs);
        let mut db = Db::open(DIR, opts.clone()).unwrap();
        let mut rng = rng(seed);
        let names = ["default", "users", "index", "log"];
        let mut models: BTreeMap<String, Model> = BTreeMap::new();
        models.insert("default".into(), Model::new());
        let ks_opts =
            |db: &Db| KeyspaceOptions { block_size: 512, ..KeyspaceOptions::from(db_opts(db)) };
        fn db_opts(_db: &Db) -> &'static Options {
            static O: std::sync::OnceLock<Options> = std::sync::OnceLock::new();
            O.get_or_init(|| Options {
                write_buffer_size: 2 << 10,
                target_file_size: 2 << 10,
                ..Options::default()
            })
        }
        let mut held: Vec<(mylsm::Snapshot, BTreeMap<String, Model>, Vec<Keyspace>)> = Vec::new();
        for step in 0..500 {
            match rng.random_range(0..100) {
                0..=69 => {
                    // A batch over one to three keyspaces.
                    let mut batch = WriteBatch::new();
                    let mut applied: Vec<(String, Vec<Op>)> = Vec::new();
                    for _ in 0..rng.random_range(1..4) {
                        let live: Vec<&String> = models.keys().collect();
                        let name = live[rng.random_range(0..live.len())].clone();
                        let ks = db.keyspace(&name).unwrap();
                        let ops = random_batch(&mut rng, 60);
                        for op in &ops {
                            match op {
                                Op::Put(k, v) => batch.put_in(&ks, k, v),
                                Op::Delete(k) => batch.delete_in(&ks, k),
                            }
                        }
                        applied.push((name, ops));
                    }
                    db.write(batch).unwrap();
                    for (name, ops) in applied {
                        apply(models.get_mut(&name).unwrap(), &ops);
                    }
                }
                70..=77 => {
                    let name = names[rng.random_range(1..names.len())];
                    if models.contains_key(name) {
                        let ks = db.keyspace(name).unwrap();
                        db.drop_keyspace(&ks).unwrap();
                        models.remove(name);
                        assert!(matches!(ks.get("k"), Err(Error::InvalidArgument(_))));
                    } else {
                        db.create_keyspace(name, ks_opts(&db)).unwrap();
                        models.insert(name.to_string(), Model::new());
                    }
                }
                78..=82 => {
                    let handles = models.keys().map(|n| db.keyspace(n).unwrap()).collect();
                    held.push((db.snapshot(), models.clone(), handles));
                    if held.len() > 3 {
                        held.remove(0);
                    }
                }
                83..=86 => db.flush().unwrap(),
                87..=89 => {
                    let name = models.keys().next().unwrap().clone();
                    db.keyspace(&name).unwrap().compact_range::<&[u8], _>(..).unwrap();
                }
                90..=93 => {
                    held.clear();
                    db.close().unwrap();
                    db = Db::open(DIR, opts.clone()).unwrap();
                }
                _ => {}
            }
            let got = read_all(&db);
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                models.keys().collect::<Vec<_>>(),
                "seed {seed} step {step}: keyspaces"
            );
            for (name, model) in &models {
                assert!(
                    &got[name] == model,
                    "seed {seed} step {step}: keyspace {name}: {}",
                    diff(&got[name], model)
                );
            }
            for (snap, seen, handles) in &held {
                for ks in handles.iter().filter(|k| !k.is_dropped()) {
                    let at: Model = snap
                        .iter_in(ks)
                        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                        .collect();
                    assert!(
                        at == seen[ks.name()],
                        "seed {seed} step {step}: snapshot of {}",
                        ks.name()
                    );
                }
            }
        }
        db.wait_for_compactions().unwrap();
        db.close().unwrap();
        let db = Db::open(DIR, opts).unwrap();
        assert!(read_all(&db) == models, "seed {seed}: after the last reopen");
    }
}

/// Power loss with three keyspaces: each batch writes one value to all three, so after
/// any crash the three must agree on how many batches survived (all or nothing across
/// keyspaces), and that number covers every synced batch.
#[test]
fn power_loss_keeps_cross_keyspace_batches_all_or_nothing() {
    for seed in 0..30u64 {
        let fs = MemFs::new();
        let opts = tiny(&fs);
        let db = Db::open(DIR, opts.clone()).unwrap();
        let a = db.keyspace_or_create("a", || KeyspaceOptions::from(&opts)).unwrap();
        let b = db.keyspace_or_create("b", || KeyspaceOptions::from(&opts)).unwrap();
        let mut rng = rng(1000 + seed);
        let mut synced = 0;
        let total = rng.random_range(50..400);
        for i in 1..=total {
            let mut batch = WriteBatch::new();
            let key = format!("k{:02}", i % 37);
            let value = format!("{i:06}");
            batch.put(&key, &value);
            batch.put_in(&a, &key, &value);
            batch.put_in(&b, &key, &value);
            let sync = rng.random_bool(0.05);
            db.write_opt(batch, &WriteOptions::default().with_sync(sync)).unwrap();
            if sync {
                synced = i;
            }
        }
        let modes = [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix, CrashMode::TornPages];
        let mode = modes[seed as usize % 3];
        let crashed = fs.crash(mode, seed);
        drop(db);
        // Pages written out of order are damage only point-in-time recovery accepts.
        let recovery = if mode == CrashMode::TornPages {
            mylsm::RecoveryMode::PointInTime
        } else {
            mylsm::RecoveryMode::default()
        };
        let reopen =
            Options { fs: Arc::new(crashed.clone()), wal_recovery_mode: recovery, ..opts.clone() };
        let db = Db::open(DIR, reopen).unwrap();
        // The number of batches that survived, as each keyspace tells it.
        let survived = |m: &Model| -> usize {
            m.values()
                .map(|v| std::str::from_utf8(v).unwrap().parse::<usize>().unwrap())
                .max()
                .unwrap_or(0)
        };
        let d = contents(&db);
        let (ga, gb) = (read(&db.keyspace("a").unwrap()), read(&db.keyspace("b").unwrap()));
        let n = survived(&d);
        assert!(
            d == ga && d == gb,
            "seed {seed}: keyspaces disagree ({} / {} / {})",
            n,
            survived(&ga),
            survived(&gb)
        );
        assert!(n >= synced, "seed {seed} ({mode:?}): lost synced batch {synced} (kept {n})");
        // The survivors are exactly the first n batches.
        let mut want = Model::new();
        for i in 1..=n {
            want.insert(format!("k{:02}", i % 37).into_bytes(), format!("{i:06}").into_bytes());
        }
        assert!(d == want, "seed {seed}: not a prefix of the history");
    }
}

#[test]
fn a_dropped_keyspace_stays_dropped_and_its_name_starts_empty_after_power_loss() {
    let fs = MemFs::new();
    let opts = tiny(&fs);
    let db = Db::open(DIR, opts.clone()).unwrap();
    let old = db.create_keyspace("x", KeyspaceOptions::from(&opts)).unwrap();
    for i in 0..300 {
        old.put(format!("old{i:03}"), [9u8; 50]).unwrap();
    }
    db.flush().unwrap();
    db.drop_keyspace(&old).unwrap();
    assert!(matches!(old.put("k", "v"), Err(Error::InvalidArgument(_))));
    let mut stale = WriteBatch::new();
    stale.put_in(&old, "k", "v");
    assert!(matches!(db.write(stale), Err(Error::InvalidArgument(_))));
    let new = db.create_keyspace("x", KeyspaceOptions::from(&opts)).unwrap();
    let mut batch = WriteBatch::new();
    batch.put_in(&new, "fresh", "1");
    db.write_opt(batch, &WriteOptions::synced()).unwrap();
    // The dropped keyspace's tables are gone from the directory.
    assert!(
        fs.paths().iter().filter(|p| p.extension().is_some_and(|e| e == "sst")).count() == 0,
        "{:?}",
        fs.paths()
    );
    for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
        let crashed = fs.crash(mode, 7);
        let db = Db::open(DIR, Options { fs: Arc::new(crashed), ..opts.clone() }).unwrap();
        assert_eq!(db.keyspaces(), ["default", "x"]);
        let x = db.keyspace("x").unwrap();
        assert_eq!(read(&x).len(), 1, "the old keyspace's data came back");
        assert_eq!(x.get("fresh").unwrap().as_deref(), Some(&b"1"[..]));
    }
}

/// One keyspace written constantly, another once: the quiet one must not keep old
/// WALs alive (every WAL switch moves its log number along).
#[test]
fn a_quiet_keyspace_pins_no_wals() {
    let fs = MemFs::new();
    let opts = Options { write_buffer_size: 4 << 10, ..options(&fs) };
    let db = Db::open(DIR, opts.clone()).unwrap();
    let busy = db.create_keyspace("busy", KeyspaceOptions::from(&opts)).unwrap();
    let quiet = db.create_keyspace("quiet", KeyspaceOptions::from(&opts)).unwrap();
    quiet.put("once", "1").unwrap();
    let mut most = 0;
    for i in 0..3000 {
        busy.put(format!("k{i:05}"), [1u8; 100]).unwrap();
        if i % 100 == 0 {
            db.wait_for_compactions().unwrap();
            let logs =
                fs.paths().iter().filter(|p| p.extension().is_some_and(|e| e == "log")).count();
            most = most.max(logs);
        }
    }
    assert!(most <= 4, "{most} WALs were live at once");
    db.close().unwrap();
    let db = Db::open(DIR, opts).unwrap();
    assert_eq!(db.keyspace("quiet").unwrap().get("once").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(read(&db.keyspace("busy").unwrap()).len(), 3000);
}

/// Many keyspaces written evenly: no memtable fills before the WAL holds all of them,
/// so the WAL size cap is what keeps the WAL (and a replay) bounded.
#[test]
fn the_wal_stays_under_its_cap_when_writes_spread_over_many_keyspaces() {
    let fs = MemFs::new();
    let cap = 64 << 10;
    let opts = Options { write_buffer_size: 1 << 20, max_total_wal_size: cap, ..options(&fs) };
    let db = Db::open(DIR, opts.clone()).unwrap();
    let spaces: Vec<Keyspace> = (0..8)
        .map(|i| db.create_keyspace(&format!("k{i}"), KeyspaceOptions::from(&opts)).unwrap())
        .collect();
    let mut biggest = 0;
    for i in 0..4000 {
        spaces[i % 8].put(format!("key{i:05}"), [3u8; 100]).unwrap();
        if i % 200 == 0 {
            let wals = fs.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "log"));
            // A WAL listed may be deleted by a flush before it is read.
            let sizes = wals.filter_map(|p| fs.file_contents(&p)).map(|c| c.len());
            biggest = sizes.max().unwrap_or(0).max(biggest);
        }
    }
    // One group may cross the cap before the next group switches the WAL.
    assert!(biggest <= cap as usize + 4096, "a WAL grew to {biggest} bytes");
    assert!(spaces.iter().all(|k| k.stats().flushes > 0), "the switch flushes every keyspace");
    db.close().unwrap();
    let db = Db::open(DIR, opts).unwrap();
    let total: usize = (0..8).map(|i| read(&db.keyspace(&format!("k{i}")).unwrap()).len()).sum();
    assert_eq!(total, 4000);
}

#[test]
fn keyspaces_reopen_with_their_options_and_the_api_refuses_what_cannot_work() {
    let fs = MemFs::new();
    let db = open(&fs);
    let zstd = KeyspaceOptions { compression: mylsm::Compression::Zstd, ..Default::default() };
    let ks = db.create_keyspace("blobs", zstd.clone()).unwrap();
    ks.put("k", "v").unwrap();
    assert!(matches!(db.create_keyspace("blobs", zstd.clone()), Err(Error::InvalidArgument(_))));
    assert!(matches!(db.create_keyspace("", zstd.clone()), Err(Error::InvalidArgument(_))));
    let bad = KeyspaceOptions { block_size: 0, ..Default::default() };
    assert!(matches!(db.create_keyspace("bad", bad), Err(Error::InvalidArgument(_))));
    assert!(matches!(db.keyspace("nope"), Err(Error::NotFound(_))));
    assert!(matches!(db.drop_keyspace(&db.default_keyspace()), Err(Error::InvalidArgument(_))));
    // `keyspace_or_create` returns the existing keyspace, ignoring the new options.
    let again = db.keyspace_or_create("blobs", KeyspaceOptions::default).unwrap();
    assert_eq!(again.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    db.close().unwrap();
    let db = open(&fs);
    assert_eq!(db.keyspaces(), ["default", "blobs"]);
    let ks = db.keyspace("blobs").unwrap();
    assert_eq!(ks.get("k").unwrap().as_deref(), Some(&b"v"[..]));
    ks.flush().unwrap();
    assert_eq!(ks.stats().levels[0].files, 1);
    // Read-only opens see every keyspace.
    let ro = Db::open_read_only(DIR, options(&fs)).unwrap();
    assert_eq!(ro.keyspace("blobs").unwrap().get("k").unwrap().as_deref(), Some(&b"v"[..]));
    assert!(matches!(ro.create_keyspace("z", zstd), Err(Error::InvalidArgument(_))));
}

/// Handles are `Clone + Send + Sync + 'static`, with no lifetime.
#[test]
fn handles_move_across_threads() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Keyspace>();
    assert_traits::<Db>();
    let fs = MemFs::new();
    let db = open(&fs);
    let ks = db.create_keyspace("t", KeyspaceOptions::default()).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let ks = ks.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    ks.put(format!("{t}-{i}"), "v").unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(read(&ks).len(), 800);
}
