//! Measuring a workload (per-thread latency histograms and counters) and reporting it.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use indicatif::ProgressBar;
use serde_json::json;

use super::mem::Rss;
use super::writer::WriterStats;

/// Longest latency the histograms resolve, in nanoseconds; longer ones are clamped.
const MAX_LATENCY_NS: u64 = 60_000_000_000;
/// Operations a thread counts before it advances the shared progress bar, so that
/// the bar's lock stays out of the per-operation cost.
const PROGRESS_STEP: u64 = 1024;

/// One thread's measurements of one workload.
#[derive(Debug)]
pub struct Recorder {
    hist: Histogram<u64>,
    ops: u64,
    bytes: u64,
    found: u64,
    unreported: u64,
    bar: Option<ProgressBar>,
    /// When the thread started and finished its operations; merged recorders span
    /// from the earliest start to the latest finish.
    span: Option<(Instant, Instant)>,
}

impl Recorder {
    /// An empty recorder advancing `bar`, if any.
    pub fn new(bar: Option<ProgressBar>) -> Self {
        // Three significant digits over 1 ns ..= 60 s are valid constant bounds.
        let hist = Histogram::new_with_bounds(1, MAX_LATENCY_NS, 3)
            .expect("constant histogram bounds are valid");
        Recorder { hist, ops: 0, bytes: 0, found: 0, unreported: 0, bar, span: None }
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
        let ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
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

    /// Counts one read that found its key.
    pub fn found(&mut self) {
        self.found += 1;
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
        self.span = match (self.span, other.span) {
            (Some((s1, e1)), Some((s2, e2))) => Some((s1.min(s2), e1.max(e2))),
            (a, b) => a.or(b),
        };
    }
}

/// The outcome of one workload.
#[derive(Debug)]
pub struct WorkloadResult {
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
    fn seconds(&self) -> f64 {
        self.totals.elapsed().as_secs_f64().max(1e-9)
    }

    fn ops_per_sec(&self) -> f64 {
        self.totals.ops as f64 / self.seconds()
    }

    /// Thread-time per operation, db_bench's measure: wall time times threads.
    fn micros_per_op(&self) -> f64 {
        self.seconds() * 1e6 * self.threads as f64 / self.totals.ops.max(1) as f64
    }

    fn mb_per_sec(&self) -> f64 {
        self.totals.bytes as f64 / f64::from(1 << 20) / self.seconds()
    }

    fn quantile_us(&self, q: f64) -> f64 {
        self.totals.hist.value_at_quantile(q) as f64 / 1000.0
    }

    fn max_us(&self) -> f64 {
        self.totals.hist.max() as f64 / 1000.0
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
            let (found, ops) = (self.totals.found, self.totals.ops);
            line.push_str(&format!("  ({found} of {ops} found{writer})"));
        }
        line
    }

    /// The result as a JSON object; `found` appears for reads only, and the memory
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
        if let Some(w) = self.writer {
            v["writer_ops_per_sec"] = json!(w.ops_per_sec());
        }
        v
    }
}
