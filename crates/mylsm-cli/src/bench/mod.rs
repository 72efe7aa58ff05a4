//! `bench`: runs the chosen workloads in order, each on a fresh or a filled database, and reports them.

mod gen;
mod report;
mod workload;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use mylsm::Db;
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
}

/// Runs `workloads` in order and prints one line per workload as it finishes, or one
/// JSON object at the end when `json`.
pub fn run(
    settings: &Settings,
    workloads: &[Workload],
    db_dir: Option<&Path>,
    json: bool,
) -> Result<(), CliError> {
    let dir = BenchDir::new(db_dir)?;
    let mut out = io::stdout().lock();
    if !json {
        write_header(&mut out, settings, &dir).map_err(CliError::Output)?;
    }
    let mut db = dir.fresh(None)?;
    let mut filled = false;
    let mut results = Vec::new();
    for &w in workloads {
        if w.fresh_db() {
            db = dir.fresh(Some(db))?;
        } else if !filled {
            // Reads, overwrites and deletes need keys to work on, as in db_bench runs
            // that always begin with a fill; this one is not reported.
            workload::execute(&db, Workload::FillSeq, settings, false)?;
        }
        filled = true;
        let result = workload::execute(&db, w, settings, true)?;
        if !json {
            writeln!(out, "{}", result.human_line())
                .and_then(|()| out.flush())
                .map_err(CliError::Output)?;
        }
        results.push(result);
    }
    let stats = db.stats();
    db.close()?;
    if json {
        let report = json!({
            "settings": {
                "num": settings.num,
                "value_size": settings.value_size,
                "threads": settings.threads,
                "seed": settings.seed,
                "workloads": workloads.iter().map(|w| w.name()).collect::<Vec<_>>(),
                "db": db_dir.map(|p| p.display().to_string()),
            },
            "results": results.iter().map(report::WorkloadResult::to_json).collect::<Vec<_>>(),
            "stats": crate::stats::to_json(&stats),
        });
        writeln!(out, "{report:#}").map_err(CliError::Output)?;
    }
    Ok(())
}

fn write_header(out: &mut impl Write, s: &Settings, dir: &BenchDir) -> io::Result<()> {
    let raw_mb = (gen::KEY_LEN + s.value_size) as f64 * s.num as f64 / f64::from(1 << 20);
    writeln!(out, "Keys:       {} bytes each", gen::KEY_LEN)?;
    writeln!(
        out,
        "Values:     {} bytes each ({} bytes after compression)",
        s.value_size,
        s.value_size / 2
    )?;
    writeln!(out, "Entries:    {}", s.num)?;
    writeln!(out, "RawSize:    {raw_mb:.1} MB (estimated)")?;
    writeln!(out, "Threads:    {}", s.threads)?;
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
}

impl BenchDir {
    /// The directory `explicit`, which must be absent, empty or a previous bench's,
    /// or else a new temporary directory.
    fn new(explicit: Option<&Path>) -> Result<Self, CliError> {
        let Some(path) = explicit else {
            let temp = tempfile::Builder::new()
                .prefix("mylsm-bench-")
                .tempdir()
                .map_err(CliError::io("creating a temporary directory"))?;
            return Ok(BenchDir { path: temp.path().to_path_buf(), temp: Some(temp) });
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
        Ok(BenchDir { path: path.to_path_buf(), temp: None })
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
        Db::open(&self.path, mylsm::Options::default())
            .map_err(|source| CliError::Open { path: self.path.clone(), source })
    }
}
