//! Checkpoints: a consistent copy of a live database in another directory, which opens
//! as an ordinary database holding exactly the history up to one sequence number.
//!
//! A checkpoint captures, in one step holding the write path's log lock and then the
//! manifest lock (so no write group, flush or compaction installs meanwhile): the last
//! sequence number written, every keyspace's tables and log number, and the live WALs
//! with the live one's length. That is the state a crash at that instant would leave,
//! so the copy recovers the way a crashed database does. Then, with no lock held, it
//! hard-links the tables (copying where the file system cannot link), copies the WALs
//! (the live one up to the captured length: a WAL is never linked, since it keeps
//! growing), writes a fresh manifest of the captured state and `CURRENT` last, and
//! fsyncs everything. Writes, flushes and compactions go on throughout; the captured
//! version keeps its tables from being deleted until the copy is done, and WAL
//! deletions wait (the next flush deletes what they skipped).
//!
//! An interrupted checkpoint has no `CURRENT`, so it never opens as a database: an
//! open says "no database", or `Corruption` if it finds tables without a manifest.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use crate::filename;
use crate::fs::FileSystem;
use crate::version::set::VersionSet;
use crate::{Db, Error, Result};

/// How a checkpoint is taken (nothing to choose yet; fields may come).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointOptions {}

/// What [`Db::checkpoint`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointInfo {
    /// The checkpoint holds every write with a sequence number up to this one, and no
    /// other.
    pub seqno: u64,
    /// Table files in the checkpoint, and how many of them are hard links.
    pub tables: usize,
    pub tables_linked: usize,
    /// Bytes copied (tables that could not be linked, WALs, the manifest excluded).
    pub bytes_copied: u64,
}

/// How many times a checkpoint starts over when a WAL it needs was deleted under it.
const TRIES: usize = 5;

impl Db {
    /// Writes a checkpoint of the database into `dir`, which must not exist or be
    /// empty (see [`crate::checkpoint`]). Returns once the checkpoint is durable.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// let info = db.checkpoint(tmp.path().join("copy"), Default::default())?;
    /// let copy = mylsm::Db::open(tmp.path().join("copy"), mylsm::Options::default())?;
    /// assert_eq!(copy.get("k")?.as_deref(), Some(&b"v"[..]));
    /// assert!(info.seqno >= 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if `dir` holds anything, or for a read-only handle; I/O
    /// errors of the copy (what was written is left for the caller to remove).
    pub fn checkpoint(
        &self,
        dir: impl AsRef<Path>,
        _options: CheckpointOptions,
    ) -> Result<CheckpointInfo> {
        let dir = dir.as_ref();
        let fs = Arc::clone(&self.shared().opts().fs);
        if fs.exists(dir) && !fs.list_dir(dir)?.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "checkpoint directory {} is not empty",
                dir.display()
            )));
        }
        fs.create_dir_all(dir)?;
        let mut last = None;
        for _ in 0..TRIES {
            match self.try_checkpoint(&fs, dir) {
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A WAL or table went between capture and copy: clear and retry.
                    for name in fs.list_dir(dir)? {
                        fs.remove_file(&dir.join(name))?;
                    }
                    last = Some(Error::Io(e));
                }
                other => return other,
            }
        }
        Err(last.unwrap_or(Error::Closed))
    }

    fn try_checkpoint(&self, fs: &Arc<dyn FileSystem>, dir: &Path) -> Result<CheckpointInfo> {
        let shared = self.shared();
        let w = self.writer()?;
        let src = shared.dir();
        // The capture: log lock (no group commits), then the WAL's length, then the
        // manifest lock (no install) — the order the write path takes them in.
        let (seqno, m, live, _pin) = w.with_log(|log| {
            let live = {
                let wal = w.wal();
                (wal.number, wal.writer.len())
            };
            let versions = shared.versions();
            let (wals, pin) = shared.pin_wals();
            let m = versions.state(shared.next_file_number(), wals.into_iter().collect());
            (log.last_seqno, m, live, pin)
        });
        let log_number = m.log_number();
        let wals: BTreeSet<u64> =
            m.wals.iter().flatten().copied().filter(|&n| n >= log_number).collect();
        let mut info = CheckpointInfo { seqno, tables: 0, tables_linked: 0, bytes_copied: 0 };
        for t in m.trees.values() {
            for (_, f) in t.version.files() {
                let (from, to) =
                    (filename::table_file(src, f.number), filename::table_file(dir, f.number));
                info.tables += 1;
                if fs.hard_link(&from, &to)? {
                    info.tables_linked += 1;
                } else {
                    info.bytes_copied += copy(fs.as_ref(), &from, &to, None)?;
                }
            }
        }
        for &n in &wals {
            let upto = (n == live.0).then_some(live.1);
            let (from, to) = (filename::log_file(src, n), filename::log_file(dir, n));
            info.bytes_copied += copy(fs.as_ref(), &from, &to, upto)?;
        }
        let mut m = m;
        m.wals = Some(wals);
        let next = m.next_file_number.max(live.0 + 1);
        m.next_file_number = next + 2;
        // The table and WAL entries are made durable with the manifest's directory sync;
        // `CURRENT` is written last.
        drop(VersionSet::create(Arc::clone(fs), dir, next, next + 1, &m)?);
        fs.sync_dir(dir)?;
        Ok(info)
    }
}

/// Copies `from` (its first `upto` bytes, or all of it) to a new file `to`, synced;
/// returns the bytes copied.
fn copy(fs: &dyn FileSystem, from: &Path, to: &Path, upto: Option<u64>) -> Result<u64> {
    let src = fs.open(from)?;
    let len = upto.unwrap_or(src.len()?).min(src.len()?);
    let mut out = fs.create(to)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let want = ((len - at) as usize).min(buf.len());
        let n = src.read_at(at, &mut buf[..want])?;
        if n == 0 {
            return Err(Error::corruption(from, at, "file ended before the length captured"));
        }
        out.append(&buf[..n])?;
        at += n as u64;
    }
    out.sync()?;
    Ok(len)
}
