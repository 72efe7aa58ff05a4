//! `VersionSet`: the manifest writer and the current `Version`, plus recovering both
//! from `CURRENT` and the manifest at open.
//!
//! The manifest is a log (WAL framing, see `docs/manifest_format.md`) of
//! `VersionEdit`s. Every edit is appended and fsynced before the version it produces is
//! installed, so a crash leaves either the old version or the new one. Each open writes
//! a fresh manifest holding one snapshot edit and switches `CURRENT` to it by
//! write-temp, fsync, rename, fsync(dir); only then is the old manifest deleted.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use super::edit::DB_FORMAT;
use super::{Version, VersionEdit};
use crate::filename;
use crate::fs::FileSystem;
use crate::latch::Latch;
use crate::wal::{LogReader, LogWriter, RecoveryMode};
use crate::{Error, Result};

/// What the manifest says about the database.
#[derive(Debug, Clone, Default)]
pub(crate) struct Manifested {
    pub version: Version,
    /// WALs numbered below this hold only data that is already in tables.
    pub log_number: u64,
    pub next_file_number: u64,
    pub last_seqno: u64,
    /// The manifest these came from, if any.
    pub manifest_number: Option<u64>,
    /// The live WALs (numbered at or above `log_number`), which must all exist; `None`
    /// for a manifest written before WALs were tracked (database format 1), where every
    /// WAL at or above `log_number` found in the directory is live.
    pub wals: Option<BTreeSet<u64>>,
}

impl Manifested {
    /// Applies the WAL bookkeeping of `edit`: new WALs join the live set, and a new
    /// log number retires every WAL below it.
    fn track_wals(&mut self, edit: &VersionEdit) {
        if edit.db_format.is_some() && self.wals.is_none() {
            self.wals = Some(BTreeSet::new());
        }
        if let Some(wals) = &mut self.wals {
            wals.extend(&edit.new_wals);
            let log_number = self.log_number;
            wals.retain(|&n| n >= log_number);
        }
    }
}

/// The live manifest and the newest version. Guarded by the manifest lock, which is
/// held across the manifest append and fsync (see `docs/impl.md`).
#[derive(Debug)]
pub(crate) struct VersionSet {
    manifest: LogWriter,
    pub manifest_number: u64,
    current: Arc<Version>,
    pub log_number: u64,
    pub last_seqno: u64,
}

/// Reads `CURRENT` and replays the manifest it names, returning the result and the
/// edits; `None` if there is no `CURRENT` (a new database).
pub(crate) fn read_manifest(
    fs: &dyn FileSystem,
    dir: &Path,
) -> Result<Option<(Manifested, Vec<VersionEdit>)>> {
    let current = filename::current_file(dir);
    if !fs.exists(&current) {
        return Ok(None);
    }
    let bytes = fs.open(&current)?.read_all()?;
    let name = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .filter(|s| matches!(filename::parse(s), Some(filename::FileKind::Manifest(_))))
        .ok_or_else(|| Error::corruption(&current, 0, "CURRENT does not name a manifest"))?;
    let Some(filename::FileKind::Manifest(number)) = filename::parse(name) else { unreachable!() };
    let path = dir.join(name);
    if !fs.exists(&path) {
        return Err(Error::corruption(&current, 0, format!("CURRENT names missing {name}")));
    }
    let mut m = Manifested { manifest_number: Some(number), ..Manifested::default() };
    let mut reader = LogReader::new(fs.open(&path)?, &path, RecoveryMode::TolerateTornTail)?;
    let mut saw_next_file = false;
    let mut edits = Vec::new();
    while let Some((offset, record)) = reader.next_record()? {
        let edit = VersionEdit::decode(&record, &path, offset)?;
        m.version = m.version.apply(&edit).map_err(|e| relocate(e, &path, offset))?;
        if let Some(n) = edit.log_number {
            m.log_number = n;
        }
        if let Some(n) = edit.next_file_number {
            m.next_file_number = n;
            saw_next_file = true;
        }
        if let Some(n) = edit.last_seqno {
            m.last_seqno = n;
        }
        m.track_wals(&edit);
        edits.push(edit);
    }
    if !saw_next_file {
        return Err(Error::corruption(&path, 0, "manifest has no next-file-number"));
    }
    if m.last_seqno > crate::key::MAX_SEQNO {
        let detail = format!("last seqno {} is beyond the largest possible", m.last_seqno);
        return Err(Error::corruption(&path, 0, detail));
    }
    if m.next_file_number > filename::MAX_FILE_NUMBER {
        let detail = format!("next file number {} is beyond the largest", m.next_file_number);
        return Err(Error::corruption(&path, 0, detail));
    }
    Ok(Some((m, edits)))
}

/// Points a version-consistency error at the manifest record that caused it.
fn relocate(e: Error, path: &Path, offset: u64) -> Error {
    match e {
        Error::Corruption { detail, .. } => Error::corruption(path, offset, detail),
        other => other,
    }
}

impl VersionSet {
    /// Writes a new manifest numbered `manifest_number` holding `m` as one snapshot
    /// edit, makes `CURRENT` name it, and deletes the manifest it replaces.
    pub fn create(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        manifest_number: u64,
        temp_number: u64,
        m: &Manifested,
    ) -> Result<VersionSet> {
        let path = filename::manifest_file(dir, manifest_number);
        let mut manifest = LogWriter::new(fs.create(&path)?);
        let mut edit = m.version.snapshot_edit();
        edit.log_number = Some(m.log_number);
        edit.next_file_number = Some(m.next_file_number);
        edit.last_seqno = Some(m.last_seqno);
        edit.db_format = Some(DB_FORMAT);
        edit.new_wals = m.wals.iter().flatten().copied().collect();
        manifest.add_record(&edit.encode())?;
        manifest.sync()?;
        fs.sync_dir(dir)?;
        set_current(fs.as_ref(), dir, manifest_number, temp_number)?;
        if let Some(old) = m.manifest_number.filter(|&n| n != manifest_number) {
            fs.remove_file(&filename::manifest_file(dir, old))?;
        }
        Ok(VersionSet {
            manifest,
            manifest_number,
            current: Arc::new(m.version.clone()),
            log_number: m.log_number,
            last_seqno: m.last_seqno,
        })
    }

    pub fn current(&self) -> Arc<Version> {
        Arc::clone(&self.current)
    }

    /// Logs `edit` durably, then makes the version it produces current. On error
    /// nothing is installed and the error is latched in `latch`: the manifest may hold
    /// a partial record, which is a torn tail only if nothing follows it, so every later
    /// call fails (with `Error::Background`) until a reopen writes a fresh manifest. The
    /// same goes once anything else has latched a failure.
    pub fn log_and_apply(
        &mut self,
        mut edit: VersionEdit,
        next_file_number: u64,
        latch: &Latch,
    ) -> Result<Arc<Version>> {
        latch.check_failed()?;
        let version = self.current.apply(&edit)?;
        edit.next_file_number = Some(next_file_number);
        let log_number = edit.log_number.unwrap_or(self.log_number);
        let last_seqno = self.last_seqno.max(edit.last_seqno.unwrap_or(0));
        edit.last_seqno = Some(last_seqno);
        let logged = self.manifest.add_record(&edit.encode()).and_then(|()| self.manifest.sync());
        if let Err(e) = logged {
            latch.fail(&e);
            return Err(e);
        }
        // Only a durable edit moves what later edits build on: a failed one must not
        // lend its log number or seqno to the next edit that does reach the disk.
        self.log_number = log_number;
        self.last_seqno = last_seqno;
        self.current = Arc::new(version);
        Ok(self.current())
    }
}

/// Makes `CURRENT` name manifest `number`: write a temp file, fsync it, rename it over
/// `CURRENT`, fsync the directory.
fn set_current(fs: &dyn FileSystem, dir: &Path, number: u64, temp_number: u64) -> Result<()> {
    let temp = filename::temp_file(dir, temp_number);
    let mut f = fs.create(&temp)?;
    f.append(format!("{}\n", filename::manifest_name(number)).as_bytes())?;
    f.sync()?;
    drop(f);
    fs.rename(&temp, &filename::current_file(dir))?;
    fs.sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::MemFs;

    /// Found by `fuzz/run db_ops`: a flush's manifest sync failed after its edit had
    /// already raised the set's log number and last seqno; a compaction finishing just
    /// after it appended an edit that carried that seqno, with the old log number, and
    /// the next open refused the still-live WAL ("batch seqno 14 does not follow 15").
    #[test]
    fn a_failed_manifest_sync_lends_its_seqno_to_no_later_edit() {
        let fs = MemFs::new();
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let m = Manifested {
            log_number: 3,
            next_file_number: 10,
            last_seqno: 11,
            ..Manifested::default()
        };
        let mut set = VersionSet::create(Arc::new(fs.clone()), dir, 5, 6, &m).unwrap();
        let latch = Latch::default();

        fs.fail_sync_after(0);
        let flush =
            VersionEdit { log_number: Some(19), last_seqno: Some(15), ..VersionEdit::default() };
        assert!(set.log_and_apply(flush, 20, &latch).is_err());
        fs.clear_faults();
        assert_eq!((set.log_number, set.last_seqno), (3, 11), "a failed edit moved the set");

        // The manifest may now end in a partial record: a later edit must not follow it.
        let compaction = VersionEdit::default();
        assert!(
            set.log_and_apply(compaction, 21, &latch).is_err(),
            "an edit was appended after a failed one"
        );
        let (m, _) = read_manifest(&fs, dir).unwrap().unwrap();
        assert_eq!((m.log_number, m.last_seqno), (3, 11));
    }

    /// Found by review: a manifest's last seqno beyond what an internal key holds, or a
    /// next file number near `u64::MAX`, was accepted, and the first write overflowed
    /// (or the file counter wrapped onto live files).
    #[test]
    fn a_manifest_with_numbers_out_of_range_is_corruption() {
        for (last_seqno, next_file_number) in [(u64::MAX, 10), (10, u64::MAX)] {
            let fs = MemFs::new();
            let dir = Path::new("/db");
            fs.create_dir_all(dir).unwrap();
            let m =
                Manifested { log_number: 3, next_file_number, last_seqno, ..Manifested::default() };
            VersionSet::create(Arc::new(fs.clone()), dir, 5, 6, &m).unwrap();
            let e = read_manifest(&fs, dir).unwrap_err();
            assert!(e.is_corruption(), "{e}");
        }
    }
}
