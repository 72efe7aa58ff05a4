//! The comparison table: workloads as rows, engines as columns (operations per
//! second), and mylsm's ratio to the best peer in each row.

use std::fmt::Write;

use mylsm_bench::{Workload, WorkloadResult};

use crate::{EngineName, EngineRun};

/// The table as Markdown, so that it can be pasted into docs/benchmarks.md: one row of
/// throughput per workload, then p99 latencies, then the size on disk, then the write
/// amplification of each write workload.
pub fn render(workloads: &[Workload], runs: &[EngineRun]) -> String {
    let mut out = String::new();
    let names: Vec<&str> = runs.iter().map(|r| r.engine.name()).collect();
    let header = |out: &mut String, first: &str, ratio: bool| {
        let _ = write!(out, "| {first} |");
        for n in &names {
            let _ = write!(out, " {n} |");
        }
        if ratio {
            out.push_str(" mylsm / best peer |");
        }
        out.push('\n');
        out.push_str(&"|---".repeat(names.len() + 1 + usize::from(ratio)));
        out.push_str("|\n");
    };
    let mylsm = runs.iter().position(|r| r.engine == EngineName::Mylsm);
    let has_peer = runs.len() > usize::from(mylsm.is_some());

    header(&mut out, "ops/s", mylsm.is_some() && has_peer);
    for (i, w) in workloads.iter().enumerate() {
        let _ = write!(out, "| {} |", w.name());
        for r in runs {
            let _ = write!(out, " {} |", cell(r, i).map_or("-".into(), |x| ops(x.ops_per_sec())));
        }
        if let (Some(m), true) = (mylsm, has_peer) {
            let best = runs
                .iter()
                .enumerate()
                .filter(|(n, _)| *n != m)
                .filter_map(|(_, r)| cell(r, i).map(WorkloadResult::ops_per_sec))
                .fold(0.0, f64::max);
            let ratio = cell(&runs[m], i).map(|x| x.ops_per_sec() / best.max(1e-9));
            let _ = write!(out, " {} |", ratio.map_or("-".into(), |r| format!("{r:.2}x")));
        }
        out.push('\n');
    }
    out.push('\n');
    header(&mut out, "p99 latency (us)", false);
    for (i, w) in workloads.iter().enumerate() {
        let _ = write!(out, "| {} |", w.name());
        for r in runs {
            let p = cell(r, i).map_or("-".into(), |x| format!("{:.1}", x.quantile_us(0.99)));
            let _ = write!(out, " {p} |");
        }
        out.push('\n');
    }
    let _ = write!(out, "| size on disk (MiB) |");
    for r in runs {
        let _ = write!(out, " {:.1} |", r.disk_bytes as f64 / f64::from(1 << 20));
    }
    out.push('\n');
    write_amp(&mut out, workloads, runs, &header);
    out
}

/// Bytes written to storage during a write workload and the settle after it (flushes
/// and compactions included), over the bytes of keys and values it wrote.
fn write_amp(
    out: &mut String,
    workloads: &[Workload],
    runs: &[EngineRun],
    header: &dyn Fn(&mut String, &str, bool),
) {
    // The pure write workloads; the bytes are those of the keys and values written
    // (keys alone for deletes), as `mylsm bench` counts them for its write amp.
    let user_bytes = |w: Workload, r: &WorkloadResult| -> Option<f64> {
        let pure_write = matches!(
            w.name(),
            "fillseq" | "fillrandom" | "overwrite" | "fillbatch" | "fillsync" | "deleterandom"
        );
        (pure_write && r.totals.bytes() > 0).then(|| r.totals.bytes() as f64)
    };
    let rows: Vec<usize> = (0..workloads.len())
        .filter(|&i| {
            runs.iter().any(|r| cell(r, i).and_then(|x| user_bytes(workloads[i], x)).is_some())
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    out.push('\n');
    header(out, "write amp (disk bytes / user bytes)", false);
    for i in rows {
        let _ = write!(out, "| {} |", workloads[i].name());
        for r in runs {
            let amp = cell(r, i).and_then(|x| {
                Some(r.written.get(i).copied().flatten()? as f64 / user_bytes(workloads[i], x)?)
            });
            let _ = write!(out, " {} |", amp.map_or("-".into(), |a| format!("{a:.2}")));
        }
        out.push('\n');
    }
}

fn cell(r: &EngineRun, w: usize) -> Option<&WorkloadResult> {
    r.results.get(w)
}

/// Operations per second, rounded to three significant figures with a k/M suffix.
fn ops(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}
