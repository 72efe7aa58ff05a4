//! Checkpoints: a copy taken while writes, flushes and compactions go on opens as a
//! database holding exactly a prefix of the history, up to the seqno it reports; a
//! copy cut short by a failure at any I/O, then crashed, either refuses to open or is
//! complete — never a mix.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::*;
use mylsm::fs::{CrashMode, FileSystem, MemFs, OsFs};
use mylsm::{Db, Error, KeyspaceOptions, Options, WriteBatch};

fn key(i: u64) -> String {
    format!("k{i:06}")
}

/// The number n such that `m` holds exactly keys 0..n of the history (each key i in
/// the default keyspace and in `ks`, value i), or a panic naming what is wrong.
fn prefix_len(db: &Db, ctx: &str) -> u64 {
    let ks = db.keyspace("ks").unwrap();
    let a = contents(db);
    let b: Model = ks.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
    assert!(a == b, "{ctx}: the keyspaces disagree: {}", diff(&a, &b));
    let n = a.len() as u64;
    for (i, (k, v)) in a.iter().enumerate() {
        assert_eq!(k, key(i as u64).as_bytes(), "{ctx}: a hole before {}", k.escape_ascii());
        assert_eq!(v, i.to_string().as_bytes(), "{ctx}");
    }
    n
}

#[test]
fn checkpoints_taken_under_writes_hold_a_prefix_up_to_their_seqno() {
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
    let mut last = 0;
    for c in 0..12 {
        let before = written.load(Ordering::SeqCst);
        let dir = format!("/cp{c}");
        let info = db.checkpoint(&dir, Default::default()).unwrap();
        // A batch may be visible before its writer counts it: one more at most.
        let after = written.load(Ordering::SeqCst) + 1;
        let copy = Db::open(&dir, opts.clone()).unwrap();
        let n = prefix_len(&copy, &format!("checkpoint {c}"));
        assert!(before <= n && n <= after, "checkpoint {c}: {n} not within [{before}, {after}]");
        assert!(n >= last, "checkpoints go forward");
        // Two records per batch, seqnos from 1: the checkpoint's seqno names its end.
        assert_eq!(info.seqno, 2 * n, "checkpoint {c}");
        last = n;
        copy.close().unwrap();
        if c % 3 == 0 {
            db.flush().unwrap();
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(last > 0);
    // The copy is a database of its own: writing to it leaves the original alone.
    let copy = Db::open("/cp11", opts.clone()).unwrap();
    copy.put("only-in-copy", "x").unwrap();
    assert_eq!(db.get("only-in-copy").unwrap(), None);
    let e = db.checkpoint("/cp11", Default::default()).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}

#[test]
fn a_checkpoint_cut_short_at_any_io_then_crashed_refuses_to_open_or_is_complete() {
    let fs = MemFs::new();
    let opts = tiny(&fs);
    let db = Db::open(DIR, opts.clone()).unwrap();
    let ks = db.create_keyspace("ks", KeyspaceOptions::from(&opts)).unwrap();
    for i in 0..200 {
        let mut b = WriteBatch::new();
        b.put(key(i), i.to_string());
        b.put_in(&ks, key(i), i.to_string());
        db.write(b).unwrap();
        if i == 120 {
            db.flush().unwrap();
        }
    }
    db.wait_for_compactions().unwrap();
    let (mut completed, mut refused) = (0, 0);
    for (n, syncs) in (0..100u64).map(|n| (n, false)).chain((0..100u64).map(|n| (n, true))) {
        let dir = format!("/cut{n}-{syncs}");
        if syncs {
            fs.fail_sync_after(n);
        } else {
            fs.fail_write_after(n);
        }
        let r = db.checkpoint(&dir, Default::default());
        fs.clear_faults();
        let crashed = fs.crash(CrashMode::DropUnsynced, n);
        let o = Options { fs: Arc::new(crashed.clone()), create_if_missing: false, ..opts.clone() };
        match Db::open(&dir, o) {
            Ok(copy) => {
                assert_eq!(prefix_len(&copy, &format!("cut at write {n}")), 200);
                completed += 1;
            }
            Err(e) => {
                assert!(
                    r.is_err(),
                    "cut at write {n}: a checkpoint that succeeded does not open: {e}"
                );
                assert!(e.is_no_database() || e.is_corruption(), "cut at write {n}: {e}");
                refused += 1;
            }
        }
        if r.is_ok() && !syncs {
            // Every write of the copy has had its turn to fail; now the syncs.
            continue;
        }
    }
    assert!(completed >= 2 && refused >= 10, "completed {completed}, refused {refused}");
}

#[test]
fn on_a_real_file_system_tables_are_hard_linked() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path().join("db"), Options::default()).unwrap();
    for i in 0..1000 {
        db.put(key(i), [7u8; 100]).unwrap();
    }
    db.flush().unwrap();
    db.put("tail", "in the WAL only").unwrap();
    let info = db.checkpoint(tmp.path().join("copy"), Default::default()).unwrap();
    assert!(info.tables >= 1 && info.tables_linked == info.tables, "{info:?}");
    let wal_bytes: u64 = std::fs::read_dir(tmp.path().join("copy"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(info.bytes_copied, wal_bytes, "only the WALs are copied");
    let copy = Db::open(tmp.path().join("copy"), Options::default()).unwrap();
    assert_eq!(copy.get("tail").unwrap().as_deref(), Some(&b"in the WAL only"[..]));
    assert_eq!(copy.iter().count(), 1001);
    copy.verify().unwrap();
    let _ = OsFs.exists(Path::new("/"));
}
