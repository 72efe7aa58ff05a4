//! The benchmark workloads, db_bench's semantics, and the threads that run them on
//! any [`Engine`].

mod ycsb;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use crate::engine::{Engine, Entry};
use crate::gen::{KeyFormat, KeyOrder, ValueGen};
use crate::report::{OpKind, Recorder, WorkloadResult};
use crate::writer;
use crate::zipf::Latest;

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
    /// Reads R keys (--reads, default N) in random order.
    ReadRandom,
    /// Reads R keys in random order with T threads while one more thread
    /// overwrites random keys until they finish.
    ReadWhileWriting,
    /// Reads R keys that are absent.
    ReadMissing,
    /// R times: seeks to a random existing key and reads up to 10 entries from there.
    SeekRandom,
    /// Iterates over the whole database forwards.
    ReadSeq,
    /// Iterates over the whole database backwards.
    ReadReverse,
    /// Deletes the first 100 keys of every 200 in key order, one range delete each
    /// (N/200 range tombstones); run readrandom or seekrandom after it to read the rest.
    DeleteRange,
    /// Adds 1 to N random counters (u64) with merge operands, reading nothing, into an
    /// empty database.
    MergeRandom,
    /// mergerandom done as a read and a write per counter (db_bench's updaterandom).
    UpdateRandom,
    /// R optimistic transactions, each reading two random keys and writing both; the
    /// "found" count is the transactions that committed (the rest conflicted).
    TxnRandom,
    /// YCSB workload A, update heavy: R operations, 50% reads and 50% updates of
    /// zipfian-chosen keys.
    YcsbA,
    /// YCSB workload B, read mostly: 95% reads, 5% updates, zipfian.
    YcsbB,
    /// YCSB workload C, read only: 100% reads, zipfian.
    YcsbC,
    /// YCSB workload D, read latest: 95% reads favouring the newest keys, 5% inserts
    /// of new keys (numbered from N up).
    YcsbD,
    /// YCSB workload E, short ranges: 95% scans of 1 to 100 entries (uniform) from a
    /// zipfian-chosen key, 5% inserts of new keys.
    YcsbE,
    /// YCSB workload F, read-modify-write: 50% reads, 50% reads each followed by a
    /// write of the key (one latency), zipfian.
    YcsbF,
}

/// The workloads run when `--workloads` is not given: db_bench's core set.
pub const DEFAULT_WORKLOADS: [Workload; 7] = [
    Workload::FillSeq,
    Workload::FillRandom,
    Workload::Overwrite,
    Workload::ReadRandom,
    Workload::ReadSeq,
    Workload::ReadReverse,
    Workload::DeleteRandom,
];

/// Keys written per batch by `fillbatch`.
const FILLBATCH_ENTRIES: usize = 1000;
/// Entries `seekrandom` reads after each seek, db_bench's default `--seek_nexts`
/// for range-scan benchmarks.
const SEEK_NEXTS: usize = 10;
/// `deleterange` deletes the first `RANGE_WIDTH` keys of every `RANGE_STRIDE`.
const RANGE_STRIDE: u64 = 200;
const RANGE_WIDTH: u64 = 100;
/// The longest scan of YCSB workload E, YCSB's `maxscanlength`.
const YCSB_MAX_SCAN: usize = 100;

/// The parameters every workload shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Keys in the database, and operations per write workload.
    pub num: u64,
    /// Operations per point-read workload; `None`: `num`.
    pub reads: Option<u64>,
    pub value_size: usize,
    pub keys: KeyFormat,
    pub threads: usize,
    /// Entries per write batch of fills, overwrite and deletes (fillbatch: 1000);
    /// latencies are per batch, operations per entry.
    pub batch: usize,
    /// Sync every write (fillsync always does).
    pub sync: bool,
    pub seed: u64,
    /// Run each timed workload (`Workload::timed`) for this long instead of for a
    /// number of operations.
    pub duration: Option<Duration>,
}

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
            Workload::DeleteRange => "deleterange",
            Workload::MergeRandom => "mergerandom",
            Workload::UpdateRandom => "updaterandom",
            Workload::TxnRandom => "txnrandom",
            Workload::YcsbA => "ycsba",
            Workload::YcsbB => "ycsbb",
            Workload::YcsbC => "ycsbc",
            Workload::YcsbD => "ycsbd",
            Workload::YcsbE => "ycsbe",
            Workload::YcsbF => "ycsbf",
        }
    }

    /// Whether the workload starts from an empty database.
    pub fn fresh_db(self) -> bool {
        matches!(
            self,
            Workload::FillSeq
                | Workload::FillRandom
                | Workload::FillSync
                | Workload::FillBatch
                | Workload::MergeRandom
                | Workload::UpdateRandom
        )
    }

    /// Whether the workload writes (puts or deletes), so that what it leaves behind
    /// (flushes, compactions, stalls) is worth reporting after it.
    pub fn writes(self) -> bool {
        self.puts()
            || matches!(
                self,
                Workload::DeleteRandom
                    | Workload::DeleteSeq
                    | Workload::DeleteRange
                    | Workload::YcsbA
                    | Workload::YcsbB
                    | Workload::YcsbD
                    | Workload::YcsbE
                    | Workload::YcsbF
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
                | Workload::TxnRandom
                | Workload::YcsbA
                | Workload::YcsbB
                | Workload::YcsbC
                | Workload::YcsbD
                | Workload::YcsbF
        )
    }

    /// Whether the workload is one of YCSB's core mixes, which choose their keys from
    /// a distribution rather than a key order.
    fn ycsb(self) -> bool {
        matches!(
            self,
            Workload::YcsbA
                | Workload::YcsbB
                | Workload::YcsbC
                | Workload::YcsbD
                | Workload::YcsbE
                | Workload::YcsbF
        )
    }

    /// Whether `--duration` applies: the point-read, seek and mixed workloads, whose
    /// operations can go on for as long as asked. The fills, deletes and scans have a
    /// natural end (the keys) and ignore it.
    pub fn timed(self) -> bool {
        self.point_reads() || self.ycsb()
    }

    /// The shares of each kind of operation in a YCSB mix, as YCSB's
    /// `workloads/workloada` .. `workloadf` set them.
    fn ycsb_mix(self) -> &'static [(OpKind, f64)] {
        match self {
            Workload::YcsbA => &[(OpKind::Read, 0.5), (OpKind::Update, 0.5)],
            Workload::YcsbB => &[(OpKind::Read, 0.95), (OpKind::Update, 0.05)],
            Workload::YcsbD => &[(OpKind::Read, 0.95), (OpKind::Insert, 0.05)],
            Workload::YcsbE => &[(OpKind::Scan, 0.95), (OpKind::Insert, 0.05)],
            Workload::YcsbF => &[(OpKind::Read, 0.5), (OpKind::ReadModifyWrite, 0.5)],
            _ => &[(OpKind::Read, 1.0)],
        }
    }

    /// Whether the workload's bytes are keys and values it put, the user bytes that
    /// write amplification divides by (deletes write no values). The YCSB mixes read
    /// as well, so they count what they put apart (`Recorder::put_bytes`).
    pub fn puts(self) -> bool {
        matches!(
            self,
            Workload::FillSeq
                | Workload::FillRandom
                | Workload::Overwrite
                | Workload::FillSync
                | Workload::FillBatch
                | Workload::MergeRandom
                | Workload::UpdateRandom
        )
    }

    /// Operations the workload does, `None` for the scans (as many as there are keys).
    fn ops(self, s: &Settings) -> Option<u64> {
        match self {
            Workload::FillSync => Some(s.num / 100),
            Workload::DeleteRange => Some(s.num / RANGE_STRIDE),
            Workload::ReadSeq | Workload::ReadReverse => None,
            w if w.point_reads() || w.ycsb() => Some(s.reads.unwrap_or(s.num)),
            _ => Some(s.num),
        }
    }

    /// How many operations a progress bar for the workload counts to: each thread of
    /// a scan reads every key.
    pub fn progress_total(self, s: &Settings) -> u64 {
        self.ops(s).unwrap_or(s.num * s.threads as u64)
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
            | Workload::ReadMissing
            | Workload::SeekRandom
            | Workload::MergeRandom
            | Workload::UpdateRandom
            | Workload::TxnRandom => KeyOrder::random(num, seed.wrapping_mul(31) + self as u64),
            _ => KeyOrder::Sequential,
        }
    }
}

/// Runs `workload` on `engine` with `settings.threads` threads, advancing `bar`.
pub fn execute<E: Engine>(
    engine: &E,
    workload: Workload,
    settings: &Settings,
    bar: Option<ProgressBar>,
) -> Result<WorkloadResult, E::Error> {
    let threads = settings.threads;
    // The key order is built before the clock starts: shuffling is not the workload.
    let order = workload.key_order(settings.num, settings.seed);
    let ops = workload.ops(settings);
    let duration = settings.duration.filter(|_| workload.timed());
    // YCSB's inserts number new keys from N up, shared by the threads; workload D's
    // "latest" chooser starts from a zeta over the loaded keys, computed here once.
    let inserted = AtomicU64::new(settings.num);
    let latest = (workload == Workload::YcsbD).then(|| Latest::new(settings.num));
    // readwhilewriting's writer runs beside the readers until they are done.
    let with_writer = workload == Workload::ReadWhileWriting;
    let stop = AtomicBool::new(false);
    // The barrier lines the threads up so that none runs alone while others start.
    let barrier = Barrier::new(threads + usize::from(with_writer));
    let origin = Instant::now();
    let (outcomes, writer) = std::thread::scope(|s| {
        let writer =
            with_writer.then(|| s.spawn(|| writer::run(engine, settings, &stop, &barrier)));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (order, barrier, bar) = (&order, &barrier, bar.clone());
                let (inserted, latest) = (&inserted, latest.clone());
                // Thread t does operations [t*ops/T, (t+1)*ops/T), or from t*ops/T on
                // until the time is up.
                let span = ops.map(|n| {
                    let lo = n * t as u64 / threads as u64;
                    let hi = n * (t as u64 + 1) / threads as u64;
                    (lo, if duration.is_some() { u64::MAX } else { hi })
                });
                s.spawn(move || {
                    let mut values = ValueGen::new(settings.seed + t as u64, settings.value_size);
                    let mut rec = Recorder::new(bar, origin);
                    let mut thread = Thread {
                        settings,
                        order,
                        values: &mut values,
                        rec: &mut rec,
                        deadline: None,
                        inserted,
                        latest,
                        seed: settings.seed.wrapping_mul(31).wrapping_add(t as u64),
                    };
                    // Each thread times itself; the workload's time runs from the first
                    // start to the last finish.
                    barrier.wait();
                    let start = Instant::now();
                    thread.deadline = duration.map(|d| start + d);
                    thread.run(engine, workload, span)?;
                    rec.finish(start);
                    Ok::<_, E::Error>(rec)
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
    let mut totals = Recorder::new(None, origin);
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
        rss: crate::mem::Rss::default(),
    })
}

/// One thread's state while it runs its share of a workload.
struct Thread<'a> {
    settings: &'a Settings,
    order: &'a KeyOrder,
    values: &'a mut ValueGen,
    rec: &'a mut Recorder,
    /// When a `--duration` run stops.
    deadline: Option<Instant>,
    /// The next key number a YCSB insert takes.
    inserted: &'a AtomicU64,
    /// Workload D's key chooser.
    latest: Option<Latest>,
    /// The seed of this thread's YCSB choices.
    seed: u64,
}

impl Thread<'_> {
    /// Operations `span` of `workload` (the whole database for scans).
    fn run<E: Engine>(
        &mut self,
        engine: &E,
        workload: Workload,
        span: Option<(u64, u64)>,
    ) -> Result<(), E::Error> {
        let (lo, hi) = span.unwrap_or((0, 0));
        let keys = self.settings.keys;
        match workload {
            Workload::FillSeq
            | Workload::FillRandom
            | Workload::Overwrite
            | Workload::FillSync
            | Workload::FillBatch
            | Workload::DeleteRandom
            | Workload::DeleteSeq => {
                let batch = match workload {
                    Workload::FillBatch => FILLBATCH_ENTRIES,
                    _ => self.settings.batch.max(1),
                };
                let sync = self.settings.sync || workload == Workload::FillSync;
                let delete = matches!(workload, Workload::DeleteRandom | Workload::DeleteSeq);
                self.write(engine, lo..hi, batch, delete, sync)?;
            }
            Workload::ReadRandom | Workload::ReadWhileWriting | Workload::ReadMissing => {
                for j in lo..hi {
                    if self.expired() {
                        break;
                    }
                    let i = self.order.at(j);
                    // A missing key is an existing one with a dot appended.
                    let key = if workload == Workload::ReadMissing {
                        keys.missing_key(i)
                    } else {
                        keys.key(i)
                    };
                    let key = key.as_bytes();
                    let start = Instant::now();
                    let value = engine.get(key)?;
                    self.rec.record(start, 1, value.map_or(0, |n| key.len() + n));
                    if value.is_some() {
                        self.rec.found();
                    }
                }
            }
            Workload::SeekRandom => {
                for j in lo..hi {
                    if self.expired() {
                        break;
                    }
                    let key = keys.key(self.order.at(j));
                    let key = key.as_bytes();
                    let (mut bytes, mut first) = (0, true);
                    let mut found = false;
                    let start = Instant::now();
                    engine.seek(key, SEEK_NEXTS, &mut |k, v| {
                        bytes += k.len() + v.len();
                        found |= first && k == key;
                        first = false;
                    })?;
                    self.rec.record(start, 1, bytes);
                    if found {
                        self.rec.found();
                    }
                }
            }
            Workload::DeleteRange => {
                for j in lo..hi {
                    let first = j * RANGE_STRIDE;
                    let (a, b) = (keys.key(first), keys.key(first + RANGE_WIDTH));
                    let start = Instant::now();
                    if !engine.delete_range(a.as_bytes(), b.as_bytes())? {
                        break;
                    }
                    self.rec.record(start, 1, a.as_bytes().len() + b.as_bytes().len());
                }
            }
            Workload::MergeRandom | Workload::UpdateRandom => {
                for j in lo..hi {
                    let key = keys.key(self.order.at(j));
                    let key = key.as_bytes();
                    let start = Instant::now();
                    let done = if workload == Workload::MergeRandom {
                        engine.merge_add(key, 1)?
                    } else {
                        engine.update_add(key, 1)?
                    };
                    if !done {
                        break;
                    }
                    self.rec.record(start, 1, key.len() + 8);
                }
            }
            Workload::TxnRandom => {
                let n = self.settings.num.max(1);
                for j in lo..hi {
                    if self.expired() {
                        break;
                    }
                    let (a, b) =
                        (keys.key(self.order.at(j)), keys.key(self.order.at((j * 7 + 3) % n)));
                    let start = Instant::now();
                    let Some(committed) = engine.txn_swap(a.as_bytes(), b.as_bytes())? else {
                        break;
                    };
                    self.rec.record(start, 1, a.as_bytes().len() + b.as_bytes().len());
                    if committed {
                        self.rec.found();
                    }
                }
            }
            Workload::ReadSeq | Workload::ReadReverse => {
                // Each entry's latency is the time since the previous one arrived, so
                // the first includes creating the iterator, as it does in db_bench.
                let rec = &mut *self.rec;
                let mut start = Instant::now();
                engine.scan(workload == Workload::ReadReverse, &mut |k, v| {
                    rec.record(start, 1, k.len() + v.len());
                    start = Instant::now();
                })?;
            }
            Workload::YcsbA
            | Workload::YcsbB
            | Workload::YcsbC
            | Workload::YcsbD
            | Workload::YcsbE
            | Workload::YcsbF => self.ycsb(engine, workload, hi - lo)?,
        }
        Ok(())
    }

    /// Whether a `--duration` run's time is up.
    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Puts a fresh value at `key`; the bytes written.
    fn put<E: Engine>(&mut self, engine: &E, key: &[u8], sync: bool) -> Result<usize, E::Error> {
        let value = self.values.next_value();
        engine.write(&[Entry { key, value: Some(value) }], sync)?;
        let bytes = key.len() + value.len();
        self.rec.put(bytes);
        Ok(bytes)
    }

    /// Puts (or deletes) the keys of operations `ops` in batches of `batch`.
    fn write<E: Engine>(
        &mut self,
        engine: &E,
        ops: std::ops::Range<u64>,
        batch: usize,
        delete: bool,
        sync: bool,
    ) -> Result<(), E::Error> {
        let keys = self.settings.keys;
        // Buffers reused across batches so that the timed loop does not allocate.
        let mut key_bufs = Vec::with_capacity(batch);
        let mut value_bufs: Vec<Vec<u8>> = Vec::with_capacity(batch);
        let mut first = ops.start;
        while first < ops.end {
            let last = ops.end.min(first + batch as u64);
            key_bufs.clear();
            key_bufs.extend((first..last).map(|j| keys.key(self.order.at(j))));
            let mut bytes = 0;
            if !delete {
                value_bufs.resize_with(key_bufs.len(), Vec::new);
                for v in &mut value_bufs[..key_bufs.len()] {
                    v.clear();
                    v.extend_from_slice(self.values.next_value());
                }
            }
            let entries: Vec<Entry<'_>> = key_bufs
                .iter()
                .enumerate()
                .map(|(n, k)| {
                    let value = (!delete).then(|| value_bufs[n].as_slice());
                    bytes += k.as_bytes().len() + value.map_or(0, <[u8]>::len);
                    Entry { key: k.as_bytes(), value }
                })
                .collect();
            let start = Instant::now();
            engine.write(&entries, sync)?;
            self.rec.record(start, last - first, bytes);
            first = last;
        }
        Ok(())
    }
}
