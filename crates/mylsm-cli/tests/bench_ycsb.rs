//! End-to-end tests of `mylsm bench`'s YCSB workloads: every mix runs on the keys a
//! fill loaded and reports its operations by kind, and `--duration` bounds a run by
//! time rather than by count.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs `mylsm bench ARGS --json` on a temporary database and returns its results.
fn bench(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_mylsm"))
        .arg("bench")
        .args(args)
        .arg("--json")
        .output()
        .expect("run mylsm");
    assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("bench --json is JSON");
    report["results"].as_array().expect("results array").clone()
}

/// The `op_counts` entry `kind` of `result`, 0 when absent.
fn count(result: &Value, kind: &str) -> u64 {
    result["op_counts"][kind].as_u64().unwrap_or(0)
}

#[test]
fn every_ycsb_mix_reports_its_operations_by_kind() {
    let workloads = "fillrandom,ycsba,ycsbb,ycsbc,ycsbd,ycsbe,ycsbf";
    let results = bench(&["--num", "2000", "--workloads", workloads]);
    let names: Vec<&str> = results.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, workloads.split(',').collect::<Vec<_>>());
    for r in &results[1..] {
        let name = r["name"].as_str().unwrap();
        assert_eq!(r["ops"].as_u64(), Some(2000), "{name}");
        assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0, "{name}");
        assert!(r["p99_us"].as_f64().unwrap() >= r["p50_us"].as_f64().unwrap(), "{name}");
        let kinds = r["op_counts"].as_object().unwrap_or_else(|| panic!("{name}: no op_counts"));
        let sum: u64 = kinds.values().map(|n| n.as_u64().unwrap()).sum();
        assert_eq!(sum, 2000, "{name}: {kinds:?}");
    }
    let by = |name: &str| results.iter().find(|r| r["name"] == name).unwrap();
    // Each mix does the kinds YCSB gives it, in roughly its proportions.
    let a = by("ycsba");
    assert!(count(a, "read") > 800 && count(a, "update") > 800, "{a}");
    assert_eq!(count(by("ycsbc"), "read"), 2000);
    let d = by("ycsbd");
    assert!(count(d, "insert") > 0 && count(d, "insert") < 300, "{d}");
    let e = by("ycsbe");
    assert!(count(e, "scan") > 1600 && count(e, "insert") > 0, "{e}");
    let f = by("ycsbf");
    assert!(count(f, "read") > 800 && count(f, "rmw") > 800, "{f}");
    // The reads run on the keys fillrandom loaded, so nearly all of them find one
    // (workload D may read a key another insert has claimed but not yet written).
    for name in ["ycsba", "ycsbb", "ycsbc", "ycsbd", "ycsbf"] {
        let r = by(name);
        let reads = count(r, "read") + count(r, "rmw");
        assert!(r["found"].as_u64().unwrap() + 5 >= reads, "{r}");
    }
}

#[test]
fn duration_stops_a_workload_in_time() {
    // A count far beyond what 0.2 s can do: only the clock can end these workloads.
    let start = Instant::now();
    let results = bench(&[
        "--num",
        "1000",
        "--reads",
        "1000000000000",
        "--duration",
        "0.2",
        "--workloads",
        "fillseq,ycsba,readrandom",
    ]);
    assert!(start.elapsed() < Duration::from_secs(60), "took {:?}", start.elapsed());
    for r in &results[1..] {
        let name = r["name"].as_str().unwrap();
        let seconds = r["seconds"].as_f64().unwrap();
        assert!((0.2..10.0).contains(&seconds), "{name} ran {seconds} s");
        assert!(r["ops"].as_u64().unwrap() > 0, "{name}");
    }
    // The fill ignores --duration and writes every key.
    assert_eq!(results[0]["ops"].as_u64(), Some(1000));
}
