//! End-to-end tests of the `mylsm` binary: commands, output formats and exit codes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// Runs `mylsm --db <dir>/db ARGS` with `stdin` as standard input.
fn run_with_stdin(dir: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("--db")
        .arg(dir.join("db"))
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

fn run(dir: &Path, args: &[&str]) -> Output {
    run_with_stdin(dir, args, b"")
}

/// Runs a command that must succeed and returns its stdout.
fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn put_get_delete_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["put", "k", "hello world"]);
    assert_eq!(ok(d, &["get", "k"]), "hello world\n");
    ok(d, &["put", "-dash", "-v"]);
    assert_eq!(ok(d, &["get", "-dash"]), "-v\n");
    ok(d, &["delete", "k"]);
    let out = run(d, &["get", "k"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn get_of_a_missing_key_exits_1_with_empty_output() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["put", "a", "1"]);
    let out = run(dir.path(), &["get", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
}

#[test]
fn scan_honours_range_prefix_limit_and_reverse() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (k, v) in [("a", "1"), ("b1", "2"), ("b2", "3"), ("b3", "4"), ("c", "5")] {
        ok(d, &["put", k, v]);
    }
    assert_eq!(ok(d, &["scan"]), "a\t1\nb1\t2\nb2\t3\nb3\t4\nc\t5\n");
    assert_eq!(ok(d, &["scan", "--from", "b1", "--to", "c"]), "b1\t2\nb2\t3\nb3\t4\n");
    assert_eq!(ok(d, &["scan", "--prefix", "b"]), "b1\t2\nb2\t3\nb3\t4\n");
    assert_eq!(ok(d, &["scan", "--prefix", "b", "--from", "b2"]), "b2\t3\nb3\t4\n");
    assert_eq!(ok(d, &["scan", "--prefix", "b", "--to", "b3"]), "b1\t2\nb2\t3\n");
    assert_eq!(ok(d, &["scan", "--limit", "2"]), "a\t1\nb1\t2\n");
    assert_eq!(ok(d, &["scan", "--reverse", "--limit", "2"]), "c\t5\nb3\t4\n");
    assert_eq!(ok(d, &["scan", "--prefix", "b", "--reverse"]), "b3\t4\nb2\t3\nb1\t2\n");
    assert_eq!(ok(d, &["scan", "--from", "c", "--to", "a"]), "");
}

#[test]
fn load_from_file_and_stdin_then_dump_round_trips_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines = "k1\tv1\nt\\tab\tnew\\nline\nback\\\\slash\tcr\\r\\\\\n";
    std::fs::write(d.join("in.tsv"), lines).unwrap();
    ok(d, &["load", "in.tsv"]);
    ok(d, &["put", "raw\tkey", "raw\nvalue"]);
    let dumped = ok(d, &["dump"]);
    assert_eq!(
        dumped,
        "back\\\\slash\tcr\\r\\\\\nk1\tv1\nraw\\tkey\traw\\nvalue\nt\\tab\tnew\\nline\n"
    );
    // The escapes stand for the raw bytes.
    assert_eq!(ok(d, &["get", "t\tab"]), "new\nline\n");
    assert_eq!(ok(d, &["get", "back\\slash"]), "cr\r\\\n");

    // Loading the dump into another database through stdin reproduces it.
    let other = tempfile::tempdir().unwrap();
    let out = run_with_stdin(other.path(), &["load", "-"], dumped.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
    assert_eq!(ok(other.path(), &["dump"]), dumped);
}

#[test]
fn load_stops_at_a_malformed_line_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = b"a\t1\r\n\nb\t2\nno tab here\nc\t3\n";
    let out = run_with_stdin(d, &["load", "-"], input);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("mylsm: ") && stderr.contains("line 4"), "{stderr}");
    // Every line before the bad one is loaded, nothing after it.
    assert_eq!(ok(d, &["dump"]), "a\t1\nb\t2\n");

    let out = run_with_stdin(d, &["load", "-"], b"k\tbad \\q escape\n");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

#[test]
fn bench_json_reports_every_workload() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["bench", "--num", "2000", "--workloads", "fillseq,fillrandom,readrandom", "--json"];
    // Bench uses a temporary directory unless --db is given, so run it without one.
    let out = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let results = report["results"].as_array().unwrap();
    let names: Vec<_> = results.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fillseq", "fillrandom", "readrandom"]);
    assert_eq!(results[2]["found"], 2000);
    assert_eq!(results[0]["ops"], 2000);
    assert!(results.iter().all(|r| r["ops_per_sec"].as_f64().unwrap() > 0.0));
    assert_eq!(report["settings"]["num"], 2000);
    assert_eq!(report["stats"]["memtable_entries"], 2000);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no ./mylsm-data");
}

/// Runs `bench --json` with `args` after it in a scratch directory; its JSON report.
fn bench_json(args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .args(["bench", "--json"])
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

#[test]
fn bench_readwhilewriting_and_deleteseq() {
    let report =
        bench_json(&["--num", "3000", "--workloads", "fillrandom,readwhilewriting,deleteseq"]);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 3, "{report:#}");
    let rww = &results[1];
    assert_eq!(rww["name"], "readwhilewriting");
    assert_eq!(rww["found"], rww["ops"]);
    assert_eq!(rww["ops"], 3000);
    assert!(rww["writer_ops_per_sec"].as_f64().unwrap() > 0.0, "{rww:#}");
    assert_eq!(results[2]["name"], "deleteseq");
    assert_eq!(results[2]["ops"], 3000);
    assert!(results[2].get("writer_ops_per_sec").is_none());

    let report = bench_json(&["--num", "2000", "--workloads", "fillseq,deleteseq,readrandom"]);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results[2]["name"], "readrandom");
    assert_eq!(results[2]["ops"], 2000);
    assert_eq!(results[2]["found"], 0, "{report:#}");
}

#[test]
fn bench_seekrandom_with_engine_options_reports_memory() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "bench",
        "--num",
        "3000",
        "--workloads",
        "fillrandom,seekrandom",
        "--json",
        "--write-buffer-size",
        "65536",
        "--compression",
        "zstd",
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1]["name"], "seekrandom");
    assert_eq!(results[1]["found"], 3000);
    assert_eq!(report["settings"]["compression"], "zstd");
    assert_eq!(report["settings"]["write_buffer_size"], 65536);
    // A 64 KiB memtable holds far fewer than 3000 entries of 116 bytes: it flushed.
    assert!(report["stats"]["flushes"].as_u64().unwrap() > 0, "{report:#}");
    if cfg!(target_os = "linux") {
        assert!(report["peak_rss_bytes"].as_u64().unwrap() > 0);
        assert!(results.iter().all(|r| r["rss_bytes"].as_u64().unwrap() > 0));
    }
}

#[test]
fn bench_human_output_and_explicit_db() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let args = ["bench", "--num", "1000", "--workloads", "readseq,fillbatch", "--threads", "2"];
    let out = ok(d, &args);
    assert_eq!(out.matches("ops/sec").count(), 2, "{out}");
    assert!(out.contains("readseq ") && out.contains("fillbatch "), "{out}");
    // The directory bench made may be reused; its database is left for inspection.
    ok(d, &args);
    let stats = ok(d, &["stats"]);
    assert!(stats.lines().any(|l| l.split_whitespace().eq(["last_seqno", "1000"])), "{stats}");
    // A directory holding anything else is refused rather than emptied.
    let mine = tempfile::tempdir().unwrap();
    std::fs::write(mine.path().join("precious"), "x").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .args(["bench", "--num", "10", "--db"])
        .arg(mine.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(mine.path().join("precious").exists());
}

#[test]
fn errors_go_to_stderr_with_a_nonzero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a database").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("--db")
        .arg(&file)
        .args(["put", "k", "v"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("mylsm: cannot open database"), "{stderr}");

    // Reading a database that does not exist is an error, not an empty result.
    let out = run(dir.path(), &["dump"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("db").exists());

    // Bench sizes it cannot run are usage errors, not a panic or an allocation abort.
    for bad in [
        &["bench", "--num", "0", "--reads", "1", "--workloads", "readrandom"][..],
        &["bench", "--num", "10000000000000"],
        &["bench", "--num", "10", "--value-size", "18446744073709551615"],
        &["bench", "--num", "10", "--reads", "18446744073709551615"],
    ] {
        let out = run(dir.path(), bad);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{bad:?}: {stderr}");
    }
}

/// The files of the database in `dir` whose names end with `suffix`, sorted.
fn db_files(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("db"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Loads 5000 small entries and flushes them into one L0 table; returns its path.
fn flushed_table(d: &Path) -> std::path::PathBuf {
    let lines: String = (0..5000).map(|i| format!("key{i:05}\tv{i}\n")).collect();
    std::fs::write(d.join("in.tsv"), lines).unwrap();
    ok(d, &["load", "in.tsv"]);
    ok(d, &["flush"]);
    let tables = db_files(d, ".sst");
    assert_eq!(tables.len(), 1, "{tables:?}");
    tables[0].clone()
}

#[test]
fn flush_stats_verify_and_inspect_see_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let table = flushed_table(d);
    let name = table.file_name().unwrap().to_str().unwrap();

    let stats: serde_json::Value = serde_json::from_str(&ok(d, &["stats", "--json"])).unwrap();
    assert!(stats["levels"][0]["files"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats["levels"][0]["bytes"].as_u64().unwrap() > 0, "{stats}");
    assert!(ok(d, &["stats"]).contains("block_cache_hit_rate"));
    // The counters are this command's own, and both outputs say so; the write
    // counters, which a read-only open never moves, are not shown as if they were the
    // database's.
    assert!(stats["process"]["scope"].as_str().unwrap().contains("read-only open"), "{stats}");
    assert!(stats["process"]["block_cache_hits"].is_u64(), "{stats}");
    assert!(stats.get("flushes").is_none() && stats.get("write_amplification").is_none());
    let shown = ok(d, &["stats"]);
    assert!(shown.contains("process counters") && shown.contains("read-only open"), "{shown}");
    assert!(!shown.contains("write_amplification") && !shown.contains("compactions"), "{shown}");

    let verified = ok(d, &["verify"]);
    assert!(verified.starts_with("ok: 1 tables"), "{verified}");

    let manifest = ok(d, &["inspect", "manifest"]);
    assert!(manifest.contains(name), "{manifest}");
    assert!(manifest.contains("key00000@1:put .. key04999@5000:put"), "{manifest}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(d, &["inspect", "manifest", "--json"])).unwrap();
    assert_eq!(json["levels"][0][0]["largest"]["seqno"], 5000);

    let sst = ok(d, &["inspect", "sst", table.to_str().unwrap(), "--blocks"]);
    assert!(sst.contains("entries         5000 (5000 puts, 0 deletes)"), "{sst}");
    assert!(sst.contains("key00000@1:put"), "{sst}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(d, &["inspect", "sst", table.to_str().unwrap(), "--json"]))
            .unwrap();
    assert_eq!(json["num_entries"], 5000);
    assert_eq!(json["smallest_key"]["key"], "key00000");
    assert!(json["filter"]["num_probes"].as_u64().unwrap() > 0);
}

#[test]
fn inspect_wal_lists_the_logged_operations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Written through the library and held open, so that the operations are in a log
    // whatever a close or a reopen would do with it.
    let db = mylsm::Db::open(d.join("db"), mylsm::Options::default()).unwrap();
    db.put("a", "12345").unwrap();
    db.put("b\n", "x").unwrap();
    db.delete("a").unwrap();
    db.sync().unwrap();
    let logs = db_files(d, ".log");
    let text: String =
        logs.iter().map(|log| ok(d, &["inspect", "wal", log.to_str().unwrap()])).collect();
    assert!(text.contains("0: put a (5 bytes) @1\n"), "{text}");
    assert!(text.contains("put b\\n (1 bytes) @2"), "{text}");
    assert!(text.contains("delete a @3"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(d, &["inspect", "wal", logs[0].to_str().unwrap(), "--json"]))
            .unwrap();
    assert_eq!(json["records"][0]["ops"][0]["value_len"], 5);
    db.close().unwrap();
}

#[test]
fn a_flipped_byte_fails_verify_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let table = flushed_table(d);
    let name = table.file_name().unwrap().to_str().unwrap().to_string();
    let mut bytes = std::fs::read(&table).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&table, bytes).unwrap();

    let out = run(d, &["verify"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("mylsm: corruption in ") && stderr.contains(&name), "{stderr}");

    let out = run(d, &["inspect", "sst", table.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corruption") && stderr.contains(&name), "{stderr}");
}

#[test]
fn a_database_held_open_elsewhere_refuses_writes_but_serves_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = mylsm::Db::open(d.join("db"), mylsm::Options::default()).unwrap();
    db.put("k", "v").unwrap();
    db.sync().unwrap();
    let out = run(d, &["put", "k2", "v2"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is locked") && stderr.contains("read commands still work"),
        "{stderr}"
    );
    // Reads open the database read-only, so they see what the holder wrote.
    assert_eq!(ok(d, &["get", "k"]), "v\n");
    assert_eq!(ok(d, &["dump"]), "k\tv\n");
    assert!(ok(d, &["inspect", "manifest"]).contains("last_seqno"));
    db.close().unwrap();
    // The refused put wrote nothing.
    assert_eq!(run(d, &["get", "k2"]).status.code(), Some(1));
    assert_eq!(ok(d, &["get", "k"]), "v\n");
}

#[test]
fn three_hundred_puts_then_a_get_leave_at_most_two_logs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..300 {
        ok(d, &["put", &format!("k{i}"), &format!("v{i}")]);
    }
    assert_eq!(ok(d, &["get", "k150"]), "v150\n");
    // Each open writes the logs it replayed into a table, so logs do not pile up
    // one per command.
    let logs = db_files(d, ".log");
    assert!(logs.len() <= 2, "{logs:?}");
}

/// Runs `mylsm --db DB ARGS` from `cwd`.
fn run_at(cwd: &Path, db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("--db")
        .arg(db)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("run mylsm")
}

/// The commands that need an existing database: the read commands and flush, compact.
const NEEDS_A_DATABASE: [&[&str]; 7] =
    [&["get", "k"], &["scan"], &["dump"], &["stats"], &["verify"], &["flush"], &["compact"]];

#[test]
fn read_commands_on_a_directory_without_a_database_fail_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let notes = b"my notes, not a database\n";
    std::fs::write(d.join("notes.txt"), notes).unwrap();
    for args in NEEDS_A_DATABASE {
        let out = run_at(d, d, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("no database at") && stderr.contains("put or load"), "{stderr}");
        // The directory is named once, not once by the CLI and again by the engine.
        assert_eq!(stderr.matches(d.to_str().unwrap()).count(), 1, "{stderr}");
        let names: Vec<_> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["notes.txt"], "after {args:?}");
        assert_eq!(std::fs::read(d.join("notes.txt")).unwrap(), notes, "after {args:?}");
    }

    let missing = d.join("typo");
    for args in NEEDS_A_DATABASE {
        let out = run_at(d, &missing, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("no database at"), "{args:?}");
        assert!(!missing.exists(), "{args:?} created {}", missing.display());
    }
}

#[test]
fn load_checks_its_input_before_creating_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("newdir");
    let out = run_at(d, &db, &["load", "/nonexistent/input.tsv"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot open /nonexistent/input.tsv"), "{stderr}");
    assert!(!db.exists(), "the failed load created {}", db.display());

    // A directory opens on Unix and fails only when read, which must also be before.
    let out = run_at(d, &db, &["load", d.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!db.exists(), "the failed load created {}", db.display());
}

/// A child process killed and reaped when dropped, so that a failed assertion does
/// not leave it running.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn read_commands_work_while_another_process_writes() {
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Stress writes only keys like `w000-k0000042`, so these are never overwritten.
    // (Its readers would call them foreign keys; it runs with none.)
    for i in 1..=3 {
        ok(d, &["put", &format!("known-{i}"), &format!("v{i}")]);
    }
    // The duration only bounds the run should this test die without killing it.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("--db")
        .arg(d.join("db"))
        .args(["stress", "--writers", "1", "--readers", "0", "--keys", "1000"])
        .args(["--duration-s", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mylsm stress");
    let stdout = child.stdout.take().expect("stdout");
    let writer = KillOnDrop(child);
    // Stress prints its `# stress` header once the database is open and just before
    // the writers start; the rest of its history is drained so that it never blocks.
    let mut lines = std::io::BufReader::new(stdout);
    let mut header = String::new();
    lines.read_line(&mut header).expect("read the stress header");
    assert!(header.starts_with("# stress "), "stress did not start: {header:?}");
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    // Some writes land before the reads, so that they meet a growing database.
    std::thread::sleep(std::time::Duration::from_millis(300));

    assert_eq!(ok(d, &["get", "known-2"]), "v2\n");
    let scanned = ok(d, &["scan", "--limit", "5"]);
    assert!(scanned.starts_with("known-1\tv1\nknown-2\tv2\nknown-3\tv3\n"), "{scanned}");
    assert!(ok(d, &["stats"]).contains("last_seqno"));
    let verified = ok(d, &["verify"]);
    assert!(verified.starts_with("ok: "), "{verified}");
    assert!(ok(d, &["dump"]).contains("known-3\tv3\n"));
    // A writable open is still refused: the writer held the database throughout.
    let out = run(d, &["put", "known-4", "v4"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is locked"));
    drop(writer);
}

#[test]
fn compact_leaves_one_sorted_run_and_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_mylsm"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .unwrap()
    };
    for round in 0..3 {
        for i in 0..50 {
            assert!(run(&["put", &format!("k{i:03}"), &format!("v{round}")]).status.success());
        }
        assert!(run(&["flush"]).status.success());
    }
    let before = run(&["dump"]).stdout;
    let out = run(&["compact"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(run(&["dump"]).stdout, before);
    let stats: serde_json::Value =
        serde_json::from_slice(&run(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(stats["levels"][0]["files"], 0, "{stats}");
    let files: u64 =
        stats["levels"].as_array().unwrap().iter().map(|l| l["files"].as_u64().unwrap()).sum();
    assert_eq!(files, 1, "{stats}");
}

/// Runs a command that must fail with status 2; its stderr.
fn fails(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?} should fail: {stderr}");
    assert!(out.stdout.is_empty(), "{args:?}");
    stderr
}

#[test]
fn a_created_keyspace_holds_its_own_keys_until_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(d, &["put", "shared", "in-default"]);
    ok(d, &["keyspace", "create", "users"]);
    assert_eq!(ok(d, &["keyspace", "list"]), "default\nusers\n");

    ok(d, &["--keyspace", "users", "put", "shared", "in-users"]);
    ok(d, &["put", "--keyspace", "users", "u1", "ada"]);
    ok(d, &["put", "u2", "bob", "--keyspace", "users"]);
    ok(d, &["delete", "--keyspace", "users", "u2"]);
    std::fs::write(d.join("in.tsv"), "u3\tcy\n").unwrap();
    ok(d, &["load", "--keyspace", "users", "in.tsv"]);

    assert_eq!(ok(d, &["get", "--keyspace", "users", "shared"]), "in-users\n");
    assert_eq!(ok(d, &["get", "shared"]), "in-default\n");
    assert_eq!(ok(d, &["scan", "--keyspace", "users"]), "shared\tin-users\nu1\tada\nu3\tcy\n");
    assert_eq!(ok(d, &["dump", "--keyspace", "users"]), "shared\tin-users\nu1\tada\nu3\tcy\n");
    assert_eq!(ok(d, &["scan"]), "shared\tin-default\n", "the default keyspace sees its own");
    assert_eq!(ok(d, &["--keyspace", "default", "dump"]), "shared\tin-default\n");
    assert_eq!(run(d, &["get", "u1"]).status.code(), Some(1));

    ok(d, &["compact", "--keyspace", "users"]);
    assert_eq!(ok(d, &["scan", "--keyspace", "users", "--limit", "1"]), "shared\tin-users\n");

    ok(d, &["keyspace", "drop", "users"]);
    assert_eq!(ok(d, &["keyspace", "list"]), "default\n");
    assert_eq!(ok(d, &["get", "shared"]), "in-default\n");
    // A keyspace created again under the name starts empty.
    ok(d, &["keyspace", "create", "users"]);
    assert_eq!(ok(d, &["scan", "--keyspace", "users"]), "");
}

#[test]
fn a_missing_keyspace_fails_reads_and_writes_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // No database yet: a write to a named keyspace does not create one.
    let stderr = fails(d, &["put", "--keyspace", "usres", "k", "v"]);
    assert!(stderr.contains("no keyspace \"usres\""), "{stderr}");
    assert!(!d.join("db").exists());

    ok(d, &["put", "k", "v"]);
    let db = d.join("db").display().to_string();
    for args in [
        &["get", "--keyspace", "usres", "k"][..],
        &["scan", "--keyspace", "usres"],
        &["dump", "--keyspace", "usres"],
        &["stats", "--keyspace", "usres"],
        &["put", "--keyspace", "usres", "k", "v"],
        &["delete", "--keyspace", "usres", "k"],
        &["compact", "--keyspace", "usres"],
    ] {
        let stderr = fails(d, args);
        let want = format!(
            "mylsm: no keyspace \"usres\" in {db} (mylsm keyspace create usres makes one)\n"
        );
        assert_eq!(stderr, want, "{args:?}");
    }
    std::fs::write(d.join("in.tsv"), "a\t1\n").unwrap();
    fails(d, &["load", "--keyspace", "usres", "in.tsv"]);
    assert_eq!(ok(d, &["keyspace", "list"]), "default\n", "no keyspace was created");

    ok(d, &["keyspace", "create", "users"]);
    assert!(fails(d, &["keyspace", "create", "users"]).contains("already exists"));
    assert!(fails(d, &["keyspace", "drop", "usres"]).contains("no keyspace \"usres\""));
    assert!(fails(d, &["keyspace", "drop", "default"]).contains("cannot be dropped"));
    assert!(fails(d, &["verify", "--keyspace", "users"]).contains("does not apply to verify"));
    // Dropping never creates a database.
    let other = tempfile::tempdir().unwrap();
    fails(other.path(), &["keyspace", "drop", "users"]);
    assert!(!other.path().join("db").exists());
}

#[test]
fn stats_shows_the_levels_of_every_keyspace() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    flushed_table(d);
    ok(d, &["keyspace", "create", "logs"]);
    let lines: String = (0..300).map(|i| format!("log{i:03}\tline {i}\n")).collect();
    std::fs::write(d.join("logs.tsv"), lines).unwrap();
    ok(d, &["load", "--keyspace", "logs", "logs.tsv"]);
    ok(d, &["compact", "--keyspace", "logs"]);

    let stats: serde_json::Value = serde_json::from_str(&ok(d, &["stats", "--json"])).unwrap();
    // The top-level fields still describe the default keyspace.
    assert_eq!(stats["keyspace"], "default", "{stats:#}");
    assert_eq!(stats["levels"][0]["files"], 1, "{stats:#}");
    let keyspaces = stats["keyspaces"].as_array().unwrap();
    let names: Vec<_> = keyspaces.iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["default", "logs"]);
    assert_eq!(keyspaces[0]["files"], 1, "{stats:#}");
    assert_eq!(keyspaces[1]["files"], 1, "{stats:#}");
    assert_eq!(keyspaces[1]["levels"][0]["files"], 0, "compacted out of L0: {stats:#}");
    assert!(keyspaces[1]["bytes"].as_u64().unwrap() > 0, "{stats:#}");

    let logs: serde_json::Value =
        serde_json::from_str(&ok(d, &["stats", "--json", "--keyspace", "logs"])).unwrap();
    assert_eq!(logs["keyspace"], "logs");
    assert_eq!(logs["levels"][0]["files"], 0, "{logs:#}");
    assert_eq!(logs["keyspaces"].as_array().unwrap().len(), 1, "{logs:#}");

    let table = ok(d, &["stats"]);
    assert!(table.lines().any(|l| l.starts_with("logs ")), "{table}");
    assert!(ok(d, &["stats", "--keyspace", "logs"]).starts_with("keyspace             logs\n"));
}

#[test]
fn bench_spreads_its_keys_over_keyspaces() {
    let report = bench_json(&[
        "--num",
        "2000",
        "--keyspaces",
        "3",
        "--workloads",
        "fillrandom,readrandom,readseq",
    ]);
    assert_eq!(report["settings"]["keyspaces"], 3, "{report:#}");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results[1]["found"], 2000, "readrandom finds every key: {report:#}");
    assert_eq!(results[2]["ops"], 2000, "readseq reads every keyspace: {report:#}");
    let keyspaces = report["keyspaces"].as_array().unwrap();
    let names: Vec<_> = keyspaces.iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bench-0", "bench-1", "bench-2"]);
    let entries: Vec<_> =
        keyspaces.iter().map(|k| k["memtable_entries"].as_u64().unwrap()).collect();
    assert_eq!(entries, [667, 667, 666], "key i goes to keyspace i % 3");
    assert_eq!(report["stats"]["memtable_entries"], 2000, "stats add up the keyspaces");
}

/// The commands of range deletes, merges, expiring values and checkpoints.
#[test]
fn delete_range_merge_ttl_and_checkpoint_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for k in ["a1", "a2", "b1", "b2", "c1"] {
        ok(d, &["put", k, "v"]);
    }
    ok(d, &["delete-range", "a2", "b2"]);
    ok(d, &["delete-prefix", "c"]);
    assert_eq!(ok(d, &["scan"]), "a1\tv\nb2\tv\n");
    ok(d, &["keyspace", "create", "hits", "--merge", "u64add"]);
    ok(d, &["--keyspace", "hits", "merge", "page", "5"]);
    ok(d, &["--keyspace", "hits", "merge", "page", "-2"]);
    assert_eq!(ok(d, &["--keyspace", "hits", "get", "page"]), "3\n");
    let out = run(d, &["merge", "page", "1"]);
    assert!(!out.status.success(), "the default keyspace has no merge operator");
    ok(d, &["put", "--ttl", "3600", "session", "token"]);
    assert_eq!(ok(d, &["get", "session"]), "token\n");
    // `run` opens `DIR/db`: the copy goes to `copy/db` so the same helper reads it.
    let cp = tmp.path().join("copy");
    std::fs::create_dir(&cp).unwrap();
    let target = cp.join("db");
    let said = ok(d, &["checkpoint", target.to_str().unwrap()]);
    assert!(said.starts_with("checkpoint at seqno"), "{said}");
    assert_eq!(ok(&cp, &["scan"]), ok(d, &["scan"]));
    assert_eq!(ok(&cp, &["--keyspace", "hits", "get", "page"]), "3\n");
    let again = run(d, &["checkpoint", target.to_str().unwrap()]);
    assert!(!again.status.success(), "not into a full directory");
    // `lsm` shows each keyspace's levels, as text and as JSON.
    ok(d, &["flush"]);
    let shape = ok(d, &["lsm"]);
    assert!(shape.contains("keyspace default") && shape.contains("keyspace hits"), "{shape}");
    assert!(shape.lines().any(|l| l.starts_with("L0 ")), "{shape}");
    let json: serde_json::Value = serde_json::from_str(&ok(d, &["lsm", "--json"])).unwrap();
    let l0 = &json[0]["levels"][0];
    assert!(l0["files"].as_u64().unwrap() >= 1 && l0["bytes"].as_u64().unwrap() > 0, "{json}");
}

/// `inspect sst --scan` lists a table's internal entries with seqno and kind.
#[test]
fn inspect_sst_scan_lists_versions_with_seqno_and_kind() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let table = flushed_table(d);
    let t = table.to_str().unwrap();
    let all = ok(d, &["inspect", "sst", "--scan", "--limit", "10000", t]);
    let puts: Vec<&str> = all.lines().filter(|l| l.starts_with("key0")).collect();
    assert_eq!(puts.len(), 5000, "every entry listed");
    assert!(puts[0].starts_with("key00000@") && puts[0].ends_with(":put v0"), "{}", puts[0]);
    let some = ok(d, &["inspect", "sst", "--scan", "--from", "key00010", "--to", "key00013", t]);
    let listed: Vec<&str> = some.lines().filter(|l| l.starts_with("key0")).collect();
    assert_eq!(listed.len(), 3, "{some}");
    let json = ok(d, &["inspect", "sst", "--json", "--scan", "--limit", "1", t]);
    assert!(json.contains("\"kind\": \"put\""), "{json}");
}
