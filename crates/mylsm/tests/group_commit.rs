//! Group commit: concurrent synced writers share WAL appends and fsyncs, and every
//! acknowledged write is visible to every read that starts after it.

mod common;

use std::sync::{Arc, Barrier};
use std::thread;

use mylsm::{Db, Options, WriteOptions};

const THREADS: usize = 8;
const WRITES: usize = 200;

fn synced_writers(db: &Db) {
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (db, barrier) = (db.clone(), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                for i in 0..WRITES {
                    let mut b = mylsm::WriteBatch::new();
                    b.put(format!("t{t}-{i:05}"), [t as u8; 100]);
                    db.write_opt(b, &WriteOptions::synced()).unwrap();
                    // Read-your-writes: acknowledged means visible.
                    assert!(db.get(format!("t{t}-{i:05}")).unwrap().is_some());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn concurrent_synced_writers_share_fsyncs_on_the_real_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    synced_writers(&db);
    let s = db.stats();
    let writes = (THREADS * WRITES) as u64;
    assert_eq!(s.write_batches, writes);
    println!(
        "group commit: {writes} synced writes, {} WAL records, {} fsyncs ({:.1} writes per fsync)",
        s.write_groups,
        s.wal_syncs,
        writes as f64 / s.wal_syncs as f64
    );
    // Every group has at least one synced write, so there is one fsync per group; with
    // eight writers blocked on fsync, groups of one would mean no coalescing at all.
    assert_eq!(s.wal_syncs, s.write_groups);
    assert!(s.write_groups < writes, "no two writes ever shared a WAL record");
    assert_eq!(db.iter().count(), THREADS * WRITES);
}

#[test]
fn fsyncs_counted_by_the_file_system_match_the_groups() {
    let fs = mylsm::fs::MemFs::new();
    let db = common::open(&fs);
    let before = fs.sync_count();
    synced_writers(&db);
    let syncs = fs.sync_count() - before;
    assert_eq!(syncs, db.stats().write_groups);
    assert_eq!(db.iter().count(), THREADS * WRITES);
}

#[test]
fn unsynced_writes_never_fsync() {
    let fs = mylsm::fs::MemFs::new();
    let db = common::open(&fs);
    let before = fs.sync_count();
    for i in 0..1000 {
        db.put(format!("{i}"), b"v").unwrap();
    }
    assert_eq!(fs.sync_count(), before);
    db.sync().unwrap();
    assert_eq!(fs.sync_count(), before + 1);
}
