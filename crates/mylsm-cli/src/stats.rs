//! `stats`: the database's counters as a table or as JSON.

use std::io::{self, Write};

use mylsm::{Db, Stats};
use serde_json::json;

use crate::error::CliError;

/// Prints the counters of `db`, as one JSON object when `json`, else as a table.
pub fn print(db: &Db, json: bool) -> Result<(), CliError> {
    let stats = db.stats();
    let mut out = io::stdout().lock();
    if json {
        let mut value = to_json(&stats);
        value["path"] = json!(db.path().display().to_string());
        writeln!(out, "{value:#}").map_err(CliError::Output)?;
    } else {
        let rows = [
            ("path", db.path().display().to_string()),
            ("last_seqno", stats.last_seqno.to_string()),
            ("memtable_entries", stats.memtable_entries.to_string()),
            ("memtable_bytes", format!("{} ({})", stats.memtable_bytes, mib(stats.memtable_bytes))),
            // The write counters count from open, which for a command is just now.
            ("write_groups", stats.write_groups.to_string()),
            ("write_batches", stats.write_batches.to_string()),
            ("wal_syncs", stats.wal_syncs.to_string()),
            ("recovery_truncated", stats.recovery_truncated.clone().unwrap_or_else(|| "-".into())),
        ];
        for (name, value) in rows {
            writeln!(out, "{name:<18} {value}").map_err(CliError::Output)?;
        }
    }
    out.flush().map_err(CliError::Output)
}

/// The counters as a JSON object, shared with `bench --json`.
pub fn to_json(stats: &Stats) -> serde_json::Value {
    json!({
        "last_seqno": stats.last_seqno,
        "memtable_entries": stats.memtable_entries,
        "memtable_bytes": stats.memtable_bytes,
        "write_groups": stats.write_groups,
        "write_batches": stats.write_batches,
        "wal_syncs": stats.wal_syncs,
        "recovery_truncated": stats.recovery_truncated,
    })
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}
