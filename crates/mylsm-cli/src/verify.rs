//! `verify`, `flush` and `compact`: maintenance commands that act on the database as a
//! whole, with progress on a terminal.
//!
//! The engine runs `verify` and `compact_range` as one call each and reports nothing
//! on the way, so the progress here watches from beside the call: a thread samples
//! the bytes this process has read (`verify`) or the engine's compaction counters and
//! level sizes (`compact`) five times a second until the call returns.

use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::ProgressBar;
use mylsm::{Db, Keyspace, Stats};

use crate::error::CliError;
use crate::stats::human;
use crate::{progress, Access};

/// Reads every live table and log of `dir` in full and prints a one-line summary (a
/// JSON object when `json`); the first damage found is the error, naming the file and
/// offset. The open is read-only, so a live database can be checked and a damaged one
/// is left as it was found.
pub fn verify(dir: &Path, json: bool) -> Result<(), CliError> {
    let result = crate::with_db(dir, Access::Read, |db| {
        let (tables, bytes) = db
            .keyspaces()
            .iter()
            .filter_map(|name| db.keyspace(name).ok())
            .flat_map(|ks| ks.stats().levels)
            .fold((0, 0), |(t, b), l| (t + l.files, b + l.bytes));
        let message = format!("verifying {tables} tables");
        // The tables are most of what verify reads; the bar counts every byte read,
        // logs included, and so may end a little past its total.
        let bar = read_bytes().and_then(|_| progress::bytes(Some(bytes), &message));
        Ok(while_running(bar, sample_reads, || db.verify())?)
    })
    .map_err(|e| match e {
        // Damage found while opening is as much a verify result as damage found
        // after, and reads better without the "cannot open" wrapper.
        CliError::Open { source, .. } if source.is_corruption() => CliError::Db(source),
        e => e,
    });
    let report = result?;
    let line = if json {
        serde_json::json!({
            "ok": true,
            "tables": report.tables,
            "table_bytes": report.table_bytes,
            "logs": report.logs,
            "log_records": report.log_records,
        })
        .to_string()
    } else {
        format!(
            "ok: {} tables ({}), {} logs ({} records)",
            report.tables,
            human(report.table_bytes),
            report.logs,
            report.log_records
        )
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).map_err(CliError::Output)
}

/// Bytes this process has read so far (`rchar` of `/proc/self/io`: every `read` and
/// `pread`, cached or not), or `None` where the system does not say.
fn read_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines().find_map(|l| l.strip_prefix("rchar:")).and_then(|n| n.trim().parse().ok())
}

/// Returns a sampler that sets `bar` to the bytes read since it was made.
fn sample_reads(bar: ProgressBar) -> impl FnMut() {
    let start = read_bytes().unwrap_or(0);
    move || bar.set_position(read_bytes().unwrap_or(start).saturating_sub(start))
}

/// Runs `work`; meanwhile, when there is a `bar` (stderr is a terminal), a thread
/// calls the sampler `sample(bar)` makes every 200 ms. The bar is cleared at the end.
fn while_running<T, S: FnMut()>(
    bar: Option<ProgressBar>,
    sample: impl FnOnce(ProgressBar) -> S + Send,
    work: impl FnOnce() -> T,
) -> T {
    let Some(bar) = bar else {
        return work();
    };
    let done = AtomicBool::new(false);
    let value = std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut sample = sample(bar.clone());
            while !done.load(Ordering::Relaxed) {
                sample();
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let value = work();
        done.store(true, Ordering::Relaxed);
        value
    });
    bar.finish_and_clear();
    value
}

/// Writes the memtables out as L0 tables (`ks`'s alone when given, else every
/// keyspace's), so that scripts can force the state that `inspect sst` and the level
/// statistics look at.
pub fn flush(db: &Db, ks: Option<&Keyspace>) -> Result<(), CliError> {
    match ks {
        Some(ks) => Ok(ks.flush()?),
        None => Ok(db.flush()?),
    }
}

/// Flushes and compacts everything in `ks` (the default keyspace when `None`), so it
/// takes the least space it can. On a terminal, a spinner shows the bytes compacted
/// and the levels as they change, and a last line on stderr what it came to.
pub fn compact(db: &Db, ks: Option<&Keyspace>) -> Result<(), CliError> {
    // Without a keyspace named, every keyspace is flushed, as `flush` does.
    match ks {
        Some(ks) => ks.flush()?,
        None => db.flush()?,
    }
    let ks = ks.cloned().unwrap_or_else(|| db.default_keyspace());
    let before = ks.stats();
    let bar = progress::spinner("compacting");
    let sample = |bar: ProgressBar| {
        let ks = &ks;
        move || bar.set_message(format!("compacting: {}", compaction_line(&ks.stats())))
    };
    while_running(bar, sample, || ks.compact_range::<&[u8], _>(..))?;
    if progress::interactive() {
        let after = ks.stats();
        let (read, written) = (
            after.compaction_read_bytes - before.compaction_read_bytes,
            after.compaction_written_bytes - before.compaction_written_bytes,
        );
        eprintln!(
            "compacted keyspace {}: read {}, wrote {}; now {}",
            ks.name(),
            human(read),
            human(written),
            levels_line(&after)
        );
    }
    Ok(())
}

/// What a compaction has done so far, and the levels now.
fn compaction_line(s: &Stats) -> String {
    format!(
        "{} compactions, read {}, wrote {}; {}",
        s.compactions,
        human(s.compaction_read_bytes),
        human(s.compaction_written_bytes),
        levels_line(s)
    )
}

/// The non-empty levels as `L1 3 files 12.0 MiB`, separated by commas.
fn levels_line(s: &Stats) -> String {
    let levels: Vec<String> = s
        .levels
        .iter()
        .enumerate()
        .filter(|(_, l)| l.files > 0)
        .map(|(i, l)| format!("L{i} {} files {}", l.files, human(l.bytes)))
        .collect();
    if levels.is_empty() {
        "no tables".to_string()
    } else {
        levels.join(", ")
    }
}
