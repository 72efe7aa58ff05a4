//! Purging: deleting all but the newest backups, then every file none of the rest
//! lists.

use std::collections::BTreeSet;

use super::{BackupEngine, TMP};
use crate::Result;

impl BackupEngine {
    /// Deletes every backup but the newest `keep`, then every file no remaining backup
    /// lists (tables a backup cut short left in `shared/` included). Returns the ids
    /// of the backups deleted, oldest first.
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let tmp = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(tmp.path().join("db"), mylsm::Options::default())?;
    /// let backups = mylsm::BackupEngine::open(tmp.path().join("backups"))?;
    /// for _ in 0..3 {
    ///     backups.create(&db)?;
    /// }
    /// assert_eq!(backups.purge(1)?, [1, 2]);
    /// assert_eq!(backups.list()?.len(), 1);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Locked` while another engine creates or purges in this directory; `Corruption`
    /// as [`BackupEngine::list`]; I/O errors (a purge cut short leaves whole backups,
    /// and the next create or purge finishes the deletions).
    pub fn purge(&self, keep: usize) -> Result<Vec<u64>> {
        if !self.fs.exists(&self.dir) {
            return Ok(Vec::new());
        }
        let _lock = self.lock()?;
        let metas = self.read_metas()?;
        let doomed: Vec<u64> =
            metas[..metas.len().saturating_sub(keep)].iter().map(|m| m.id).collect();
        for &id in &doomed {
            self.fs.remove_file(&self.meta_path(id))?;
        }
        if !doomed.is_empty() {
            self.fs.sync_dir(&self.dir.join("meta"))?;
        }
        self.remove_leftovers(true)?;
        Ok(doomed)
    }

    /// Removes what no complete backup lists: private directories without a meta
    /// file, temporary files, and with `shared` the tables no meta file names (which
    /// needs every meta file to decode; the rest does not).
    pub(super) fn remove_leftovers(&self, shared: bool) -> Result<()> {
        let ids: BTreeSet<String> = self.meta_ids()?.iter().map(u64::to_string).collect();
        for name in self.names("private")? {
            if !ids.contains(&name) {
                self.remove_private_named(&name)?;
            }
        }
        for name in self.names("meta")?.into_iter().filter(|n| n.ends_with(TMP)) {
            self.fs.remove_file(&self.dir.join("meta").join(name))?;
        }
        let metas = if shared { self.read_metas()? } else { Vec::new() };
        let listed: BTreeSet<&str> =
            metas.iter().flat_map(|m| m.files.iter().map(|f| f.path.as_str())).collect();
        for name in self.names("shared")? {
            let path = format!("shared/{name}");
            if name.ends_with(TMP) || (shared && !listed.contains(path.as_str())) {
                self.fs.remove_file(&self.dir.join(path))?;
            }
        }
        Ok(())
    }

    pub(super) fn remove_private(&self, id: u64) -> Result<()> {
        self.remove_private_named(&id.to_string())
    }

    fn remove_private_named(&self, name: &str) -> Result<()> {
        let dir = self.dir.join("private").join(name);
        if !self.fs.exists(&dir) {
            return Ok(());
        }
        for f in self.fs.list_dir(&dir)? {
            self.fs.remove_file(&dir.join(f))?;
        }
        self.fs.remove_dir(&dir)
    }
}
