//! The reads `Db`, `Keyspace` and `Snapshot` share through `Readable`, the
//! conveniences around them, and error kinds a caller can branch on.

mod common;

use common::*;
use mylsm::fs::MemFs;
use mylsm::{Db, Error, ErrorKind, KeyspaceOptions, Readable, WriteBatch, WriteOptions};

fn count(r: &impl Readable) -> usize {
    r.iter().count()
}

#[test]
fn db_keyspace_and_snapshot_read_through_one_trait() {
    let fs = MemFs::new();
    let db = open(&fs);
    let ks = db.create_keyspace("other", KeyspaceOptions::default()).unwrap();
    let batch: WriteBatch = [("a", "1"), ("b", "2"), ("c", "3")].into_iter().collect();
    db.write(batch).unwrap();
    ks.put("x", "9").unwrap();
    let snap = db.snapshot();
    db.put("d", "4").unwrap();
    assert_eq!((count(&db), count(&ks), count(&snap)), (4, 1, 3));
    assert_eq!(Readable::get(&db, "b").unwrap(), Some("2".into()));
    assert_eq!(Readable::first(&db).unwrap().unwrap().0, "a");
    assert_eq!(Readable::last(&db).unwrap().unwrap().0, "d");
    assert_eq!(Readable::last(&snap).unwrap().unwrap().0, "c");
    assert!(Readable::contains_key(&ks, "x").unwrap());
    assert!(!Readable::is_empty(&ks).unwrap());
    let many = db.get_many(&["d", "zz", "a"]).unwrap();
    assert_eq!(many, vec![Some("4".into()), None, Some("1".into())]);
    assert_eq!(Readable::range(&db, "b".."d").count(), 2);
    assert_eq!(Readable::prefix(&snap, "c").count(), 1);
    assert_eq!(db.approximate_len().unwrap(), 4);
    db.flush().unwrap();
    db.compact_all().unwrap();
    assert!(db.disk_space() > 0);
    assert_eq!(db.approximate_size("a".."z"), db.disk_space());
    assert_eq!(db.approximate_size("q".."r"), 0);
    db.close().unwrap();
    let e = Readable::get(&snap, "a").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Closed);
    assert!(Readable::iter(&db).next().unwrap().is_err(), "an iterator after close reports it");
}

#[test]
fn errors_carry_a_kind_and_their_source() {
    let fs = MemFs::new();
    let dir = std::path::Path::new("/empty");
    let e = Db::open(dir, mylsm::Options { create_if_missing: false, ..options(&fs) }).unwrap_err();
    assert!(e.is_no_database() && e.is_invalid_argument(), "{e}");
    let db = open(&fs);
    let e = db.keyspace("missing").unwrap_err();
    assert!(e.is_not_found() && e.kind() == ErrorKind::NotFound);
    let io = Error::from(std::io::Error::other("disk on fire"));
    let bg = Error::Background(Box::new(io));
    assert!(bg.is_io());
    let source =
        std::error::Error::source(&bg).expect("a background error has its cause as source");
    assert!(source.to_string().contains("disk on fire"));
    db.put_opt("k", "v", &WriteOptions::synced()).unwrap();
    db.delete_opt("k", &WriteOptions::default()).unwrap();
    assert_eq!(db.get("k").unwrap(), None);
}

/// A scan with `fill_cache: false` reads everything and leaves the block cache as it
/// was; the same scan with the default fills it.
#[test]
fn a_scan_without_fill_cache_leaves_the_block_cache_as_it_was() {
    let fs = MemFs::new();
    let db = Db::open(DIR, mylsm::Options { block_cache_bytes: 8 << 20, ..options(&fs) }).unwrap();
    for i in 0..5000u32 {
        db.put(format!("key{i:06}"), [7u8; 64]).unwrap();
    }
    db.flush().unwrap();
    db.wait_for_compactions().unwrap();
    let cached = || db.stats().block_cache_bytes;
    let before = cached();
    let scan = mylsm::ReadOptions::new().with_fill_cache(false);
    assert_eq!(db.range_opt::<&str, _>(.., &scan).count(), 5000);
    assert_eq!(db.range_opt("key001000".."key002000", &scan).rev().count(), 1000);
    assert_eq!(cached(), before, "a scan without fill_cache cached blocks");
    assert_eq!(db.iter().count(), 5000);
    assert!(cached() > before, "the default scan caches what it reads");
}
