//! `compare`: runs the same db_bench workloads (the `mylsm_bench` library's code)
//! against mylsm, RocksDB, fjall, sled and redb with matched settings, and prints one
//! table with engines as columns and workloads as rows.

mod engines;
mod table;

use std::error::Error;
use std::path::{Path, PathBuf};

use clap::Parser;
use mylsm::Compression;
use mylsm_bench::gen::{KeyFormat, KEY_LEN};
use mylsm_bench::{execute, Engine, EngineConfig, MylsmEngine, Settings, Workload, WorkloadResult};
use serde_json::json;

type BoxError = Box<dyn Error + Send + Sync>;

/// The engines, in table order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum EngineName {
    Mylsm,
    Rocksdb,
    Fjall,
    Sled,
    Redb,
}

impl EngineName {
    fn name(self) -> &'static str {
        match self {
            EngineName::Mylsm => "mylsm",
            EngineName::Rocksdb => "rocksdb",
            EngineName::Fjall => "fjall",
            EngineName::Sled => "sled",
            EngineName::Redb => "redb",
        }
    }
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum CompressionArg {
    None,
    Lz4,
    Zstd,
}

/// Side-by-side benchmark of mylsm and its peers on db_bench's workloads.
#[derive(Debug, Parser)]
#[command(name = "compare")]
struct Args {
    /// Engines to run, comma-separated, in table order.
    #[arg(long, value_enum, value_delimiter = ',',
          default_values_t = [EngineName::Mylsm, EngineName::Rocksdb, EngineName::Fjall,
                              EngineName::Sled, EngineName::Redb])]
    engines: Vec<EngineName>,
    /// Workloads, comma-separated, run in order on each engine.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [
        Workload::FillSeq, Workload::FillRandom, Workload::Overwrite, Workload::ReadRandom,
        Workload::ReadMissing, Workload::SeekRandom, Workload::ReadSeq, Workload::ReadReverse,
        Workload::ReadWhileWriting, Workload::DeleteRandom])]
    workloads: Vec<Workload>,
    /// Number of keys, and operations per write workload.
    #[arg(long, default_value_t = 1_000_000)]
    num: u64,
    /// Operations per point-read and mixed (ycsb*) workload [default: N].
    #[arg(long)]
    reads: Option<u64>,
    #[arg(long, default_value_t = 100)]
    value_size: usize,
    #[arg(long, default_value_t = KEY_LEN)]
    key_size: usize,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Entries per write batch (one transaction per batch for the B-trees).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// Sync every write batch.
    #[arg(long)]
    sync: bool,
    #[arg(long, value_enum, default_value = "lz4")]
    compression: CompressionArg,
    /// Block cache MiB (the B-trees get cache + memtable as their page cache).
    #[arg(long, default_value_t = 64)]
    cache_mb: usize,
    /// Memtable MiB.
    #[arg(long, default_value_t = 64)]
    memtable_mb: usize,
    #[arg(long, default_value_t = 301)]
    seed: u64,
    /// Run each point-read, seek and mixed workload (the read workloads, txnrandom,
    /// ycsba..ycsbf) for this many seconds instead of for R operations.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Parent directory of the databases [default: a temporary directory].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Draw per-engine bars for every workload into this SVG file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// One engine's results.
struct EngineRun {
    engine: EngineName,
    results: Vec<WorkloadResult>,
    /// Bytes in the engine's directory after the last workload and `settle`.
    disk_bytes: u64,
    /// Per workload: bytes this process wrote to storage during it and the settle
    /// after it (`/proc/self/io`), so background flushes and compactions count.
    written: Vec<Option<u64>>,
}

fn main() {
    if let Err(e) = run(Args::parse()) {
        eprintln!("compare: {e}");
        std::process::exit(2);
    }
}

fn run(a: Args) -> Result<(), BoxError> {
    let settings = Settings {
        num: a.num,
        reads: a.reads,
        value_size: a.value_size,
        keys: KeyFormat::new(a.key_size, a.num)?,
        threads: usize::from(a.threads),
        batch: a.batch as usize,
        sync: a.sync,
        seed: a.seed,
        duration: a.duration.map(std::time::Duration::try_from_secs_f64).transpose()?,
    };
    let config = EngineConfig {
        memtable_bytes: a.memtable_mb << 20,
        cache_bytes: a.cache_mb << 20,
        compression: match a.compression {
            CompressionArg::None => Compression::None,
            CompressionArg::Lz4 => Compression::Lz4,
            CompressionArg::Zstd => Compression::Zstd,
        },
        bloom_bits_per_key: 10,
        background_jobs: mylsm::Options::default().max_background_jobs,
    };
    let temp;
    let parent = match &a.dir {
        Some(d) => d.clone(),
        None => {
            temp = tempfile::Builder::new().prefix("mylsm-compare-").tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut runs = Vec::new();
    for &engine in &a.engines {
        let dir = parent.join(engine.name());
        if !a.json {
            eprintln!("compare: running {} in {}", engine.name(), dir.display());
        }
        let c = config;
        let (results, written, disk_bytes) = match engine {
            EngineName::Mylsm => sequence(&dir, &settings, &a.workloads, |d| {
                Ok(MylsmEngine { db: mylsm::Db::open(d, MylsmEngine::options(&c))? })
            }),
            EngineName::Rocksdb => {
                sequence(&dir, &settings, &a.workloads, |d| Ok(engines::Rocks::open(d, &c)?))
            }
            EngineName::Fjall => {
                sequence(&dir, &settings, &a.workloads, |d| Ok(engines::Fjall::open(d, &c)?))
            }
            EngineName::Sled => {
                sequence(&dir, &settings, &a.workloads, |d| Ok(engines::Sled::open(d, &c)?))
            }
            EngineName::Redb => {
                sequence(&dir, &settings, &a.workloads, |d| Ok(engines::Redb::open(d, &c)?))
            }
        }
        .map_err(|e| format!("{}: {e}", engine.name()))?;
        runs.push(EngineRun { engine, results, disk_bytes, written });
    }
    if let Some(path) = &a.plot {
        let workloads: Vec<String> = a.workloads.iter().map(|w| w.name().to_string()).collect();
        let engines: Vec<String> = runs.iter().map(|r| r.engine.name().to_string()).collect();
        let values: Vec<Vec<Option<f64>>> = (0..workloads.len())
            .map(|w| {
                runs.iter().map(|r| r.results.get(w).map(WorkloadResult::ops_per_sec)).collect()
            })
            .collect();
        let title = format!(
            "{} keys, {}-byte keys, {}-byte values, {} thread(s): operations per second",
            a.num, a.key_size, a.value_size, a.threads
        );
        mylsm_bench::plot::bars(path, &title, &workloads, &engines, &values)?;
    }
    let settings_json = json!({
        "num": a.num, "reads": a.reads.unwrap_or(a.num), "value_size": a.value_size,
        "key_size": a.key_size, "threads": a.threads, "batch": a.batch, "sync": a.sync,
        "compression": mylsm_bench::engine::compression_name(config.compression),
        "cache_bytes": config.cache_bytes, "memtable_bytes": config.memtable_bytes,
        "btree_cache_bytes": config.btree_cache_bytes(),
        "bloom_bits_per_key": config.bloom_bits_per_key, "seed": a.seed,
        "duration_secs": a.duration,
    });
    if a.json {
        let engines: serde_json::Map<String, serde_json::Value> = runs
            .iter()
            .map(|r| {
                let v = json!({
                    "results": r.results.iter().map(WorkloadResult::to_json).collect::<Vec<_>>(),
                    "disk_bytes": r.disk_bytes,
                    "written_bytes": r.written,
                });
                (r.engine.name().to_string(), v)
            })
            .collect();
        println!("{:#}", json!({ "settings": settings_json, "engines": engines }));
    } else {
        println!("settings: {settings_json}");
        print!("{}", table::render(&a.workloads, &runs));
    }
    Ok(())
}

/// Runs `workloads` in order on engines opened by `open` in `dir`: a fill starts from
/// an empty directory; a first workload that is not a fill gets an unreported fillseq,
/// as in `mylsm bench`. Each engine settles (untimed) between workloads, so that one
/// workload's background debt is not charged to the next. Returns the results, the
/// bytes written to storage by each workload and its settle, and the directory's size
/// at the end.
fn sequence<E: Engine>(
    dir: &Path,
    settings: &Settings,
    workloads: &[Workload],
    open: impl Fn(&Path) -> Result<E, BoxError>,
) -> Result<(Vec<WorkloadResult>, Vec<Option<u64>>, u64), BoxError> {
    let fresh = |old: Option<E>| -> Result<E, BoxError> {
        drop(old);
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        open(dir)
    };
    let mut engine = fresh(None)?;
    let mut filled = false;
    let mut results = Vec::new();
    let mut written = Vec::new();
    for &w in workloads {
        if w.fresh_db() {
            engine = fresh(Some(engine))?;
        } else if !filled {
            execute(&engine, Workload::FillSeq, settings, None)?;
            engine.settle()?;
        }
        filled = true;
        let before = storage_writes();
        let mut r = execute(&engine, w, settings, None)?;
        r.rss = mylsm_bench::mem::rss();
        results.push(r);
        engine.settle()?;
        written.push(before.zip(storage_writes()).map(|(b, a)| a.saturating_sub(b)));
    }
    drop(engine);
    Ok((results, written, dir_size(dir)?))
}

/// Bytes this process has caused to be written to storage, less those it wrote to
/// files deleted before they reached the disk (`/proc/self/io`: `write_bytes -
/// cancelled_write_bytes`, every thread of the process). `None` where the kernel does
/// not keep I/O accounting.
fn storage_writes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    let field =
        |name: &str| io.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok());
    Some(field("write_bytes:")?.saturating_sub(field("cancelled_write_bytes:")?))
}

/// Total size of the files under `dir`.
fn dir_size(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() { dir_size(&entry.path())? } else { meta.len() };
    }
    Ok(total)
}
