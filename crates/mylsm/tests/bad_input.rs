//! Bad input and failures: damaged logs give `Corruption` naming file and offset, a
//! second open gives `Locked`, bad arguments give `InvalidArgument`, and a failed WAL
//! write latches the database read-only without losing what was acknowledged.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use mylsm::fs::MemFs;
use mylsm::{Db, Error, Options, WriteOptions};

/// The logs of `fs` that hold something, in file-number order.
fn logs_with_data(fs: &MemFs) -> Vec<PathBuf> {
    let mut logs: Vec<_> = fs
        .paths()
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| e == "log")
                && fs.file_contents(p).is_some_and(|c| !c.is_empty())
        })
        .collect();
    logs.sort();
    logs
}

/// The one log file of `fs`, empty or not.
fn the_live_log(fs: &MemFs) -> PathBuf {
    let logs: Vec<_> =
        fs.paths().into_iter().filter(|p| p.extension().is_some_and(|e| e == "log")).collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs.into_iter().next().unwrap()
}

fn the_log(fs: &MemFs) -> PathBuf {
    let logs = logs_with_data(fs);
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs.into_iter().next().unwrap()
}

/// A copy of every file of `fs` with `log` holding `bytes` instead.
fn with_log(fs: &MemFs, log: &Path, bytes: &[u8]) -> MemFs {
    let copy = MemFs::new();
    mylsm::fs::FileSystem::create_dir_all(&copy, Path::new(DIR)).unwrap();
    for path in fs.paths() {
        if let Some(contents) = fs.file_contents(&path) {
            copy.write_file(&path, if path == log { bytes } else { &contents });
        }
    }
    copy
}

fn filled(n: usize) -> MemFs {
    let fs = MemFs::new();
    let db = open(&fs);
    for i in 0..n {
        db.put(format!("key{i:05}"), format!("value{i}")).unwrap();
    }
    db.close().unwrap();
    fs
}

#[test]
fn a_flipped_byte_in_the_middle_of_the_wal_is_corruption_naming_file_and_offset() {
    let fs = filled(2000);
    let log = the_log(&fs);
    let bytes = fs.file_contents(&log).unwrap();
    let mut corrupt = 0;
    for at in (0..bytes.len() - 200).step_by(997) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        let fs2 = with_log(&fs, &log, &bad);
        match Db::open(DIR, options(&fs2)) {
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, log);
                assert!(
                    offset <= at as u64 && at as u64 - offset < 32 * 1024,
                    "offset {offset}, flip at {at}"
                );
                corrupt += 1;
            }
            other => panic!("flip at {at}: expected corruption, got {other:?}"),
        }
    }
    assert!(corrupt > 10);
}

#[test]
fn point_in_time_recovery_opens_at_the_last_intact_write_and_stays_consistent() {
    let fs = filled(2000);
    let log = the_log(&fs);
    let mut bad = fs.file_contents(&log).unwrap();
    let at = bad.len() / 2;
    bad[at] ^= 0x10;
    fs.write_file(&log, &bad);
    let opts = Options { wal_recovery_mode: mylsm::RecoveryMode::PointInTime, ..options(&fs) };
    let db = Db::open(DIR, opts.clone()).unwrap();
    let got = contents(&db);
    let n = got.len();
    assert!(n > 0 && n < 2000, "{n}");
    assert!(db.stats().recovery_truncated.is_some_and(|s| s.contains("checksum")));
    // A prefix: exactly keys 0..n survive.
    for (i, (k, _)) in got.iter().enumerate() {
        assert_eq!(k, format!("key{i:05}").as_bytes());
    }
    db.put(b"zz-after", b"1").unwrap();
    db.close().unwrap();
    // The damage is gone for good: a strict reopen succeeds and keeps the new write.
    let db = open(&fs);
    assert_eq!(contents(&db).len(), n + 1);
}

/// Found by review: point-in-time recovery deleted the old logs, oldest first, before
/// the manifest naming its rewritten log was written. Stopped partway (a crash, or a
/// failed delete), the next open replayed from the first log left, hit the same damage
/// and rewrote only what followed the gap: the intact older log's writes were gone.
#[test]
fn point_in_time_recovery_stopped_while_deleting_old_logs_loses_no_intact_log() {
    let fs = MemFs::new();
    let pit = Options { wal_recovery_mode: mylsm::RecoveryMode::PointInTime, ..options(&fs) };
    // The first 100 keys reach a table (the second open writes the log it replays into
    // one); the next 100 stay in the live log, which is then damaged.
    for (from, to) in [(0, 100), (100, 200)] {
        let db = open(&fs);
        for i in from..to {
            db.put(format!("key{i:05}"), format!("value{i}")).unwrap();
        }
        db.close().unwrap();
    }
    let log = the_log(&fs);
    let mut bad = fs.file_contents(&log).unwrap();
    let at = bad.len() / 2;
    bad[at] ^= 0x10;
    fs.write_file(&log, &bad);

    // The first file removal succeeds, the second fails, so the open stops partway.
    fs.fail_remove_after(1);
    let _ = Db::open(DIR, pit.clone());
    fs.clear_faults();
    let db = Db::open(DIR, pit).unwrap();
    let got = contents(&db);
    let n = got.len();
    assert!((100..200).contains(&n), "{n} keys survived; the 100 of the intact log must");
    for (i, (k, _)) in got.iter().enumerate() {
        assert_eq!(k, format!("key{i:05}").as_bytes(), "not a prefix at {i}");
    }
}

#[test]
fn every_truncation_of_the_wal_opens_to_a_prefix() {
    let fs = filled(300);
    let log = the_log(&fs);
    let bytes = fs.file_contents(&log).unwrap();
    for cut in (0..bytes.len()).step_by(37) {
        let fs2 = with_log(&fs, &log, &bytes[..cut]);
        let got = contents(&open(&fs2));
        for (i, (k, _)) in got.iter().enumerate() {
            assert_eq!(k, format!("key{i:05}").as_bytes(), "cut {cut}");
        }
    }
}

#[test]
fn random_garbage_as_a_wal_never_panics() {
    let mut rng = rng(9);
    for round in 0..300 {
        use rand::Rng;
        let len = rng.random_range(0..70_000);
        let junk: Vec<u8> =
            (0..len).map(|_| if rng.random_bool(0.5) { 0 } else { rng.random() }).collect();
        // Garbage in the live log of a new database's directory.
        let fresh = MemFs::new();
        open(&fresh).close().unwrap();
        let log = the_live_log(&fresh);
        let fs = with_log(&fresh, &log, &junk);
        match Db::open(DIR, options(&fs)) {
            Ok(db) => drop(contents(&db)),
            Err(e) => assert!(e.is_corruption(), "round {round}: {e}"),
        }
    }
}

#[test]
fn a_second_open_of_the_same_directory_is_locked() {
    let fs = MemFs::new();
    let db = open(&fs);
    assert!(matches!(Db::open(DIR, options(&fs)), Err(Error::Locked(_))));
    db.close().unwrap();
    open(&fs);

    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(matches!(Db::open(dir.path(), Options::default()), Err(Error::Locked(_))));
    drop(db);
    Db::open(dir.path(), Options::default()).unwrap();
}

#[test]
fn bad_arguments_are_invalid_argument_and_change_nothing() {
    let fs = MemFs::new();
    let db = open(&fs);
    let huge_key = vec![b'k'; mylsm::MAX_KEY_LEN + 1];
    assert!(matches!(db.put(&huge_key, b"v"), Err(Error::InvalidArgument(_))));
    assert_eq!(db.iter().count(), 0);
    let missing = Options { create_if_missing: false, ..options(&MemFs::new()) };
    assert!(matches!(Db::open("/nope", missing), Err(Error::InvalidArgument(_))));
    db.put(b"k", b"v").unwrap();
    db.close().unwrap();
    let exists = Options { error_if_exists: true, ..options(&fs) };
    assert!(matches!(Db::open(DIR, exists), Err(Error::InvalidArgument(_))));
    // Writes would stop at 4 L0 tables and wait forever for a compaction that starts
    // at 8; the open refuses instead of hanging the first writer that gets there.
    let stuck = Options { l0_compaction_trigger: 8, l0_stop_writes_trigger: 4, ..options(&fs) };
    assert!(
        matches!(Db::open(DIR, stuck), Err(Error::InvalidArgument(m)) if m.contains("l0_stop"))
    );
    let huge_filter = Options { bloom_bits_per_key: 100_000, ..options(&fs) };
    assert!(matches!(Db::open(DIR, huge_filter), Err(Error::InvalidArgument(_))));
}

#[test]
fn a_closed_handle_refuses_everything() {
    let fs = MemFs::new();
    let db = open(&fs);
    let other = db.clone();
    db.close().unwrap();
    assert!(matches!(other.put(b"k", b"v"), Err(Error::Closed)));
    assert!(matches!(other.get(b"k"), Err(Error::Closed)));
    assert!(matches!(other.iter().next(), Some(Err(Error::Closed))));
}

#[test]
fn a_failed_wal_write_latches_and_loses_nothing_acknowledged() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.write_opt(to_batch(&[Op::Put(b"a".to_vec(), b"1".to_vec())]), &WriteOptions::synced())
        .unwrap();
    fs.fail_write_after(0);
    assert!(db.put(b"b", b"2").is_err());
    fs.clear_faults();
    // The failure is latched: later writes fail even though the disk is fine again.
    assert!(matches!(db.put(b"c", b"3"), Err(Error::Background(_))));
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    drop(db);
    let db = open(&fs);
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"c").unwrap(), None);
    db.put(b"d", b"4").unwrap();
}

#[test]
fn a_failed_fsync_latches_and_synced_writes_before_it_survive_power_loss() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.write_opt(to_batch(&[Op::Put(b"a".to_vec(), b"1".to_vec())]), &WriteOptions::synced())
        .unwrap();
    fs.fail_sync_after(0);
    let r =
        db.write_opt(to_batch(&[Op::Put(b"b".to_vec(), b"2".to_vec())]), &WriteOptions::synced());
    assert!(r.is_err());
    assert!(matches!(db.put(b"c", b"3"), Err(Error::Background(_))));
    fs.clear_faults();
    let crashed = fs.crash(mylsm::fs::CrashMode::DropUnsynced, 3);
    drop(db);
    let db = open(&crashed);
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn no_space_fails_the_write_and_the_database_reopens_once_space_is_back() {
    let fs = MemFs::new();
    let db = open(&fs);
    db.put(b"before", b"1").unwrap();
    fs.set_space_limit(Some(fs.bytes_appended() + 10));
    assert!(db.put(b"big", vec![0u8; 1000]).is_err());
    fs.set_space_limit(None);
    drop(db);
    let db = open(&fs);
    assert_eq!(db.get(b"before").unwrap().as_deref(), Some(&b"1"[..]));
    db.put(b"after", b"2").unwrap();
}
