//! `mylsm lsm`: the shape of every keyspace's tree, for an incident: per level the
//! files, bytes, key range, how many bytes of the next level its files overlap, the
//! level's target and compaction score, and a bar per level to see the shape at a
//! glance. Read from the manifest and a read-only open, so it works on a live database.

use std::io::Write;

use mylsm::inspect::{self, TableEntry};
use mylsm::Db;
use serde_json::{json, Value};

use crate::error::CliError;
use crate::stats::human;

/// One level as `lsm` shows it.
struct Level {
    files: usize,
    bytes: u64,
    smallest: Option<Vec<u8>>,
    largest: Option<Vec<u8>>,
    /// Bytes of the next non-empty level's tables that this level's tables overlap.
    overlap_next: u64,
    target: u64,
    score: f64,
}

fn user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(8)]
}

fn levels(tables: &[Vec<TableEntry>], stats: &mylsm::Stats) -> Vec<Level> {
    (0..tables.len())
        .map(|l| {
            let files = &tables[l];
            let next = tables[l + 1..].iter().find(|t| !t.is_empty());
            let overlap_next = next.map_or(0, |next| {
                next.iter()
                    .filter(|n| {
                        files.iter().any(|f| {
                            user_key(&f.smallest) <= user_key(&n.largest)
                                && user_key(&n.smallest) <= user_key(&f.largest)
                        })
                    })
                    .map(|n| n.size)
                    .sum()
            });
            let st = stats.levels.get(l);
            Level {
                files: files.len(),
                bytes: files.iter().map(|f| f.size).sum(),
                smallest: files.iter().map(|f| user_key(&f.smallest).to_vec()).min(),
                largest: files.iter().map(|f| user_key(&f.largest).to_vec()).max(),
                overlap_next,
                target: st.map_or(0, |s| s.target_bytes),
                score: st.map_or(0.0, |s| s.score),
            }
        })
        .collect()
}

fn show(k: &Option<Vec<u8>>) -> String {
    k.as_deref().map_or_else(
        || "-".to_string(),
        |k| {
            let s = k.escape_ascii().to_string();
            if s.len() > 24 {
                format!("{}…", &s[..24])
            } else {
                s
            }
        },
    )
}

/// Prints the shape of every keyspace's tree.
pub fn print(db: &Db, json: bool) -> Result<(), CliError> {
    let report = inspect::manifest(&mylsm::fs::OsFs, db.path())?;
    let mut trees = vec![(String::from("default"), report.levels.clone(), db.stats())];
    for (_, name, tables) in &report.keyspaces {
        let stats = db.keyspace(name)?.stats();
        trees.push((name.clone(), tables.clone(), stats));
    }
    if json {
        let value: Vec<Value> = trees
            .iter()
            .map(|(name, tables, stats)| {
                let lv: Vec<Value> = levels(tables, stats)
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        json!({
                            "level": i, "files": l.files, "bytes": l.bytes,
                            "smallest": l.smallest.as_deref().map(|k| k.escape_ascii().to_string()),
                            "largest": l.largest.as_deref().map(|k| k.escape_ascii().to_string()),
                            "overlap_next_bytes": l.overlap_next, "target_bytes": l.target,
                            "score": l.score,
                        })
                    })
                    .collect();
                json!({ "keyspace": name, "levels": lv })
            })
            .collect();
        let mut out = std::io::stdout().lock();
        return writeln!(out, "{:#}", Value::Array(value)).map_err(CliError::Output);
    }
    let mut text = String::new();
    for (name, tables, stats) in &trees {
        let lv = levels(tables, stats);
        let widest = lv.iter().map(|l| l.bytes).max().unwrap_or(0).max(1);
        text += &format!("keyspace {name}\n");
        text += "level files      bytes     target  score  overlap-next  keys\n";
        for (i, l) in lv.iter().enumerate().filter(|(_, l)| l.files > 0) {
            let bar = "#".repeat(((l.bytes * 30).div_ceil(widest)) as usize);
            text += &format!(
                "L{i:<4} {:>5} {:>10} {:>10} {:>6.2} {:>13}  {} .. {}  {bar}\n",
                l.files,
                human(l.bytes),
                if i == 0 { "-".to_string() } else { human(l.target) },
                l.score,
                human(l.overlap_next),
                show(&l.smallest),
                show(&l.largest),
            );
        }
        if lv.iter().all(|l| l.files == 0) {
            text += "(no tables)\n";
        }
    }
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(CliError::Output)
}
