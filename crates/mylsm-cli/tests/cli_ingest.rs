//! `mylsm sst-write` and `mylsm ingest` end to end: sorted lines into a table file, the
//! file into a database, out-of-order input refused with its line number.

use std::path::Path;
use std::process::{Command, Output};

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("--db")
        .arg(dir.join("db"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run mylsm")
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `sst-write` turns sorted lines into a table file, `ingest` adds it (newer than what
/// the database held), and out-of-order lines are refused with their line number.
#[test]
fn sst_write_and_ingest_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["put", "b", "old"]);
    ok(d, &["put", "z", "kept"]);
    std::fs::write(d.join("in.tsv"), "a\t1\nb\tnew\\tvalue\n\nc\t3\n").unwrap();
    let said = ok(d, &["sst-write", "in.tsv", "in.sst"]);
    assert!(said.starts_with("wrote 3 entries to in.sst"), "{said}");
    let said = ok(d, &["ingest", "in.sst", "--move"]);
    assert!(said.contains("in.sst: table ") && said.contains("ingested 1 files"), "{said}");
    // The open flushed the replayed "b" into L0: the file overlaps it and goes above.
    assert!(said.contains(" at L0,"), "{said}");
    assert!(!d.join("in.sst").exists(), "--move removes the source");
    assert_eq!(ok(d, &["get", "b"]), "new\tvalue\n");
    assert_eq!(ok(d, &["scan"]), "a\t1\nb\tnew\\tvalue\nc\t3\nz\tkept\n");

    std::fs::write(d.join("bad.tsv"), "a\t1\nc\t3\nb\t2\n").unwrap();
    let out = run(d, &["sst-write", "bad.tsv", "bad.sst"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.tsv: line 3") && err.contains("ascending"), "{err}");
    assert!(!d.join("bad.sst").exists(), "a failed sst-write leaves no partial file");
    let out = run(d, &["ingest", "missing.sst"]);
    assert_eq!(out.status.code(), Some(2));
}
