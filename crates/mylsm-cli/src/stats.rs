//! `stats`: the database's sizes and levels as a table or as JSON, the shape of each
//! keyspace, and the few counters that are true of the process printing them.
//!
//! The engine's counters (flushes, compactions, writes, stalls, cache) count one
//! process's work since its open. `stats` opens the database read-only and writes
//! nothing, so its write counters would be zeros that look like the database's
//! history; it leaves them out, and shows its own cache and filter counters under a
//! heading that says whose they are. `bench --json` reports every counter, as its
//! process did the work.

use std::io::{self, Write};

use mylsm::{Db, Keyspace, Stats};
use serde_json::json;

use crate::error::CliError;

/// What the process counters of `stats` cover, in both outputs.
const PROCESS_SCOPE: &str =
    "this command's read-only open only, which writes nothing (a writer's: its Db::stats())";

/// Prints the sizes and levels of `db`, as one JSON object when `json`, else as a
/// table: those of the keyspace `ks`, or without it of the default keyspace followed by
/// a summary of every keyspace when there are others. Then this process's counters.
pub fn print(db: &Db, ks: Option<&Keyspace>, json: bool) -> Result<(), CliError> {
    let shown = ks.cloned().unwrap_or_else(|| db.default_keyspace());
    let stats = shown.stats();
    // With --keyspace only that one is summarized; without, all of them.
    let keyspaces: Vec<(String, Stats)> = match ks {
        Some(ks) => vec![(ks.name().to_string(), stats.clone())],
        None => db
            .keyspaces()
            .into_iter()
            .filter_map(|name| Some((name.clone(), db.keyspace(&name).ok()?.stats())))
            .collect(),
    };
    let mut out = io::stdout().lock();
    if json {
        let mut value = database_json(&stats);
        value["path"] = json!(db.path().display().to_string());
        value["keyspace"] = json!(shown.name());
        value["keyspaces"] = keyspaces_json(&keyspaces);
        let mut process = cache_json(&stats);
        process["scope"] = json!(PROCESS_SCOPE);
        value["process"] = process;
        writeln!(out, "{value:#}").map_err(CliError::Output)?;
    } else {
        let path = db.path().display().to_string();
        write_table(&mut out, &path, ks.map(Keyspace::name), &stats).map_err(CliError::Output)?;
        // A database of one keyspace reads as it did before keyspaces existed.
        if ks.is_none() && keyspaces.len() > 1 {
            write_keyspaces(&mut out, &keyspaces).map_err(CliError::Output)?;
        }
    }
    out.flush().map_err(CliError::Output)
}

/// One summary per keyspace: its name, its files and bytes in all, and per level.
pub fn keyspaces_json(keyspaces: &[(String, Stats)]) -> serde_json::Value {
    let summaries: Vec<_> = keyspaces
        .iter()
        .map(|(name, s)| {
            let levels: Vec<_> =
                s.levels.iter().map(|l| json!({ "files": l.files, "bytes": l.bytes })).collect();
            json!({
                "name": name,
                "files": s.levels.iter().map(|l| l.files).sum::<u64>(),
                "bytes": s.levels.iter().map(|l| l.bytes).sum::<u64>(),
                "memtable_entries": s.memtable_entries,
                "levels": levels,
            })
        })
        .collect();
    json!(summaries)
}

/// The keyspace summary table: one line per keyspace with its files and bytes in all,
/// then its non-empty levels as `L<n> <files>/<bytes>`.
pub fn write_keyspaces(out: &mut impl Write, keyspaces: &[(String, Stats)]) -> io::Result<()> {
    writeln!(out, "{:<20} {:>6} {:>10}  levels", "keyspace", "files", "bytes")?;
    for (name, s) in keyspaces {
        let files: u64 = s.levels.iter().map(|l| l.files).sum();
        let bytes: u64 = s.levels.iter().map(|l| l.bytes).sum();
        let levels: Vec<String> = s
            .levels
            .iter()
            .enumerate()
            .filter(|(_, l)| l.files > 0)
            .map(|(n, l)| format!("L{n} {}/{}", l.files, human(l.bytes)))
            .collect();
        let levels = if levels.is_empty() { "-".to_string() } else { levels.join("  ") };
        writeln!(out, "{name:<20} {files:>6} {:>10}  {levels}", human(bytes))?;
    }
    Ok(())
}

/// The counters and the level table; `keyspace` names the keyspace described when
/// one was asked for.
fn write_table(
    out: &mut impl Write,
    path: &str,
    keyspace: Option<&str>,
    s: &Stats,
) -> io::Result<()> {
    if let Some(name) = keyspace {
        writeln!(out, "{:<20} {name}", "keyspace")?;
    }
    let hit_rate = hit_rate(s).map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0));
    let rows = [
        ("path", path.to_string()),
        ("last_seqno", s.last_seqno.to_string()),
        // What the open replayed from the logs: written, not yet in a table.
        ("memtable_entries", s.memtable_entries.to_string()),
        ("memtable_bytes", sized(s.memtable_bytes)),
        ("immutable_memtables", s.immutable_memtables.to_string()),
        ("immutable_bytes", sized(s.immutable_bytes)),
        ("recovery_truncated", s.recovery_truncated.clone().unwrap_or_else(|| "-".into())),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<20} {value}")?;
    }
    write_levels(out, s)?;
    let fp_rate =
        filter_fp_rate(s).map_or_else(|| "-".to_string(), |r| format!("{:.2}%", r * 100.0));
    let capacity = format!("{} of {}", sized(s.block_cache_bytes), human(s.block_cache_capacity));
    let rows = [
        ("process counters", PROCESS_SCOPE.to_string()),
        ("block_cache_hits", s.block_cache_hits.to_string()),
        ("block_cache_misses", s.block_cache_misses.to_string()),
        ("block_cache_hit_rate", hit_rate),
        ("filter_checks", s.filter_checks.to_string()),
        ("filter_false_positive_rate", fp_rate),
        ("block_cache_bytes", capacity),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<20} {value}")?;
    }
    Ok(())
}

/// The level table: files, bytes, target and score per level.
fn write_levels(out: &mut impl Write, s: &Stats) -> io::Result<()> {
    writeln!(
        out,
        "{:<6} {:>6} {:>14} {:>10} {:>12} {:>6}",
        "level", "files", "bytes", "", "target", "score"
    )?;
    for (level, l) in s.levels.iter().enumerate() {
        let target = if level == 0 { "-".to_string() } else { human(l.target_bytes) };
        writeln!(
            out,
            "L{level:<5} {:>6} {:>14} {:>10} {:>12} {:>6.2}",
            l.files,
            l.bytes,
            human(l.bytes),
            target,
            l.score
        )?;
    }
    Ok(())
}

/// Every counter as a JSON object, for `bench --json`, whose process did the work:
/// the database's sizes and levels, the write path's counters and the cache's.
pub fn to_json(stats: &Stats) -> serde_json::Value {
    let mut value = database_json(stats);
    for part in [write_json(stats), cache_json(stats)] {
        if let (Some(all), serde_json::Value::Object(part)) = (value.as_object_mut(), part) {
            all.extend(part);
        }
    }
    value
}

/// What is true of the database whoever opened it: seqno, memtables, levels.
fn database_json(stats: &Stats) -> serde_json::Value {
    let levels: Vec<_> = stats
        .levels
        .iter()
        .map(|l| {
            json!({ "files": l.files, "bytes": l.bytes, "target_bytes": l.target_bytes, "score": l.score })
        })
        .collect();
    json!({
        "last_seqno": stats.last_seqno,
        "memtable_entries": stats.memtable_entries,
        "memtable_bytes": stats.memtable_bytes,
        "immutable_memtables": stats.immutable_memtables,
        "immutable_bytes": stats.immutable_bytes,
        "levels": levels,
        "recovery_truncated": stats.recovery_truncated,
    })
}

/// The write path's counters: what one process flushed, compacted, wrote and stalled.
fn write_json(stats: &Stats) -> serde_json::Value {
    json!({
        "flushes": stats.flushes,
        "flushed_bytes": stats.flushed_bytes,
        "compactions": stats.compactions,
        "compactions_peak_parallel": stats.compactions_peak_parallel,
        "compaction_read_bytes": stats.compaction_read_bytes,
        "compaction_written_bytes": stats.compaction_written_bytes,
        "compaction_dropped_entries": stats.compaction_dropped_entries,
        "write_groups": stats.write_groups,
        "write_batches": stats.write_batches,
        "wal_syncs": stats.wal_syncs,
        "write_stalls": stats.write_stalls,
        "stall_micros": stats.stall_micros,
        "stalls_by_cause": {
            "memtables": { "count": stats.stalls_memtables, "micros": stats.stall_micros_memtables },
            "l0_slowdown": { "count": stats.stalls_l0_slowdown, "micros": stats.stall_micros_l0_slowdown },
            "l0_stop": { "count": stats.stalls_l0_stop, "micros": stats.stall_micros_l0_stop },
        },
        "user_bytes_written": stats.user_bytes_written,
        "write_amplification": stats.write_amplification,
    })
}

/// The block cache's and the filters' counters: what one process read.
fn cache_json(stats: &Stats) -> serde_json::Value {
    json!({
        "block_cache_hits": stats.block_cache_hits,
        "block_cache_misses": stats.block_cache_misses,
        "block_cache_hit_rate": hit_rate(stats),
        "filter_checks": stats.filter_checks,
        "filter_negatives": stats.filter_negatives,
        "filter_false_positives": stats.filter_false_positives,
        "filter_false_positive_rate": filter_fp_rate(stats),
        "block_cache_bytes": stats.block_cache_bytes,
        "block_cache_capacity": stats.block_cache_capacity,
    })
}

/// The share of lookups of absent keys the bloom filters let through, or `None` before
/// any filter answered for an absent key.
pub fn filter_fp_rate(s: &Stats) -> Option<f64> {
    let absent = s.filter_negatives + s.filter_false_positives;
    (absent > 0).then(|| s.filter_false_positives as f64 / absent as f64)
}

/// The share of block reads the cache served, or `None` before the first read (a
/// rate of 0 would claim the cache failed when it was never asked).
pub fn hit_rate(s: &Stats) -> Option<f64> {
    let total = s.block_cache_hits + s.block_cache_misses;
    (total > 0).then(|| s.block_cache_hits as f64 / total as f64)
}

fn sized(bytes: u64) -> String {
    if bytes < 1024 {
        return bytes.to_string();
    }
    format!("{bytes} ({})", human(bytes))
}

/// `bytes` in the largest binary unit that keeps the number at least 1, with one
/// decimal, as the human-readable tables show sizes.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit + 1 < UNITS.len() {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_pick_a_unit() {
        assert_eq!(human(0), "0 B");
        assert_eq!(human(1023), "1023 B");
        assert_eq!(human(48206), "47.1 KiB");
        assert_eq!(human(64 << 20), "64.0 MiB");
        assert_eq!(human(3 << 30), "3.0 GiB");
    }
}
