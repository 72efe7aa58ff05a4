//! End-to-end tests of `mylsm backup`: create, list, verify, restore and purge, their
//! output and exit codes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `mylsm --db <dir>/db ARGS` in `dir` (without the `--db` if ARGS have one).
fn run(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mylsm"));
    if !args.contains(&"--db") {
        cmd.arg("--db").arg(dir.join("db"));
    }
    cmd.args(args).current_dir(dir).output().expect("run mylsm")
}

/// Runs a command that must succeed and returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "no progress bar off a terminal: {args:?}");
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a command that must fail with status 2; its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?} should fail: {stderr}");
    stderr
}

fn list_json(d: &Path) -> Vec<serde_json::Value> {
    let out = ok(d, &["backup", "list", "--to", "bk", "--json"]);
    serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().unwrap().clone()
}

fn shared_tables(d: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(d.join("bk/shared")).unwrap().map(|e| e.unwrap().path()).collect()
}

#[test]
fn backups_are_created_listed_verified_restored_and_purged() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let lines: String = (0..2000).map(|i| format!("key{i:05}\tvalue {i}\n")).collect();
    std::fs::write(d.join("in.tsv"), lines).unwrap();
    ok(d, &["load", "in.tsv"]);
    ok(d, &["compact"]);
    let said = ok(d, &["backup", "create", "--to", "bk"]);
    assert!(said.starts_with("backup 1 at seqno 2000: "), "{said}");
    ok(d, &["put", "key00007", "changed"]);
    let said = ok(d, &["backup", "create", "--to", "bk"]);
    assert!(said.starts_with("backup 2 at seqno 2001: "), "{said}");
    ok(d, &["delete", "key00008"]);
    ok(d, &["backup", "create", "--to", "bk"]);

    let backups = list_json(d);
    assert_eq!(backups.len(), 3);
    let copied = |i: usize| backups[i]["bytes_copied"].as_u64().unwrap();
    assert!(copied(1) * 5 < copied(0), "the second backup shares the first's table: {backups:?}");
    let table = ok(d, &["backup", "list", "--to", "bk"]);
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.lines().nth(1).unwrap().trim_start().starts_with("1 "), "{table}");

    let verified = ok(d, &["backup", "verify", "--to", "bk"]);
    assert_eq!(verified.lines().filter(|l| l.starts_with("ok: backup ")).count(), 3, "{verified}");

    // Without an id, the newest; with one, that backup.
    ok(d, &["backup", "restore", "--to", "bk", "newest"]);
    assert_eq!(ok(&d.join("newest"), &["--db", ".", "get", "key00007"]), "changed\n");
    assert_eq!(run(&d.join("newest"), &["--db", ".", "get", "key00008"]).status.code(), Some(1));
    ok(d, &["backup", "restore", "--to", "bk", "1", "first"]);
    assert_eq!(ok(&d.join("first"), &["--db", ".", "get", "key00007"]), "value 7\n");
    assert_eq!(ok(&d.join("first"), &["--db", ".", "dump"]).lines().count(), 2000);
    let e = fails(d, &["backup", "restore", "--to", "bk", "1", "first"]);
    assert!(e.contains("not empty"), "{e}");

    let tables_before = shared_tables(d).len();
    assert_eq!(ok(d, &["backup", "purge", "--to", "bk", "--keep", "1"]), "purged backups 1 2\n");
    let ids: Vec<u64> = list_json(d).iter().map(|b| b["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [3]);
    assert!(shared_tables(d).len() <= tables_before);
    ok(d, &["backup", "verify", "--to", "bk", "3"]);
    ok(d, &["backup", "restore", "--to", "bk", "3", "third"]);
    assert_eq!(ok(&d.join("third"), &["--db", ".", "dump"]).lines().count(), 1999);
    assert_eq!(ok(d, &["backup", "purge", "--to", "bk", "--keep", "1"]), "nothing to purge\n");
}

#[test]
fn a_flipped_byte_fails_verify_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["put", "a", "1"]);
    ok(d, &["flush"]);
    ok(d, &["backup", "create", "--to", "bk"]);
    let table = shared_tables(d).pop().unwrap();
    let mut bytes = std::fs::read(&table).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&table, bytes).unwrap();
    let e = fails(d, &["backup", "verify", "--to", "bk", "1"]);
    let name = table.file_name().unwrap().to_str().unwrap();
    assert!(e.contains("corruption") && e.contains(name), "{e}");
    let e = fails(d, &["backup", "restore", "--to", "bk", "restored"]);
    assert!(e.contains(name), "{e}");
}

#[test]
fn backup_commands_on_a_missing_directory_or_backup_fail_and_create_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for args in [
        &["backup", "list", "--to", "bk"][..],
        &["backup", "verify", "--to", "bk"],
        &["backup", "restore", "--to", "bk", "r"],
        &["backup", "purge", "--to", "bk", "--keep", "1"],
    ] {
        let e = fails(d, args);
        assert!(e.contains("no backup directory"), "{args:?}: {e}");
    }
    // No database: nothing to back up, and no backup directory made for it.
    let e = fails(d, &["backup", "create", "--to", "bk"]);
    assert!(e.contains("no database"), "{e}");
    assert!(!d.join("bk").exists());
    ok(d, &["put", "a", "1"]);
    ok(d, &["backup", "create", "--to", "bk"]);
    let e = fails(d, &["backup", "verify", "--to", "bk", "7"]);
    assert!(e.contains("backup 7"), "{e}");
    let e = fails(d, &["backup", "restore", "--to", "bk", "x", "r"]);
    assert!(e.contains("bad backup id"), "{e}");
    assert!(!d.join("r").exists());
    let e = fails(d, &["--keyspace", "ks", "backup", "list", "--to", "bk"]);
    assert!(e.contains("--keyspace does not apply to backup"), "{e}");
}
