//! Replaying the write-ahead logs not yet flushed into a fresh memtable per keyspace at
//! open, in log order, continuing the sequence numbers where the manifest left them.
//! A record goes to its keyspace's memtable only if its log is at or above that
//! keyspace's log number (older ones are in its tables); records of dropped keyspaces
//! are skipped.
//!
//! Each WAL record is a whole write group, so a batch is replayed all or nothing. A
//! torn tail ends its log cleanly; other damage fails with `Corruption` unless
//! [`RecoveryMode::PointInTime`] was asked for, in which case replay stops at the
//! damage. Seqnos must run on without a gap (see `replay_logs`): a gap means a live log
//! (or part of one) is missing, which is `Corruption`, never a silent loss. What was replayed is written into an L0 table by
//! the open (`engine::open`), so the logs it came from are obsolete after it.

use std::collections::BTreeMap;
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
    /// A memtable per live keyspace, by id.
    pub mems: BTreeMap<u32, Arc<MemTable>>,
    /// The highest seqno in the tables or the logs.
    pub last_seqno: u64,
    /// Where point-in-time recovery stopped early, and why.
    pub dropped: Option<(PathBuf, u64, String)>,
}

/// Replays logs `logs` (ascending) of `dir` on top of `last_seqno`, into the keyspaces
/// `keyspaces` (id → log number); ids up to `max_keyspace_id` that are not live were
/// dropped.
///
/// Seqnos must run on without a gap through every log. In a database that never had a
/// keyspace but the default one, the first must also be exactly one past the manifest's
/// last seqno. With keyspaces, the last seqno says less: one keyspace's flush may have
/// moved it past records another still needs, and records of a dropped keyspace reach
/// no table, so the WAL holding them may be deleted while the last seqno stays below
/// them; the first batch is then checked against nothing (a missing live log is still
/// caught by the manifest's WAL tracking). An ingest also moves the last seqno past
/// records of live logs (its marker batch, `batch/`, keeps the logs gapless), so the
/// first batch may start at or below it, never past it.
pub(crate) fn replay_logs(
    fs: &dyn FileSystem,
    dir: &Path,
    logs: &[u64],
    mut last_seqno: u64,
    mode: RecoveryMode,
    keyspaces: &BTreeMap<u32, u64>,
    max_keyspace_id: u32,
) -> Result<Recovered> {
    let mems: BTreeMap<u32, Arc<MemTable>> =
        keyspaces.keys().map(|&id| (id, Arc::new(MemTable::new()))).collect();
    let strict = max_keyspace_id == 0;
    let mut previous_end: Option<u64> = None;
    let mut dropped = None;
    let mut scratch = Vec::new();
    for &number in logs {
        let path = filename::log_file(dir, number);
        let mut reader = LogReader::new(fs.open(&path)?, &path, mode)?;
        while let Some((offset, record)) = reader.next_record()? {
            let batch = WriteBatch::decode(&record, &path, offset)?;
            let seqno = batch.seqno();
            let expected = previous_end.map_or(last_seqno + 1, |end| end + 1);
            let fits =
                seqno == expected || (previous_end.is_none() && (!strict || seqno < expected));
            if !fits {
                let why = if seqno < expected {
                    format!("batch seqno {seqno} does not follow {}", expected - 1)
                } else {
                    let before = expected - 1;
                    format!(
                        "batch seqno {seqno} leaves a gap after {before}: a live log is missing"
                    )
                };
                return Err(Error::corruption(&path, offset, why));
            }
            for (i, rec) in batch.records().enumerate() {
                match (mems.get(&rec.keyspace), keyspaces.get(&rec.keyspace)) {
                    (Some(mem), Some(&log_number)) => {
                        if number >= log_number {
                            mem.add(&mut scratch, seqno + i as u64, rec.kind, rec.key, rec.value);
                        }
                    }
                    // A keyspace dropped since: its records went with it.
                    _ if rec.keyspace <= max_keyspace_id => {}
                    _ => {
                        let detail =
                            format!("record for keyspace {}, which never existed", rec.keyspace);
                        return Err(Error::corruption(&path, offset, detail));
                    }
                }
            }
            let end = seqno + batch.len() as u64 - 1;
            previous_end = Some(end);
            last_seqno = last_seqno.max(end);
        }
        if let Some((offset, detail)) = reader.dropped() {
            dropped = Some((path, *offset, detail.clone()));
            break;
        }
    }
    Ok(Recovered { mems, last_seqno, dropped })
}
