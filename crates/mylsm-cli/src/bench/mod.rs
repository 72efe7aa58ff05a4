//! `bench`: runs the chosen workloads in order, each on a fresh or a filled database, and reports them.

mod gen;
mod mem;
mod report;
mod summary;
mod workload;
mod writer;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use mylsm::{Compression, Db};
use serde_json::json;
use tempfile::TempDir;

use crate::error::CliError;
pub use workload::Workload;

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

/// The parameters every workload shares.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Keys in the database, and operations per workload.
    pub num: u64,
    pub value_size: usize,
    pub threads: usize,
    pub seed: u64,
    /// Engine options: the memtable size, block compression and block cache size.
    pub write_buffer_size: usize,
    pub compression: Compression,
    pub block_cache_bytes: usize,
    /// Wait for background flushes and compactions before taking the final stats,
    /// so that they describe the settled tree rather than one mid-compaction.
    pub wait_compactions: bool,
}

impl Settings {
    fn options(&self) -> mylsm::Options {
        mylsm::Options {
            write_buffer_size: self.write_buffer_size,
            compression: self.compression,
            block_cache_bytes: self.block_cache_bytes,
            ..mylsm::Options::default()
        }
    }
}

/// Runs `workloads` in order and prints one line per workload as it finishes, or one
/// JSON object at the end when `json`.
pub fn run(
    settings: &Settings,
    workloads: &[Workload],
    db_dir: Option<&Path>,
    json: bool,
) -> Result<(), CliError> {
    let dir = BenchDir::new(db_dir, settings.options())?;
    let mut out = io::stdout().lock();
    if !json {
        write_header(&mut out, settings, &dir).map_err(CliError::Output)?;
    }
    let mut db = dir.fresh(None)?;
    let mut filled = false;
    let mut results = Vec::new();
    // Keys and values put since the database was opened, as the engine's counters
    // count from there: the denominator of write amplification.
    let mut user_bytes = 0;
    for &w in workloads {
        if w.fresh_db() {
            db = dir.fresh(Some(db))?;
            user_bytes = 0;
        } else if !filled {
            // Reads, overwrites and deletes need keys to work on, as in db_bench runs
            // that always begin with a fill; this one is not reported.
            let fill = workload::execute(&db, Workload::FillSeq, settings, false)?;
            user_bytes += fill.totals.bytes();
        }
        filled = true;
        let mut result = workload::execute(&db, w, settings, true)?;
        result.rss = mem::rss();
        if w.puts() {
            user_bytes += result.totals.bytes();
        }
        user_bytes += result.writer.map_or(0, |w| w.bytes);
        if !json {
            writeln!(out, "{}", result.human_line())
                .and_then(|()| out.flush())
                .map_err(CliError::Output)?;
        }
        results.push(result);
    }
    if settings.wait_compactions {
        db.wait_for_compactions()?;
    }
    let stats = db.stats();
    db.close()?;
    let peak_rss = mem::rss().peak;
    if json {
        let report = json!({
            "settings": {
                "num": settings.num,
                "value_size": settings.value_size,
                "threads": settings.threads,
                "seed": settings.seed,
                "write_buffer_size": settings.write_buffer_size,
                "compression": compression_name(settings.compression),
                "block_cache_bytes": settings.block_cache_bytes,
                "wait_compactions": settings.wait_compactions,
                "workloads": workloads.iter().map(|w| w.name()).collect::<Vec<_>>(),
                "db": db_dir.map(|p| p.display().to_string()),
            },
            "results": results.iter().map(report::WorkloadResult::to_json).collect::<Vec<_>>(),
            "stats": crate::stats::to_json(&stats),
            "write_amp": summary::write_amp(&stats, user_bytes),
            "peak_rss_bytes": peak_rss,
        });
        writeln!(out, "{report:#}").map_err(CliError::Output)?;
    } else {
        summary::write(&mut out, &stats, user_bytes, peak_rss).map_err(CliError::Output)?;
    }
    Ok(())
}

/// The `--compression` spelling of `c`.
pub fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

fn write_header(out: &mut impl Write, s: &Settings, dir: &BenchDir) -> io::Result<()> {
    let raw_mb = (gen::KEY_LEN + s.value_size) as f64 * s.num as f64 / f64::from(1 << 20);
    writeln!(out, "Keys:       {} bytes each", gen::KEY_LEN)?;
    // The values are built to compress to about half, when compression is on.
    let stored = if s.compression == Compression::None { s.value_size } else { s.value_size / 2 };
    writeln!(out, "Values:     {} bytes each ({stored} bytes after compression)", s.value_size)?;
    writeln!(out, "Entries:    {}", s.num)?;
    writeln!(out, "RawSize:    {raw_mb:.1} MB (estimated)")?;
    writeln!(out, "Threads:    {}", s.threads)?;
    writeln!(out, "Compression: {}", compression_name(s.compression))?;
    writeln!(out, "WriteBuffer: {}", crate::stats::human(s.write_buffer_size as u64))?;
    writeln!(out, "BlockCache: {}", crate::stats::human(s.block_cache_bytes as u64))?;
    let kind = if dir.temp.is_some() { " (temporary)" } else { "" };
    writeln!(out, "Database:   {}{kind}", dir.path.display())?;
    writeln!(out, "{}", "-".repeat(48))
}

/// A file bench leaves in a directory given with `--db`, so that a later run may
/// empty that directory again without risking someone else's data.
const MARKER: &str = "MYLSM-BENCH";

/// The directory the benchmark databases live in, emptied for every fresh database.
#[derive(Debug)]
struct BenchDir {
    path: PathBuf,
    /// The temporary directory when `--db` was not given; removed when dropped.
    temp: Option<TempDir>,
    /// What every database is opened with.
    options: mylsm::Options,
}

impl BenchDir {
    /// The directory `explicit`, which must be absent, empty or a previous bench's,
    /// or else a new temporary directory.
    fn new(explicit: Option<&Path>, options: mylsm::Options) -> Result<Self, CliError> {
        let Some(path) = explicit else {
            let temp = tempfile::Builder::new()
                .prefix("mylsm-bench-")
                .tempdir()
                .map_err(CliError::io("creating a temporary directory"))?;
            return Ok(BenchDir { path: temp.path().to_path_buf(), temp: Some(temp), options });
        };
        let shown = path.display();
        if path.exists() {
            if !path.is_dir() {
                return Err(CliError::Input(format!("bench: {shown} is not a directory")));
            }
            let mut entries =
                fs::read_dir(path).map_err(CliError::io(format!("reading {shown}")))?;
            if entries.next().is_some() && !path.join(MARKER).exists() {
                return Err(CliError::Input(format!(
                    "bench: {shown} is not empty and was not made by bench; bench deletes \
                     everything in its directory, so give it a new or empty one"
                )));
            }
        }
        Ok(BenchDir { path: path.to_path_buf(), temp: None, options })
    }

    /// Closes `old`, empties the directory and opens a new database there.
    fn fresh(&self, old: Option<Db>) -> Result<Db, CliError> {
        if let Some(db) = old {
            db.close()?;
        }
        let shown = self.path.display();
        fs::create_dir_all(&self.path).map_err(CliError::io(format!("creating {shown}")))?;
        let entries = fs::read_dir(&self.path).map_err(CliError::io(format!("reading {shown}")))?;
        for entry in entries {
            let path = entry.map_err(CliError::io(format!("reading {shown}")))?.path();
            let removed =
                if path.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            removed.map_err(CliError::io(format!("removing {}", path.display())))?;
        }
        if self.temp.is_none() {
            fs::write(self.path.join(MARKER), "This directory holds a mylsm bench database.\n")
                .map_err(CliError::io(format!("writing the marker in {shown}")))?;
        }
        Db::open(&self.path, self.options.clone())
            .map_err(|source| CliError::Open { path: self.path.clone(), source })
    }
}
