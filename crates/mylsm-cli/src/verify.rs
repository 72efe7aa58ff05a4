//! `verify`, `flush` and `compact`: maintenance commands that act on the database as a whole.

use std::io::{self, Write};
use std::path::Path;

use mylsm::{Db, Keyspace};

use crate::error::CliError;
use crate::{progress, stats, Access};

/// Reads every live table and log of `dir` in full and prints a one-line summary; the
/// first damage found is the error, naming the file and offset. The open is read-only,
/// so a live database can be checked and a damaged one is left as it was found.
pub fn verify(dir: &Path) -> Result<(), CliError> {
    let spinner = progress::spinner("verifying");
    let result = crate::with_db(dir, Access::Read, |db| Ok(db.verify()?)).map_err(|e| match e {
        // Damage found while opening is as much a verify result as damage found
        // after, and reads better without the "cannot open" wrapper.
        CliError::Open { source, .. } if source.is_corruption() => CliError::Db(source),
        e => e,
    });
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
    let report = result?;
    let mut out = io::stdout().lock();
    writeln!(
        out,
        "ok: {} tables ({}), {} logs ({} records)",
        report.tables,
        stats::human(report.table_bytes),
        report.logs,
        report.log_records
    )
    .and_then(|()| out.flush())
    .map_err(CliError::Output)
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
/// takes the least space it can.
pub fn compact(db: &Db, ks: Option<&Keyspace>) -> Result<(), CliError> {
    let bar = crate::progress::spinner("compacting");
    match ks {
        Some(ks) => {
            ks.flush()?;
            ks.compact_range::<&[u8], _>(..)?;
        }
        None => {
            db.flush()?;
            db.compact_range::<&[u8], _>(..)?;
        }
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    Ok(())
}
