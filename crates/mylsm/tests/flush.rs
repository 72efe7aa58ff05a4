//! Flush and the manifest: data leaves memory, survives reopen through the manifest,
//! and a crash at any I/O step of a flush or a manifest switch loses nothing.

mod common;

use std::path::Path;

use common::*;
use mylsm::fs::{CrashMode, MemFs};
use mylsm::{Db, Error, Options, WriteOptions};

fn small(fs: &MemFs) -> Options {
    Options { write_buffer_size: 32 << 10, ..options(fs) }
}

fn key(i: usize) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn value(i: usize) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat(i % 50)).into_bytes()
}

fn files_with(fs: &MemFs, ext: &str) -> usize {
    fs.paths().iter().filter(|p| p.extension().is_some_and(|e| e == ext)).count()
}

#[test]
fn data_larger_than_the_write_buffer_moves_to_tables_and_survives_reopen() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    for i in 0..5000 {
        db.put(key(i), value(i)).unwrap();
    }
    db.flush().unwrap();
    let s = db.stats();
    assert!(s.levels[0].files >= 2, "{s:?}");
    assert!(s.flushes >= 2);
    assert!(files_with(&fs, "sst") >= 2);
    // Every WAL but the live one is gone: their data is in tables.
    assert_eq!(files_with(&fs, "log"), 1);
    for i in (0..5000).step_by(7) {
        assert_eq!(db.get(key(i)).unwrap().as_deref(), Some(value(i).as_slice()), "{i}");
    }
    db.close().unwrap();
    let db = Db::open(DIR, small(&fs)).unwrap();
    let all = contents(&db);
    assert_eq!(all.len(), 5000);
    for (i, (k, v)) in all.iter().enumerate() {
        assert_eq!((k, v), (&key(i), &value(i)));
    }
    assert!(db.stats().block_cache_misses > 0);
    // Lookups of absent keys are mostly answered by the bloom filters.
    for i in 0..2000 {
        // Inside the tables' key ranges, so only the filters can rule them out.
        assert!(db.get(format!("key{i:06}-absent")).unwrap().is_none());
    }
    let s = db.stats();
    assert!(s.filter_negatives > 0, "{s:?}");
    assert!(s.filter_false_positives * 20 < s.filter_negatives + s.filter_false_positives, "{s:?}");
}

#[test]
fn deletes_and_overwrites_in_newer_memtables_shadow_older_tables() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    for i in 0..100 {
        db.put(key(i), b"old").unwrap();
    }
    db.flush().unwrap();
    for i in 0..100 {
        if i % 2 == 0 {
            db.delete(key(i)).unwrap();
        } else {
            db.put(key(i), b"new").unwrap();
        }
    }
    let check = |db: &Db| {
        for i in 0..100 {
            let want = if i % 2 == 0 { None } else { Some(&b"new"[..]) };
            assert_eq!(db.get(key(i)).unwrap().as_deref(), want, "{i}");
        }
        assert_eq!(db.iter().count(), 50);
        assert_eq!(db.iter().rev().count(), 50);
    };
    check(&db);
    db.flush().unwrap();
    check(&db);
    db.close().unwrap();
    check(&Db::open(DIR, small(&fs)).unwrap());
}

#[test]
fn a_snapshot_keeps_reading_its_versions_across_flushes() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    db.put(b"k", b"v1").unwrap();
    let snap = db.snapshot();
    db.put(b"k", b"v2").unwrap();
    db.flush().unwrap();
    for i in 0..2000 {
        db.put(key(i), value(i)).unwrap();
    }
    db.flush().unwrap();
    assert_eq!(snap.get(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(db.get(b"k").unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(snap.iter().count(), 1);
}

/// Runs `workload` with the n-th write (or sync) failing, for every n until the
/// workload runs clean; after each failure, simulates a power loss and checks that
/// everything acknowledged as durable before the workload is there.
fn crash_at_every_step(kind: &str, workload: impl Fn(&Db) -> mylsm::Result<()>) {
    let mut n = 0;
    loop {
        let fs = MemFs::new();
        let db = Db::open(DIR, small(&fs)).unwrap();
        for i in 0..300 {
            db.write_opt(
                to_batch(&[Op::Put(key(i), value(i))]),
                &WriteOptions::default().with_sync(i % 10 == 9),
            )
            .unwrap();
        }
        db.sync().unwrap();
        match kind {
            "write" => fs.fail_write_after(n),
            _ => fs.fail_sync_after(n),
        }
        let result = workload(&db);
        fs.clear_faults();
        for mode in [CrashMode::DropUnsynced, CrashMode::KeepRandomPrefix] {
            let crashed = fs.crash(mode, n);
            let db2 = Db::open(DIR, small(&crashed))
                .unwrap_or_else(|e| panic!("{kind} fault {n} {mode:?}: reopen: {e}"));
            let got = contents(&db2);
            for i in 0..300 {
                assert_eq!(
                    got.get(&key(i)),
                    Some(&value(i)),
                    "{kind} fault {n} {mode:?}: key {i} lost"
                );
            }
        }
        drop(db);
        if result.is_ok() {
            assert!(n > 3, "the workload did almost no I/O");
            return;
        }
        n += 1;
    }
}

#[test]
fn a_crash_at_every_write_of_a_flush_loses_nothing() {
    crash_at_every_step("write", |db| db.flush());
}

#[test]
fn a_crash_at_every_sync_of_a_flush_loses_nothing() {
    crash_at_every_step("sync", |db| db.flush());
}

#[test]
fn a_crash_at_every_step_of_open_and_its_manifest_switch_loses_nothing() {
    for kind in ["write", "sync"] {
        let mut n = 0;
        loop {
            let fs = MemFs::new();
            let db = Db::open(DIR, small(&fs)).unwrap();
            for i in 0..300 {
                db.put(key(i), value(i)).unwrap();
            }
            db.flush().unwrap();
            db.put(b"after-flush", b"1").unwrap();
            db.close().unwrap();
            match kind {
                "write" => fs.fail_write_after(n),
                _ => fs.fail_sync_after(n),
            }
            let opened = Db::open(DIR, small(&fs));
            fs.clear_faults();
            let ok = opened.is_ok();
            drop(opened);
            let crashed = fs.crash(CrashMode::DropUnsynced, n);
            let db =
                Db::open(DIR, small(&crashed)).unwrap_or_else(|e| panic!("{kind} fault {n}: {e}"));
            let got = contents(&db);
            assert_eq!(got.len(), 301, "{kind} fault {n}");
            if ok {
                break;
            }
            n += 1;
        }
    }
}

#[test]
fn a_failed_flush_latches_and_reopen_keeps_every_durable_write() {
    for fail_at in 0..4 {
        let fs = MemFs::new();
        let db = Db::open(DIR, small(&fs)).unwrap();
        for i in 0..200 {
            let sync = i < 100;
            db.write_opt(
                to_batch(&[Op::Put(key(i), value(i))]),
                &WriteOptions::default().with_sync(sync),
            )
            .unwrap();
        }
        fs.fail_sync_after(fail_at);
        assert!(db.flush().is_err(), "sync {fail_at}");
        fs.clear_faults();
        assert!(matches!(db.put(b"x", b"y"), Err(Error::Background(_))));
        // Reads keep working from memory.
        assert_eq!(db.get(key(150)).unwrap().as_deref(), Some(value(150).as_slice()));
        drop(db);
        // A failed fsync may drop what it covered (as Linux does), so only the writes
        // acknowledged as durable are promised; what survives is still a prefix.
        let got = contents(&Db::open(DIR, small(&fs)).unwrap());
        assert!(got.len() >= 100, "sync {fail_at}: {} keys", got.len());
        for (i, (k, v)) in got.iter().enumerate() {
            assert_eq!((k, v), (&key(i), &value(i)), "sync {fail_at}");
        }
    }
}

#[test]
fn writers_stall_instead_of_queueing_memtables_without_bound() {
    let fs = MemFs::new();
    let opts = Options { write_buffer_size: 8 << 10, max_immutable_memtables: 1, ..options(&fs) };
    let db = Db::open(DIR, opts).unwrap();
    for i in 0..20_000 {
        db.put(key(i), value(i)).unwrap();
        assert!(db.stats().immutable_memtables <= 1);
    }
    db.flush().unwrap();
    assert_eq!(contents(&db).len(), 20_000);
}

#[test]
fn a_damaged_manifest_or_current_is_corruption_naming_the_file() {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    for i in 0..500 {
        db.put(key(i), value(i)).unwrap();
    }
    db.flush().unwrap();
    db.close().unwrap();
    let manifest =
        fs.paths().into_iter().find(|p| p.to_string_lossy().contains("MANIFEST-")).unwrap();
    let bytes = fs.file_contents(&manifest).unwrap();
    for at in (0..bytes.len()).step_by(5) {
        let fs2 = fs.crash_process();
        let mut bad = bytes.clone();
        bad[at] ^= 0x20;
        fs2.write_file(&manifest, &bad);
        match Db::open(DIR, small(&fs2)) {
            Err(Error::Corruption { file, .. }) => assert_eq!(file, manifest),
            Ok(db) => panic!("flip at {at} opened: {} keys", contents(&db).len()),
            Err(e) => panic!("flip at {at}: {e}"),
        }
    }
    let fs2 = fs.crash_process();
    fs2.write_file(Path::new("/db/CURRENT"), b"MANIFEST-099999\n");
    assert!(matches!(Db::open(DIR, small(&fs2)), Err(Error::Corruption { .. })));
    fs2.write_file(Path::new("/db/CURRENT"), b"garbage");
    assert!(matches!(Db::open(DIR, small(&fs2)), Err(Error::Corruption { .. })));
}

#[test]
fn a_damaged_table_is_corruption_from_get_and_scan_never_a_wrong_value() {
    let fs = MemFs::new();
    let opts = Options { compression: mylsm::Compression::None, ..small(&fs) };
    let db = Db::open(DIR, opts.clone()).unwrap();
    for i in 0..300 {
        db.put(key(i), value(i)).unwrap();
    }
    db.flush().unwrap();
    db.close().unwrap();
    let table = fs.paths().into_iter().find(|p| p.extension().is_some_and(|e| e == "sst")).unwrap();
    let bytes = fs.file_contents(&table).unwrap();
    for at in (0..bytes.len()).step_by(53) {
        let fs2 = fs.crash_process();
        let mut bad = bytes.clone();
        bad[at] ^= 0x08;
        fs2.write_file(&table, &bad);
        let opts2 = Options { fs: std::sync::Arc::new(fs2.clone()), ..opts.clone() };
        let db = Db::open(DIR, opts2).unwrap();
        let mut saw_error = false;
        for i in 0..300 {
            match db.get(key(i)) {
                Ok(Some(v)) => {
                    assert_eq!(v.as_ref(), value(i).as_slice(), "flip at {at}: wrong value")
                }
                Ok(None) => panic!("flip at {at}: key {i} silently missing"),
                Err(Error::Corruption { file, .. }) => {
                    assert_eq!(file, table);
                    saw_error = true;
                }
                Err(e) => panic!("flip at {at}: {e}"),
            }
        }
        let scan: Vec<_> = db.iter().collect();
        assert!(saw_error || scan.iter().all(|r| r.is_ok()));
        for (k, v) in scan.iter().flatten() {
            let i: usize = std::str::from_utf8(&k[3..]).unwrap().parse().unwrap();
            assert_eq!(v.as_ref(), value(i).as_slice(), "flip at {at}: wrong value in scan");
        }
    }
}

/// Found by `fuzz/run db_ops`: `verify` listed the directory, a flush finishing then
/// deleted a WAL on that list, and verify failed reading it, reporting damage in a
/// healthy database.
#[test]
fn verify_skips_a_wal_a_concurrent_flush_deletes() {
    let fs = MemFs::new();
    let db = Db::open(DIR, Options { write_buffer_size: 1 << 10, ..options(&fs) }).unwrap();
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for i in 0..20_000 {
                db.put(key(i % 500), value(i)).unwrap();
            }
        });
        let mut verified = 0;
        while !writer.is_finished() {
            db.verify().unwrap_or_else(|e| panic!("verify {verified} while flushing: {e}"));
            verified += 1;
        }
        assert!(db.stats().flushes > 100, "{:?}", db.stats());
    });
}
