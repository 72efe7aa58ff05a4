//! The stress run: writer threads that write and acknowledge batches on stdout, and
//! reader threads that check every value they see against what was acknowledged.
//!
//! Reader checks stay sound under concurrency by bracketing each read: before it, the
//! reader loads the last acknowledged write of each key it will see (`acked`, stored
//! by the writer after its write returned, so the read must see that write or a later
//! one); after it, the latest delete issued for the key (`deleting`) and the latest
//! version its writer issued (`issued`), both stored before the write starts. A value
//! is then acceptable if it is well formed, not older than the acknowledged write and
//! not newer than anything issued; an absent key if the acknowledged write was a
//! delete or a delete was issued since.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mylsm::{Db, WriteBatch, WriteOptions};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::history::{Batch, Op};
use super::value::{self, KeyId};
use crate::error::CliError;

/// What a run does; see `StressArgs` for the meaning of each field.
#[derive(Debug, Clone)]
pub struct Config {
    pub writers: u32,
    pub readers: u32,
    pub keys_per_writer: u32,
    pub duration: Duration,
    pub sync_ratio: f64,
    pub batch_max: u32,
    pub seed: u64,
    pub first_version: u64,
    pub max_pad: usize,
    /// Checkpoints and backups to take while writing, if any.
    pub copies: Option<super::copies::CopyConfig>,
}

/// The fraction of a batch's operations that are puts; the rest are deletes.
const PUT_RATIO: f64 = 0.75;
/// The fraction of reads that are point lookups; the rest are range scans.
const GET_RATIO: f64 = 0.8;
/// The longest range a scan covers, in keys.
const SCAN_MAX: u32 = 50;
/// How often the run prints a progress comment with the engine's flush and
/// compaction counts.
const PROGRESS_EVERY: Duration = Duration::from_millis(50);

/// State the writers publish for the readers, indexed by key (`writer * keys + index`)
/// or by writer.
struct Shared {
    keys_per_writer: u32,
    /// The last acknowledged write of each key: `version << 1 | is_put`; 0 if none.
    acked: Vec<AtomicU64>,
    /// The version of the latest delete issued for each key.
    deleting: Vec<AtomicU64>,
    /// The latest version each writer issued.
    issued: Vec<AtomicU64>,
    stop: AtomicBool,
    violations: AtomicU64,
    reads: AtomicU64,
    scans: AtomicU64,
}

impl Shared {
    fn slot(&self, id: KeyId) -> usize {
        id.writer as usize * self.keys_per_writer as usize + id.index as usize
    }

    fn violation(&self, msg: &str) {
        self.violations.fetch_add(1, Ordering::Relaxed);
        eprintln!("violation: {msg}");
    }

    /// Checks what a read found under `id` against `acked_before`, loaded before the
    /// read started; the issued versions are loaded now, after it ended.
    fn check(&self, id: KeyId, acked_before: u64, found: Option<&[u8]>) {
        let (acked_version, acked_put) = (acked_before >> 1, acked_before & 1 == 1);
        let slot = self.slot(id);
        match found {
            Some(bytes) => match value::check(id, bytes) {
                Err(e) => self.violation(&format!("read {id}: {e}")),
                Ok(v) => {
                    let issued = self.issued[id.writer as usize].load(Ordering::Acquire);
                    // A batch never both puts and deletes one key, so a put at the
                    // acknowledged delete's version cannot exist.
                    if v < acked_version || (v == acked_version && !acked_put) {
                        let what = if acked_put { "put" } else { "delete" };
                        self.violation(&format!(
                            "read {id}: found version {v}, older than the acknowledged {what} at {acked_version}"
                        ));
                    } else if v > issued {
                        self.violation(&format!(
                            "read {id}: found version {v}, but writer {} issued only up to {issued}",
                            id.writer
                        ));
                    }
                }
            },
            None => {
                let deleting = self.deleting[slot].load(Ordering::Acquire);
                if acked_put && deleting <= acked_version {
                    self.violation(&format!(
                        "read {id}: absent, but the put at {acked_version} was acknowledged and no delete issued since"
                    ));
                }
            }
        }
    }
}

/// Runs the writers and readers on `db` for `cfg.duration`, printing the history on
/// stdout. Fails if a write fails or any check found a violation.
pub fn run(db: &Db, cfg: &Config) -> Result<(), CliError> {
    let keys = cfg.writers as usize * cfg.keys_per_writer as usize;
    let shared = Shared {
        keys_per_writer: cfg.keys_per_writer,
        acked: (0..keys).map(|_| AtomicU64::new(0)).collect(),
        deleting: (0..keys).map(|_| AtomicU64::new(0)).collect(),
        issued: (0..cfg.writers).map(|_| AtomicU64::new(0)).collect(),
        stop: AtomicBool::new(false),
        violations: AtomicU64::new(0),
        reads: AtomicU64::new(0),
        scans: AtomicU64::new(0),
    };
    let max_found = load_existing(db, &shared, cfg)?;
    // Versions must stay above everything already in the database, so that a value
    // from before this run is never mistaken for one of its writes.
    let first_version = cfg.first_version.max(max_found + 1);
    for issued in &shared.issued {
        issued.store(first_version - 1, Ordering::Relaxed);
    }
    emit(&format!(
        "# stress writers={} keys-per-writer={} first-version={first_version} seed={}\n",
        cfg.writers, cfg.keys_per_writer, cfg.seed
    ))?;
    let started = Instant::now();
    let (acks, write_error) = std::thread::scope(|s| {
        let writers: Vec<_> = (0..cfg.writers)
            .map(|w| {
                let shared = &shared;
                s.spawn(move || {
                    let result = write_loop(db, shared, cfg, w, first_version);
                    if result.is_err() {
                        shared.stop.store(true, Ordering::Release);
                    }
                    result
                })
            })
            .collect();
        for r in 0..cfg.readers {
            let shared = &shared;
            s.spawn(move || read_loop(db, shared, cfg, r));
        }
        let copier = cfg.copies.as_ref().map(|c| {
            let shared = &shared;
            s.spawn(move || {
                let result = super::copies::run(db, c, &shared.stop);
                if result.is_err() {
                    shared.stop.store(true, Ordering::Release);
                }
                result
            })
        });
        // Progress lines let whoever kills the run see what the engine was doing.
        let mut last_progress = Instant::now();
        while !shared.stop.load(Ordering::Acquire) && started.elapsed() < cfg.duration {
            std::thread::sleep(Duration::from_millis(10));
            if last_progress.elapsed() >= PROGRESS_EVERY {
                last_progress = Instant::now();
                let st = db.stats();
                let l0 = st.levels.first().map_or(0, |l| l.files);
                let line = format!(
                    "# progress flushes={} compactions={} l0={l0} stalls={}\n",
                    st.flushes, st.compactions, st.write_stalls
                );
                if emit(&line).is_err() {
                    break;
                }
            }
        }
        shared.stop.store(true, Ordering::Release);
        let mut acks = 0;
        let mut error = None;
        for h in writers {
            match h.join() {
                Ok(Ok(n)) => acks += n,
                Ok(Err(e)) => error = error.or(Some(e)),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        if let Some(h) = copier {
            match h.join() {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => error = error.or(Some(e)),
                Err(p) => std::panic::resume_unwind(p),
            }
        }
        (acks, error)
    });
    if let Some(e) = write_error {
        return Err(e);
    }
    emit(&format!(
        "# done: {acks} batches acknowledged, {} reads, {} scans in {:.1}s\n",
        shared.reads.load(Ordering::Relaxed),
        shared.scans.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64()
    ))?;
    match shared.violations.load(Ordering::Relaxed) {
        0 => Ok(()),
        n => Err(CliError::Input(format!("stress: {n} violations (listed above)"))),
    }
}

/// Checks every entry already in the database and records it as acknowledged, so that
/// readers hold it to the same standard as this run's writes. Returns the highest
/// version found.
fn load_existing(db: &Db, shared: &Shared, cfg: &Config) -> Result<u64, CliError> {
    let mut max = 0;
    for item in db.iter() {
        let (key, bytes) = item?;
        let Some(id) = KeyId::parse(&key) else {
            shared.violation(&format!("foreign key {:?}", String::from_utf8_lossy(&key)));
            continue;
        };
        match value::check(id, &bytes) {
            Err(e) => shared.violation(&format!("existing {id}: {e}")),
            Ok(v) => {
                max = max.max(v);
                if id.writer < cfg.writers && id.index < cfg.keys_per_writer {
                    shared.acked[shared.slot(id)].store(v << 1 | 1, Ordering::Relaxed);
                }
            }
        }
    }
    Ok(max)
}

/// Writes one history line and flushes it, so that it reaches the reader of stdout
/// before anything that follows it happens.
pub(super) fn emit(line: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .map_err(CliError::io("writing the stress history"))
}

/// Writer `w`'s loop: returns how many batches it had acknowledged when told to stop.
fn write_loop(
    db: &Db,
    shared: &Shared,
    cfg: &Config,
    w: u32,
    first_version: u64,
) -> Result<u64, CliError> {
    let mut rng =
        SmallRng::seed_from_u64(cfg.seed.wrapping_mul(0x9e37_79b9).wrapping_add(u64::from(w)));
    let mut version = first_version;
    let mut acks = 0;
    while !shared.stop.load(Ordering::Acquire) {
        let n = rng.random_range(1..=cfg.batch_max.min(cfg.keys_per_writer)) as usize;
        // Distinct keys: the readers' checks assume a batch touches a key once.
        let indices = rand::seq::index::sample(&mut rng, cfg.keys_per_writer as usize, n);
        let batch = Batch {
            writer: w,
            version,
            sync: rng.random_bool(cfg.sync_ratio),
            ops: indices
                .iter()
                .map(|i| Op { index: i as u32, put: rng.random_bool(PUT_RATIO) })
                .collect(),
        };
        let mut wb = WriteBatch::new();
        shared.issued[w as usize].store(version, Ordering::Release);
        for op in &batch.ops {
            let id = KeyId { writer: w, index: op.index };
            if op.put {
                wb.put(
                    id.key(),
                    value::value(id, version, value::pad_len(id, version, cfg.max_pad)),
                );
            } else {
                shared.deleting[shared.slot(id)].store(version, Ordering::Release);
                wb.delete(id.key());
            }
        }
        emit(&batch.try_line())?;
        db.write_opt(wb, &WriteOptions::default().with_sync(batch.sync))?;
        for op in &batch.ops {
            let slot = shared.slot(KeyId { writer: w, index: op.index });
            shared.acked[slot].store(version << 1 | u64::from(op.put), Ordering::Release);
        }
        emit(&batch.ack_line())?;
        acks += 1;
        version += 1;
    }
    Ok(acks)
}

/// Reader `r`'s loop: point lookups and forward and reverse scans of random keys.
fn read_loop(db: &Db, shared: &Shared, cfg: &Config, r: u32) {
    let mut rng = SmallRng::seed_from_u64(cfg.seed ^ 0x5eed_0000_0000 ^ u64::from(r));
    let result = (|| -> mylsm::Result<()> {
        while !shared.stop.load(Ordering::Acquire) {
            let writer = rng.random_range(0..cfg.writers);
            let start = rng.random_range(0..cfg.keys_per_writer);
            if rng.random_bool(GET_RATIO) {
                let id = KeyId { writer, index: start };
                let before = shared.acked[shared.slot(id)].load(Ordering::Acquire);
                let found = db.get(id.key())?;
                shared.check(id, before, found.as_deref());
                shared.reads.fetch_add(1, Ordering::Relaxed);
            } else {
                let end = (start + rng.random_range(1..=SCAN_MAX)).min(cfg.keys_per_writer);
                scan(db, shared, writer, start..end, rng.random_bool(0.5))?;
                shared.scans.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        shared.violation(&format!("reader {r}: read failed: {e}"));
        shared.stop.store(true, Ordering::Release);
    }
}

/// Scans keys `range` of `writer` and checks every key in the range, present or not.
fn scan(
    db: &Db,
    shared: &Shared,
    writer: u32,
    range: std::ops::Range<u32>,
    reverse: bool,
) -> mylsm::Result<()> {
    let id = |index| KeyId { writer, index };
    let before: Vec<u64> =
        range.clone().map(|i| shared.acked[shared.slot(id(i))].load(Ordering::Acquire)).collect();
    let it = db.range(id(range.start).key()..id(range.end).key());
    let items: Vec<_> = if reverse { it.rev().collect() } else { it.collect() };
    let mut found: Vec<Option<Vec<u8>>> = vec![None; before.len()];
    let mut last: Option<Vec<u8>> = None;
    for item in items {
        let (key, bytes) = item?;
        let in_range =
            KeyId::parse(&key).filter(|k| k.writer == writer && range.contains(&k.index));
        let Some(k) = in_range else {
            let key = String::from_utf8_lossy(&key);
            shared.violation(&format!(
                "scan of {}..{}: key {key:?} outside it",
                id(range.start),
                id(range.end)
            ));
            continue;
        };
        let ordered =
            last.as_deref().is_none_or(|l| if reverse { l > &key[..] } else { l < &key[..] });
        if !ordered {
            shared.violation(&format!("scan: {k} out of order"));
        }
        last = Some(key.to_vec());
        found[(k.index - range.start) as usize] = Some(bytes.to_vec());
    }
    for (i, f) in found.iter().enumerate() {
        shared.check(id(range.start + i as u32), before[i], f.as_deref());
    }
    Ok(())
}
