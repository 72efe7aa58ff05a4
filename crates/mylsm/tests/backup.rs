//! Incremental backups: a backup restores to the database as it was at its seqno; a
//! second one after a small change copies little; verify and restore catch a flipped
//! byte; purge keeps the newest; and a create or purge cut short at any I/O, then
//! crashed, leaves only complete backups.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use mylsm::fs::{CrashMode, FileSystem, MemFs};
use mylsm::{BackupEngine, Db, Error, KeyspaceOptions, Options, WriteBatch};

const BACKUPS: &str = "/backups";

fn key(i: u64) -> String {
    format!("k{i:06}")
}

fn engine(fs: &MemFs) -> BackupEngine {
    BackupEngine::open_with_fs(BACKUPS, Arc::new(fs.clone())).unwrap()
}

/// Both keyspaces of `db` ("default" and "ks").
fn both(db: &Db) -> (Model, Model) {
    let ks = db.keyspace("ks").unwrap();
    let b = ks.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
    (contents(db), b)
}

/// Opens the database restored in `dir` (on `fs`) and reads both keyspaces.
fn restored(fs: &MemFs, dir: &str) -> (Model, Model) {
    let db = Db::open(dir, Options { create_if_missing: false, ..options(fs) }).unwrap();
    db.verify().unwrap();
    let r = both(&db);
    db.close().unwrap();
    r
}

/// A database on `fs` with keys 0..n in both keyspaces, some in tables and the last
/// ones only in the WAL.
fn filled(fs: &MemFs, n: u64) -> Db {
    let opts = tiny(fs);
    let db = Db::open(DIR, opts.clone()).unwrap();
    let ks = db.create_keyspace("ks", KeyspaceOptions::from(&opts)).unwrap();
    for i in 0..n {
        let mut b = WriteBatch::new();
        b.put(key(i), i.to_string());
        b.put_in(&ks, key(i), format!("ks{i}"));
        db.write(b).unwrap();
    }
    db.wait_for_compactions().unwrap();
    db
}

fn paths_under(fs: &MemFs, dir: &str, suffix: &str) -> Vec<PathBuf> {
    let mut p: Vec<PathBuf> = fs
        .paths()
        .into_iter()
        .filter(|p| p.starts_with(dir) && p.to_string_lossy().ends_with(suffix))
        .collect();
    p.sort();
    p
}

fn flip_byte(fs: &MemFs, path: &Path, at: usize) {
    let mut data = fs.file_contents(path).unwrap();
    data[at] ^= 0x40;
    fs.write_file(path, &data);
}

#[test]
fn a_restored_backup_holds_every_keyspace_as_it_was_at_the_backups_seqno() {
    let fs = MemFs::new();
    let db = filled(&fs, 300);
    db.delete(key(7)).unwrap();
    let snap = db.snapshot();
    let at_backup = both(&db);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let backups = {
        let seen = Arc::clone(&seen);
        engine(&fs).with_progress(move |done, total| seen.lock().unwrap().push((done, total)))
    };
    let info = backups.create(&db).unwrap();
    // The progress goes up to its total, which is what was read: tables and WALs.
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 == w[1].1), "{seen:?}");
    let &(done, total) = seen.last().unwrap();
    assert!(done == total && total > 0 && total <= info.size, "{seen:?} {info:?}");
    assert_eq!(info.seqno, snap.seqno(), "nothing was written between");
    // Later writes are not in the backup.
    db.put(key(1), "changed").unwrap();
    db.delete_range(key(100)..key(200)).unwrap();
    db.flush().unwrap();
    assert_eq!(backups.list().unwrap(), std::slice::from_ref(&info));
    let restored_info = backups.restore(info.id, "/restored").unwrap();
    assert_eq!(restored_info, info);
    let (a, b) = restored(&fs, "/restored");
    assert!(a == at_backup.0, "default keyspace: {}", diff(&a, &at_backup.0));
    assert!(b == at_backup.1, "keyspace ks: {}", diff(&b, &at_backup.1));
    assert_eq!(a.len(), 299);
    // The restored database is one of its own, and writes go to it alone.
    let copy = Db::open("/restored", options(&fs)).unwrap();
    copy.put("only-in-copy", "x").unwrap();
    assert_eq!(db.get("only-in-copy").unwrap(), None);
}

#[cfg(unix)]
#[test]
fn on_a_real_file_system_backed_up_tables_are_copies_not_links() {
    use std::os::unix::fs::MetadataExt;
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), Options::default()).unwrap();
    for i in 0..1000 {
        db.put(key(i), [7u8; 100]).unwrap();
    }
    db.flush().unwrap();
    db.put("tail", "in the WAL only").unwrap();
    let backups = BackupEngine::open(tmp.path().join("backups")).unwrap();
    let info = backups.create(&db).unwrap();
    let shared: Vec<_> = std::fs::read_dir(tmp.path().join("backups/shared"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!shared.is_empty());
    for p in &shared {
        assert_eq!(std::fs::metadata(p).unwrap().nlink(), 1, "{} is linked", p.display());
    }
    backups.restore(info.id, tmp.path().join("restored")).unwrap();
    let copy = Db::open(tmp.path().join("restored"), Options::default()).unwrap();
    assert_eq!(copy.get("tail").unwrap().as_deref(), Some(&b"in the WAL only"[..]));
    assert_eq!(copy.iter().count(), 1001);
}

#[test]
fn restore_refuses_a_target_that_holds_anything_and_an_unknown_id() {
    let fs = MemFs::new();
    let db = filled(&fs, 20);
    let backups = engine(&fs);
    let info = backups.create(&db).unwrap();
    fs.write_file(Path::new("/busy/file"), b"x");
    let e = backups.restore(info.id, "/busy").unwrap_err();
    assert!(e.is_invalid_argument(), "{e}");
    assert_eq!(fs.file_contents(Path::new("/busy/file")).unwrap(), b"x");
    assert!(backups.restore(99, "/r").unwrap_err().is_not_found());
    assert!(backups.verify(99).unwrap_err().is_not_found());
}

#[test]
fn a_second_backup_after_one_percent_of_keys_changed_copies_a_small_fraction() {
    let fs = MemFs::new();
    let opts = Options {
        write_buffer_size: 256 << 10,
        target_file_size: 64 << 10,
        max_bytes_for_level_base: 1 << 20,
        ..options(&fs)
    };
    let db = Db::open(DIR, opts).unwrap();
    let n = 20_000u64;
    for i in 0..n {
        db.put(key(i), format!("{i:0>100}")).unwrap();
    }
    db.compact_all().unwrap();
    let backups = engine(&fs);
    let first = backups.create(&db).unwrap();
    // 1% of the keys, spread over the key space.
    for i in (0..n).step_by(100) {
        db.put(key(i), "changed").unwrap();
    }
    db.flush().unwrap();
    db.wait_for_compactions().unwrap();
    let want = contents(&db);
    let second = backups.create(&db).unwrap();
    assert!(first.bytes_copied > 256 << 10 && first.files > 4, "{first:?}");
    assert!(
        second.bytes_copied * 10 < first.bytes_copied,
        "the second backup copied {} bytes, the first {}",
        second.bytes_copied,
        first.bytes_copied
    );
    assert!(second.size > first.size / 2, "yet it holds the whole database: {second:?}");
    backups.restore(second.id, "/restored").unwrap();
    let db2 = Db::open("/restored", options(&fs)).unwrap();
    let got = contents(&db2);
    assert!(got == want, "{}", diff(&got, &want));
    assert_eq!(db2.get(key(500)).unwrap().as_deref(), Some(&b"changed"[..]));
}

#[test]
fn verify_and_restore_name_a_flipped_byte_in_a_shared_table_and_in_a_wal_copy() {
    let fs = MemFs::new();
    let db = filled(&fs, 300);
    let backups = engine(&fs);
    let info = backups.create(&db).unwrap();
    let report = backups.verify(info.id).unwrap();
    assert_eq!((report.files, report.bytes), (info.files, info.size));
    let tables = paths_under(&fs, "/backups/shared", ".sst");
    let wals = paths_under(&fs, "/backups/private", ".log");
    assert!(!tables.is_empty() && !wals.is_empty(), "{tables:?} {wals:?}");
    for victim in [&tables[0], wals.last().unwrap()] {
        let original = fs.file_contents(victim).unwrap();
        flip_byte(&fs, victim, original.len() / 2);
        match backups.verify(info.id).unwrap_err() {
            Error::Corruption { file, .. } => assert_eq!(&file, victim),
            e => panic!("{}: {e}", victim.display()),
        }
        // A restore checks what it copies, and what it left does not open.
        let to = format!("/restore-{}", victim.display().to_string().replace('/', "_"));
        let e = backups.restore(info.id, &to).unwrap_err();
        assert!(e.is_corruption(), "{e}");
        let o = Options { create_if_missing: false, ..options(&fs) };
        let e = Db::open(&to, o).unwrap_err();
        assert!(e.is_corruption() || e.is_no_database(), "{e}");
        fs.write_file(victim, &original);
    }
    backups.verify(info.id).unwrap();
    // A missing file is named too.
    fs.remove_file(&tables[0]).unwrap();
    let e = backups.verify(info.id).unwrap_err();
    assert!(e.is_corruption() && e.to_string().contains("missing"), "{e}");
}

#[test]
fn purge_keeps_the_newest_and_removes_the_tables_only_older_backups_held() {
    let fs = MemFs::new();
    let db = filled(&fs, 200);
    let backups = engine(&fs);
    let mut models = Vec::new();
    for round in 0..4u64 {
        // Rewrite everything, so each backup's tables differ from the last one's.
        for i in 0..200 {
            db.put(key(i), format!("round {round} key {i}")).unwrap();
        }
        db.compact_all().unwrap();
        backups.create(&db).unwrap();
        models.push(both(&db));
    }
    let shared_before = paths_under(&fs, "/backups/shared", ".sst").len();
    assert_eq!(backups.purge(2).unwrap(), [1, 2]);
    let ids: Vec<u64> = backups.list().unwrap().iter().map(|b| b.id).collect();
    assert_eq!(ids, [3, 4]);
    let shared_after = paths_under(&fs, "/backups/shared", ".sst");
    assert!(shared_after.len() < shared_before, "{shared_before} -> {}", shared_after.len());
    assert!(paths_under(&fs, "/backups/private/1", "").is_empty());
    assert!(!fs.exists(Path::new("/backups/private/1")), "the directory goes too");
    for id in [3u64, 4] {
        backups.verify(id).unwrap();
        let to = format!("/restored{id}");
        backups.restore(id, &to).unwrap();
        assert!(restored(&fs, &to) == models[id as usize - 1], "backup {id}");
    }
    // Every shared table left is one a remaining backup lists.
    assert_eq!(backups.purge(0).unwrap(), [3, 4]);
    assert!(backups.list().unwrap().is_empty());
    assert!(paths_under(&fs, "/backups/shared", "").is_empty());
    assert!(paths_under(&fs, "/backups/private", "").is_empty());
}

#[test]
fn a_create_cut_short_at_any_io_then_crashed_leaves_only_complete_backups() {
    let db_fs = MemFs::new();
    let db = filled(&db_fs, 300);
    let want = both(&db);
    let (mut completed, mut cut) = (0, 0);
    for (n, syncs) in (0..60u64).map(|n| (n, false)).chain((0..40u64).map(|n| (n, true))) {
        let fs = MemFs::new();
        if syncs {
            fs.fail_sync_after(n);
        } else {
            fs.fail_write_after(n);
        }
        let r = engine(&fs).create(&db);
        fs.clear_faults();
        completed += usize::from(r.is_ok());
        // A power loss, and a crash of the process that keeps every byte written.
        for (crash, crashed) in
            [("power loss", fs.crash(CrashMode::DropUnsynced, n)), ("crash", fs.crash_process())]
        {
            let ctx = format!("{crash} after {} {n}", if syncs { "sync" } else { "write" });
            let backups = engine(&crashed);
            let listed = backups.list().unwrap();
            match &r {
                Ok(info) => assert_eq!(listed, std::slice::from_ref(info), "{ctx}"),
                Err(_) => {
                    assert!(listed.len() <= 1, "{ctx}: {listed:?}");
                    cut += usize::from(listed.is_empty());
                }
            }
            // What is listed is whole.
            for b in &listed {
                backups.verify(b.id).unwrap();
                backups.restore(b.id, "/listed").unwrap();
                assert!(restored(&crashed, "/listed") == want, "{ctx}");
            }
            // The next create cleans up and works, and purge leaves only what it lists.
            let info = backups.create(&db).unwrap();
            assert_eq!(info.id, listed.len() as u64 + 1, "{ctx}");
            backups.purge(1).unwrap();
            backups.restore(info.id, "/restored").unwrap();
            assert!(restored(&crashed, "/restored") == want, "{ctx}");
            let on_disk = paths_under(&crashed, BACKUPS, "").len() - 2; // LOCK and meta/ID
            assert_eq!(on_disk, info.files, "{ctx}: {:?}", crashed.paths());
        }
    }
    assert!(completed >= 2 && cut >= 50, "completed {completed}, cut short {cut}");
}

#[test]
fn a_purge_cut_short_at_any_removal_then_crashed_leaves_whole_backups() {
    let fs = MemFs::new();
    let db = filled(&fs, 200);
    let mut models = Vec::new();
    let backups = engine(&fs);
    for round in 0..3u64 {
        db.put(key(round), "new").unwrap();
        db.compact_all().unwrap();
        backups.create(&db).unwrap();
        models.push(both(&db));
    }
    for n in 0..30u64 {
        let copy = fs.crash_process();
        copy.fail_remove_after(n);
        let r = engine(&copy).purge(1);
        copy.clear_faults();
        let crashed = copy.crash(CrashMode::DropUnsynced, n);
        let backups = engine(&crashed);
        for b in backups.list().unwrap() {
            let to = format!("/restored{}", b.id);
            backups.restore(b.id, &to).unwrap();
            assert!(restored(&crashed, &to) == models[b.id as usize - 1], "cut at {n}");
        }
        if r.is_ok() {
            assert_eq!(backups.list().unwrap().len(), 1);
        }
    }
}

#[test]
fn a_backup_taken_under_writes_restores_to_a_prefix_up_to_its_seqno() {
    let fs = MemFs::new();
    let opts = tiny(&fs);
    let db = Db::open(DIR, opts.clone()).unwrap();
    let ks = db.create_keyspace("ks", KeyspaceOptions::from(&opts)).unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (db, ks, written, stop) =
            (db.clone(), ks.clone(), Arc::clone(&written), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) || i < 300 {
                let mut b = WriteBatch::new();
                b.put(key(i), i.to_string());
                b.put_in(&ks, key(i), i.to_string());
                db.write(b).unwrap();
                i += 1;
                written.store(i, Ordering::SeqCst);
            }
        })
    };
    let backups = engine(&fs);
    let mut last = 0;
    for c in 0..8 {
        let before = written.load(Ordering::SeqCst);
        let info = backups.create(&db).unwrap();
        // A batch may be visible before its writer counts it: one more at most.
        let after = written.load(Ordering::SeqCst) + 1;
        let to = format!("/restored{c}");
        backups.restore(info.id, &to).unwrap();
        let (a, b) = restored(&fs, &to);
        assert!(a == b, "backup {c}: the keyspaces disagree: {}", diff(&a, &b));
        let n = a.len() as u64;
        for (i, (k, v)) in a.iter().enumerate() {
            assert_eq!(k, key(i as u64).as_bytes(), "backup {c}: a hole");
            assert_eq!(v, i.to_string().as_bytes(), "backup {c}");
        }
        assert!(before <= n && n <= after, "backup {c}: {n} not within [{before}, {after}]");
        assert!(n >= last, "backups go forward");
        // Two records per batch, seqnos from 1: the backup's seqno names its end.
        assert_eq!(info.seqno, 2 * n, "backup {c}");
        last = n;
        if c % 3 == 0 {
            db.flush().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(last > 0);
}

#[test]
fn a_second_engine_cannot_create_while_the_first_holds_the_lock() {
    let fs = MemFs::new();
    let db = filled(&fs, 10);
    fs.create_dir_all(Path::new(BACKUPS)).unwrap();
    let lock = fs.lock(Path::new("/backups/LOCK")).unwrap();
    assert!(matches!(engine(&fs).create(&db), Err(Error::Locked(_))));
    assert!(matches!(engine(&fs).purge(0), Err(Error::Locked(_))));
    drop(lock);
    engine(&fs).create(&db).unwrap();
}
