//! The benchmark workloads, db_bench's semantics, and the threads that run them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use mylsm::{Db, WriteBatch, WriteOptions};

use super::gen::{self, KeyOrder, ValueGen, KEY_LEN};
use super::report::{Recorder, WorkloadResult};
use super::writer;
use super::Settings;
use crate::error::CliError;
use crate::progress;

/// One benchmark workload, named as in LevelDB's db_bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "lower")]
pub enum Workload {
    /// Writes N values in key order into an empty database.
    FillSeq,
    /// Writes N values in random key order into an empty database.
    FillRandom,
    /// Rewrites N values in random key order.
    Overwrite,
    /// Writes N/100 values in random key order, each synced, into an empty database.
    FillSync,
    /// Writes N values in key order in batches of 1000 into an empty database
    /// (latencies are per batch).
    FillBatch,
    /// Deletes N keys in random order.
    DeleteRandom,
    /// Deletes N keys in key order.
    DeleteSeq,
    /// Reads N keys in random order.
    ReadRandom,
    /// Reads N keys in random order with T threads while one more thread
    /// overwrites random keys until they finish.
    ReadWhileWriting,
    /// Reads N keys that are absent.
    ReadMissing,
    /// N times: opens an iterator, seeks to a random existing key and reads up to 10
    /// entries from there.
    SeekRandom,
    /// Iterates over the whole database forwards.
    ReadSeq,
    /// Iterates over the whole database backwards.
    ReadReverse,
}

/// Keys written per batch by `fillbatch`.
const BATCH_ENTRIES: u64 = 1000;
/// Entries `seekrandom` reads after each seek, db_bench's default `--seek_nexts`
/// for range-scan benchmarks.
const SEEK_NEXTS: usize = 10;

impl Workload {
    /// The db_bench name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::FillSeq => "fillseq",
            Workload::FillRandom => "fillrandom",
            Workload::Overwrite => "overwrite",
            Workload::FillSync => "fillsync",
            Workload::FillBatch => "fillbatch",
            Workload::DeleteRandom => "deleterandom",
            Workload::DeleteSeq => "deleteseq",
            Workload::ReadRandom => "readrandom",
            Workload::ReadWhileWriting => "readwhilewriting",
            Workload::ReadMissing => "readmissing",
            Workload::SeekRandom => "seekrandom",
            Workload::ReadSeq => "readseq",
            Workload::ReadReverse => "readreverse",
        }
    }

    /// Whether the workload starts from an empty database.
    pub fn fresh_db(self) -> bool {
        matches!(
            self,
            Workload::FillSeq | Workload::FillRandom | Workload::FillSync | Workload::FillBatch
        )
    }

    /// Whether the workload looks up keys one by one, so that its found count means
    /// something.
    fn point_reads(self) -> bool {
        matches!(
            self,
            Workload::ReadRandom
                | Workload::ReadWhileWriting
                | Workload::ReadMissing
                | Workload::SeekRandom
        )
    }

    /// Whether the workload's bytes are keys and values it put, the user bytes that
    /// write amplification divides by (deletes write no values).
    pub fn puts(self) -> bool {
        matches!(
            self,
            Workload::FillSeq
                | Workload::FillRandom
                | Workload::Overwrite
                | Workload::FillSync
                | Workload::FillBatch
        )
    }

    /// Operations the workload does, `None` for the scans (as many as there are keys).
    fn ops(self, num: u64) -> Option<u64> {
        match self {
            Workload::FillSync => Some(num / 100),
            Workload::ReadSeq | Workload::ReadReverse => None,
            _ => Some(num),
        }
    }

    /// The order the workload visits keys in; random orders get a seed of their own
    /// per workload so that, say, overwrite does not replay fillrandom's order.
    fn key_order(self, num: u64, seed: u64) -> KeyOrder {
        match self {
            Workload::FillRandom
            | Workload::Overwrite
            | Workload::FillSync
            | Workload::DeleteRandom
            | Workload::ReadRandom
            | Workload::ReadWhileWriting
            | Workload::SeekRandom => KeyOrder::random(num, seed.wrapping_mul(31) + self as u64),
            _ => KeyOrder::Sequential,
        }
    }
}

/// Runs `workload` on `db` with `settings.threads` threads, showing a progress bar
/// when `show_progress` and stderr is a terminal.
pub fn execute(
    db: &Db,
    workload: Workload,
    settings: &Settings,
    show_progress: bool,
) -> Result<WorkloadResult, CliError> {
    let threads = settings.threads;
    // The key order is built before the clock starts: shuffling is not the workload.
    let order = workload.key_order(settings.num, settings.seed);
    let ops = workload.ops(settings.num);
    let bar = if show_progress {
        progress::ops(ops.unwrap_or(settings.num) * scan_factor(workload, threads), workload.name())
    } else {
        None
    };
    // readwhilewriting's writer runs beside the readers until they are done.
    let with_writer = workload == Workload::ReadWhileWriting;
    let stop = AtomicBool::new(false);
    // The barrier lines the threads up so that none runs alone while others start.
    let barrier = Barrier::new(threads + usize::from(with_writer));
    let (outcomes, writer) = std::thread::scope(|s| {
        let writer = with_writer.then(|| s.spawn(|| writer::run(db, settings, &stop, &barrier)));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (db, order, barrier, bar) = (db.clone(), &order, &barrier, bar.clone());
                // Thread t does operations [t*ops/T, (t+1)*ops/T).
                let span = ops
                    .map(|n| (n * t as u64 / threads as u64, n * (t as u64 + 1) / threads as u64));
                s.spawn(move || {
                    let mut values = ValueGen::new(settings.seed + t as u64, settings.value_size);
                    let mut rec = Recorder::new(bar);
                    // Each thread times itself; the workload's time runs from the first
                    // start to the last finish.
                    barrier.wait();
                    let start = Instant::now();
                    run_thread(&db, workload, order, span, &mut values, &mut rec)?;
                    rec.finish(start);
                    Ok::<_, mylsm::Error>(rec)
                })
            })
            .collect();
        let outcomes = handles.into_iter().map(|h| h.join()).collect::<Vec<_>>();
        stop.store(true, Ordering::Relaxed);
        (outcomes, writer.map(|h| h.join()))
    });
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let mut totals = Recorder::new(None);
    for outcome in outcomes {
        // A panicking worker is a bug; re-raising it keeps its message and location.
        let rec = outcome.unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        totals.merge(rec);
    }
    let writer = writer.map(|w| w.unwrap_or_else(|p| std::panic::resume_unwind(p))).transpose()?;
    Ok(WorkloadResult {
        name: workload.name(),
        threads,
        reads: workload.point_reads(),
        totals,
        writer,
        rss: super::mem::Rss::default(),
    })
}

/// How many times over the keys a workload's progress bar counts: each thread of a
/// scan reads every key.
fn scan_factor(workload: Workload, threads: usize) -> u64 {
    if workload.ops(1).is_none() {
        threads as u64
    } else {
        1
    }
}

/// One thread's share of a workload: operations `span` (the whole database for scans).
fn run_thread(
    db: &Db,
    workload: Workload,
    order: &KeyOrder,
    span: Option<(u64, u64)>,
    values: &mut ValueGen,
    rec: &mut Recorder,
) -> mylsm::Result<()> {
    let (lo, hi) = span.unwrap_or((0, 0));
    let sync = WriteOptions { sync: workload == Workload::FillSync };
    match workload {
        Workload::FillSeq | Workload::FillRandom | Workload::Overwrite | Workload::FillSync => {
            for j in lo..hi {
                let key = gen::key(order.at(j));
                let value = values.next_value();
                let start = Instant::now();
                let mut batch = WriteBatch::new();
                batch.put(key, value);
                db.write_opt(batch, &sync)?;
                rec.record(start, 1, KEY_LEN + value.len());
            }
        }
        Workload::FillBatch => {
            for first in (lo..hi).step_by(BATCH_ENTRIES as usize) {
                let last = hi.min(first + BATCH_ENTRIES);
                let start = Instant::now();
                let mut batch = WriteBatch::new();
                let mut bytes = 0;
                for j in first..last {
                    let value = values.next_value();
                    bytes += KEY_LEN + value.len();
                    batch.put(gen::key(order.at(j)), value);
                }
                db.write_opt(batch, &sync)?;
                rec.record(start, last - first, bytes);
            }
        }
        Workload::DeleteRandom | Workload::DeleteSeq => {
            for j in lo..hi {
                let key = gen::key(order.at(j));
                let start = Instant::now();
                db.delete(key)?;
                rec.record(start, 1, KEY_LEN);
            }
        }
        Workload::ReadRandom | Workload::ReadWhileWriting | Workload::ReadMissing => {
            for j in lo..hi {
                // A missing key is an existing one with a dot appended.
                let padded = gen::missing_key(order.at(j));
                let key = if workload == Workload::ReadMissing {
                    &padded[..]
                } else {
                    &padded[..KEY_LEN]
                };
                let start = Instant::now();
                let value = db.get(key)?;
                let bytes = value.as_ref().map_or(0, |v| key.len() + v.len());
                rec.record(start, 1, bytes);
                if value.is_some() {
                    rec.found();
                }
            }
        }
        Workload::SeekRandom => {
            for j in lo..hi {
                let key = gen::key(order.at(j));
                let start = Instant::now();
                // A new iterator per seek, as db_bench does: its creation (pinning the
                // current version) is part of what a short range scan costs.
                let mut iter = db.iter();
                iter.seek(key);
                let mut bytes = 0;
                for (i, entry) in iter.take(SEEK_NEXTS).enumerate() {
                    let (k, v) = entry?;
                    bytes += k.len() + v.len();
                    if i == 0 && k[..] == key[..] {
                        rec.found();
                    }
                }
                rec.record(start, 1, bytes);
            }
        }
        Workload::ReadSeq | Workload::ReadReverse => {
            let mut iter = db.iter();
            loop {
                let start = Instant::now();
                let entry =
                    if workload == Workload::ReadSeq { iter.next() } else { iter.next_back() };
                let Some(entry) = entry else { break };
                let (key, value) = entry?;
                rec.record(start, 1, key.len() + value.len());
            }
        }
    }
    Ok(())
}
