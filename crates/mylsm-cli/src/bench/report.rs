//! Measuring a workload (per-thread latency histograms, counters and a throughput
//! timeline) and reporting it.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use serde_json::json;

use crate::mem::Rss;
use crate::writer::WriterStats;

/// Longest latency the histograms resolve, in nanoseconds; longer ones are clamped.
const MAX_LATENCY_NS: u64 = 60_000_000_000;
/// Operations a thread counts before it advances the shared progress bar, so that
/// the bar's lock stays out of the per-operation cost.
const PROGRESS_STEP: u64 = 1024;
/// Width of one bucket of the throughput timeline; short enough that a write stall
/// of a few hundred milliseconds shows as a dip.
pub const TIMELINE_INTERVAL: Duration = Duration::from_millis(100);

/// The kinds of operation a YCSB workload mixes, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Read,
    Update,
    Insert,
    Scan,
    ReadModifyWrite,
}

impl OpKind {
    const ALL: [OpKind; 5] =
        [OpKind::Read, OpKind::Update, OpKind::Insert, OpKind::Scan, OpKind::ReadModifyWrite];

    /// YCSB's name of the operation.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Read => "read",
            OpKind::Update => "update",
            OpKind::Insert => "insert",
            OpKind::Scan => "scan",
            OpKind::ReadModifyWrite => "rmw",
        }
    }
}

/// One thread's measurements of one workload.
#[derive(Debug)]
pub struct Recorder {
    hist: Histogram<u64>,
    ops: u64,
    bytes: u64,
    found: u64,
    /// Operations of each `OpKind`, for the workloads that mix them.
    kinds: [u64; OpKind::ALL.len()],
    /// Bytes of keys and values put by the workloads that also read (the YCSB mixes).
    put_bytes: u64,
    unreported: u64,
    bar: Option<ProgressBar>,
    /// When the thread started and finished its operations; merged recorders span
    /// from the earliest start to the latest finish.
    span: Option<(Instant, Instant)>,
    /// The instant every thread's timeline counts from.
    origin: Instant,
    /// Operations finished in each `TIMELINE_INTERVAL` since `origin`.
    timeline: Vec<u64>,
}

impl Recorder {
    /// An empty recorder advancing `bar`, if any, whose timeline starts at `origin`.
    pub fn new(bar: Option<ProgressBar>, origin: Instant) -> Self {
        // Three significant digits over 1 ns ..= 60 s are valid constant bounds.
        let hist = Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
            .expect("constant histogram bounds are valid");
        Recorder {
            hist,
            ops: 0,
            bytes: 0,
            found: 0,
            kinds: [0; OpKind::ALL.len()],
            put_bytes: 0,
            unreported: 0,
            bar,
            span: None,
            origin,
            timeline: Vec::new(),
        }
    }

    /// Notes that the thread's operations ran from `start` until now.
    pub fn finish(&mut self, start: Instant) {
        self.span = Some((start, Instant::now()));
        self.report_progress();
    }

    /// Wall time from the first thread's start to the last thread's finish.
    pub fn elapsed(&self) -> Duration {
        self.span.map_or(Duration::ZERO, |(start, end)| end - start)
    }

    /// Records one timed step, begun at `start`, that did `ops` operations on `bytes`
    /// bytes of keys and values.
    pub fn record(&mut self, start: Instant, ops: u64, bytes: usize) {
        // One clock read serves both the latency and the timeline bucket.
        let now = Instant::now();
        let ns = u64::try_from((now - start).as_nanos()).unwrap_or(u64::MAX);
        let bucket = ((now - self.origin).as_nanos() / TIMELINE_INTERVAL.as_nanos()) as usize;
        if bucket >= self.timeline.len() {
            self.timeline.resize(bucket + 1, 0);
        }
        self.timeline[bucket] += ops;
        self.hist.saturating_record(ns.clamp(1, MAX_LATENCY_NS));
        self.ops += ops;
        self.bytes += bytes as u64;
        self.unreported += ops;
        if self.unreported >= PROGRESS_STEP {
            self.report_progress();
        }
    }

    /// Bytes of keys and values the operations touched.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Operations recorded.
    pub fn ops(&self) -> u64 {
        self.ops
    }

    /// Reads that found their key.
    pub fn found_count(&self) -> u64 {
        self.found
    }

    /// Operations finished in each `TIMELINE_INTERVAL` since the workload started.
    pub fn timeline(&self) -> &[u64] {
        &self.timeline
    }

    /// Counts one read that found its key.
    pub fn found(&mut self) {
        self.found += 1;
    }

    /// Counts `bytes` of keys and values put by a workload that also reads; `bytes`
    /// (through `record`) counts them too.
    pub fn put(&mut self, bytes: usize) {
        self.put_bytes += bytes as u64;
    }

    /// Bytes counted by `put`.
    pub fn put_bytes(&self) -> u64 {
        self.put_bytes
    }

    /// Counts one operation of `kind` (recorded separately with `record`).
    pub fn kind(&mut self, kind: OpKind) {
        self.kinds[kind as usize] += 1;
    }

    /// The operations of each kind that were counted, leaving out absent kinds.
    pub fn kind_counts(&self) -> Vec<(OpKind, u64)> {
        OpKind::ALL.iter().map(|&k| (k, self.kinds[k as usize])).filter(|&(_, n)| n > 0).collect()
    }

    fn report_progress(&mut self) {
        if let Some(bar) = &self.bar {
            bar.inc(self.unreported);
        }
        self.unreported = 0;
    }

    /// Adds `other`'s measurements to these.
    pub fn merge(&mut self, other: Recorder) {
        // Equal bounds on both sides mean the addition cannot fail; clamping above
        // keeps every value within them.
        self.hist.add(&other.hist).expect("histograms share their bounds");
        self.ops += other.ops;
        self.bytes += other.bytes;
        self.found += other.found;
        self.put_bytes += other.put_bytes;
        for (mine, theirs) in self.kinds.iter_mut().zip(other.kinds) {
            *mine += theirs;
        }
        if other.timeline.len() > self.timeline.len() {
            self.timeline.resize(other.timeline.len(), 0);
        }
        for (mine, theirs) in self.timeline.iter_mut().zip(&other.timeline) {
            *mine += theirs;
        }
        self.span = match (self.span, other.span) {
            (Some((s1, e1)), Some((s2, e2))) => Some((s1.min(s2), e1.max(e2))),
            (a, b) => a.or(b),
        };
    }
}

/// The outcome of one workload.
#[derive(Debug)]
pub struct WorkloadResult {
    /// The db_bench name of the workload.
    pub name: &'static str,
    pub threads: usize,
    /// Whether `found` is meaningful (the workload reads single keys).
    pub reads: bool,
    pub totals: Recorder,
    /// readwhilewriting's background writer; its operations are not in `totals`.
    pub writer: Option<WriterStats>,
    /// The process's memory when the workload finished.
    pub rss: Rss,
}

impl WorkloadResult {
    /// Wall time of the workload, in seconds.
    pub fn seconds(&self) -> f64 {
        self.totals.elapsed().as_secs_f64().max(1e-9)
    }

    /// Operations per second of wall time, all threads together.
    pub fn ops_per_sec(&self) -> f64 {
        self.totals.ops as f64 / self.seconds()
    }

    /// Thread-time per operation, db_bench's measure: wall time times threads.
    fn micros_per_op(&self) -> f64 {
        self.seconds() * 1e6 * self.threads as f64 / self.totals.ops.max(1) as f64
    }

    /// MiB of keys and values per second.
    pub fn mb_per_sec(&self) -> f64 {
        self.totals.bytes as f64 / f64::from(1 << 20) / self.seconds()
    }

    /// The latency at quantile `q` (0.5 for the median), in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        self.totals.hist.value_at_quantile(q) as f64 / 1000.0
    }

    /// The longest latency, in microseconds.
    pub fn max_us(&self) -> f64 {
        self.totals.hist.max() as f64 / 1000.0
    }

    /// Operations per second in each `TIMELINE_INTERVAL` of the run.
    pub fn timeline_ops_per_sec(&self) -> Vec<f64> {
        let per_sec = 1.0 / TIMELINE_INTERVAL.as_secs_f64();
        self.totals.timeline.iter().map(|&n| n as f64 * per_sec).collect()
    }

    /// A db_bench-style line, e.g.
    /// `fillseq      :      1.234 micros/op     810372 ops/sec;   89.6 MB/s  p50 ... us`.
    pub fn human_line(&self) -> String {
        let mut line = format!(
            "{:<12} : {:>10.3} micros/op {:>10.0} ops/sec; {:>7.1} MB/s  \
             p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.1} us",
            self.name,
            self.micros_per_op(),
            self.ops_per_sec(),
            self.mb_per_sec(),
            self.quantile_us(0.5),
            self.quantile_us(0.99),
            self.quantile_us(0.999),
            self.max_us(),
        );
        if self.reads {
            let writer = self
                .writer
                .map_or_else(String::new, |w| format!("; writer {:.0} ops/sec", w.ops_per_sec()));
            // In a YCSB mix only the reads (plain or before a write) look keys up.
            let kinds = self.totals.kind_counts();
            let ops = if kinds.is_empty() {
                self.totals.ops
            } else {
                kinds
                    .iter()
                    .filter(|(k, _)| matches!(k, OpKind::Read | OpKind::ReadModifyWrite))
                    .map(|&(_, n)| n)
                    .sum()
            };
            let found = self.totals.found;
            line.push_str(&format!("  ({found} of {ops} found{writer})"));
        }
        let kinds = self.totals.kind_counts();
        if !kinds.is_empty() {
            let kinds: Vec<String> =
                kinds.iter().map(|(k, n)| format!("{} {n}", k.name())).collect();
            line.push_str(&format!("  [{}]", kinds.join(", ")));
        }
        line
    }

    /// The result as a JSON object; `found` appears for reads only, `op_counts` (the
    /// operations of each kind) for the YCSB mixes only, and the memory
    /// fields are null where `/proc` is unavailable.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = json!({
            "name": self.name,
            "ops": self.totals.ops,
            "bytes": self.totals.bytes,
            "seconds": self.seconds(),
            "ops_per_sec": self.ops_per_sec(),
            "mb_per_sec": self.mb_per_sec(),
            "micros_per_op": self.micros_per_op(),
            "p50_us": self.quantile_us(0.5),
            "p99_us": self.quantile_us(0.99),
            "p999_us": self.quantile_us(0.999),
            "max_us": self.max_us(),
            "rss_bytes": self.rss.current,
            "peak_rss_bytes": self.rss.peak,
        });
        if self.reads {
            v["found"] = json!(self.totals.found);
        }
        let kinds = self.totals.kind_counts();
        if !kinds.is_empty() {
            let kinds: serde_json::Map<String, serde_json::Value> =
                kinds.iter().map(|&(k, n)| (k.name().to_string(), json!(n))).collect();
            v["op_counts"] = serde_json::Value::Object(kinds);
        }
        if let Some(w) = self.writer {
            v["writer_ops_per_sec"] = json!(w.ops_per_sec());
        }
        v["timeline_interval_ms"] = json!(TIMELINE_INTERVAL.as_millis() as u64);
        v["timeline_ops"] = json!(self.totals.timeline);
        v
    }
}
