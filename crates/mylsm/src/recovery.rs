//! Replaying the write-ahead logs not yet flushed into a fresh memtable at open, in
//! log order, continuing the sequence numbers where the manifest left them.
//!
//! Each WAL record is a whole write group, so a batch is replayed all or nothing. A
//! torn tail ends its log cleanly; other damage fails with `Corruption` unless
//! [`RecoveryMode::PointInTime`] was asked for, in which case replay stops at the
//! damage and the state recovered so far is rewritten into a fresh log (so the damaged
//! logs, and anything after the damage, can be deleted without leaving a hole once the
//! new manifest names the fresh log as the oldest live one).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::WriteBatch;
use crate::filename::{self, FileKind};
use crate::fs::FileSystem;
use crate::key::{self, Kind};
use crate::memtable::MemTable;
use crate::wal::{LogReader, LogWriter, RecoveryMode};
use crate::{Error, Result};

/// The state rebuilt from the logs.
#[derive(Debug)]
pub(crate) struct Recovered {
    pub mem: Arc<MemTable>,
    /// The highest seqno in the tables or the logs.
    pub last_seqno: u64,
    /// Numbers of the logs whose data is now in `mem`, ascending; they stay live until
    /// `mem` is flushed.
    pub logs: Vec<u64>,
    /// Where point-in-time recovery stopped early, and why.
    pub dropped: Option<(PathBuf, u64, String)>,
}

/// Replays the logs of `dir` numbered `min_log` or above (older ones are already in
/// tables) on top of `last_seqno`, and makes what was replayed durable before any new
/// write can build on it: otherwise a power loss after open could keep a later synced
/// write and lose an earlier one that had only reached the page cache.
pub(crate) fn replay_logs(
    fs: &dyn FileSystem,
    dir: &Path,
    min_log: u64,
    mut last_seqno: u64,
    mode: RecoveryMode,
    new_file_number: &dyn Fn() -> u64,
) -> Result<Recovered> {
    let mut logs: Vec<u64> = fs
        .list_dir(dir)?
        .iter()
        .filter_map(|name| match filename::parse(name) {
            Some(FileKind::Log(n)) if n >= min_log => Some(n),
            _ => None,
        })
        .collect();
    logs.sort_unstable();
    let mem = Arc::new(MemTable::new());
    let mut dropped = None;
    // Logs that held at least one record; the rest hold nothing to keep.
    let mut replayed = Vec::new();
    let mut scratch = Vec::new();
    for &number in &logs {
        let path = filename::log_file(dir, number);
        let mut reader = LogReader::new(fs.open(&path)?, &path, mode)?;
        let before = last_seqno;
        while let Some((offset, record)) = reader.next_record()? {
            let batch = WriteBatch::decode(&record, &path, offset)?;
            if batch.seqno() <= last_seqno {
                return Err(Error::corruption(
                    &path,
                    offset,
                    format!("batch seqno {} does not follow {last_seqno}", batch.seqno()),
                ));
            }
            for (i, rec) in batch.records().enumerate() {
                mem.add(&mut scratch, batch.seqno() + i as u64, rec.kind, rec.key, rec.value);
            }
            last_seqno = batch.seqno() + batch.len() as u64 - 1;
        }
        if last_seqno != before {
            replayed.push(number);
        }
        if let Some((offset, detail)) = reader.dropped() {
            dropped = Some((path, *offset, detail.clone()));
            break;
        }
    }
    if dropped.is_some() {
        // Persist the recovered prefix on its own. The old logs stay until the new
        // manifest, which names this log as the oldest live one, is durable (open then
        // deletes them as obsolete): deleting them first, a crash partway would leave
        // the manifest pointing at logs that are gone, and the next replay would start
        // after the hole, dropping the intact logs' writes for good.
        let number = new_file_number();
        rewrite(fs, dir, number, &mem)?;
        replayed = vec![number];
    } else {
        for &number in &replayed {
            fs.sync_file(&filename::log_file(dir, number))?;
        }
    }
    Ok(Recovered { mem, last_seqno, logs: replayed, dropped })
}

/// Writes every entry of `mem` into a new, synced log `number`, in seqno order.
fn rewrite(fs: &dyn FileSystem, dir: &Path, number: u64, mem: &MemTable) -> Result<()> {
    let path = filename::log_file(dir, number);
    let mut entries = Vec::with_capacity(mem.len());
    let mut it = mem.iter();
    use crate::iter::InternalIterator;
    it.seek_to_first();
    while it.valid() {
        if let Some(p) = key::parse_internal_key(it.key()) {
            entries.push((p.seqno, p.kind, p.user_key.to_vec(), it.value().to_vec()));
        }
        it.next();
    }
    entries.sort_unstable_by_key(|e| e.0);
    let mut wal = LogWriter::new(fs.create(&path)?);
    for (seqno, kind, k, v) in entries {
        let mut b = WriteBatch::new();
        match kind {
            Kind::Put => b.put(&k, &v),
            Kind::Delete => b.delete(&k),
        }
        b.set_seqno(seqno);
        wal.add_record(b.encoded())?;
    }
    wal.sync()?;
    fs.sync_dir(dir)
}
