//! End-to-end tests of `--hex`: binary keys and values (NUL, TAB, LF, 0xff) written
//! and read back through every command that takes or prints them, and the errors for
//! digits that are not hex.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `mylsm --db <dir>/<db> ARGS` with `stdin` as standard input.
fn run_in(dir: &Path, db: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("--db")
        .arg(dir.join(db))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mylsm");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    child.wait_with_output().expect("wait for mylsm")
}

/// Runs a command on `<dir>/db` that must succeed and returns its stdout as bytes.
fn ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = run_in(dir, "db", args, b"");
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("utf-8 output")
}

/// Runs a command on `<dir>/db` that must fail with status 2; returns its stderr.
fn fails(dir: &Path, args: &[&str], stdin: &[u8]) -> String {
    let out = run_in(dir, "db", args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    stderr
}

#[test]
fn binary_keys_round_trip_through_put_get_scan_dump_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // NUL, 0xff, TAB and LF in keys and values, and an empty value.
    ok(d, &["--hex", "put", "00ff00", "ff0900"]);
    ok(d, &["--hex", "put", "0a", ""]);
    ok(d, &["--hex", "put", "61ff", "0d0a5c"]);
    ok(d, &["put", "plain", "text"]);

    assert_eq!(text(ok(d, &["--hex", "get", "00ff00"])), "ff0900\n");
    assert_eq!(text(ok(d, &["--hex", "get", "0A"])), "\n", "uppercase digits are read too");
    assert_eq!(text(ok(d, &["--hex", "get", "706c61696e"])), "74657874\n");
    // Without --hex the value is printed as its raw bytes.
    assert_eq!(ok(d, &["get", "plain"]), b"text\n");
    let absent = run_in(d, "db", &["--hex", "get", "00"], b"");
    assert_eq!(absent.status.code(), Some(1));

    let dump = text(ok(d, &["--hex", "dump"]));
    assert_eq!(dump, "00ff00\tff0900\n0a\t\n61ff\t0d0a5c\n706c61696e\t74657874\n");
    // The same entries in the escaped text format, raw 0xff bytes included.
    assert_eq!(ok(d, &["dump"]), b"\0\xff\0\t\xff\\t\0\n\\n\t\na\xff\t\\r\\n\\\\\nplain\ttext\n");

    // Scan bounds are hex too: [0a, 61ff] and the prefix 61.
    assert_eq!(text(ok(d, &["--hex", "scan", "--from", "0a", "--to", "61ff"])), "0a\t\n");
    assert_eq!(text(ok(d, &["--hex", "scan", "--prefix", "61"])), "61ff\t0d0a5c\n");
    assert_eq!(
        text(ok(d, &["--hex", "scan", "--reverse", "--limit", "1"])),
        "706c61696e\t74657874\n"
    );

    // What dump --hex wrote, load --hex reads back into another database unchanged.
    let loaded = run_in(d, "copy", &["--hex", "load", "-"], dump.as_bytes());
    assert!(loaded.status.success(), "{}", String::from_utf8_lossy(&loaded.stderr));
    let copy = run_in(d, "copy", &["--hex", "dump"], b"");
    assert_eq!(text(copy.stdout), dump);

    // Deletes take hex keys: one key, a range, a prefix.
    ok(d, &["--hex", "delete", "0a"]);
    ok(d, &["--hex", "delete-range", "00", "01"]);
    ok(d, &["--hex", "delete-prefix", "61"]);
    assert_eq!(text(ok(d, &["--hex", "dump"])), "706c61696e\t74657874\n");
}

#[test]
fn hex_reaches_merge_inspect_and_lsm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["--hex", "put", "00ff", "0102"]);
    ok(d, &["flush"]);
    let table = std::fs::read_dir(d.join("db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .expect("a table");
    let table = table.to_str().unwrap();
    let scan = text(ok(d, &["--hex", "inspect", "sst", table, "--scan", "--from", "00"]));
    assert!(scan.contains("00ff@") && scan.contains(":put 0102"), "{scan}");
    let none = text(ok(d, &["--hex", "inspect", "sst", table, "--scan", "--from", "01"]));
    assert!(!none.contains(":put 0102"), "--from 01 is after the key: {none}");
    let lsm: serde_json::Value =
        serde_json::from_slice(&ok(d, &["--hex", "lsm", "--json"])).unwrap();
    let default = lsm.as_array().unwrap().iter().find(|k| k["keyspace"] == "default").unwrap();
    assert_eq!(default["levels"][0]["smallest"], "00ff", "{lsm:#}");
    let manifest = text(ok(d, &["--hex", "inspect", "manifest"]));
    assert!(manifest.contains("00ff@"), "{manifest}");

    ok(d, &["keyspace", "create", "log", "--merge", "append"]);
    ok(d, &["--keyspace", "log", "--hex", "merge", "00ff", "0001"]);
    ok(d, &["--keyspace", "log", "--hex", "merge", "00ff", "ff"]);
    assert_eq!(text(ok(d, &["--keyspace", "log", "--hex", "get", "00ff"])), "0001ff\n");
    // A u64add counter stays a number: it is not bytes.
    ok(d, &["keyspace", "create", "n", "--merge", "u64add"]);
    ok(d, &["--keyspace", "n", "--hex", "merge", "ff", "5"]);
    assert_eq!(text(ok(d, &["--keyspace", "n", "--hex", "get", "ff"])), "5\n");
}

#[test]
fn digits_that_are_not_hex_are_an_error_naming_the_argument_or_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let e = fails(d, &["--hex", "put", "zz", "00"], b"");
    assert!(e.starts_with("mylsm: KEY \"zz\" is not hex"), "{e}");
    assert!(!d.join("db").exists(), "a bad argument creates no database");
    let e = fails(d, &["--hex", "put", "00", "abc"], b"");
    assert!(e.contains("VALUE \"abc\"") && e.contains("odd number"), "{e}");

    ok(d, &["put", "k", "v"]);
    let e = fails(d, &["--hex", "get", "0x6b"], b"");
    assert!(e.contains("KEY \"0x6b\" is not hex") && e.contains("x at position 2"), "{e}");
    let e = fails(d, &["--hex", "scan", "--from", "6"], b"");
    assert!(e.contains("--from \"6\" is not hex"), "{e}");
    let e = fails(d, &["--hex", "delete-range", "00", "g0"], b"");
    assert!(e.contains("TO \"g0\" is not hex"), "{e}");

    // A bad line stops the load there and names it; the lines before it are loaded.
    let e = fails(d, &["--hex", "load", "-"], b"6b31\t7631\n6b32\tnope\n6b33\t7633\n");
    assert!(e.contains("line 2: value:") && e.contains("not a hex digit"), "{e}");
    assert_eq!(text(ok(d, &["--hex", "get", "6b31"])), "7631\n");
    assert_eq!(run_in(d, "db", &["--hex", "get", "6b33"], b"").status.code(), Some(1));
}
