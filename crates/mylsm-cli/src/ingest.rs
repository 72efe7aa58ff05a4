//! `sst-write` (sorted `key<TAB>value` lines into a table file for ingestion) and
//! `ingest` (table files into the database in one step).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Instant;

use mylsm::{Db, IngestOptions, Keyspace, KeyspaceOptions, SstWriter};

use crate::error::CliError;
use crate::load::Input;
use crate::progress;

/// Writes the lines of `input` (keys strictly ascending) to the table file `out`.
pub fn sst_write(input: Input, out: &Path) -> Result<(), CliError> {
    let started = Instant::now();
    let (name, mut reader, size) = input.into_parts();
    let bar = progress::bytes(size, "writing");
    let mut w = SstWriter::create(out, &KeyspaceOptions::default())?;
    let mut line = Vec::new();
    let mut line_no = 0u64;
    loop {
        line.clear();
        let n =
            reader.read_until(b'\n', &mut line).map_err(CliError::io(format!("reading {name}")))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some(bar) = &bar {
            bar.inc(n as u64);
        }
        let at = |msg: String| CliError::Input(format!("{name}: line {line_no}: {msg}"));
        if let Some((key, value)) = crate::load::parse(&line).map_err(at)? {
            w.put(&key, &value).map_err(|e| at(e.to_string()))?;
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let info = w.finish()?;
    println!(
        "wrote {} entries to {} ({} bytes) in {:.2}s",
        info.entries,
        out.display(),
        info.file_size,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Ingests `files` into the keyspace `ks` and prints where each went.
pub fn ingest(db: &Db, ks: &Keyspace, files: &[PathBuf], move_files: bool) -> Result<(), CliError> {
    let started = Instant::now();
    let spinner = progress::spinner("ingesting");
    let options = if move_files { IngestOptions::moving() } else { IngestOptions::default() };
    let info = ks.ingest(files, options);
    if let Some(s) = &spinner {
        s.finish_and_clear();
    }
    let info = info?;
    db.sync()?;
    for f in &info.files {
        println!(
            "{}: table {} at L{}, seqno {}, {} bytes {}",
            f.source.display(),
            f.number,
            f.level,
            f.seqno,
            f.size,
            if f.linked { "linked" } else { "copied" }
        );
    }
    let flushed = if info.flushed { " (an overlapping memtable was flushed first)" } else { "" };
    println!(
        "ingested {} files in {:.2}s{flushed}",
        info.files.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
