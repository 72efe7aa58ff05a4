//! Bulk ingest: files written by `SstWriter` become visible in one step, newer than
//! every write before them, invisible to older snapshots, in the right order against
//! overlapping L0 tables, and still so after a reopen; a model test mixes ingests into
//! writes, snapshots, flushes, compactions and reopens.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::*;
use mylsm::fs::{FileSystem, MemFs};
use mylsm::{Db, IngestOptions, KeyspaceOptions, Options, SstWriter};
use rand::Rng;

fn writer(fs: &MemFs, path: &str) -> SstWriter {
    let fs: Arc<dyn FileSystem> = Arc::new(fs.clone());
    fs.create_dir_all("/in".as_ref()).unwrap();
    SstWriter::create_with_fs(fs, path, &KeyspaceOptions::default()).unwrap()
}

/// Writes `pairs` (sorted, `None`: a delete) to `path`.
fn sst(fs: &MemFs, path: &str, pairs: &[(&str, Option<&str>)]) {
    let mut w = writer(fs, path);
    for (k, v) in pairs {
        match v {
            Some(v) => w.put(k, v).unwrap(),
            None => w.delete(k).unwrap(),
        }
    }
    w.finish().unwrap();
}

fn get(db: &Db, k: &str) -> Option<String> {
    db.get(k).unwrap().map(|v| String::from_utf8(v.to_vec()).unwrap())
}

#[test]
fn an_ingested_file_is_visible_at_once_and_after_reopen_and_lands_at_the_bottom() {
    let fs = MemFs::new();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    db.put("a", "1").unwrap();
    sst(&fs, "/in/1.sst", &[("m1", Some("x")), ("m2", Some("y"))]);
    let info = db.ingest(["/in/1.sst"], IngestOptions::default()).unwrap();
    assert!(!info.flushed, "the memtable holds nothing in [m1, m2]");
    assert_eq!(info.files[0].level, 6, "nothing overlaps: the deepest level");
    assert!(fs.exists("/in/1.sst".as_ref()), "the source stays without move_files");
    assert_eq!(get(&db, "m2").as_deref(), Some("y"));
    let all: Vec<_> = db.iter().map(|r| r.unwrap().0.to_vec()).collect();
    assert_eq!(all, [b"a".to_vec(), b"m1".to_vec(), b"m2".to_vec()]);
    let rev: Vec<_> = db.iter().rev().map(|r| r.unwrap().0.to_vec()).collect();
    assert_eq!(rev, [b"m2".to_vec(), b"m1".to_vec(), b"a".to_vec()]);
    db.put("z", "after").unwrap();
    db.close().unwrap();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    assert_eq!(get(&db, "m1").as_deref(), Some("x"));
    assert_eq!(get(&db, "z").as_deref(), Some("after"), "writes after the ingest replay");
    db.put("m1", "newer").unwrap();
    assert_eq!(get(&db, "m1").as_deref(), Some("newer"), "a later write wins over the file");
}

#[test]
fn an_overlapping_memtable_is_flushed_first_and_the_file_wins_over_it_in_l0_order() {
    let fs = MemFs::new();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    db.put("k", "old").unwrap();
    db.put("q", "other").unwrap();
    let before = db.snapshot();
    sst(&fs, "/in/1.sst", &[("k", Some("new")), ("p", None)]);
    let info = db.ingest(["/in/1.sst"], IngestOptions::moving()).unwrap();
    assert!(info.flushed);
    assert!(!fs.exists("/in/1.sst".as_ref()), "move_files removes the source");
    // The flush took its table number after the ingest took its own: only ordering L0
    // by seqno puts the file above the older data.
    assert_eq!(info.files[0].level, 0, "it overlaps the flushed table");
    assert_eq!(get(&db, "k").as_deref(), Some("new"));
    assert_eq!(before.get("k").unwrap().as_deref(), Some(&b"old"[..]), "older snapshot");
    let snap_keys: Vec<_> = before.iter().map(|r| r.unwrap().1.to_vec()).collect();
    assert_eq!(snap_keys, [b"old".to_vec(), b"other".to_vec()]);
    drop(before);
    db.close().unwrap();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    assert_eq!(get(&db, "k").as_deref(), Some("new"), "after reopen");
    db.compact_all().unwrap();
    assert_eq!(get(&db, "k").as_deref(), Some("new"), "after compaction");
}

#[test]
fn deletes_and_range_deletes_in_a_file_hide_older_data_not_the_files_own_entries() {
    let fs = MemFs::new();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    for k in ["a", "b", "c", "d", "e"] {
        db.put(k, "db").unwrap();
    }
    db.flush().unwrap();
    let mut w = writer(&fs, "/in/1.sst");
    w.delete_range("b", "e").unwrap();
    w.delete("a").unwrap();
    w.put("c", "file").unwrap();
    w.finish().unwrap();
    db.ingest(["/in/1.sst"], IngestOptions::default()).unwrap();
    let all: Vec<_> =
        db.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
    assert_eq!(all, [(b"c".to_vec(), b"file".to_vec()), (b"e".to_vec(), b"db".to_vec())]);
    db.compact_all().unwrap();
    assert_eq!(get(&db, "c").as_deref(), Some("file"));
    assert_eq!(get(&db, "b"), None);
}

#[test]
fn later_files_of_one_ingest_win_and_keyspaces_take_files_too() {
    let fs = MemFs::new();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    let ks = db.create_keyspace("ks", KeyspaceOptions::default()).unwrap();
    sst(&fs, "/in/1.sst", &[("a", Some("1")), ("b", Some("1"))]);
    sst(&fs, "/in/2.sst", &[("b", Some("2")), ("c", Some("2"))]);
    let info = ks.ingest(["/in/1.sst", "/in/2.sst"], IngestOptions::default()).unwrap();
    assert!(info.files[1].seqno > info.files[0].seqno);
    assert_eq!(ks.get("b").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(db.get("b").unwrap(), None, "the default keyspace is untouched");
}

#[test]
fn bad_files_are_refused_and_nothing_is_ingested() {
    let fs = MemFs::new();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    let mut w = writer(&fs, "/in/1.sst");
    w.put("b", "1").unwrap();
    assert!(w.put("a", "0").unwrap_err().is_invalid_argument(), "keys must ascend");
    assert!(w.put("b", "0").unwrap_err().is_invalid_argument(), "strictly");
    assert!(w.delete_range("x", "x").unwrap_err().is_invalid_argument());
    w.put("c", "1").unwrap();
    w.finish().unwrap();
    let empty = writer(&fs, "/in/empty.sst");
    assert!(empty.finish().unwrap_err().is_invalid_argument());
    assert!(db.ingest(Vec::<&str>::new(), IngestOptions::default()).is_err());
    // A table of a database carries seqnos: not ingestible as it is.
    db.put("x", "y").unwrap();
    db.flush().unwrap();
    let own = fs.list_dir("/db".as_ref()).unwrap();
    let own = own.iter().find(|n| n.ends_with(".sst")).unwrap();
    let own = format!("/db/{}", own);
    let err = db.ingest([own.as_str(), "/in/1.sst"], IngestOptions::default()).unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    // A damaged file is corruption.
    let bytes = read_all(&fs, "/in/1.sst");
    let mut f = fs.create("/in/bad.sst".as_ref()).unwrap();
    f.append(&bytes[..bytes.len() - 3]).unwrap();
    f.sync().unwrap();
    let err = db.ingest(["/in/1.sst", "/in/bad.sst"], IngestOptions::default()).unwrap_err();
    assert!(err.is_corruption(), "{err}");
    assert_eq!(get(&db, "b"), None, "a failed ingest adds nothing");
    let tables = |fs: &MemFs| {
        let names = fs.list_dir("/db".as_ref()).unwrap();
        names.iter().filter(|n| n.ends_with(".sst")).count()
    };
    assert_eq!(tables(&fs), 1, "staged copies are removed");
    db.ingest(["/in/1.sst"], IngestOptions::default()).unwrap();
    assert_eq!(get(&db, "b").as_deref(), Some("1"));
}

fn read_all(fs: &MemFs, path: &str) -> Vec<u8> {
    let f = fs.open(path.as_ref()).unwrap();
    let mut buf = vec![0; f.len().unwrap() as usize];
    f.read_at(0, &mut buf).unwrap();
    buf
}

/// Random puts, deletes, ingests (of random sorted puts and deletes), snapshots,
/// flushes, compactions and reopens against a model; every snapshot is checked against
/// the model as it was when it was taken.
#[test]
fn model_test_with_ingests_mixed_into_writes_snapshots_flushes_and_compactions() {
    let seeds: u64 =
        std::env::var("MYLSM_MODEL_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let steps: usize =
        std::env::var("MYLSM_MODEL_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(300);
    for seed in 0..seeds {
        let mut r = rng(seed);
        let fs = MemFs::new();
        let mut db = Db::open(DIR, tiny(&fs)).unwrap();
        let mut model = Model::new();
        let mut snaps: Vec<(mylsm::Snapshot, Model)> = Vec::new();
        let mut files = 0;
        for step in 0..steps {
            let ctx = format!("seed {seed} step {step}");
            match r.random_range(0..100) {
                0..=39 => {
                    let (k, v) = (random_key(&mut r, 200), random_value(&mut r));
                    db.put(&k, &v).unwrap();
                    model.insert(k, v);
                }
                40..=49 => {
                    let k = random_key(&mut r, 200);
                    db.delete(&k).unwrap();
                    model.remove(&k);
                }
                50..=69 => {
                    let n = r.random_range(1..3);
                    let mut paths = Vec::new();
                    for _ in 0..n {
                        files += 1;
                        let path = format!("/in/{files}.sst");
                        let mut entries = BTreeMap::new();
                        let lo = r.random_range(0..200);
                        for _ in 0..r.random_range(1..40) {
                            let k = format!("key{:04}", lo + r.random_range(0..30)).into_bytes();
                            let v = r.random_bool(0.8).then(|| random_value(&mut r));
                            entries.insert(k, v);
                        }
                        let mut w = writer(&fs, &path);
                        for (k, v) in &entries {
                            match v {
                                Some(v) => w.put(k, v).unwrap(),
                                None => w.delete(k).unwrap(),
                            }
                        }
                        w.finish().unwrap();
                        paths.push((path, entries));
                    }
                    db.ingest(paths.iter().map(|p| p.0.as_str()), IngestOptions::moving())
                        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
                    for (_, entries) in paths {
                        for (k, v) in entries {
                            match v {
                                Some(v) => model.insert(k, v),
                                None => model.remove(&k),
                            };
                        }
                    }
                }
                70..=76 => snaps.push((db.snapshot(), model.clone())),
                77..=80 if !snaps.is_empty() => {
                    let i = r.random_range(0..snaps.len());
                    snaps.swap_remove(i);
                }
                81..=85 => db.flush().unwrap(),
                86..=89 => db.compact_all().unwrap(),
                90..=91 => {
                    snaps.clear();
                    db.close().unwrap();
                    db = Db::open(DIR, tiny(&fs)).unwrap();
                }
                _ => {
                    let k = random_key(&mut r, 200);
                    let got = db.get(&k).unwrap().map(|v| v.to_vec());
                    assert_eq!(got.as_ref(), model.get(&k), "{ctx}: get {}", k.escape_ascii());
                }
            }
            if step % 25 == 0 {
                let got = contents(&db);
                assert!(got == model, "{ctx}: {}", diff(&got, &model));
                for (s, m) in &snaps {
                    let got: Model = s
                        .iter()
                        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                        .collect();
                    assert!(&got == m, "{ctx}: snapshot: {}", diff(&got, m));
                }
            }
        }
        snaps.clear();
        db.wait_for_compactions().unwrap();
        let got = contents(&db);
        assert!(got == model, "seed {seed} end: {}", diff(&got, &model));
        let rev: Vec<Vec<u8>> = db.iter().rev().map(|r| r.unwrap().0.to_vec()).collect();
        let want: Vec<Vec<u8>> = model.keys().rev().cloned().collect();
        assert_eq!(rev, want, "seed {seed}: reverse");
        db.close().unwrap();
        let db = Db::open(DIR, tiny(&fs)).unwrap();
        assert!(contents(&db) == model, "seed {seed}: after the last reopen");
    }
}

/// An ingest cut short by a failed write or sync at any point, then a power loss:
/// the reopened database holds either a prefix of the writes before the ingest and
/// nothing of it, or every write before it and all of it — never the ingest without
/// an acknowledged write that came before it.
#[test]
fn an_ingest_cut_short_at_any_io_then_power_loss_is_all_or_nothing_after_a_prefix() {
    let (mut whole, mut none) = (0, 0);
    let cuts = (0..40u64).map(|n| (n, false)).chain((0..40u64).map(|n| (n, true)));
    // With `overlap` the file meets the memtable, which is flushed (and its WAL synced)
    // first; without, the writes before the ingest are synced by the ingest alone.
    for ((n, syncs), overlap) in cuts.flat_map(|c| [(c, false), (c, true)]) {
        let ctx = format!("cut at {} {n}, overlap {overlap}", if syncs { "sync" } else { "write" });
        let fs = MemFs::new();
        let db = Db::open(DIR, tiny(&fs)).unwrap();
        for i in 0..100u32 {
            db.put(format!("key{i:04}"), i.to_string()).unwrap();
        }
        let mut w = writer(&fs, "/in/1.sst");
        for i in (50..60u32).filter(|_| overlap) {
            w.put(format!("key{i:04}"), "ingested").unwrap();
        }
        w.put("zz", "ingested").unwrap();
        w.finish().unwrap();
        if syncs {
            fs.fail_sync_after(n);
        } else {
            fs.fail_write_after(n);
        }
        let r = db.ingest(["/in/1.sst"], IngestOptions::default());
        fs.clear_faults();
        // The power goes before the handle closes (which would sync the WAL).
        let crashed = fs.crash(mylsm::fs::CrashMode::DropUnsynced, n);
        drop(db);
        let o = Options { fs: Arc::new(crashed.clone()), ..tiny(&crashed) };
        let db = Db::open(DIR, o).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let got = contents(&db);
        let ingested = got.contains_key(&b"zz"[..]);
        if ingested {
            whole += 1;
            assert_eq!(got.len(), 101, "{ctx}: the ingest survived, so every write before it");
            for (k, v) in &got {
                let digits = k.strip_prefix(b"key").and_then(|d| std::str::from_utf8(d).ok());
                let i: u32 = match digits.and_then(|s| s.parse().ok()) {
                    Some(i) => i,
                    None => continue,
                };
                let ingested_key = overlap && (50..60).contains(&i);
                let want = if ingested_key { "ingested".to_string() } else { i.to_string() };
                assert_eq!(v, want.as_bytes(), "{ctx}");
            }
        } else {
            none += 1;
            assert!(r.is_err(), "{ctx}: an acknowledged ingest was lost");
            // Writes were not synced: any prefix may have survived the power loss.
            for (i, (k, v)) in got.iter().enumerate() {
                assert_eq!(k, format!("key{i:04}").as_bytes(), "{ctx}: a hole");
                assert_eq!(v, i.to_string().as_bytes(), "{ctx}: part of the ingest");
            }
        }
    }
    assert!(whole >= 2 && none >= 10, "whole {whole}, none {none}");
}

/// Rewriting a source file with `SstWriter` after ingesting it (linked, not moved)
/// leaves the database's copy alone.
#[test]
fn rewriting_an_ingested_source_does_not_touch_the_database() {
    let fs = MemFs::new();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    sst(&fs, "/in/1.sst", &[("a", Some("first"))]);
    let info = db.ingest(["/in/1.sst"], IngestOptions::default()).unwrap();
    assert!(info.files[0].linked);
    sst(&fs, "/in/1.sst", &[("b", Some("second"))]);
    db.close().unwrap();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    db.verify().unwrap();
    assert_eq!(get(&db, "a").as_deref(), Some("first"));
}

/// The test file system links like a POSIX one (what ingests and checkpoints rely on).
#[test]
fn a_hard_link_shares_the_bytes_and_becomes_durable_with_its_directory() {
    let fs = MemFs::new();
    fs.create_dir_all(std::path::Path::new("/a")).unwrap();
    fs.create_dir_all(std::path::Path::new("/b")).unwrap();
    let mut f = fs.create(std::path::Path::new("/a/x")).unwrap();
    f.append(b"hello").unwrap();
    f.sync().unwrap();
    drop(f);
    fs.sync_dir(std::path::Path::new("/a")).unwrap();
    assert!(fs.hard_link(std::path::Path::new("/a/x"), std::path::Path::new("/b/y")).unwrap());
    assert!(
        fs.hard_link(std::path::Path::new("/a/x"), std::path::Path::new("/b/y")).is_err(),
        "exists"
    );
    assert!(fs.hard_link(std::path::Path::new("/a/none"), std::path::Path::new("/b/z")).is_err());
    fs.remove_file(std::path::Path::new("/a/x")).unwrap();
    assert_eq!(fs.file_contents(std::path::Path::new("/b/y")).unwrap(), b"hello");
    let lost = fs.crash(mylsm::fs::CrashMode::DropUnsynced, 0);
    assert!(!lost.exists(std::path::Path::new("/b/y")), "the link was not synced");
    fs.sync_dir(std::path::Path::new("/b")).unwrap();
    let kept = fs.crash(mylsm::fs::CrashMode::DropUnsynced, 0);
    assert_eq!(kept.file_contents(std::path::Path::new("/b/y")).unwrap(), b"hello");
}
