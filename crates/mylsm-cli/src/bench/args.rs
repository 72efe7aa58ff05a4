//! The options of `mylsm bench` and their translation into the benchmark's settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use mylsm_bench::gen::{KeyFormat, KEY_LEN};
use mylsm_bench::{EngineConfig, Settings, Workload, DEFAULT_WORKLOADS};

use super::Run;
use crate::error::CliError;
use crate::CompressionArg;

/// The most keys `--num` takes: the random key order alone is 8 bytes a key.
const MAX_NUM: u64 = 1_000_000_000;
/// The most operations `--reads` takes, far beyond any run's patience, so that
/// per-thread operation counts cannot overflow.
const MAX_READS: u64 = 1_000_000_000_000;

/// `--value-size`: at most the engine's largest value.
fn value_size(s: &str) -> Result<usize, String> {
    let n: usize = s.parse().map_err(|e| format!("{e}"))?;
    if n > mylsm::MAX_VALUE_LEN {
        return Err(format!("at most {} bytes (the engine's largest value)", mylsm::MAX_VALUE_LEN));
    }
    Ok(n)
}

/// `--duration`: a non-negative number of seconds, fractions allowed.
fn duration(s: &str) -> Result<Duration, String> {
    let secs: f64 = s.parse().map_err(|e| format!("{e}"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| format!("{e}"))
}

/// The options of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Number of keys (and of operations per workload; fillsync does N/100).
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..=MAX_NUM))]
    num: u64,
    /// Operations of the point-read and mixed workloads (readrandom, readmissing,
    /// seekrandom, readwhilewriting, txnrandom, ycsba..ycsbf) [default: N].
    #[arg(long, value_name = "R", value_parser = clap::value_parser!(u64).range(..=MAX_READS))]
    reads: Option<u64>,
    /// Bytes per value; values are pseudo-random and compress to about half.
    #[arg(long, value_name = "B", default_value_t = 100, value_parser = value_size)]
    value_size: usize,
    /// Bytes per key: the key number as zero-padded decimal digits.
    #[arg(long, value_name = "B", default_value_t = KEY_LEN)]
    key_size: usize,
    /// Entries per write batch of the fills, overwrite and deletes (fillbatch: 1000);
    /// latencies are then per batch.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Sync every write before it is acknowledged (fillsync always does).
    #[arg(long)]
    sync: bool,
    /// Comma-separated workloads, run in order. Fill workloads start from an empty
    /// database; the others use what the last fill left (or a silent fillseq when
    /// none ran yet).
    #[arg(
        long,
        value_name = "LIST",
        value_enum,
        value_delimiter = ',',
        default_values_t = DEFAULT_WORKLOADS
    )]
    workloads: Vec<Workload>,
    /// Threads sharing each workload's operations (readseq and readreverse: each
    /// thread scans the whole database).
    #[arg(long, value_name = "T", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Keyspaces the keys are spread over: key i goes to keyspace `bench-{i % N}`, all
    /// created at the start. With 1 (the default) every key is in the default
    /// keyspace. Each keyspace has a memtable of its own, so memory grows with N.
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    keyspaces: u16,
    /// Run each point-read, seek and mixed workload (readrandom, readmissing,
    /// seekrandom, readwhilewriting, txnrandom, ycsba..ycsbf) for this many seconds
    /// instead of for R operations; fills, deletes and scans ignore it.
    #[arg(long, value_name = "SECS", value_parser = duration)]
    duration: Option<Duration>,
    /// Seed of the pseudo-random keys and values, for reproducible runs.
    #[arg(long, default_value_t = 301)]
    seed: u64,
    /// Print one JSON object with every result instead of db_bench-style lines.
    #[arg(long)]
    json: bool,
    /// Bytes the memtable takes before it is flushed [default: the engine's, 64 MiB].
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..),
          conflicts_with = "memtable_mb")]
    write_buffer_size: Option<u64>,
    /// The memtable size in MiB (the same as --write-buffer-size, in MiB).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    memtable_mb: Option<u64>,
    /// Data block compression [default: the engine's, lz4].
    #[arg(long, value_name = "ALGO", value_enum)]
    compression: Option<CompressionArg>,
    /// Block cache size in MiB, 0 for none [default: the engine's, 64].
    #[arg(long, visible_alias = "cache-mb", value_name = "N")]
    block_cache_mb: Option<u64>,
    /// Background threads for flushes and compactions [default: the engine's, the
    /// number of CPUs between 2 and 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(2..=64))]
    background_jobs: Option<u16>,
    /// Wait for background flushes and compactions to finish before the final stats.
    #[arg(long)]
    wait_compactions: bool,
    /// Draw the throughput of the write workloads over time (operations per 100 ms,
    /// where stalls show as dips) into this SVG file.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
}

/// Runs `bench` with the options `a`, in `db` when given.
pub fn main(a: BenchArgs, db: Option<&Path>) -> Result<(), CliError> {
    let engine = mylsm::Options::default();
    let size = |v: Option<u64>, default: usize, what: &str| {
        v.map_or(Ok(default), |v| {
            usize::try_from(v).map_err(|_| CliError::Input(format!("bench: {what} too big")))
        })
    };
    let memtable = a.memtable_mb.map(|mb| mb.saturating_mul(1 << 20)).or(a.write_buffer_size);
    let keys =
        KeyFormat::new(a.key_size, a.num).map_err(|e| CliError::Input(format!("bench: {e}")))?;
    let settings = Settings {
        num: a.num,
        reads: a.reads,
        value_size: a.value_size,
        keys,
        threads: usize::from(a.threads),
        batch: a.batch as usize,
        sync: a.sync,
        seed: a.seed,
        duration: a.duration,
    };
    let run = Run {
        engine: EngineConfig {
            memtable_bytes: size(memtable, engine.write_buffer_size, "--write-buffer-size")?,
            cache_bytes: size(
                a.block_cache_mb.map(|mb| mb.saturating_mul(1 << 20)),
                engine.block_cache_bytes,
                "--block-cache-mb",
            )?,
            compression: a.compression.map_or(engine.compression, Into::into),
            bloom_bits_per_key: engine.bloom_bits_per_key,
            background_jobs: a.background_jobs.map_or(engine.max_background_jobs, usize::from),
        },
        wait_compactions: a.wait_compactions,
        plot: a.plot,
        keyspaces: usize::from(a.keyspaces),
    };
    super::run(&settings, &run, &a.workloads, db, a.json)
}
