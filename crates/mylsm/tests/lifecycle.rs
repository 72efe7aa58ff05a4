//! Open, close and failure as a user meets them: opening a directory that holds no
//! database, reopening many times, a background worker that panics, `flush` under
//! steady writes, `sync` beside a stalled writer, a failure reported once, options that
//! cannot work, and the read-only open. Each regression test names the bug it caught.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::Duration;

use common::*;
use mylsm::fs::{FileLock, FileSystem, MemFs, RandomAccessFile, WritableFile};
use mylsm::{Db, Error, Options, WriteOptions};

/// How long a call that must return promptly may take before the test calls it hung.
const PROMPTLY: Duration = Duration::from_secs(30);

/// Runs `f` on another thread and returns its result, or panics if it takes longer
/// than `PROMPTLY` (the bug: it never returns).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PROMPTLY).unwrap_or_else(|_| panic!("{what} did not return"))
}

fn log_count(fs: &MemFs) -> usize {
    fs.paths().iter().filter(|p| p.extension().is_some_and(|e| e == "log")).count()
}

/// A `MemFs` whose table creations can be made to panic or fail (the Nth one), to
/// take a while, or to block until released: a buggy, failing or slow background job.
#[derive(Debug, Clone)]
struct HookFs {
    inner: MemFs,
    tables_created: Arc<AtomicU64>,
    /// Panic when creating this table (1-based count of `.sst` creations; 0: never).
    panic_at: Arc<AtomicU64>,
    /// Fail (an I/O error) from this table creation on (0: never).
    fail_from: Arc<AtomicU64>,
    /// Milliseconds each table creation takes.
    delay_ms: Arc<AtomicU64>,
    /// While false, table creations wait.
    gate: Arc<(Mutex<bool>, Condvar)>,
}

impl HookFs {
    fn new() -> Self {
        HookFs {
            inner: MemFs::new(),
            tables_created: Arc::default(),
            panic_at: Arc::default(),
            fail_from: Arc::default(),
            delay_ms: Arc::default(),
            gate: Arc::new((Mutex::new(true), Condvar::new())),
        }
    }

    fn set_gate(&self, open: bool) {
        *self.gate.0.lock().unwrap() = open;
        self.gate.1.notify_all();
    }

    fn options(&self) -> Options {
        Options { fs: Arc::new(self.clone()), ..Options::default() }
    }
}

impl FileSystem for HookFs {
    fn create_dir_all(&self, path: &Path) -> mylsm::Result<()> {
        self.inner.create_dir_all(path)
    }
    fn create(&self, path: &Path) -> mylsm::Result<Box<dyn WritableFile>> {
        if path.extension().is_some_and(|e| e == "sst") {
            let n = self.tables_created.fetch_add(1, Ordering::SeqCst) + 1;
            let (open, cv) = &*self.gate;
            let mut g = open.lock().unwrap();
            while !*g {
                g = cv.wait(g).unwrap();
            }
            drop(g);
            if n == self.panic_at.load(Ordering::SeqCst) {
                panic!("injected panic creating table {}", path.display());
            }
            let fail_from = self.fail_from.load(Ordering::SeqCst);
            if fail_from > 0 && n >= fail_from {
                let e =
                    std::io::Error::other(format!("injected failure creating {}", path.display()));
                return Err(e.into());
            }
            std::thread::sleep(Duration::from_millis(self.delay_ms.load(Ordering::SeqCst)));
        }
        self.inner.create(path)
    }
    fn open(&self, path: &Path) -> mylsm::Result<Arc<dyn RandomAccessFile>> {
        self.inner.open(path)
    }
    fn exists(&self, path: &Path) -> bool {
        self.inner.exists(path)
    }
    fn list_dir(&self, path: &Path) -> mylsm::Result<Vec<String>> {
        self.inner.list_dir(path)
    }
    fn remove_file(&self, path: &Path) -> mylsm::Result<()> {
        self.inner.remove_file(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> mylsm::Result<()> {
        self.inner.rename(from, to)
    }
    fn sync_dir(&self, dir: &Path) -> mylsm::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn sync_file(&self, path: &Path) -> mylsm::Result<()> {
        self.inner.sync_file(path)
    }
    fn lock(&self, path: &Path) -> mylsm::Result<Box<dyn FileLock>> {
        self.inner.lock(path)
    }
}

/// Waits until `writer` (filling memtables while no flush can finish) is stalled: once
/// a memtable is queued, the writer fills the next one far faster than the wait here.
fn wait_until_stalled<T>(db: &Db, writer: &std::thread::JoinHandle<T>) {
    let mut queued = false;
    for _ in 0..3000 {
        if db.stats().immutable_memtables > 0 {
            queued = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(queued, "no memtable was ever queued");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!writer.is_finished(), "the writer did not stall");
}

fn is_panic_failure(e: &Error) -> bool {
    matches!(e, Error::Background(inner) if matches!(**inner, Error::Panicked(_)))
}

/// Found by trying the CLI: `mylsm --db <any existing directory> get k` turned the
/// directory into a database (LOCK, CURRENT, MANIFEST, a log).
#[test]
fn opening_a_directory_without_a_database_and_create_if_missing_false_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let no_create = Options { create_if_missing: false, ..Options::default() };
    for open in [Db::open, Db::open_read_only] {
        match open(dir.path(), no_create.clone()) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains("no database at"), "{m}"),
            other => panic!("expected InvalidArgument, got {other:?}"),
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["notes.txt"], "the open wrote into the directory");
    }
    // A missing directory is the same error, and is not created.
    let missing = dir.path().join("nope");
    assert!(matches!(Db::open(&missing, no_create), Err(Error::InvalidArgument(_))));
    assert!(!missing.exists());
}

/// Found by trying the CLI: every open kept the logs it replayed live, so 300 `mylsm
/// put` calls left 301 logs, and one `get` then fsynced every one of them.
#[test]
fn reopening_many_times_leaves_at_most_two_logs_and_open_costs_stay_flat() {
    let fs = MemFs::new();
    let mut syncs = Vec::new();
    for i in 0..300 {
        let before = fs.sync_count();
        let db = open(&fs);
        syncs.push(fs.sync_count() - before);
        db.put(format!("key{i:03}"), "v").unwrap();
        db.close().unwrap();
        assert!(log_count(&fs) <= 2, "after {} opens: {} logs", i + 1, log_count(&fs));
    }
    // The second open replays one log, like the 300th: it costs the same.
    assert_eq!(syncs[299], syncs[1], "open fsyncs grew with the number of earlier opens");
    let db = open(&fs);
    assert_eq!(contents(&db).len(), 300);
}

/// Found by review: a panic in a flush left the `flushing` mutex poisoned, read as
/// "someone else is flushing", so no flush ever ran again and writers stalled forever.
#[test]
fn a_panicking_flush_latches_a_background_failure_instead_of_hanging() {
    let fs = HookFs::new();
    let db = Db::open(DIR, Options { write_buffer_size: 4 << 10, ..fs.options() }).unwrap();
    fs.panic_at.store(1, Ordering::SeqCst);
    db.put("a", "1").unwrap();
    let d = db.clone();
    let e = within("flush", move || d.flush()).unwrap_err();
    assert!(is_panic_failure(&e), "{e}");
    // Writers, waits and close all return, with the same failure.
    let d = db.clone();
    let e = within("writes", move || {
        (0..100).map(|i| d.put(format!("k{i}"), [0u8; 200])).find(|r| r.is_err())
    });
    assert!(e.is_some_and(|r| is_panic_failure(&r.unwrap_err())));
    let d = db.clone();
    assert!(is_panic_failure(&within("wait", move || d.wait_for_compactions()).unwrap_err()));
    let d = db.clone();
    let e = within("compact_range", move || d.compact_range::<&[u8], _>(..)).unwrap_err();
    assert!(is_panic_failure(&e), "{e}");
    assert_eq!(db.get("a").unwrap().as_deref(), Some(&b"1"[..]), "reads still work");
    let e = within("close", move || db.close()).unwrap_err();
    assert!(is_panic_failure(&e), "{e}");
}

/// Found by review: a panicking compaction never decremented the running count, so
/// `wait_for_compactions` and `compact_range` waited forever.
#[test]
fn a_panicking_compaction_latches_a_background_failure_instead_of_hanging() {
    let fs = HookFs::new();
    let opts = Options { l0_compaction_trigger: 2, ..fs.options() };
    let db = Db::open(DIR, opts).unwrap();
    // Two flushes make two L0 tables; the third table is the compaction's output.
    fs.panic_at.store(3, Ordering::SeqCst);
    // The tables overlap, so the compaction merges them (no trivial move).
    for i in 0..2 {
        db.put("a", format!("v{i}")).unwrap();
        db.put("z", format!("v{i}")).unwrap();
        db.flush().unwrap();
    }
    let d = db.clone();
    let e = within("wait_for_compactions", move || d.wait_for_compactions()).unwrap_err();
    assert!(is_panic_failure(&e), "{e}");
    let d = db.clone();
    let e = within("compact_range", move || d.compact_range::<&[u8], _>(..)).unwrap_err();
    assert!(is_panic_failure(&e), "{e}");
    assert_eq!(contents(&db).len(), 2, "nothing acknowledged is lost");
    within("close", move || db.close()).unwrap_err();
}

/// Found by review: `Db::flush` waited until no memtable at all was queued, so under
/// steady writes (flushes slower than the writers fill memtables) it never returned.
#[test]
fn flush_returns_while_other_threads_keep_writing() {
    let fs = HookFs::new();
    fs.delay_ms.store(20, Ordering::SeqCst);
    let db = Db::open(DIR, Options { write_buffer_size: 8 << 10, ..fs.options() }).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (db, stop) = (db.clone(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    db.put(format!("w{t}-{i}"), [7u8; 100]).unwrap();
                    i += 1;
                }
            })
        })
        .collect();
    for round in 0..5 {
        db.put(format!("mine{round}"), "x").unwrap();
        let before = db.stats().flushes;
        let d = db.clone();
        within("flush under writes", move || d.flush()).unwrap();
        // It waited for its own memtable and the (at most 2) queued before it, give or
        // take a few the flusher finished meanwhile (each takes 20 ms), not for the
        // queue to run dry (the old code waited for over a thousand).
        let waited_for = db.stats().flushes - before;
        assert!(waited_for <= 12, "flush waited for {waited_for} flushes");
        // What was written before the flush is in a table now.
        assert!(db.stats().levels.iter().any(|l| l.files > 0));
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
}

/// Found by review: a writer stalled on full memtables (or L0) held the log lock, and
/// `Db::sync` took that lock, so a `sync` waited for the whole stall.
#[test]
fn sync_returns_while_a_writer_is_stalled() {
    let fs = HookFs::new();
    let opts = Options { write_buffer_size: 4 << 10, max_immutable_memtables: 1, ..fs.options() };
    let db = Db::open(DIR, opts).unwrap();
    // No table can be written, so memtables pile up and the writer stalls.
    fs.set_gate(false);
    let d = db.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..200 {
            d.put(format!("k{i:03}"), [1u8; 200]).unwrap();
        }
    });
    wait_until_stalled(&db, &writer);
    let d = db.clone();
    within("sync beside a stalled writer", move || d.sync()).unwrap();
    fs.set_gate(true);
    writer.join().unwrap();
    assert_eq!(contents(&db).len(), 200);
}

/// A `no_slowdown` write fails at once with `WouldStall` while another write waits in a
/// stall (it would otherwise queue behind it), writes nothing, and goes through once
/// the stall is over.
#[test]
fn a_no_slowdown_write_fails_at_once_while_writes_are_stalled() {
    let fs = HookFs::new();
    let opts = Options { write_buffer_size: 4 << 10, max_immutable_memtables: 1, ..fs.options() };
    let db = Db::open(DIR, opts).unwrap();
    fs.set_gate(false);
    let d = db.clone();
    let writer = std::thread::spawn(move || {
        for i in 0..200 {
            d.put(format!("k{i:03}"), [1u8; 200]).unwrap();
        }
    });
    wait_until_stalled(&db, &writer);
    let fast = WriteOptions::default().with_no_slowdown(true);
    let d = db.clone();
    let err = within("a no_slowdown write beside a stalled writer", move || {
        let mut b = mylsm::WriteBatch::new();
        b.put("fast", "1");
        d.write_opt(b, &fast)
    })
    .unwrap_err();
    assert!(err.would_stall(), "{err}");
    assert_eq!(err.kind(), mylsm::ErrorKind::WouldStall);
    fs.set_gate(true);
    writer.join().unwrap();
    assert_eq!(db.get("fast").unwrap(), None, "the refused write wrote nothing");
    db.wait_for_compactions().unwrap();
    let mut b = mylsm::WriteBatch::new();
    b.put("fast", "2");
    db.write_opt(b, &fast).unwrap();
    assert_eq!(db.get("fast").unwrap().as_deref(), Some(&b"2"[..]));
}

/// Found by review: a write that met a flush failure got `Background(e)`, recorded it
/// as the WAL's own failure, and `close` then returned `Background(Background(e))`.
#[test]
fn a_failure_is_reported_once_wrapped_by_writes_and_close() {
    let fs = HookFs::new();
    let opts = Options { write_buffer_size: 4 << 10, max_immutable_memtables: 1, ..fs.options() };
    let db = Db::open(DIR, opts).unwrap();
    db.put("before", "1").unwrap();
    // A writer stalls on a full memtable while the flush it waits for is held back...
    fs.set_gate(false);
    let d = db.clone();
    let writer = std::thread::spawn(move || {
        (0..500).map(|i| d.put(format!("k{i}"), [0u8; 100])).find_map(Result::err)
    });
    wait_until_stalled(&db, &writer);
    // ...and then fails: the stalled writer meets the failure in its stall.
    fs.fail_from.store(1, Ordering::SeqCst);
    fs.set_gate(true);
    let first = writer.join().unwrap().expect("writes went on after the flush failed");
    let later = db.put("after", "x").unwrap_err();
    for e in [first, later, db.sync().unwrap_err(), db.close().unwrap_err()] {
        let Error::Background(inner) = &e else { panic!("expected Background, got {e}") };
        assert!(matches!(**inner, Error::Io(_)), "not the table failure, once: {e}");
        assert_eq!(e.to_string().matches("earlier failure").count(), 1, "{e}");
    }
    fs.fail_from.store(0, Ordering::SeqCst);
    let db = Db::open(DIR, fs.options()).unwrap();
    assert_eq!(db.get("before").unwrap().as_deref(), Some(&b"1"[..]));
}

/// Found by review: `max_background_jobs` 0 or 1 was silently raised to 2,
/// `target_file_size` 0 made one table per entry, and `delayed_write_rate` 0 meant a
/// one-second wait per write group.
#[test]
fn options_that_cannot_work_are_invalid_argument() {
    let base = Options::default;
    let bad = [
        ("max_background_jobs", Options { max_background_jobs: 1, ..base() }),
        ("max_background_jobs", Options { max_background_jobs: 0, ..base() }),
        ("target_file_size", Options { target_file_size: 0, ..base() }),
        ("delayed_write_rate", Options { delayed_write_rate: 0, ..base() }),
        ("write_buffer_size", Options { write_buffer_size: 0, ..base() }),
        ("block_size", Options { block_size: 0, ..base() }),
        ("max_open_files", Options { max_open_files: 0, ..base() }),
        ("max_write_group_bytes", Options { max_write_group_bytes: 0, ..base() }),
        ("max_total_wal_size", Options { max_total_wal_size: 0, ..base() }),
    ];
    for (name, opts) in bad {
        let fs = MemFs::new();
        match Db::open(DIR, Options { fs: Arc::new(fs.clone()), ..opts }) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains(name), "{name}: {m}"),
            other => panic!("{name}: expected InvalidArgument, got {other:?}"),
        }
        assert!(fs.paths().is_empty(), "{name}: the refused open wrote files");
    }
}

#[test]
fn a_read_only_open_reads_beside_a_writer_and_refuses_writes() {
    let fs = MemFs::new();
    let db = open(&fs);
    for i in 0..100 {
        db.put(format!("k{i:03}"), "v1").unwrap();
    }
    db.flush().unwrap();
    db.put("k000", "v2").unwrap();
    db.delete("k001").unwrap();
    let before: Vec<(PathBuf, Vec<u8>)> =
        fs.paths().into_iter().map(|p| (p.clone(), fs.file_contents(&p).unwrap())).collect();

    // Another handle holds the lock and keeps writing; the read-only open is not Locked.
    let ro = Db::open_read_only(DIR, options(&fs)).unwrap();
    assert!(ro.is_read_only());
    let after: Vec<(PathBuf, Vec<u8>)> =
        fs.paths().into_iter().map(|p| (p.clone(), fs.file_contents(&p).unwrap())).collect();
    assert_eq!(before, after, "a read-only open changed the directory");
    db.put("k002", "later").unwrap();
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();

    // It sees the state as of its open, from memtables and tables it holds.
    assert_eq!(ro.get("k000").unwrap().as_deref(), Some(&b"v2"[..]));
    assert_eq!(ro.get("k001").unwrap(), None);
    assert_eq!(ro.get("k002").unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(contents(&ro).len(), 99);
    let report = ro.verify().unwrap();
    assert_eq!(report.tables, 1);
    for e in [
        ro.put("x", "y").unwrap_err(),
        ro.delete("x").unwrap_err(),
        ro.write_opt(to_batch(&[Op::Put(b"x".to_vec(), b"y".to_vec())]), &WriteOptions::synced())
            .unwrap_err(),
        ro.flush().unwrap_err(),
        ro.sync().unwrap_err(),
        ro.compact_range::<&[u8], _>(..).unwrap_err(),
    ] {
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    }
    ro.close().unwrap();
    db.close().unwrap();
}

/// One rule after `close`: every handle made before it — a snapshot, a keyspace, a
/// transaction, an iterator part-way through — answers `Closed`, and an iterator then
/// ends.
#[test]
fn every_handle_made_before_close_answers_closed_after_it() {
    let fs = MemFs::new();
    let db = Db::open(DIR, options(&fs)).unwrap();
    let ks = db.create_keyspace("ks", Default::default()).unwrap();
    for k in ["a", "b", "c"] {
        db.put(k, "1").unwrap();
        ks.put(k, "1").unwrap();
    }
    let snap = db.snapshot();
    let mut forward = db.iter();
    let mut backward = snap.iter();
    let mut in_ks = ks.iter();
    let mut tx = db.transaction();
    let mut tx_iter = tx.iter();
    assert!(forward.next().unwrap().is_ok());
    assert!(backward.next_back().unwrap().is_ok());
    db.close().unwrap();
    for (what, r) in [
        ("iter", forward.next().map(|r| r.map(|_| ()))),
        ("snapshot iter", backward.next_back().map(|r| r.map(|_| ()))),
        ("keyspace iter", in_ks.next().map(|r| r.map(|_| ()))),
        ("transaction iter", tx_iter.next().map(|r| r.map(|_| ()))),
    ] {
        assert!(matches!(r, Some(Err(Error::Closed))), "{what}: {r:?}");
    }
    assert!(forward.next().is_none(), "an iterator ends after Closed");
    assert!(matches!(snap.get("a"), Err(Error::Closed)));
    assert!(matches!(ks.get("a"), Err(Error::Closed)));
    assert!(matches!(tx.get("a"), Err(Error::Closed)));
}
