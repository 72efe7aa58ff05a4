//! `bench`: runs the chosen workloads in order, each on a fresh or a filled database,
//! and reports them; the workloads themselves live in the `mylsm_bench` library.

mod args;
mod summary;

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use mylsm::{Compression, Db, Stats};
use mylsm_bench::engine::compression_name;
use mylsm_bench::plot::{self, Series};
use mylsm_bench::report::TIMELINE_INTERVAL;
use mylsm_bench::{
    mem, workload, Engine, EngineConfig, MylsmEngine, MylsmKeyspacesEngine, Settings, Workload,
};
use serde_json::json;
use tempfile::TempDir;

use crate::error::CliError;
pub use args::{main, BenchArgs};

/// What a run does beyond the workloads' own settings.
#[derive(Debug, Clone)]
pub struct Run {
    pub engine: EngineConfig,
    /// Wait for background flushes and compactions to finish before the final stats,
    /// so that they describe the settled tree rather than one mid-compaction.
    pub wait_compactions: bool,
    /// Where to draw the throughput timeline of the write workloads.
    pub plot: Option<PathBuf>,
    /// Keyspaces the keys are spread over; 1: the default keyspace alone.
    pub keyspaces: usize,
}

/// A mylsm adapter bench can run: the database behind it, and the keyspaces holding
/// the keys, whose stats the report sums.
trait BenchEngine: Engine<Error = mylsm::Error> {
    fn db(&self) -> &Db;
    fn keyspaces(&self) -> Vec<mylsm::Keyspace>;
}

impl BenchEngine for MylsmEngine {
    fn db(&self) -> &Db {
        &self.db
    }

    fn keyspaces(&self) -> Vec<mylsm::Keyspace> {
        vec![self.db.default_keyspace()]
    }
}

impl BenchEngine for MylsmKeyspacesEngine {
    fn db(&self) -> &Db {
        &self.db
    }

    fn keyspaces(&self) -> Vec<mylsm::Keyspace> {
        MylsmKeyspacesEngine::keyspaces(self).to_vec()
    }
}

/// Runs `workloads` in order and prints one line per workload as it finishes, or one
/// JSON object at the end when `json`.
pub fn run(
    settings: &Settings,
    run: &Run,
    workloads: &[Workload],
    db_dir: Option<&Path>,
    json: bool,
) -> Result<(), CliError> {
    let dir = BenchDir::new(db_dir, MylsmEngine::options(&run.engine))?;
    if run.keyspaces <= 1 {
        // One keyspace is the default one, through the very adapter bench used before
        // keyspaces existed, so that its numbers stay comparable.
        run_on(settings, run, workloads, &dir, db_dir, json, |db| Ok(MylsmEngine { db }))
    } else {
        let options = dir.options.clone();
        run_on(settings, run, workloads, &dir, db_dir, json, |db| {
            MylsmKeyspacesEngine::open(db, &options, run.keyspaces)
        })
    }
}

/// `run` on the adapter `open` makes of each fresh database.
fn run_on<E: BenchEngine>(
    settings: &Settings,
    run: &Run,
    workloads: &[Workload],
    dir: &BenchDir,
    db_dir: Option<&Path>,
    json: bool,
    open: impl Fn(Db) -> mylsm::Result<E>,
) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    if !json {
        write_header(&mut out, settings, run, dir).map_err(CliError::Output)?;
    }
    let mut db = dir.fresh(None, &open)?;
    let mut filled = false;
    let mut results = Vec::new();
    // Keys and values put since the database was opened, as the engine's counters
    // count from there: the denominator of write amplification.
    let mut user_bytes = 0;
    for &w in workloads {
        if w.fresh_db() {
            db = dir.fresh(Some(db), &open)?;
            user_bytes = 0;
        } else if !filled {
            // Reads, overwrites and deletes need keys to work on, as in db_bench runs
            // that always begin with a fill; this one is not reported.
            let fill = workload::execute(&db, Workload::FillSeq, settings, None)?;
            user_bytes += fill.totals.bytes();
        }
        filled = true;
        let bar = crate::progress::ops(w.progress_total(settings), w.name());
        let mut result = workload::execute(&db, w, settings, bar)?;
        result.rss = mem::rss();
        if w.puts() {
            user_bytes += result.totals.bytes();
        }
        user_bytes += result.totals.put_bytes();
        user_bytes += result.writer.map_or(0, |w| w.bytes);
        if !json {
            writeln!(out, "{}", result.human_line()).map_err(CliError::Output)?;
            if w.writes() {
                // What the writes left behind, while it is fresh: the tree's shape,
                // the stalls and the write amplification since the database opened.
                let line = summary::shape_line(&whole(&db), user_bytes);
                writeln!(out, "{:<12}   {line}", "").map_err(CliError::Output)?;
            }
            out.flush().map_err(CliError::Output)?;
        }
        results.push(result);
    }
    if run.wait_compactions {
        db.settle()?;
    }
    let stats = whole(&db);
    let keyspaces: Vec<(String, Stats)> =
        db.keyspaces().iter().map(|ks| (ks.name().to_string(), ks.stats())).collect();
    db.db().close()?;
    let peak_rss = mem::rss().peak;
    if let Some(path) = &run.plot {
        let series: Vec<Series> = results
            .iter()
            .zip(workloads)
            .filter(|(_, w)| w.writes())
            .map(|(r, _)| Series {
                name: r.name.to_string(),
                ops_per_sec: r.timeline_ops_per_sec(),
            })
            .collect();
        let title =
            format!("mylsm bench: write throughput per {} ms", TIMELINE_INTERVAL.as_millis());
        plot::timeline(path, &title, &series, TIMELINE_INTERVAL.as_secs_f64())
            .map_err(|e| CliError::Input(format!("bench --plot {}: {e}", path.display())))?;
    }
    if json {
        let report = json!({
            "settings": {
                "num": settings.num,
                "reads": settings.reads.unwrap_or(settings.num),
                "value_size": settings.value_size,
                "key_size": settings.keys.key_len(),
                "threads": settings.threads,
                "batch": settings.batch,
                "sync": settings.sync,
                "seed": settings.seed,
                "duration_secs": settings.duration.map(|d| d.as_secs_f64()),
                "write_buffer_size": run.engine.memtable_bytes,
                "compression": compression_name(run.engine.compression),
                "block_cache_bytes": run.engine.cache_bytes,
                "bloom_bits_per_key": run.engine.bloom_bits_per_key,
                "background_jobs": run.engine.background_jobs,
                "wait_compactions": run.wait_compactions,
                "keyspaces": run.keyspaces,
                "workloads": workloads.iter().map(|w| w.name()).collect::<Vec<_>>(),
                "db": db_dir.map(|p| p.display().to_string()),
            },
            "results": results.iter().map(mylsm_bench::WorkloadResult::to_json).collect::<Vec<_>>(),
            "stats": crate::stats::to_json(&stats),
            "keyspaces": crate::stats::keyspaces_json(&keyspaces),
            "write_amp": summary::write_amp(&stats, user_bytes),
            "peak_rss_bytes": peak_rss,
        });
        writeln!(out, "{report:#}").map_err(CliError::Output)?;
    } else {
        summary::write(&mut out, &stats, user_bytes, peak_rss).map_err(CliError::Output)?;
    }
    Ok(())
}

/// The stats of the keyspaces holding the keys, as one: the sizes, levels and
/// per-keyspace counters summed, the database-wide counters as they are. With one
/// keyspace, its stats unchanged.
fn whole(engine: &impl BenchEngine) -> Stats {
    let mut keyspaces = engine.keyspaces().into_iter().map(|ks| ks.stats());
    let mut all = keyspaces.next().unwrap_or_else(|| engine.db().stats());
    let mut more = false;
    for s in keyspaces {
        more = true;
        all.memtable_bytes += s.memtable_bytes;
        all.memtable_entries += s.memtable_entries;
        all.immutable_memtables += s.immutable_memtables;
        all.immutable_bytes += s.immutable_bytes;
        for (a, l) in all.levels.iter_mut().zip(&s.levels) {
            a.files += l.files;
            a.bytes += l.bytes;
            a.target_bytes += l.target_bytes;
            a.score = a.score.max(l.score);
        }
        all.flushes += s.flushes;
        all.flushed_bytes += s.flushed_bytes;
        all.compactions += s.compactions;
        all.compactions_peak_parallel =
            all.compactions_peak_parallel.max(s.compactions_peak_parallel);
        all.compaction_read_bytes += s.compaction_read_bytes;
        all.compaction_written_bytes += s.compaction_written_bytes;
        all.compaction_dropped_entries += s.compaction_dropped_entries;
        all.write_stalls += s.write_stalls;
        all.stall_micros += s.stall_micros;
        all.stalls_memtables += s.stalls_memtables;
        all.stall_micros_memtables += s.stall_micros_memtables;
        all.stalls_l0_slowdown += s.stalls_l0_slowdown;
        all.stall_micros_l0_slowdown += s.stall_micros_l0_slowdown;
        all.stalls_l0_stop += s.stalls_l0_stop;
        all.stall_micros_l0_stop += s.stall_micros_l0_stop;
    }
    if more && all.user_bytes_written > 0 {
        all.write_amplification = (all.flushed_bytes + all.compaction_written_bytes) as f64
            / all.user_bytes_written as f64;
    }
    all
}

fn write_header(out: &mut impl Write, s: &Settings, run: &Run, dir: &BenchDir) -> io::Result<()> {
    let e = &run.engine;
    let raw_mb = (s.keys.key_len() + s.value_size) as f64 * s.num as f64 / f64::from(1 << 20);
    writeln!(out, "Keys:       {} bytes each", s.keys.key_len())?;
    // The values are built to compress to about half, when compression is on.
    let stored = if e.compression == Compression::None { s.value_size } else { s.value_size / 2 };
    writeln!(out, "Values:     {} bytes each ({stored} bytes after compression)", s.value_size)?;
    writeln!(out, "Entries:    {}", s.num)?;
    writeln!(out, "RawSize:    {raw_mb:.1} MB (estimated)")?;
    writeln!(out, "Threads:    {}", s.threads)?;
    writeln!(
        out,
        "Batch:      {} entries per write{}",
        s.batch,
        if s.sync { ", synced" } else { "" }
    )?;
    writeln!(out, "Compression: {}", compression_name(e.compression))?;
    writeln!(out, "WriteBuffer: {}", crate::stats::human(e.memtable_bytes as u64))?;
    writeln!(out, "BlockCache: {}", crate::stats::human(e.cache_bytes as u64))?;
    writeln!(out, "BgJobs:     {}", e.background_jobs)?;
    if run.keyspaces > 1 {
        writeln!(out, "Keyspaces:  {} (bench-0 to bench-{})", run.keyspaces, run.keyspaces - 1)?;
    }
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

    /// Closes `old`, empties the directory, opens a new database there and makes the
    /// adapter of it with `open`.
    fn fresh<E: BenchEngine>(
        &self,
        old: Option<E>,
        open: &impl Fn(Db) -> mylsm::Result<E>,
    ) -> Result<E, CliError> {
        if let Some(old) = old {
            old.db().close()?;
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
        let db = Db::open(&self.path, self.options.clone())
            .map_err(|source| CliError::Open { path: self.path.clone(), source })?;
        Ok(open(db)?)
    }
}
