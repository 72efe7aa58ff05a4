//! Replaying the write-ahead logs not yet flushed into a fresh memtable at open, in
//! log order, continuing the sequence numbers where the manifest left them.
//!
//! Each WAL record is a whole write group, so a batch is replayed all or nothing. A
//! torn tail ends its log cleanly; other damage fails with `Corruption` unless
//! [`RecoveryMode::PointInTime`] was asked for, in which case replay stops at the
//! damage. Seqnos must run on without a gap from the manifest's last seqno through
//! every log: a gap means a live log (or part of one) is missing, which is
//! `Corruption`, never a silent loss. What was replayed is written into an L0 table by
//! the open (`engine::open`), so the logs it came from are obsolete after it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::WriteBatch;
use crate::filename;
use crate::fs::FileSystem;
use crate::memtable::MemTable;
use crate::wal::{LogReader, RecoveryMode};
use crate::{Error, Result};

/// The state rebuilt from the logs.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub mem: Arc<MemTable>,
    /// The highest seqno in the tables or the logs.
    pub last_seqno: u64,
    /// Where point-in-time recovery stopped early, and why.
    pub dropped: Option<(PathBuf, u64, String)>,
}

/// Replays logs `logs` (ascending) of `dir` on top of `last_seqno`.
pub(crate) fn replay_logs(
    fs: &dyn FileSystem,
    dir: &Path,
    logs: &[u64],
    mut last_seqno: u64,
    mode: RecoveryMode,
) -> Result<Recovered> {
    let mem = Arc::new(MemTable::new());
    let mut dropped = None;
    let mut scratch = Vec::new();
    for &number in logs {
        let path = filename::log_file(dir, number);
        let mut reader = LogReader::new(fs.open(&path)?, &path, mode)?;
        while let Some((offset, record)) = reader.next_record()? {
            let batch = WriteBatch::decode(&record, &path, offset)?;
            if batch.seqno() != last_seqno + 1 {
                let why = if batch.seqno() <= last_seqno {
                    format!("batch seqno {} does not follow {last_seqno}", batch.seqno())
                } else {
                    format!(
                        "batch seqno {} leaves a gap after {last_seqno}: a live log is missing",
                        batch.seqno()
                    )
                };
                return Err(Error::corruption(&path, offset, why));
            }
            for (i, rec) in batch.records().enumerate() {
                if rec.keyspace != 0 {
                    let detail =
                        format!("record for keyspace {}, unknown to this build", rec.keyspace);
                    return Err(Error::corruption(&path, offset, detail));
                }
                mem.add(&mut scratch, batch.seqno() + i as u64, rec.kind, rec.key, rec.value);
            }
            last_seqno = batch.seqno() + batch.len() as u64 - 1;
        }
        if let Some((offset, detail)) = reader.dropped() {
            dropped = Some((path, *offset, detail.clone()));
            break;
        }
    }
    Ok(Recovered { mem, last_seqno, dropped })
}
