//! End-to-end test of `mylsm repair`: a loaded database whose manifest is removed
//! dumps the same after `repair` as before, in every keyspace.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `mylsm --db <dir>/db ARGS` in `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mylsm"));
    cmd.arg("--db").arg(dir.join("db")).args(args).current_dir(dir);
    cmd.output().expect("run mylsm")
}

/// Runs a command that must succeed and returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn dump_after_repair_of_a_removed_manifest_equals_dump_before() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let lines: String = (0..3000).map(|i| format!("key{i:05}\tvalue {i}\n")).collect();
    std::fs::write(d.join("in.tsv"), lines).unwrap();
    let users: String = (0..500).map(|i| format!("user{i:04}\tname {i}\n")).collect();
    std::fs::write(d.join("users.tsv"), users).unwrap();
    ok(d, &["load", "in.tsv"]);
    ok(d, &["compact"]);
    ok(d, &["keyspace", "create", "users"]);
    ok(d, &["--keyspace", "users", "load", "users.tsv"]);
    ok(d, &["--keyspace", "users", "flush"]);
    ok(d, &["delete-range", "key00100", "key00200"]);
    ok(d, &["put", "key99999", "only in the log"]);
    let before = (ok(d, &["dump"]), ok(d, &["--keyspace", "users", "dump"]));
    assert!(before.0.contains("key99999\tonly in the log\n") && !before.0.contains("key00150"));

    for entry in std::fs::read_dir(d.join("db")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("MANIFEST-") || name == "CURRENT" {
            std::fs::remove_file(path).unwrap();
        }
    }
    let out = run(d, &["dump"]);
    assert_eq!(out.status.code(), Some(2), "dump without a manifest fails");

    let said = ok(d, &["repair"]);
    assert!(said.starts_with("repaired: ") && said.contains("keyspaces default, users"), "{said}");
    let after = (ok(d, &["dump"]), ok(d, &["--keyspace", "users", "dump"]));
    assert!(after == before, "dumps differ after repair: {said}");
}

#[test]
fn repair_without_a_database_fails_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(tmp.path(), &["repair"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no database to repair"), "{stderr}");
}
