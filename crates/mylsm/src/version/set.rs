//! `VersionSet`: the manifest writer and the current `Version`, plus recovering both
//! from `CURRENT` and the manifest at open.
//!
//! The manifest is a log (WAL framing, see `docs/manifest_format.md`) of
//! `VersionEdit`s. Every edit is appended and fsynced before the version it produces is
//! installed, so a crash leaves either the old version or the new one. Each open writes
//! a fresh manifest holding one snapshot edit and switches `CURRENT` to it by
//! write-temp, fsync, rename, fsync(dir); only then is the old manifest deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use super::edit::DB_FORMAT;
use super::{Version, VersionEdit};
use crate::filename;
use crate::fs::FileSystem;
use crate::latch::Latch;
use crate::wal::{LogReader, LogWriter, RecoveryMode};
use crate::{Error, Result};

/// What the manifest says about one keyspace (one tree).
#[derive(Debug, Clone, Default)]
pub(crate) struct TreeManifest {
    pub name: String,
    /// Its options as created (`KeyspaceOptions::encode`); empty for the default one.
    pub options: Vec<u8>,
    pub version: Version,
    /// WALs numbered below this hold none of its data that is not in its tables.
    pub log_number: u64,
}

/// The name of keyspace 0, which every database has.
pub(crate) const DEFAULT_KEYSPACE: &str = "default";

/// What the manifest says about the database.
#[derive(Debug, Clone)]
pub(crate) struct Manifested {
    /// The live keyspaces by id; 0, the default one, is always there.
    pub trees: BTreeMap<u32, TreeManifest>,
    /// No keyspace id at or below this is given to a new keyspace.
    pub max_keyspace_id: u32,
    pub next_file_number: u64,
    pub last_seqno: u64,
    /// The manifest these came from, if any.
    pub manifest_number: Option<u64>,
    /// The live WALs (numbered at or above `log_number()`), which must all exist; `None`
    /// for a manifest written before WALs were tracked (database format 1), where every
    /// WAL at or above `log_number()` found in the directory is live.
    pub wals: Option<BTreeSet<u64>>,
    /// The default keyspace's merge operator, by name.
    pub default_merge_operator: Option<String>,
}

impl Default for Manifested {
    fn default() -> Self {
        let default =
            TreeManifest { name: DEFAULT_KEYSPACE.to_string(), ..TreeManifest::default() };
        Manifested {
            trees: BTreeMap::from([(0, default)]),
            max_keyspace_id: 0,
            next_file_number: 0,
            last_seqno: 0,
            manifest_number: None,
            wals: None,
            default_merge_operator: None,
        }
    }
}

/// The bookkeeping every edit changes, kept in one place so that `read_manifest` and
/// `VersionSet::log_and_apply` apply edits by the same rules.
#[derive(Debug, Clone)]
struct Trees {
    trees: BTreeMap<u32, TreeManifest>,
    max_keyspace_id: u32,
}

impl Trees {
    /// Applies `edit`: keyspaces added, then the fields of `edit.keyspace`, then other
    /// keyspaces' log numbers, then keyspaces dropped. Returns the edited keyspace's new
    /// version (if it is still live).
    fn apply(&mut self, edit: &VersionEdit) -> Result<Option<Version>> {
        let bad = |detail: String| Err(Error::corruption("<manifest>", 0, detail));
        if let Some(max) = edit.max_keyspace_id {
            self.max_keyspace_id = self.max_keyspace_id.max(max);
        }
        for def in &edit.keyspaces_added {
            if def.id == 0 || def.id > self.max_keyspace_id || self.trees.contains_key(&def.id) {
                return bad(format!(
                    "keyspace {} ({:?}) added twice or out of range",
                    def.id, def.name
                ));
            }
            if self.trees.values().any(|t| t.name == def.name) {
                return bad(format!("two live keyspaces named {:?}", def.name));
            }
            let tree = TreeManifest {
                name: def.name.clone(),
                options: def.options.clone(),
                version: Version::default(),
                log_number: def.log_number,
            };
            self.trees.insert(def.id, tree);
        }
        let mut edited = None;
        let has_tree_fields =
            edit.log_number.is_some() || !edit.added.is_empty() || !edit.deleted.is_empty();
        match self.trees.get_mut(&edit.keyspace) {
            Some(t) => {
                t.version = t.version.apply(edit)?;
                if let Some(n) = edit.log_number {
                    t.log_number = n;
                }
                edited = Some(t.version.clone());
            }
            None if has_tree_fields => {
                return bad(format!("edit for keyspace {}, which is not live", edit.keyspace));
            }
            None => {}
        }
        for &(id, log) in &edit.keyspace_logs {
            match self.trees.get_mut(&id) {
                Some(t) => t.log_number = t.log_number.max(log),
                None => return bad(format!("log number for keyspace {id}, which is not live")),
            }
        }
        for id in &edit.keyspaces_dropped {
            if *id == 0 || self.trees.remove(id).is_none() {
                return bad(format!("keyspace {id} dropped but not live"));
            }
        }
        Ok(edited)
    }

    /// The oldest WAL any keyspace still needs.
    fn log_number(&self) -> u64 {
        min_log_number(&self.trees)
    }
}

/// The oldest WAL any of `trees` still needs: WALs below it hold only data in tables.
fn min_log_number(trees: &BTreeMap<u32, TreeManifest>) -> u64 {
    trees.values().map(|t| t.log_number).min().unwrap_or(0)
}

impl Manifested {
    /// WALs numbered below this hold only data that is already in tables.
    pub fn log_number(&self) -> u64 {
        min_log_number(&self.trees)
    }

    /// Applies the WAL bookkeeping of `edit`: new WALs join the live set, and the
    /// oldest log number any keyspace needs retires every WAL below it.
    fn track_wals(&mut self, edit: &VersionEdit) {
        if edit.db_format.is_some() && self.wals.is_none() {
            self.wals = Some(BTreeSet::new());
        }
        let log_number = self.log_number();
        if let Some(wals) = &mut self.wals {
            wals.extend(&edit.new_wals);
            wals.retain(|&n| n >= log_number);
        }
    }
}

/// The live manifest and the newest version of every keyspace. Guarded by the manifest
/// lock, which is held across the manifest append and fsync (see `docs/impl.md`).
#[derive(Debug)]
pub(crate) struct VersionSet {
    manifest: LogWriter,
    /// The manifest's path, for errors.
    path: std::path::PathBuf,
    pub manifest_number: u64,
    trees: Trees,
    /// The current version of every live keyspace.
    current: BTreeMap<u32, Arc<Version>>,
    pub last_seqno: u64,
    default_merge_operator: Option<String>,
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
    let (name, number) = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .and_then(|s| match filename::parse(s) {
            Some(filename::FileKind::Manifest(number)) => Some((s, number)),
            _ => None,
        })
        .ok_or_else(|| Error::corruption(&current, 0, "CURRENT does not name a manifest"))?;
    let path = dir.join(name);
    if !fs.exists(&path) {
        return Err(Error::corruption(&current, 0, format!("CURRENT names missing {name}")));
    }
    let mut m = Manifested { manifest_number: Some(number), ..Manifested::default() };
    let mut trees = Trees { trees: std::mem::take(&mut m.trees), max_keyspace_id: 0 };
    let mut reader = LogReader::new(fs.open(&path)?, &path, RecoveryMode::TolerateTornTail)?;
    let mut saw_next_file = false;
    let mut edits = Vec::new();
    while let Some((offset, record)) = reader.next_record()? {
        let edit = VersionEdit::decode(&record, &path, offset)?;
        trees.apply(&edit).map_err(|e| relocate(e, &path, offset))?;
        if let Some(n) = edit.next_file_number {
            m.next_file_number = n;
            saw_next_file = true;
        }
        if let Some(n) = edit.last_seqno {
            m.last_seqno = n;
        }
        m.trees = trees.trees.clone();
        m.track_wals(&edit);
        if let Some(name) = &edit.default_merge_operator {
            m.default_merge_operator = Some(name.clone());
        }
        edits.push(edit);
    }
    m.trees = trees.trees;
    m.max_keyspace_id = trees.max_keyspace_id;
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
    /// Writes a new manifest numbered `manifest_number` holding `m` as snapshot edits
    /// (one per keyspace, the first with the database-wide fields), makes `CURRENT` name
    /// it, and deletes the manifest it replaces.
    pub fn create(
        fs: Arc<dyn FileSystem>,
        dir: &Path,
        manifest_number: u64,
        temp_number: u64,
        m: &Manifested,
    ) -> Result<VersionSet> {
        let path = filename::manifest_file(dir, manifest_number);
        let mut manifest = LogWriter::new(fs.create(&path)?);
        let last_id = m.trees.keys().next_back().copied();
        for (&id, tree) in &m.trees {
            let mut edit = tree.version.snapshot_edit();
            edit.keyspace = id;
            edit.log_number = Some(tree.log_number);
            // The live WALs go in the last edit: a reader retires the WALs below the
            // smallest log number of the keyspaces it has seen so far, so it must have
            // seen them all (their log numbers differ in a checkpoint's manifest).
            if Some(id) == last_id {
                edit.new_wals = m.wals.iter().flatten().copied().collect();
            }
            if id == 0 {
                edit.next_file_number = Some(m.next_file_number);
                edit.last_seqno = Some(m.last_seqno);
                edit.db_format = Some(DB_FORMAT);
                edit.max_keyspace_id = (m.max_keyspace_id > 0).then_some(m.max_keyspace_id);
                edit.default_merge_operator = m.default_merge_operator.clone();
            } else {
                edit.keyspaces_added.push(super::edit::KeyspaceDef {
                    id,
                    name: tree.name.clone(),
                    log_number: tree.log_number,
                    options: tree.options.clone(),
                });
            }
            manifest.add_record(&edit.encode())?;
        }
        manifest.sync()?;
        fs.sync_dir(dir)?;
        set_current(fs.as_ref(), dir, manifest_number, temp_number)?;
        if let Some(old) = m.manifest_number.filter(|&n| n != manifest_number) {
            fs.remove_file(&filename::manifest_file(dir, old))?;
        }
        let current = m.trees.iter().map(|(&id, t)| (id, Arc::new(t.version.clone()))).collect();
        Ok(VersionSet {
            manifest,
            path,
            manifest_number,
            trees: Trees { trees: m.trees.clone(), max_keyspace_id: m.max_keyspace_id },
            current,
            last_seqno: m.last_seqno,
            default_merge_operator: m.default_merge_operator.clone(),
        })
    }

    /// What the manifest holds now, as `read_manifest` would return it (without a
    /// manifest number, and with `wals` and `next_file_number` as given): what a
    /// checkpoint writes as its own manifest. Holding it keeps every table it names.
    pub fn state(&self, next_file_number: u64, wals: BTreeSet<u64>) -> Manifested {
        let mut trees = self.trees.trees.clone();
        for (id, t) in trees.iter_mut() {
            if let Some(v) = self.current.get(id) {
                t.version = Version::clone(v);
            }
        }
        Manifested {
            trees,
            max_keyspace_id: self.trees.max_keyspace_id,
            next_file_number,
            last_seqno: self.last_seqno,
            manifest_number: None,
            wals: Some(wals),
            default_merge_operator: self.default_merge_operator.clone(),
        }
    }

    /// The current version of keyspace `id` (empty if it is not live).
    pub fn current(&self, id: u32) -> Arc<Version> {
        self.current.get(&id).map_or_else(|| Arc::new(Version::default()), Arc::clone)
    }

    /// Every table some live keyspace's version names.
    pub fn live_tables(&self) -> BTreeSet<u64> {
        self.current.values().flat_map(|v| v.files().map(|(_, f)| f.number)).collect()
    }

    /// The oldest WAL any keyspace still needs.
    pub fn log_number(&self) -> u64 {
        self.trees.log_number()
    }

    /// The id the next keyspace created gets (ids are never reused).
    pub fn next_keyspace_id(&self) -> u32 {
        self.trees.max_keyspace_id + 1
    }

    /// Logs `edit` durably, then makes the versions it produces current; returns the
    /// edited keyspace's version. On error nothing is installed and the error is
    /// latched in `latch`: the manifest may hold a partial record, which is a torn tail
    /// only if nothing follows it, so every later call fails (with
    /// `Error::Background`) until a reopen writes a fresh manifest. The same goes once
    /// anything else has latched a failure.
    pub fn log_and_apply(
        &mut self,
        mut edit: VersionEdit,
        next_file_number: u64,
        latch: &Latch,
    ) -> Result<Arc<Version>> {
        latch.check_failed()?;
        let mut trees = self.trees.clone();
        // An edit the live state refuses is a bug, reported against the manifest it
        // was about to extend (nothing was written).
        let version =
            trees.apply(&edit).map_err(|e| relocate(e, &self.path, self.manifest.len()))?;
        edit.next_file_number = Some(next_file_number);
        let last_seqno = self.last_seqno.max(edit.last_seqno.unwrap_or(0));
        edit.last_seqno = Some(last_seqno);
        let logged = self.manifest.add_record(&edit.encode()).and_then(|()| self.manifest.sync());
        if let Err(e) = logged {
            latch.fail(&e);
            return Err(e);
        }
        // Only a durable edit moves what later edits build on: a failed one must not
        // lend its log number or seqno to the next edit that does reach the disk.
        self.trees = trees;
        self.last_seqno = last_seqno;
        self.current.retain(|id, _| self.trees.trees.contains_key(id));
        for id in self.trees.trees.keys() {
            self.current.entry(*id).or_insert_with(|| Arc::new(Version::default()));
        }
        let version = match version {
            Some(v) => {
                let v = Arc::new(v);
                if let Some(t) = self.current.get_mut(&edit.keyspace) {
                    *t = Arc::clone(&v);
                }
                v
            }
            None => Arc::new(Version::default()),
        };
        Ok(version)
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

    fn manifested(log_number: u64, next_file_number: u64, last_seqno: u64) -> Manifested {
        let mut m = Manifested { next_file_number, last_seqno, ..Manifested::default() };
        m.trees.get_mut(&0).unwrap().log_number = log_number;
        m
    }

    /// Found by `fuzz/run db_ops`: a flush's manifest sync failed after its edit had
    /// already raised the set's log number and last seqno; a compaction finishing just
    /// after it appended an edit that carried that seqno, with the old log number, and
    /// the next open refused the still-live WAL ("batch seqno 14 does not follow 15").
    #[test]
    fn a_failed_manifest_sync_lends_its_seqno_to_no_later_edit() {
        let fs = MemFs::new();
        let dir = Path::new("/db");
        fs.create_dir_all(dir).unwrap();
        let m = manifested(3, 10, 11);
        let mut set = VersionSet::create(Arc::new(fs.clone()), dir, 5, 6, &m).unwrap();
        let latch = Latch::default();

        fs.fail_sync_after(0);
        let flush =
            VersionEdit { log_number: Some(19), last_seqno: Some(15), ..VersionEdit::default() };
        assert!(set.log_and_apply(flush, 20, &latch).is_err());
        fs.clear_faults();
        assert_eq!((set.log_number(), set.last_seqno), (3, 11), "a failed edit moved the set");

        // The manifest may now end in a partial record: a later edit must not follow it.
        let compaction = VersionEdit::default();
        assert!(
            set.log_and_apply(compaction, 21, &latch).is_err(),
            "an edit was appended after a failed one"
        );
        let (m, _) = read_manifest(&fs, dir).unwrap().unwrap();
        assert_eq!((m.log_number(), m.last_seqno), (3, 11));
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
            let m = manifested(3, next_file_number, last_seqno);
            VersionSet::create(Arc::new(fs.clone()), dir, 5, 6, &m).unwrap();
            let e = read_manifest(&fs, dir).unwrap_err();
            assert!(e.is_corruption(), "{e}");
        }
    }
}
