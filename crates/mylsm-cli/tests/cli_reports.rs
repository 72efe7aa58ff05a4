//! End-to-end tests of what operators read: `lsm --svg`, every `--json` output (real
//! JSON, no Rust `Debug` text inside), and the wording of the common mistakes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `mylsm --db <dir>/db ARGS` in `dir`.
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

/// Loads `n` keys starting at `first` and flushes them into one L0 table.
fn table_of(d: &Path, first: usize, n: usize) {
    let lines: String = (first..first + n).map(|i| format!("key{i:06}\tvalue{i}\n")).collect();
    std::fs::write(d.join("in.tsv"), lines).unwrap();
    ok(d, &["load", "in.tsv"]);
    ok(d, &["flush"]);
}

/// A database with three overlapping L0 tables in the default keyspace and one table
/// in the keyspace "logs", plus a write still in the log.
fn shaped(d: &Path) {
    table_of(d, 0, 3000);
    table_of(d, 1000, 3000);
    table_of(d, 5000, 100);
    ok(d, &["keyspace", "create", "logs"]);
    ok(d, &["--keyspace", "logs", "put", "a\u{1}<&>", "x"]);
    ok(d, &["--keyspace", "logs", "flush"]);
    ok(d, &["put", "unflushed", "1"]);
}

/// Checks that `svg` is well-formed XML with an `<svg>` root in the SVG namespace
/// (tags balance, attributes are quoted, `&` only starts an entity) and returns the
/// number of `<rect class="table"` elements.
fn check_svg(svg: &str) -> usize {
    let body = svg.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("prolog");
    assert!(body.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{body}");
    let mut open: Vec<&str> = Vec::new();
    let mut tables = 0;
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
            assert!(["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity), "{text}");
        }
        let gt = rest[lt..].find('>').expect("tag ends") + lt;
        let tag = &rest[lt + 1..gt];
        assert!(!tag.contains('<'), "{tag}");
        assert_eq!(tag.matches('"').count() % 2, 0, "quoted attributes: {tag}");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(open.pop(), Some(name), "closing tag");
        } else {
            let name = tag.split([' ', '/']).next().unwrap();
            tables += usize::from(name == "rect" && tag.contains("class=\"table\""));
            if !tag.ends_with('/') {
                open.push(name);
            }
        }
        rest = &rest[gt + 1..];
        if open.is_empty() {
            break;
        }
    }
    assert!(open.is_empty() && rest.trim().is_empty(), "unclosed {open:?}, trailing {rest:?}");
    tables
}

#[test]
fn lsm_svg_draws_one_rectangle_per_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    shaped(d);
    let text = ok(d, &["lsm", "--svg", "tree.svg"]);
    assert!(text.contains("keyspace default") && text.contains("keyspace logs"), "{text}");
    let svg = std::fs::read_to_string(d.join("tree.svg")).expect("the picture is written");
    assert_eq!(check_svg(&svg), 4, "three tables in default, one in logs: {svg}");
    assert!(svg.contains("a\\x01&lt;&amp;&gt;"), "keys are escaped for XML: {svg}");

    // After a compaction, default has one table; the picture follows the manifest.
    ok(d, &["compact"]);
    ok(d, &["lsm", "--svg", "tree.svg"]);
    let svg = std::fs::read_to_string(d.join("tree.svg")).unwrap();
    assert_eq!(check_svg(&svg), 2, "{svg}");
}

/// Fails if `v` holds a string that looks like Rust `Debug` output.
fn assert_no_debug(v: &serde_json::Value, what: &str) {
    match v {
        serde_json::Value::String(s) => {
            for sign in ["Some(", "None", "VersionEdit", "FileMeta", " { ", "[97, "] {
                assert!(!s.contains(sign), "{what}: Debug text {s:?}");
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| assert_no_debug(i, what)),
        serde_json::Value::Object(map) => map.values().for_each(|i| assert_no_debug(i, what)),
        _ => {}
    }
}

fn files(d: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(d.join("db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    found
}

#[test]
fn every_json_output_is_json_without_debug_text() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    shaped(d);
    ok(d, &["delete-range", "key000010", "key000020"]);
    ok(d, &["flush"]);
    ok(d, &["backup", "create", "--to", "backups"]);
    ok(d, &["put", "late", "1"]);
    // The writes are done (and their compactions, which close waits for), so the
    // files named now stay.
    let live: serde_json::Value =
        serde_json::from_str(&ok(d, &["inspect", "manifest", "--json"])).unwrap();
    let numbers = live["levels"].as_array().unwrap().iter().flat_map(|l| l.as_array().unwrap());
    // A live table with point entries: the table flushed after the range delete holds
    // only its tombstone, and whether compaction has merged it away by now depends on
    // timing.
    let sst = numbers
        .map(|t| d.join("db").join(format!("{:06}.sst", t["number"].as_u64().unwrap())))
        .find(|sst| {
            let out = ok(d, &["inspect", "sst", sst.to_str().unwrap(), "--json"]);
            let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
            summary["num_entries"].as_u64().unwrap() > 0
        })
        .expect("a live table with entries");
    let log = files(d, ".log").pop().unwrap();
    let (sst, log) = (sst.to_str().unwrap(), log.to_str().unwrap());
    let commands: Vec<Vec<&str>> = vec![
        vec!["stats", "--json"],
        vec!["stats", "--json", "--keyspace", "logs"],
        vec!["lsm", "--json"],
        vec!["--hex", "lsm", "--json"],
        vec!["verify", "--json"],
        vec!["inspect", "manifest", "--json"],
        vec!["--hex", "inspect", "manifest", "--json"],
        vec!["inspect", "sst", sst, "--json", "--blocks"],
        vec!["inspect", "sst", sst, "--json", "--scan"],
        vec!["inspect", "wal", log, "--json"],
        vec!["backup", "list", "--to", "backups", "--json"],
    ];
    for args in &commands {
        let out = ok(d, args);
        // One JSON document each, nothing before or after it.
        let value: serde_json::Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"));
        assert_no_debug(&value, &format!("{args:?}"));
    }
    let scan: serde_json::Value =
        serde_json::from_str(&ok(d, &["inspect", "sst", sst, "--json", "--scan"])).unwrap();
    assert!(scan["num_entries"].as_u64().unwrap() > 0, "{scan:#}");
    assert_eq!(scan["entries"].as_array().unwrap().len() as u64, scan["num_entries"], "{scan:#}");

    let manifest: serde_json::Value =
        serde_json::from_str(&ok(d, &["inspect", "manifest", "--json"])).unwrap();
    let edits = manifest["edits"].as_array().unwrap();
    let added = edits.iter().flat_map(|e| e["added"].as_array().cloned().unwrap_or_default());
    let numbers: Vec<u64> = added.map(|t| t["number"].as_u64().unwrap()).collect();
    let live = manifest["levels"].as_array().unwrap().iter().flat_map(|l| l.as_array().unwrap());
    let live = live.map(|t| t["number"].as_u64().unwrap()).next().expect("a live table");
    assert!(numbers.contains(&live), "the edits add the live table {live}: {manifest:#}");
    assert!(edits.iter().any(|e| e["keyspaces_added"][0]["name"] == "logs"), "{manifest:#}");

    let verify: serde_json::Value = serde_json::from_str(&ok(d, &["verify", "--json"])).unwrap();
    assert_eq!(verify["ok"], true);
    assert!(verify["tables"].as_u64().unwrap() >= 4, "{verify}");

    // stats says whose its counters are, and leaves out the write counters that a
    // read-only open cannot move.
    let stats: serde_json::Value = serde_json::from_str(&ok(d, &["stats", "--json"])).unwrap();
    assert!(stats["process"]["scope"].as_str().unwrap().contains("read-only"), "{stats:#}");
    assert!(stats.get("compactions").is_none() && stats.get("flushes").is_none(), "{stats:#}");
    assert_eq!(stats["memtable_entries"], 1, "the put after the flush: {stats:#}");
}

/// Runs `args` and returns stderr, which must be one line starting `mylsm: `, with
/// exit status 2 and nothing on stdout.
fn error_of(d: &Path, args: &[&str]) -> String {
    let out = run(d, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    assert!(stderr.starts_with("mylsm: ") && stderr.lines().count() == 1, "{args:?}: {stderr}");
    stderr
}

#[test]
fn common_mistakes_are_told_in_a_users_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("db");
    let missing = format!("mylsm: no database at {} (put or load creates one)\n", db.display());
    for args in [
        &["get", "k"][..],
        &["scan"],
        &["dump"],
        &["stats"],
        &["verify"],
        &["lsm"],
        &["compact"],
        &["flush"],
        &["inspect", "manifest"],
        &["keyspace", "list"],
    ] {
        assert_eq!(error_of(d, args), missing, "{args:?}");
    }
    assert!(!db.exists(), "no command above creates a database");

    ok(d, &["put", "k", "v"]);
    let e = error_of(d, &["--keyspace", "usres", "get", "k"]);
    assert!(e.contains("no keyspace \"usres\"") && e.contains("keyspace create usres"), "{e}");

    // A file where a database directory should be, a missing table, a missing input.
    std::fs::write(d.join("plain"), "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .args(["--db", "plain", "put", "k", "v"])
        .current_dir(d)
        .output()
        .unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert_eq!(e, "mylsm: cannot open database plain: it is a file, not a directory\n");
    let e = error_of(d, &["inspect", "sst", "000999.sst"]);
    assert_eq!(e, "mylsm: cannot read 000999.sst: no such file or directory\n");
    let e = error_of(d, &["load", "nope.tsv"]);
    assert_eq!(e, "mylsm: cannot open nope.tsv: no such file or directory\n");
    let e = error_of(d, &["checkpoint", "db"]);
    assert!(!e.contains("invalid argument") && e.contains("not empty"), "{e}");
    let e = error_of(d, &["ingest", "000999.sst"]);
    assert!(e.contains("000999.sst") && !e.contains("os error") && !e.contains("I/O error"), "{e}");
}
