//! The summary bench prints after its workloads: the shape of the tree, what
//! background work cost, and how much memory the run took.

use std::io::{self, Write};

use mylsm::Stats;

use crate::stats::{hit_rate, human};

/// Write amplification: bytes the engine wrote to tables (flushes plus compaction
/// output) per byte of keys and values the workloads put. `None` when nothing was put
/// since the database was opened, since the counters start there too.
pub fn write_amp(stats: &Stats, user_bytes: u64) -> Option<f64> {
    (user_bytes > 0)
        .then(|| (stats.flushed_bytes + stats.compaction_written_bytes) as f64 / user_bytes as f64)
}

/// Writes the summary block; `peak_rss` is in bytes, `None` where unknown.
pub fn write(
    out: &mut impl Write,
    stats: &Stats,
    user_bytes: u64,
    peak_rss: Option<u64>,
) -> io::Result<()> {
    writeln!(out, "{}", "-".repeat(48))?;
    writeln!(out, "{:<6} {:>6} {:>12}", "level", "files", "size")?;
    for (level, l) in stats.levels.iter().enumerate() {
        // Empty levels are noise in a short summary; `mylsm stats` lists them all.
        if l.files > 0 {
            writeln!(out, "L{level:<5} {:>6} {:>12}", l.files, human(l.bytes))?;
        }
    }
    if stats.levels.iter().all(|l| l.files == 0) {
        // Said outright, since a write amp of 0 would otherwise look like a bug.
        writeln!(out, "(no tables: every write is still in the memtables)")?;
    }
    writeln!(out, "flushes:      {} ({})", stats.flushes, human(stats.flushed_bytes))?;
    writeln!(
        out,
        "compactions:  {} ({} written, at most {} at once)",
        stats.compactions,
        human(stats.compaction_written_bytes),
        stats.compactions_peak_parallel
    )?;
    writeln!(
        out,
        "write stalls: {} ({:.3} s)",
        stats.write_stalls,
        stats.stall_micros as f64 / 1e6
    )?;
    let rate = hit_rate(stats).map_or_else(|| "-".to_string(), |r| format!("{:.1}%", r * 100.0));
    writeln!(
        out,
        "block cache:  {rate} hit rate ({} hits, {} misses)",
        stats.block_cache_hits, stats.block_cache_misses
    )?;
    let fp = crate::stats::filter_fp_rate(stats)
        .map_or_else(|| "-".to_string(), |r| format!("{:.2}%", r * 100.0));
    writeln!(
        out,
        "bloom filter: {fp} false positives ({} checks, {} absent keys ruled out)",
        stats.filter_checks, stats.filter_negatives
    )?;
    if let Some(amp) = write_amp(stats, user_bytes) {
        writeln!(out, "write amp:    {amp:.2}")?;
    }
    match peak_rss {
        Some(bytes) => writeln!(out, "peak RSS: {:.1} MiB", bytes as f64 / f64::from(1 << 20)),
        None => writeln!(out, "peak RSS: unavailable"),
    }
}

/// One line on what the writes so far left behind: tables per level, write stalls and
/// write amplification, e.g. `L0 3, L1 5 | stalls 2 (0.004 s) | write amp 1.84`.
pub fn shape_line(stats: &Stats, user_bytes: u64) -> String {
    let levels: Vec<String> = stats
        .levels
        .iter()
        .enumerate()
        .filter(|(_, l)| l.files > 0)
        .map(|(n, l)| format!("L{n} {}", l.files))
        .collect();
    let shape = if levels.is_empty() { "no tables".to_string() } else { levels.join(", ") };
    let amp = write_amp(stats, user_bytes).map_or_else(|| "-".to_string(), |a| format!("{a:.2}"));
    format!(
        "{shape} | memtables {} | stalls {} ({:.3} s) | write amp {amp}",
        1 + stats.immutable_memtables,
        stats.write_stalls,
        stats.stall_micros as f64 / 1e6
    )
}
