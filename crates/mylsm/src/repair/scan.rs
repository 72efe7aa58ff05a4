//! What repair learns from a directory before it changes anything: its files by kind,
//! each table checked end to end with its properties, and what can still be read of a
//! damaged manifest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::filename::{self, FileKind};
use crate::fs::FileSystem;
use crate::sstable::{FileMeta, Table, TableProperties};
use crate::version::VersionEdit;
use crate::wal::{LogReader, RecoveryMode};
use crate::{Error, Result};

/// The files of a database directory by kind.
#[derive(Debug, Default)]
pub(super) struct Listing {
    pub tables: BTreeSet<u64>,
    /// Logs and their sizes.
    pub logs: BTreeMap<u64, u64>,
    pub manifests: BTreeSet<u64>,
    pub has_current: bool,
    /// The highest number any file of the directory has.
    pub max_number: u64,
}

impl Listing {
    pub fn read(fs: &dyn FileSystem, dir: &Path) -> Result<Listing> {
        let mut l = Listing::default();
        for name in fs.list_dir(dir)? {
            let n = match filename::parse(&name) {
                Some(FileKind::Table(n)) => {
                    l.tables.insert(n);
                    n
                }
                Some(FileKind::Log(n)) => {
                    l.logs.insert(n, fs.open(&filename::log_file(dir, n))?.len()?);
                    n
                }
                Some(FileKind::Manifest(n)) => {
                    l.manifests.insert(n);
                    n
                }
                Some(FileKind::Temp(n)) => n,
                Some(FileKind::Current) => {
                    l.has_current = true;
                    0
                }
                Some(FileKind::Lock) | None => 0,
            };
            l.max_number = l.max_number.max(n);
        }
        Ok(l)
    }

    /// Whether the directory holds anything a database wrote that repair could use.
    pub fn holds_database(&self) -> bool {
        !self.tables.is_empty()
            || self.logs.values().any(|&size| size > 0)
            || !self.manifests.is_empty()
            || self.has_current
    }
}

/// A table that opened and verified: its metadata as a flush would have recorded it,
/// and the keyspace its properties name.
#[derive(Debug, Clone)]
pub(super) struct GoodTable {
    pub meta: FileMeta,
    pub props: TableProperties,
}

/// Opens table `number` of `dir` and reads all of it (`Table::verify`): `Ok(Err(..))`
/// with the damage if it is corrupt, `Err` for an I/O error.
pub(super) fn check_table(
    fs: &dyn FileSystem,
    dir: &Path,
    number: u64,
) -> Result<std::result::Result<GoodTable, Error>> {
    let path = filename::table_file(dir, number);
    let file = fs.open(&path)?;
    let size = file.len()?;
    let opened = Table::open(file, path, number, size, Arc::new(BlockCache::new(0)))
        .and_then(|t| t.verify().map(|()| t));
    match opened {
        Ok(t) => {
            let props = t.properties().clone();
            let meta = FileMeta::from_properties(number, props.clone());
            Ok(Ok(GoodTable { meta, props }))
        }
        Err(e) if e.is_corruption() => Ok(Err(e)),
        Err(e) => Err(e),
    }
}

/// A keyspace as repair will recreate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct KeyspaceInfo {
    pub name: String,
    /// `KeyspaceOptions::encode` of its options (empty: the database's own).
    pub options: Vec<u8>,
}

/// What a damaged (or intact) manifest still says about the keyspaces, read up to the
/// first record that does not decode.
#[derive(Debug, Default)]
pub(super) struct Salvaged {
    /// The manifest read, if one could be.
    pub from: Option<PathBuf>,
    /// The keyspaces live at the last intact record, by id (without the default one).
    pub keyspaces: BTreeMap<u32, KeyspaceInfo>,
    /// Keyspaces dropped by an intact record: their tables and log records are garbage.
    pub dropped: BTreeSet<u32>,
    pub max_keyspace_id: u32,
    pub last_seqno: u64,
    pub default_merge_operator: Option<String>,
}

/// Reads what it can of the manifest `CURRENT` names, or else of the newest manifest in
/// the directory. Never fails: a manifest that cannot be read salvages nothing.
pub(super) fn salvage_manifest(fs: &dyn FileSystem, dir: &Path, l: &Listing) -> Salvaged {
    let named = fs
        .open(&filename::current_file(dir))
        .and_then(|f| f.read_all())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| match filename::parse(s.trim_end_matches('\n')) {
            Some(FileKind::Manifest(n)) if l.manifests.contains(&n) => Some(n),
            _ => None,
        });
    let Some(number) = named.or_else(|| l.manifests.last().copied()) else {
        return Salvaged::default();
    };
    let path = filename::manifest_file(dir, number);
    let mut s = Salvaged::default();
    let Ok(mut reader) =
        fs.open(&path).and_then(|f| LogReader::new(f, &path, RecoveryMode::PointInTime))
    else {
        return s;
    };
    while let Ok(Some((offset, record))) = reader.next_record() {
        let Ok(edit) = VersionEdit::decode(&record, &path, offset) else { break };
        s.apply(&edit);
        s.from = Some(path.clone());
    }
    s
}

impl Salvaged {
    /// The keyspace bookkeeping of `edit`, in the order `VersionSet` applies it.
    fn apply(&mut self, edit: &VersionEdit) {
        if let Some(max) = edit.max_keyspace_id {
            self.max_keyspace_id = self.max_keyspace_id.max(max);
        }
        for def in &edit.keyspaces_added {
            let info = KeyspaceInfo { name: def.name.clone(), options: def.options.clone() };
            self.keyspaces.insert(def.id, info);
            self.dropped.remove(&def.id);
        }
        for &id in &edit.keyspaces_dropped {
            self.keyspaces.remove(&id);
            self.dropped.insert(id);
        }
        if let Some(n) = edit.last_seqno {
            self.last_seqno = self.last_seqno.max(n);
        }
        if let Some(name) = &edit.default_merge_operator {
            self.default_merge_operator = Some(name.clone());
        }
    }
}
