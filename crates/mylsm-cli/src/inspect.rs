//! `inspect sst|wal|manifest`: reports on single files, read directly without opening
//! the database, so they work on a database another process holds.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Subcommand;

use mylsm::fs::OsFs;
use mylsm::inspect::{self, BlockInfo, LogRecord, ManifestReport, TableEntry, TableReport};
use serde_json::{json, Value};

use crate::error::CliError;
use crate::stats::human;
use crate::{edits, hex};

/// The files `inspect` describes.
#[derive(Debug, Subcommand)]
pub enum InspectCommand {
    /// A table file (NNNNNN.sst): properties, key and seqno range, filter, blocks.
    Sst {
        file: PathBuf,
        /// Also print one line per data block.
        #[arg(long)]
        blocks: bool,
        /// Also list the internal entries (every version, with seqno and kind).
        #[arg(long)]
        scan: bool,
        /// With --scan: the first user key to list.
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        from: Option<String>,
        /// With --scan: the user key to stop before.
        #[arg(long, value_name = "KEY", allow_hyphen_values = true)]
        to: Option<String>,
        /// With --scan: list at most N entries.
        #[arg(long, value_name = "N", default_value_t = 1000)]
        limit: usize,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A write-ahead log (NNNNNN.log): one line per record with its operations.
    Wal {
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The manifest of the database given by --db: its edits, then the live tables.
    Manifest {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `inspect`; `dir` is the database whose manifest `inspect manifest` reads.
pub fn run(cmd: InspectCommand, dir: &Path) -> Result<(), CliError> {
    match cmd {
        InspectCommand::Sst { file, blocks, json, scan, from, to, limit } => {
            let from = hex::opt_arg("--from", from.as_deref())?;
            let to = hex::opt_arg("--to", to.as_deref())?;
            let scan = scan.then_some((from.as_deref(), to.as_deref(), limit));
            sst(&file, blocks, scan, json)
        }
        InspectCommand::Wal { file, json } => wal(&file, json),
        InspectCommand::Manifest { json } => manifest(dir, json),
    }
}

/// The range and count of `inspect sst --scan`: from, to, limit.
type ScanArgs<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, usize);

/// Prints the properties and filter of table `path`, its data blocks when `blocks`,
/// and its internal entries when `scan` (as `"entries"` of the one JSON object).
fn sst(path: &Path, blocks: bool, scan: Option<ScanArgs>, json: bool) -> Result<(), CliError> {
    let report = inspect::table(&OsFs, path).map_err(|e| read_error(path, e))?;
    if json {
        let mut value = sst_json(&report, blocks);
        if let Some((from, to, limit)) = scan {
            value["entries"] = scan_json(path, from, to, limit)?;
        }
        return print_json(&value);
    }
    let p = &report.properties;
    let filter = report.filter.map_or_else(
        || "none".to_string(),
        |f| format!("{} bytes, {} lines, {} probes", f.size, f.num_lines, f.num_probes),
    );
    let mut text = format!(
        "file            {} ({} bytes)\n\
         entries         {} ({} puts, {} deletes)\n\
         keys            {} .. {}\n\
         seqnos          {}..{}\n\
         raw bytes       keys {}, values {}\n\
         data            {} bytes ({}) in {} blocks, {}\n\
         index           {} bytes\n\
         filter          {filter}\n\
         merge operands  {}\n\
         expiring        {}\n\
         range deletes   {}\n",
        report.path.display(),
        report.file_size,
        p.num_entries,
        p.num_puts,
        p.num_deletes,
        internal_key(&p.smallest_key),
        internal_key(&p.largest_key),
        p.smallest_seqno,
        p.largest_seqno,
        p.raw_key_bytes,
        p.raw_value_bytes,
        p.data_size,
        human(p.data_size),
        p.num_data_blocks,
        p.compression,
        p.index_size,
        p.num_merges,
        expiring(p),
        p.num_range_deletes,
    );
    for (start, end, seqnos) in &report.range_tombstones {
        let end = end.as_deref().map_or_else(|| "(no end)".to_string(), key);
        text += &format!("    [{} .. {}) at seqnos {seqnos:?}\n", key(start), end);
    }
    if blocks {
        text += "\n    offset     size      raw  entries  codec  keys\n";
        for b in &report.blocks {
            text += &format!(
                "{:>10} {:>8} {:>8} {:>8}  {:<5}  {} .. {}\n",
                b.offset,
                b.size,
                b.uncompressed_size,
                b.entries,
                b.compression.to_string(),
                internal_key(&b.first_key),
                internal_key(&b.last_key)
            );
        }
    }
    print_text(&text)?;
    match scan {
        Some((from, to, limit)) => sst_scan(path, from, to, limit),
        None => Ok(()),
    }
}

fn sst_json(r: &TableReport, blocks: bool) -> Value {
    let p = &r.properties;
    let mut value = json!({
        "path": r.path.display().to_string(),
        "file_size": r.file_size,
        "num_entries": p.num_entries,
        "num_puts": p.num_puts,
        "num_deletes": p.num_deletes,
        "smallest_key": internal_key_json(&p.smallest_key),
        "largest_key": internal_key_json(&p.largest_key),
        "smallest_seqno": p.smallest_seqno,
        "largest_seqno": p.largest_seqno,
        "raw_key_bytes": p.raw_key_bytes,
        "raw_value_bytes": p.raw_value_bytes,
        "data_size": p.data_size,
        "index_size": p.index_size,
        "filter_size": p.filter_size,
        "num_data_blocks": p.num_data_blocks,
        "compression": p.compression.to_string(),
        "num_merges": p.num_merges,
        "num_range_deletes": p.num_range_deletes,
        "num_unexpiring": p.num_unexpiring,
        "max_expiry_ms": p.max_expiry,
        "range_tombstones": r.range_tombstones.iter().map(|(s, e, seqnos)| json!({
            "start": key(s),
            "end": e.as_deref().map(key),
            "seqnos": seqnos,
        })).collect::<Vec<_>>(),
        "filter": r.filter.map(|f| json!({
            "size": f.size, "num_lines": f.num_lines, "num_probes": f.num_probes,
        })),
    });
    if blocks {
        value["blocks"] = r.blocks.iter().map(block_json).collect();
    }
    value
}

fn block_json(b: &BlockInfo) -> Value {
    json!({
        "offset": b.offset,
        "size": b.size,
        "uncompressed_size": b.uncompressed_size,
        "entries": b.entries,
        "compression": b.compression.to_string(),
        "first_key": internal_key_json(&b.first_key),
        "last_key": internal_key_json(&b.last_key),
    })
}

/// Prints one line per record of log `path`: its offset, then its operations.
pub fn wal(path: &Path, json: bool) -> Result<(), CliError> {
    let records = inspect::wal(&OsFs, path).map_err(|e| read_error(path, e))?;
    if json {
        let records: Vec<_> = records.iter().map(record_json).collect();
        return print_json(&json!({ "path": path.display().to_string(), "records": records }));
    }
    let mut text = String::new();
    for r in &records {
        let ops: Vec<_> = r
            .ops
            .iter()
            .map(|op| match op.kind {
                "put" => format!("put {} ({} bytes) @{}", key(&op.key), op.value_len, op.seqno),
                kind => format!("{kind} {} @{}", key(&op.key), op.seqno),
            })
            .collect();
        text += &format!("{}: {}\n", r.offset, ops.join(", "));
    }
    print_text(&text)
}

fn record_json(r: &LogRecord) -> Value {
    let ops: Vec<_> = r
        .ops
        .iter()
        .map(|op| {
            json!({ "seqno": op.seqno, "kind": op.kind, "key": key(&op.key), "value_len": op.value_len })
        })
        .collect();
    json!({ "offset": r.offset, "ops": ops })
}

/// Prints the manifest of the database in `dir`: its edits, then the live tables.
pub fn manifest(dir: &Path, json: bool) -> Result<(), CliError> {
    // The engine's report of a missing CURRENT names the file; the user named a
    // directory, so they hear about that instead.
    if !dir.join("CURRENT").exists() {
        return Err(CliError::NoDatabase(dir.to_path_buf()));
    }
    let report = inspect::manifest(&OsFs, dir).map_err(|e| read_error(dir, e))?;
    if json {
        return print_json(&manifest_json(&report));
    }
    let mut text = format!("manifest        {}\n", report.manifest.display());
    text += &format!("edits           {}\n", report.edits.len());
    for (i, edit) in report.edits.iter().enumerate() {
        text += &format!("  {i:>4}  {}\n", edits::to_text(edit));
    }
    for (level, tables) in report.levels.iter().enumerate() {
        let bytes = tables.iter().map(|t| t.size).sum();
        text += &format!("L{level:<14} {} tables, {}\n", tables.len(), human(bytes));
        for t in tables {
            text += &format!(
                "  {:06}.sst {:>10} bytes  {} .. {}  seqnos {}..{}\n",
                t.number,
                t.size,
                internal_key(&t.smallest),
                internal_key(&t.largest),
                t.smallest_seqno,
                t.largest_seqno
            );
        }
    }
    text += &format!(
        "log_number      {}\nnext_file       {}\nlast_seqno      {}\n",
        report.log_number, report.next_file_number, report.last_seqno
    );
    print_text(&text)
}

fn manifest_json(r: &ManifestReport) -> Value {
    let table = |t: &TableEntry| {
        json!({
            "number": t.number,
            "size": t.size,
            "smallest": internal_key_json(&t.smallest),
            "largest": internal_key_json(&t.largest),
            "smallest_seqno": t.smallest_seqno,
            "largest_seqno": t.largest_seqno,
        })
    };
    let levels: Vec<Vec<_>> = r.levels.iter().map(|l| l.iter().map(table).collect()).collect();
    json!({
        "manifest": r.manifest.display().to_string(),
        "edits": r.edits.iter().map(|e| edits::to_json(e)).collect::<Vec<_>>(),
        "levels": levels,
        "log_number": r.log_number,
        "next_file_number": r.next_file_number,
        "last_seqno": r.last_seqno,
    })
}

/// Keeps a corruption error as it is (it names the file and offset) and names the
/// path in any other, which the engine's I/O errors do not.
fn read_error(path: &Path, e: mylsm::Error) -> CliError {
    match e {
        e if e.is_corruption() => CliError::Db(e),
        mylsm::Error::Io(io) => {
            CliError::Input(format!("cannot read {}: {}", path.display(), crate::error::words(&io)))
        }
        e => CliError::Input(format!("cannot read {}: {e}", path.display())),
    }
}

/// A key or value for display: as `hex::show` renders it (escaped text, or hex).
fn key(bytes: &[u8]) -> String {
    hex::show(bytes)
}

/// Splits an internal key into user key, seqno and kind name; `None` when it is too
/// short to carry the 8-byte trailer (an empty table's bounds are empty).
fn split_internal(ikey: &[u8]) -> Option<(&[u8], u64, String)> {
    let (user, trailer) = ikey.split_at(ikey.len().checked_sub(8)?);
    let trailer = u64::from_le_bytes(trailer.try_into().ok()?);
    let kind = match trailer & 0xff {
        0 => "delete".to_string(),
        1 => "put".to_string(),
        2 => "merge".to_string(),
        0x0f => "range-delete".to_string(),
        0x20 => "put-expiring".to_string(),
        other => format!("kind{other}"),
    };
    Some((user, trailer >> 8, kind))
}

/// An internal key as `USER@SEQNO:KIND`.
fn internal_key(ikey: &[u8]) -> String {
    match split_internal(ikey) {
        Some((user, seqno, kind)) => format!("{}@{seqno}:{kind}", key(user)),
        None if ikey.is_empty() => "-".to_string(),
        None => format!("{} (not an internal key)", key(ikey)),
    }
}

/// An internal key as JSON: `{key, seqno, kind}`, or `{raw}` when it is too short.
pub(crate) fn internal_key_json(ikey: &[u8]) -> Value {
    match split_internal(ikey) {
        Some((user, seqno, kind)) => json!({ "key": key(user), "seqno": seqno, "kind": kind }),
        None => json!({ "raw": key(ikey) }),
    }
}

fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(CliError::Output)
}

fn print_json(value: &Value) -> Result<(), CliError> {
    print_text(&format!("{value:#}\n"))
}

/// `inspect sst --scan`: the table's internal entries in `[from, to)`, every version,
/// one line each (`key@seqno:kind value`).
fn sst_scan(
    path: &Path,
    from: Option<&[u8]>,
    to: Option<&[u8]>,
    limit: usize,
) -> Result<(), CliError> {
    let entries =
        inspect::table_entries(&OsFs, path, from, to, limit).map_err(|e| read_error(path, e))?;
    let mut text = String::new();
    for e in &entries {
        let expiry = e.expiry.map_or_else(String::new, |x| format!(" (expires at {x} ms)"));
        text += &format!("{}@{}:{} {}{expiry}\n", key(&e.key), e.seqno, e.kind, key(&e.value));
    }
    print_text(&text)
}

/// The entries `sst_scan` lists, as a JSON array.
fn scan_json(
    path: &Path,
    from: Option<&[u8]>,
    to: Option<&[u8]>,
    limit: usize,
) -> Result<Value, CliError> {
    let entries =
        inspect::table_entries(&OsFs, path, from, to, limit).map_err(|e| read_error(path, e))?;
    let list = entries.iter().map(|e| {
        json!({
            "key": key(&e.key), "seqno": e.seqno, "kind": e.kind,
            "value": key(&e.value), "expiry_ms": e.expiry,
        })
    });
    Ok(list.collect())
}

/// The expiring entries' line of `inspect sst`.
fn expiring(p: &mylsm::inspect::TableProperties) -> String {
    if p.max_expiry == 0 {
        return "none".to_string();
    }
    let all = if p.num_unexpiring == 0 && p.num_range_deletes == 0 {
        "every entry"
    } else {
        "some entries"
    };
    format!("{all}, the last at {} ms since the epoch", p.max_expiry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_keys_decode_their_trailer() {
        let mut ikey = b"k\n1".to_vec();
        ikey.extend_from_slice(&((42u64 << 8) | 1).to_le_bytes());
        assert_eq!(internal_key(&ikey), "k\\n1@42:put");
        ikey.truncate(3);
        ikey.extend_from_slice(&(7u64 << 8).to_le_bytes());
        assert_eq!(internal_key(&ikey), "k\\n1@7:delete");
        assert_eq!(internal_key(b""), "-");
        assert_eq!(internal_key(b"short"), "short (not an internal key)");
    }
}
