//! Creating a backup: capture the database, copy what `shared/` lacks, write the meta
//! file last.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::meta::{Meta, MetaFile};
use super::{checksum, file_name, info, BackupEngine, BackupInfo, Meter, TMP};
use crate::checkpoint::{copy_file, CapturedFile};
use crate::fs::FileSystem;
use crate::{Db, Error, Result};

/// How many times a create starts over when a WAL it needs was deleted under it.
const TRIES: usize = 5;

impl BackupEngine {
    /// Backs up `db`, which goes on serving reads and writes meanwhile, and returns
    /// once the backup is durable. First removes what an interrupted earlier create
    /// left (its private files and half-copied tables; complete tables stay in
    /// `shared/` for this backup to reuse).
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// db.put("k", "v")?;
    /// db.flush()?;
    /// let first = backups.create(&db)?;
    /// db.put("k2", "v2")?;
    /// let second = backups.create(&db)?;
    /// assert!(second.seqno > first.seqno && second.id == first.id + 1);
    /// // The table the first backup copied is shared, not copied again.
    /// assert!(second.bytes_copied < second.size);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Locked` while another engine creates or purges in this directory;
    /// `InvalidArgument` for a read-only handle; I/O errors of the copy (what was
    /// written is not a backup, and the next create or purge removes it).
    pub fn create(&self, db: &Db) -> Result<BackupInfo> {
        let _lock = self.lock()?;
        self.remove_leftovers(false)?;
        for sub in ["shared", "private", "meta"] {
            self.fs.create_dir_all(&self.dir.join(sub))?;
        }
        self.fs.sync_dir(&self.dir)?;
        let id = self.meta_ids()?.last().map_or(1, |id| id + 1);
        let mut last = None;
        for _ in 0..TRIES {
            match self.try_create(db, id) {
                Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                    // A WAL went between capture and copy: clear and retry.
                    self.remove_private(id)?;
                    last = Some(Error::Io(e));
                }
                other => return other,
            }
        }
        Err(last.unwrap_or(Error::Closed))
    }

    fn try_create(&self, db: &Db, id: u64) -> Result<BackupInfo> {
        let src_fs = Arc::clone(&db.shared().opts().fs);
        let shared_dir = self.dir.join("shared");
        let private = self.private_dir(id);
        self.fs.create_dir_all(&private)?;
        self.fs.sync_dir(&self.dir.join("private"))?;
        let existing: BTreeSet<String> = self.fs.list_dir(&shared_dir)?.into_iter().collect();
        let capture = db.capture_files()?;
        let len = |f: &CapturedFile| -> Result<u64> {
            let len = src_fs.open(&f.source)?.len()?;
            Ok(f.upto.map_or(len, |upto| upto.min(len)))
        };
        let mut total = 0;
        for f in capture.tables.iter().chain(&capture.wals) {
            total += len(f)?;
        }
        let mut meter = self.meter(total);
        let mut files = Vec::new();
        let mut bytes_copied = 0;
        for t in &capture.tables {
            let (f, copied) = self.share_table(src_fs.as_ref(), t, &existing, &mut meter)?;
            bytes_copied += copied;
            files.push(f);
        }
        for w in &capture.wals {
            let name = file_name(&w.source);
            let to = private.join(&name);
            let (src, dst) = (src_fs.as_ref(), self.fs.as_ref());
            let (size, crc) = copy_file(src, &w.source, dst, &to, w.upto, &mut |n| meter.add(n))?;
            bytes_copied += size;
            files.push(MetaFile { path: format!("private/{id}/{name}"), name, size, crc });
        }
        capture.write_manifest(Arc::clone(&self.fs), &private)?;
        let seqno = capture.seqno;
        drop(capture);
        // The manifest and CURRENT that `write_manifest` wrote, CURRENT last: a restore
        // copies the files in this order.
        let mut names = self.fs.list_dir(&private)?;
        names.retain(|n| n.starts_with("MANIFEST-"));
        names.push("CURRENT".to_string());
        for name in names {
            let path = private.join(&name);
            let (size, crc) = checksum(self.fs.as_ref(), &path, &mut |_| {})?;
            bytes_copied += size;
            files.push(MetaFile { path: format!("private/{id}/{name}"), name, size, crc });
        }
        // The tables' renames are made durable before the meta file names them.
        self.fs.sync_dir(&shared_dir)?;
        let created_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let meta = Meta { id, seqno, created_unix_ms, bytes_copied, files };
        let meta_dir = self.dir.join("meta");
        let tmp = meta_dir.join(format!("{id}{TMP}"));
        let mut out = self.fs.create(&tmp)?;
        out.append(&meta.encode())?;
        out.sync()?;
        drop(out);
        self.fs.rename(&tmp, &meta_dir.join(id.to_string()))?;
        self.fs.sync_dir(&meta_dir)?;
        Ok(info(&meta))
    }

    /// Puts the table `t` in `shared/` unless it is there already (`existing` lists
    /// `shared/`); returns its meta entry and the bytes copied.
    fn share_table(
        &self,
        src_fs: &dyn FileSystem,
        t: &CapturedFile,
        existing: &BTreeSet<String>,
        meter: &mut Meter<'_>,
    ) -> Result<(MetaFile, u64)> {
        let source = &t.source;
        let size = src_fs.open(source)?.len()?;
        let prefix = format!("{:06}_{size}_", t.number);
        let entry = |crc: u32| {
            let name = format!("{prefix}{crc:08x}.sst");
            let f = MetaFile { name: file_name(source), path: format!("shared/{name}"), size, crc };
            (f, self.dir.join("shared").join(name))
        };
        // Only when a table of this number and size is there is the source read to
        // learn its checksum; a new table's is computed as it is copied.
        if existing.iter().any(|n| n.starts_with(&prefix)) {
            let (_, crc) = checksum(src_fs, source, &mut |n| meter.add(n))?;
            let (f, path) = entry(crc);
            if existing.contains(&f.path["shared/".len()..]) && self.fs.open(&path)?.len()? == size
            {
                return Ok((f, 0));
            }
        }
        let tmp = self.dir.join("shared").join(format!("{prefix}{TMP}"));
        let dst = self.fs.as_ref();
        let (copied, crc) = copy_file(src_fs, source, dst, &tmp, None, &mut |n| meter.add(n))?;
        if copied != size {
            return Err(Error::corruption(source, copied, "table changed size while copied"));
        }
        let (f, path) = entry(crc);
        self.fs.rename(&tmp, &path)?;
        Ok((f, copied))
    }
}
