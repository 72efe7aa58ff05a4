//! `load` (lines in, batched writes) and `dump` (every entry out), the two ends of the line format.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::time::Instant;

use mylsm::{Db, Keyspace, WriteBatch};

use crate::error::CliError;
use crate::{progress, tsv};

/// Lines per write batch: large enough to amortize the per-write cost, small enough
/// that a batch stays a modest WAL record.
const BATCH_LINES: usize = 1000;
/// Encoded bytes after which a batch is written even if it has fewer lines.
const BATCH_BYTES: usize = 1 << 20;

/// Prints every entry of the keyspace `ks` as escaped `key<TAB>value` lines.
pub fn dump(ks: &Keyspace) -> Result<(), CliError> {
    tsv::write_entries(ks.iter())
}

/// The input of a load, opened before the database so that a missing file is an
/// error before anything is created.
pub struct Input {
    /// The file name as the user gave it, for messages.
    name: String,
    reader: Box<dyn BufRead>,
    /// The length of a regular file, which drives the progress bar.
    size: Option<u64>,
}

impl Input {
    /// The name for messages, the reader and the size, for a command that reads the
    /// lines itself.
    pub(crate) fn into_parts(self) -> (String, Box<dyn BufRead>, Option<u64>) {
        (self.name, self.reader, self.size)
    }

    /// Opens `file`, or standard input for `-`.
    pub fn open(file: &Path) -> Result<Input, CliError> {
        let name = file.display().to_string();
        if file == Path::new("-") {
            return Ok(Input { name, reader: Box::new(io::stdin().lock()), size: None });
        }
        let f = File::open(file).map_err(CliError::io(format!("cannot open {name}")))?;
        let meta = f.metadata().map_err(CliError::io(format!("cannot open {name}")))?;
        // Opening a directory succeeds on Unix and only the first read fails, which
        // would be after the database was created.
        if meta.is_dir() {
            return Err(CliError::Input(format!("cannot open {name}: it is a directory")));
        }
        // A pipe or FIFO has no size worth showing.
        let size = meta.is_file().then_some(meta.len());
        Ok(Input { name, reader: Box::new(BufReader::with_capacity(256 << 10, f)), size })
    }
}

/// Loads the lines of `input` into the keyspace `ks` of `db` and syncs the database.
///
/// A malformed line fails the load with an error naming it; every line before it is
/// written (and made durable when the database closes), nothing from it on.
pub fn load(db: &Db, ks: &Keyspace, input: Input) -> Result<(), CliError> {
    let Input { name, reader: mut input, size } = input;
    let started = Instant::now();
    let bar = progress::bytes(size, "loading");
    let mut loader = Loader { db, ks, batch: WriteBatch::new(), entries: 0 };
    let mut line = Vec::new();
    let mut line_no = 0u64;
    let result = loop {
        line.clear();
        let n = match input.read_until(b'\n', &mut line) {
            Ok(0) => break Ok(()),
            Ok(n) => n,
            Err(e) => break Err(CliError::io(format!("reading {name}"))(e)),
        };
        line_no += 1;
        if let Some(bar) = &bar {
            bar.inc(n as u64);
        }
        match parse(&line) {
            Ok(Some((key, value))) => {
                if let Err(e) = loader.add(&key, &value) {
                    break Err(e);
                }
            }
            Ok(None) => {}
            Err(msg) => break Err(CliError::Input(format!("{name}: line {line_no}: {msg}"))),
        }
    };
    // The lines before a bad one are written, so that the error's line number tells
    // exactly where to resume.
    let flushed = loader.flush();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    result?;
    flushed?;
    db.sync()?;
    if progress::interactive() {
        let secs = started.elapsed().as_secs_f64();
        eprintln!("loaded {} entries ({line_no} lines) from {name} in {secs:.2}s", loader.entries);
    }
    Ok(())
}

/// Parses one line and checks it against the engine's limits, so that an oversized
/// key is reported with its line number rather than as a failed batch.
pub(crate) fn parse(line: &[u8]) -> Result<Option<tsv::Entry>, String> {
    let parsed = tsv::parse_line(line)?;
    if let Some((key, value)) = &parsed {
        if key.len() > mylsm::MAX_KEY_LEN {
            return Err(format!("key of {} bytes exceeds {} bytes", key.len(), mylsm::MAX_KEY_LEN));
        }
        if value.len() > mylsm::MAX_VALUE_LEN {
            let (len, max) = (value.len(), mylsm::MAX_VALUE_LEN);
            return Err(format!("value of {len} bytes exceeds {max} bytes"));
        }
    }
    Ok(parsed)
}

/// Accumulates puts into batches and writes each one when it is full.
struct Loader<'a> {
    db: &'a Db,
    /// The keyspace the puts go to.
    ks: &'a Keyspace,
    batch: WriteBatch,
    entries: u64,
}

impl Loader<'_> {
    fn add(&mut self, key: &[u8], value: &[u8]) -> Result<(), CliError> {
        self.batch.put_in(self.ks, key, value);
        if self.batch.len() >= BATCH_LINES || self.batch.encoded_len() >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), CliError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::take(&mut self.batch);
        let n = batch.len() as u64;
        self.db.write(batch)?;
        self.entries += n;
        Ok(())
    }
}
