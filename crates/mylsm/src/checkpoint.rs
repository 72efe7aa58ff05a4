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
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::WalPin;
use crate::filename;
use crate::fs::FileSystem;
use crate::version::set::{Manifested, VersionSet};
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
    /// Table files hard-linked rather than copied.
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
        let capture = self.capture_files()?;
        let mut info =
            CheckpointInfo { seqno: capture.seqno, tables: 0, tables_linked: 0, bytes_copied: 0 };
        for t in &capture.tables {
            let to = filename::table_file(dir, t.number);
            info.tables += 1;
            if fs.hard_link(&t.source, &to)? {
                info.tables_linked += 1;
            } else {
                info.bytes_copied +=
                    copy_file(fs.as_ref(), &t.source, fs.as_ref(), &to, None, &mut |_| {})?.0;
            }
        }
        for w in &capture.wals {
            let to = filename::log_file(dir, w.number);
            info.bytes_copied +=
                copy_file(fs.as_ref(), &w.source, fs.as_ref(), &to, w.upto, &mut |_| {})?.0;
        }
        // The table and WAL entries are made durable with the manifest's directory sync;
        // `CURRENT` is written last.
        capture.write_manifest(Arc::clone(fs), dir)?;
        Ok(info)
    }

    /// Captures the files of a consistent state of the database (see [`Capture`]):
    /// the first step of a checkpoint and of a backup.
    ///
    /// # Errors
    /// `InvalidArgument` for a read-only handle; the latched error of a failed one.
    pub(crate) fn capture_files(&self) -> Result<Capture<'_>> {
        let shared = self.shared();
        let w = self.writer()?;
        let src = shared.dir();
        // The capture: log lock (no group commits), then the WAL's length, then the
        // manifest lock (no install) — the order the write path takes them in.
        let (seqno, mut m, live, pin) = w.with_log(|log| {
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
        let tables = m
            .trees
            .values()
            .flat_map(|t| t.version.files())
            .map(|(_, f)| CapturedFile {
                number: f.number,
                source: filename::table_file(src, f.number),
                upto: None,
            })
            .collect();
        let wal_files = wals
            .iter()
            .map(|&n| CapturedFile {
                number: n,
                source: filename::log_file(src, n),
                upto: (n == live.0).then_some(live.1),
            })
            .collect();
        m.wals = Some(wals);
        let manifest_number = m.next_file_number.max(live.0 + 1);
        m.next_file_number = manifest_number + 2;
        Ok(Capture { seqno, manifest: m, manifest_number, tables, wals: wal_files, _pin: pin })
    }
}

/// The files of a database at one instant, as [`Db::capture_files`] took them: what a
/// crash at that instant would leave. While it lives, the tables it names stay (its
/// versions hold them) and no WAL is deleted.
pub(crate) struct Capture<'a> {
    /// The last sequence number written at the capture.
    pub seqno: u64,
    /// Every keyspace's tables and log number, the WALs below, and a next file number
    /// past every file named: what the copy's manifest holds.
    manifest: Manifested,
    /// The number the copy's manifest gets (the one after it names its temp file).
    pub manifest_number: u64,
    /// Every live table of every keyspace.
    pub tables: Vec<CapturedFile>,
    /// The live WALs, ascending; the last (the one being written) with its length.
    pub wals: Vec<CapturedFile>,
    _pin: WalPin<'a>,
}

/// A file of a [`Capture`]: its number, where it is, and how much of it belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CapturedFile {
    pub number: u64,
    pub source: PathBuf,
    /// The length captured, for the WAL still being appended to; `None`: all of it.
    pub upto: Option<u64>,
}

impl Capture<'_> {
    /// Writes the captured state as a fresh manifest in `dir`, then `CURRENT` naming
    /// it, and syncs `dir`, which makes durable whatever else was created there.
    pub(crate) fn write_manifest(&self, fs: Arc<dyn FileSystem>, dir: &Path) -> Result<()> {
        let n = self.manifest_number;
        drop(VersionSet::create(Arc::clone(&fs), dir, n, n + 1, &self.manifest)?);
        fs.sync_dir(dir)
    }
}

/// Copies `from` on `src_fs` (its first `upto` bytes, or all of it) to a new file `to`
/// on `dst_fs`, synced; returns the bytes copied and their crc32c. `on_bytes` hears of
/// each chunk copied.
pub(crate) fn copy_file(
    src_fs: &dyn FileSystem,
    from: &Path,
    dst_fs: &dyn FileSystem,
    to: &Path,
    upto: Option<u64>,
    on_bytes: &mut dyn FnMut(u64),
) -> Result<(u64, u32)> {
    let src = src_fs.open(from)?;
    let len = upto.unwrap_or(src.len()?).min(src.len()?);
    let mut out = dst_fs.create(to)?;
    let mut buf = vec![0u8; 1 << 20];
    let (mut at, mut crc) = (0u64, 0u32);
    while at < len {
        let want = ((len - at) as usize).min(buf.len());
        let n = src.read_at(at, &mut buf[..want])?;
        if n == 0 {
            return Err(Error::corruption(from, at, "file ended before the length captured"));
        }
        out.append(&buf[..n])?;
        crc = crc32c::crc32c_append(crc, &buf[..n]);
        at += n as u64;
        on_bytes(n as u64);
    }
    out.sync()?;
    Ok((len, crc))
}
