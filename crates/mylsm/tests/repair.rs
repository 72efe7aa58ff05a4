//! Repair: a database whose manifest is deleted or damaged, or one of whose tables is
//! damaged, opens again after `mylsm::repair` holding what it held before (every
//! keyspace, read by iterator and by point lookup), less only the damaged table's keys;
//! what repair set aside is in `lost/`; a database open elsewhere or a directory
//! without one is refused.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common::*;
use mylsm::fs::{FileSystem, MemFs};
use mylsm::merge::U64Add;
use mylsm::{Db, ErrorKind, IngestOptions, KeyspaceOptions, Options, SstWriter};

/// Every keyspace's contents, by name.
type State = BTreeMap<String, Model>;

fn counter(n: u64) -> [u8; 8] {
    n.to_le_bytes()
}

fn state(db: &Db) -> State {
    let mut s = State::new();
    for name in db.keyspaces() {
        let ks = db.keyspace(&name).unwrap();
        let model: Model =
            ks.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect();
        s.insert(name, model);
    }
    s
}

/// Checks `db` holds `want`, by iterator and by a point lookup of every key (a lookup
/// takes another path through L0 than an iterator does).
fn assert_holds(db: &Db, want: &State) {
    let got = state(db);
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "keyspaces");
    for (name, model) in want {
        assert!(got[name] == *model, "keyspace {name}: {}", diff(&got[name], model));
        let ks = db.keyspace(name).unwrap();
        for (k, v) in model {
            let found = ks.get(k).unwrap();
            assert_eq!(found.as_deref(), Some(&v[..]), "{name}: get {}", k.escape_ascii());
        }
    }
}

/// A database with three keyspaces (one with a merge operator), many flushes and
/// compactions, a range delete, an ingested table, a dropped keyspace, and writes left
/// in the WAL; returns what it holds, closed.
fn populate(fs: &MemFs) -> State {
    let db = Db::open(DIR, tiny(fs)).unwrap();
    let users = db.create_keyspace("users", KeyspaceOptions::default()).unwrap();
    let merge = KeyspaceOptions { merge_operator: Some(Arc::new(U64Add)), ..Default::default() };
    let counters = db.create_keyspace("counters", merge).unwrap();
    let temp = db.create_keyspace("temp", KeyspaceOptions::default()).unwrap();
    temp.put("t", "gone").unwrap();
    db.flush().unwrap();
    db.drop_keyspace(&temp).unwrap();

    let mut r = rng(7);
    for round in 0..6u64 {
        for ops in (0..150).map(|_| random_batch(&mut r, 400)) {
            db.write(to_batch(&ops)).unwrap();
        }
        for i in 0..60 {
            users.put(format!("user{:03}", (i * 7 + round) % 90), format!("r{round}")).unwrap();
            counters.merge(format!("c{}", i % 10), counter(i + 1)).unwrap();
        }
        if round == 2 {
            db.delete_range("key0100".."key0200").unwrap();
            users.delete_range("user010".."user020").unwrap();
        }
        if round == 3 {
            fs.create_dir_all(Path::new("/in")).unwrap();
            let fsa: Arc<dyn FileSystem> = Arc::new(fs.clone());
            let mut w =
                SstWriter::create_with_fs(fsa, "/in/1.sst", &KeyspaceOptions::default()).unwrap();
            for i in 0..40 {
                w.put(format!("ingested{i:02}"), format!("bulk{i}")).unwrap();
            }
            w.finish().unwrap();
            db.ingest(["/in/1.sst"], IngestOptions::default()).unwrap();
        }
        // Counters flushed while `users` keeps the WAL that holds their merges alive:
        // replaying those merges again would count them twice.
        counters.flush().unwrap();
    }
    users.put("tail", "only in the WAL").unwrap();
    counters.merge("c0", counter(1000)).unwrap();
    let s = state(&db);
    assert!(s["counters"].len() == 10 && s["users"].len() > 50, "{:?}", s.keys());
    db.close().unwrap();
    let wal_bytes: usize = log_files(fs).iter().map(|p| fs.file_contents(p).unwrap().len()).sum();
    assert!(wal_bytes > 0, "the scenario leaves writes in the WAL");
    s
}

fn files(fs: &MemFs, ext: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs
        .paths()
        .into_iter()
        .filter(|p| p.parent() == Some(Path::new(DIR)))
        .filter(|p| p.to_string_lossy().ends_with(ext))
        .collect();
    v.sort();
    v
}

fn log_files(fs: &MemFs) -> Vec<std::path::PathBuf> {
    files(fs, ".log")
}

fn manifest(fs: &MemFs) -> std::path::PathBuf {
    let m: Vec<_> = fs
        .paths()
        .into_iter()
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("MANIFEST-"))
        .filter(|p| p.parent() == Some(Path::new(DIR)))
        .collect();
    assert_eq!(m.len(), 1, "{m:?}");
    m[0].clone()
}

fn flip_byte(fs: &MemFs, path: &Path, at: usize) {
    let mut bytes = fs.file_contents(path).unwrap();
    bytes[at] ^= 0x5a;
    fs.write_file(path, &bytes);
}

fn repair_and_open(fs: &MemFs) -> (mylsm::RepairReport, Db) {
    let report = mylsm::repair(DIR, &tiny(fs)).unwrap();
    let db = Db::open(DIR, tiny(fs)).unwrap();
    (report, db)
}

#[test]
fn a_deleted_manifest_and_current_are_rebuilt_with_every_keyspace_and_write() {
    let fs = MemFs::new();
    let want = populate(&fs);
    fs.remove_file(&manifest(&fs)).unwrap();
    fs.remove_file(&Path::new(DIR).join("CURRENT")).unwrap();
    let e = Db::open(DIR, tiny(&fs)).unwrap_err();
    assert!(e.is_corruption(), "{e}");

    let (report, db) = repair_and_open(&fs);
    assert_holds(&db, &want);
    assert_eq!(report.keyspaces, ["default", "users", "counters"]);
    assert_eq!((report.tables_lost, report.manifest_salvaged.as_ref()), (0, None));
    assert!(report.wal_records > 0 && report.wal_tables > 0, "{report:?}");
    assert!(report.moved.iter().all(|p| p.starts_with(Path::new(DIR).join("lost"))));
    // The rebuilt database lives on: writes, a flush, a compaction and a reopen.
    db.put("after", "repair").unwrap();
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    drop(db);
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    assert_eq!(db.get("after").unwrap().as_deref(), Some(&b"repair"[..]));
    let mut want = want;
    want.get_mut("default").unwrap().insert(b"after".to_vec(), b"repair".to_vec());
    assert_holds(&db, &want);
}

#[test]
fn a_corrupt_manifest_is_rebuilt_and_set_aside() {
    let fs = MemFs::new();
    let want = populate(&fs);
    let m = manifest(&fs);
    flip_byte(&fs, &m, 20);
    let e = Db::open(DIR, tiny(&fs)).unwrap_err();
    assert!(e.is_corruption(), "{e}");

    let (report, db) = repair_and_open(&fs);
    assert_holds(&db, &want);
    let lost = Path::new(DIR).join("lost").join(m.file_name().unwrap());
    assert!(report.moved.contains(&lost), "{:?}", report.moved);
    assert!(fs.exists(&lost), "the damaged manifest is kept in lost/");
}

#[test]
fn a_corrupt_table_goes_to_lost_and_only_its_keys_are_missing() {
    let fs = MemFs::new();
    let mut want = populate(&fs);
    // One more table holding keys no other table or log holds: written, flushed (every
    // WAL before it is then obsolete), and left alone by compactions.
    let quiet = Options { l0_compaction_trigger: 30, ..tiny(&fs) };
    let db = Db::open(DIR, quiet).unwrap();
    for i in 0..50 {
        db.put(format!("solo{i:02}"), "x").unwrap();
    }
    db.flush().unwrap();
    db.put("tail2", "in the WAL").unwrap();
    want.get_mut("default").unwrap().insert(b"tail2".to_vec(), b"in the WAL".to_vec());
    db.close().unwrap();
    let solo = files(&fs, ".sst")
        .into_iter()
        .find(|p| {
            let props = mylsm::inspect::table(&fs, p).unwrap().properties;
            props.smallest_key.starts_with(b"solo")
        })
        .unwrap();
    let len = fs.file_contents(&solo).unwrap().len();
    flip_byte(&fs, &solo, len / 3);

    let (report, db) = repair_and_open(&fs);
    assert_eq!(report.tables_lost, 1, "{report:?}");
    assert!(fs.exists(&Path::new(DIR).join("lost").join(solo.file_name().unwrap())));
    assert_holds(&db, &want);
    assert_eq!(db.get("solo00").unwrap(), None);
}

#[test]
fn an_ingest_recorded_in_the_wal_keeps_its_place_before_later_writes() {
    let fs = MemFs::new();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    db.put("k", "before").unwrap();
    db.flush().unwrap();
    fs.create_dir_all(Path::new("/in")).unwrap();
    let fsa: Arc<dyn FileSystem> = Arc::new(fs.clone());
    let mut w = SstWriter::create_with_fs(fsa, "/in/1.sst", &KeyspaceOptions::default()).unwrap();
    w.put("k", "ingested").unwrap();
    w.put("m", "ingested").unwrap();
    w.finish().unwrap();
    db.ingest(["/in/1.sst"], IngestOptions::default()).unwrap();
    db.put("k", "after").unwrap();
    db.close().unwrap();
    fs.remove_file(&Path::new(DIR).join("CURRENT")).unwrap();

    let (report, db) = repair_and_open(&fs);
    assert_eq!(report.ingested_reseqnoed, [], "the marker in the WAL gave the seqno");
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"after"[..]));
    assert_eq!(db.get("m").unwrap().as_deref(), Some(&b"ingested"[..]));
}

#[test]
fn lookups_are_right_when_a_deeper_table_holds_newer_seqnos() {
    let fs = MemFs::new();
    let opts = || Options { l0_compaction_trigger: 30, ..options(&fs) };
    let db = Db::open(DIR, opts()).unwrap();
    for k in ["a", "k", "zz"] {
        db.put(k, "old").unwrap();
    }
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    db.put("k", "new").unwrap();
    db.flush().unwrap();
    // "z" is compacted into the bottom table, which now holds the newest seqno of all,
    // while the newer "k" stays above it.
    db.put("z", "x").unwrap();
    db.flush().unwrap();
    db.compact_range("z"..="z").unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"new"[..]));
    db.close().unwrap();
    fs.remove_file(&manifest(&fs)).unwrap();
    fs.remove_file(&Path::new(DIR).join("CURRENT")).unwrap();

    let report = mylsm::repair(DIR, &opts()).unwrap();
    let db = Db::open(DIR, opts()).unwrap();
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"new"[..]), "{report:?}");
}

#[test]
fn repair_of_an_open_database_is_locked_and_changes_nothing() {
    let fs = MemFs::new();
    let db = Db::open(DIR, tiny(&fs)).unwrap();
    db.put("k", "v").unwrap();
    db.flush().unwrap();
    let before = fs.paths();
    let e = mylsm::repair(DIR, &tiny(&fs)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Locked, "{e}");
    assert_eq!(fs.paths(), before);
    assert_eq!(db.get("k").unwrap().as_deref(), Some(&b"v"[..]));
}

#[test]
fn repair_of_a_directory_without_a_database_is_a_clear_error() {
    let fs = MemFs::new();
    for setup in [false, true] {
        if setup {
            fs.create_dir_all(Path::new(DIR)).unwrap();
        }
        let e = mylsm::repair(DIR, &tiny(&fs)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
        assert!(e.to_string().contains("no database to repair"), "{e}");
    }
    assert!(!fs.exists(&Path::new(DIR).join("LOCK")), "nothing was written");
}
