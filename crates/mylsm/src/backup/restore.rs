//! Reading backups back: listing them, verifying their files, restoring one.

use std::path::Path;

use super::meta::MetaFile;
use super::{check, checksum, file_number, info, BackupEngine, BackupInfo, BackupVerifyReport};
use crate::checkpoint::copy_file;
use crate::{filename, Error, Result};

impl BackupEngine {
    /// Every complete backup, oldest first.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// backups.create(&db)?;
    /// backups.create(&db)?;
    /// let ids: Vec<u64> = backups.list()?.iter().map(|b| b.id).collect();
    /// assert_eq!(ids, [1, 2]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Corruption` naming a meta file that does not decode (damaged, or written by a
    /// newer mylsm); I/O errors.
    pub fn list(&self) -> Result<Vec<BackupInfo>> {
        Ok(self.read_metas()?.iter().map(info).collect())
    }

    /// Reads every file of backup `id` in full, checking its size and crc32c.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// let info = backups.create(&db)?;
    /// assert_eq!(backups.verify(info.id)?.files, info.files);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `NotFound` if there is no backup `id`; `Corruption` naming the first file that
    /// is missing, has the wrong size or the wrong checksum.
    pub fn verify(&self, id: u64) -> Result<BackupVerifyReport> {
        let meta = self.read_meta(id)?;
        let mut meter = self.meter(meta.files.iter().map(|f| f.size).sum());
        let mut report = BackupVerifyReport { id, files: 0, bytes: 0 };
        for f in &meta.files {
            let path = self.dir.join(&f.path);
            let (size, crc) = match checksum(self.fs.as_ref(), &path, &mut |n| meter.add(n)) {
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::corruption(path, 0, "file missing"));
                }
                r => r?,
            };
            check(&path, f, size, crc)?;
            report.files += 1;
            report.bytes += size;
        }
        Ok(report)
    }

    /// Restores backup `id` into `to`, which must be absent or empty; `to` then opens
    /// as a database holding exactly the history up to the backup's seqno. Every file
    /// is checked against its checksum as it is copied. `CURRENT` is written last, so
    /// an interrupted restore does not open as a database.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// db.put("k", "v")?;
    /// let info = backups.create(&db)?;
    /// backups.restore(info.id, tmp.path().join("restored"))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if `to` holds anything; `NotFound` if there is no backup
    /// `id`; `Corruption` naming a backup file whose size or checksum is wrong (what
    /// was restored so far is left, without `CURRENT`); I/O errors.
    pub fn restore(&self, id: u64, to: impl AsRef<Path>) -> Result<BackupInfo> {
        let to = to.as_ref();
        let fs = self.fs.as_ref();
        let meta = self.read_meta(id)?;
        if fs.exists(to) && !fs.list_dir(to)?.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "restore target {} is not empty",
                to.display()
            )));
        }
        fs.create_dir_all(to)?;
        let mut meter = self.meter(meta.files.iter().map(|f| f.size).sum());
        let mut copy_checked = |f: &MetaFile, dest: &Path| -> Result<()> {
            let from = self.dir.join(&f.path);
            let (size, crc) = copy_file(fs, &from, fs, dest, None, &mut |n| meter.add(n))?;
            check(&from, f, size, crc)
        };
        let mut max_number = 0;
        for f in meta.files.iter().filter(|f| f.name != "CURRENT") {
            copy_checked(f, &to.join(&f.name))?;
            max_number = max_number.max(filename::parse(&f.name).map_or(0, file_number));
        }
        fs.sync_dir(to)?;
        // `CURRENT` by a temporary name (which an open deletes) and a rename, so that a
        // crash never leaves a partial one.
        let current = meta.files.iter().find(|f| f.name == "CURRENT");
        let current = current.ok_or_else(|| {
            Error::corruption(self.meta_path(id), 0, "the backup lists no CURRENT")
        })?;
        let temp = filename::temp_file(to, max_number + 1);
        copy_checked(current, &temp)?;
        fs.rename(&temp, &filename::current_file(to))?;
        fs.sync_dir(to)?;
        Ok(info(&meta))
    }
}
