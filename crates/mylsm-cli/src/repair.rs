//! `repair`: rebuilds the manifest of a database from its tables and logs, and prints
//! what it found and did.

use std::io::{self, Write};
use std::path::Path;

use mylsm::RepairReport;

use crate::error::CliError;

/// Runs [`mylsm::repair()`] on `dir` and prints its report: a summary line, then one line
/// per thing an operator should know (damage, lost names, files set aside).
pub fn repair(dir: &Path) -> Result<(), CliError> {
    let report = mylsm::repair(dir, &mylsm::Options::default())?;
    let mut out = io::stdout().lock();
    print(&mut out, &report).and_then(|()| out.flush()).map_err(CliError::Output)
}

fn print(out: &mut impl Write, r: &RepairReport) -> io::Result<()> {
    writeln!(
        out,
        "repaired: {} tables ({} from {} logs, {} records), keyspaces {}, last seqno {}",
        r.tables,
        r.wal_tables,
        r.wals,
        r.wal_records,
        r.keyspaces.join(", "),
        r.last_seqno
    )?;
    if let Some(m) = &r.manifest_salvaged {
        writeln!(out, "keyspace names and drops read from {}", m.display())?;
    }
    if r.tables_lost > 0 || r.tables_orphaned > 0 {
        writeln!(
            out,
            "tables set aside: {} damaged, {} of dropped keyspaces",
            r.tables_lost, r.tables_orphaned
        )?;
    }
    if let Some(d) = &r.wal_damage {
        writeln!(out, "logs read up to damage, nothing after it used: {d}")?;
    }
    for name in &r.keyspaces_unnamed {
        writeln!(out, "keyspace {name}: its name was lost with the manifest")?;
    }
    for (table, seqno) in &r.ingested_reseqnoed {
        writeln!(out, "ingested table {table:06}.sst: global seqno lost, now {seqno}")?;
    }
    if !r.compacted.is_empty() {
        writeln!(out, "compacted: {}", r.compacted.join(", "))?;
    }
    for path in &r.moved {
        writeln!(out, "moved to {}", path.display())?;
    }
    Ok(())
}
