//! The peer compatibility cases (tair-opensource/resp-compatibility `cts.json`, in
//! `shared/data/resp-compatibility/`): the list on which Kvrocks, Pika, Dragonfly and
//! KeyDB publish pass rates. Each case runs after a FLUSHALL, its commands in order,
//! each reply compared with the recorded one, as their runner does (RESP2, replies as
//! strings, integers, arrays and nulls). The test prints the pass rate per `since`
//! version and overall and every failing case by name, and fails if a case whose
//! commands are all implemented fails. Cases tagged `cluster` are left out, as in their
//! standalone runs.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::TestServer;
use redis::Value;
use serde_json::Value as Json;

fn cases_file() -> PathBuf {
    // shared/ lies beside the repository's root, in the work tree and in CI.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/resp-compatibility/cts.json")
}

/// Splits a case's command line as Python's `shlex.split` does for these lines:
/// spaces separate, quotes group, and (for `command_binary` cases) `\xHH`, `\n`, `\r`,
/// `\t`, `\a` and `\\` escapes become bytes.
fn split(line: &str, binary: bool) -> Vec<Vec<u8>> {
    let bytes = line.as_bytes();
    let mut args = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match (quote, b) {
            (None, b' ') => {
                if let Some(a) = cur.take() {
                    args.push(a);
                }
            }
            (None, b'"' | b'\'') => {
                quote = Some(b);
                cur.get_or_insert_with(Vec::new);
            }
            (Some(q), _) if b == q => quote = None,
            (_, b'\\') if binary && i + 1 < bytes.len() => {
                let out = cur.get_or_insert_with(Vec::new);
                i += 1;
                match bytes[i] {
                    b'x' if i + 2 < bytes.len() => {
                        let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                        out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
                        i += 2;
                    }
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'a' => out.push(7),
                    other => out.push(other),
                }
            }
            _ => cur.get_or_insert_with(Vec::new).push(b),
        }
        i += 1;
    }
    if let Some(a) = cur {
        args.push(a);
    }
    args
}

/// Whether `got` is the recorded reply `want`.
fn matches(got: &Value, want: &Json) -> bool {
    match (got, want) {
        (Value::Nil, Json::Null) => true,
        (Value::Int(n), Json::Number(w)) => w.as_i64() == Some(*n),
        (Value::Okay, Json::String(s)) => s == "OK",
        (Value::SimpleString(s), Json::String(w)) => s == w,
        (Value::BulkString(b), Json::String(w)) => b == w.as_bytes(),
        (Value::Array(items), Json::Array(w)) => {
            items.len() == w.len() && items.iter().zip(w).all(|(g, w)| matches(g, w))
        }
        _ => false,
    }
}

#[test]
fn peer_compatibility_cases() {
    let path = cases_file();
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: no compatibility cases at {}", path.display());
        return;
    };
    let cases: Vec<Json> = serde_json::from_str(&text).expect("cts.json parses");
    let server = TestServer::start();
    let mut con = server.client(false);
    // since -> (passed, total)
    let mut by_version: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failed_implemented = Vec::new();
    let mut failed_other = Vec::new();
    for case in &cases {
        if case["tags"].as_str() == Some("cluster") {
            continue;
        }
        let name = case["name"].as_str().unwrap_or("?");
        let since = case["since"].as_str().unwrap_or("?").to_string();
        let binary = case["command_binary"].as_bool().unwrap_or(false);
        let commands: Vec<&str> =
            case["command"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
        let results: Vec<&Json> = case["result"].as_array().into_iter().flatten().collect();
        // A case that failed inside MULTI or after SELECT leaves the session there.
        let _ = redis::cmd("DISCARD").query::<Value>(&mut con);
        let _: () = redis::cmd("SELECT").arg(0).query(&mut con).expect("SELECT");
        let _: () = redis::cmd("FLUSHALL").query(&mut con).expect("FLUSHALL");
        let mut implemented = true;
        for line in &commands {
            let Some(first) = split(line, binary).into_iter().next() else { continue };
            // FUNCTION is registered only as a FLUSH no-op for the Redis test harness.
            implemented &= !first.eq_ignore_ascii_case(b"function");
            let info: Vec<Value> =
                redis::cmd("COMMAND").arg("INFO").arg(first).query(&mut con).expect("COMMAND INFO");
            implemented &= info.first().is_some_and(|v| *v != Value::Nil);
        }
        // Compared pairwise, as their runner zips them (one case lists an extra result).
        let mut ok = true;
        for (line, want) in commands.iter().zip(&results) {
            let args = split(line, binary);
            let mut c = redis::Cmd::new();
            for a in &args {
                c.arg(a);
            }
            let got = c.query::<Value>(&mut con);
            if !got.as_ref().is_ok_and(|g| matches(g, want)) {
                ok = false;
                if implemented {
                    eprintln!("  {name}: `{line}` gave {got:?}, expected {want}");
                }
                break;
            }
        }
        let entry = by_version.entry(since).or_default();
        entry.1 += 1;
        if ok {
            entry.0 += 1;
        } else if implemented {
            failed_implemented.push(name.to_string());
        } else {
            failed_other.push(name.to_string());
        }
    }
    let (mut passed, mut total) = (0, 0);
    for (version, (p, t)) in &by_version {
        eprintln!("version {version}: {p}/{t} passed");
        passed += p;
        total += t;
    }
    eprintln!("overall: {passed}/{total} passed ({:.1}%)", 100.0 * passed as f64 / total as f64);
    eprintln!(
        "failing, command not implemented ({}): {}",
        failed_other.len(),
        failed_other.join(", ")
    );
    assert!(
        failed_implemented.is_empty(),
        "failing cases whose commands are all implemented: {failed_implemented:?}"
    );
}
