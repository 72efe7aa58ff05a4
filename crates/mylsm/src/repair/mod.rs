//! Repair: rebuilding a database's manifest from the tables and logs in its directory,
//! when the manifest is lost or damaged (LevelDB's `RepairDB`).
//!
//! [`repair`] takes the directory's lock, then:
//! 1. reads every table whole (`Table::verify`); a damaged one is moved to `DIR/lost/`
//!    (never deleted);
//! 2. reads what it can of the old manifest (up to its first bad record) for the names
//!    and options of the keyspaces and the keyspaces dropped;
//! 3. places each table in its keyspace: tables of keyspaces other than the default
//!    record theirs (properties tag 104, `docs/table_format.md`), so keyspaces whose
//!    tables survive come back with their names and options; tables of a keyspace the
//!    manifest says was dropped, or of one whose name a newer keyspace took, go to
//!    `lost/`;
//! 4. reads the logs up to the first damage, and writes each keyspace's records that
//!    its tables lack into one new L0 table (see `logs.rs`); records of a keyspace it
//!    knows no name for make a keyspace named `repaired-ID`;
//! 5. gives every ingested table its global seqno: the one its ingest's marker in a
//!    log recorded, or else a new one above every seqno found, in file-number order;
//! 6. writes a fresh manifest (every table in L0, no live log) and `CURRENT` last, then
//!    moves the old manifests and the logs into `lost/`;
//! 7. fully compacts each keyspace whose tables could answer a point lookup wrongly
//!    from L0 (below).
//!
//! L0 is searched newest table first, by largest seqno, and a lookup stops at the first
//! table that answers. That is right only if, of two tables that overlap, one holds
//! only newer seqnos than the other. Tables taken from deeper levels need not: an L2
//! table can hold an older version of a key than an L1 table and still have the larger
//! largest seqno (from another key). Iterators and compactions merge by seqno and are
//! right regardless, so when such tables share a keyspace, repair opens the repaired
//! database and compacts that keyspace's whole range, and lookups are right after.
//!
//! What is lost for good: writes in the part of a log after damage (and in later logs);
//! keyspace names and options that only the manifest held (a keyspace whose tables all
//! predate tag 104 is merged into the default one); the keyspace of an ingested table
//! not yet rewritten by a compaction (it goes to the default keyspace); and, when no
//! log holds its marker, the global seqno of an ingested table: the new one is above
//! every seqno found, so if a later write to one of its keys was flushed before the
//! manifest was lost, the ingested value wins over it.

mod logs;
mod scan;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use scan::{GoodTable, KeyspaceInfo, Listing, Salvaged};

use crate::filename;
use crate::fs::FileSystem;
use crate::key;
use crate::sstable::{FileMeta, KeyspaceTag, TableOptions};
use crate::version::set::{Manifested, TreeManifest, DEFAULT_KEYSPACE};
use crate::version::{Version, VersionEdit, VersionSet};
use crate::{Db, Error, Options, Result};

/// The directory inside the database directory that repair moves files into.
pub const LOST_DIR: &str = "lost";

/// What [`repair`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RepairReport {
    /// Tables in the rebuilt manifest, those written from the logs included.
    pub tables: usize,
    /// Damaged tables, moved to `lost/`.
    pub tables_lost: usize,
    /// Intact tables of keyspaces that had been dropped, moved to `lost/`.
    pub tables_orphaned: usize,
    /// Logs read (then moved to `lost/`).
    pub wals: usize,
    /// Records taken from those logs (the ones no table held yet).
    pub wal_records: u64,
    /// Tables written from those records.
    pub wal_tables: usize,
    /// Where reading the logs stopped at damage; nothing after it was used.
    pub wal_damage: Option<String>,
    /// The keyspaces of the rebuilt database, by name, the default one first.
    pub keyspaces: Vec<String>,
    /// Keyspaces whose names were lost with the manifest (their data was only in the
    /// logs), recreated as `repaired-ID`.
    pub keyspaces_unnamed: Vec<String>,
    /// The manifest whose intact records gave keyspace names, options and drops.
    pub manifest_salvaged: Option<PathBuf>,
    /// Ingested tables no log recorded the global seqno of, with the one they got:
    /// `(table number, seqno)`.
    pub ingested_reseqnoed: Vec<(u64, u64)>,
    /// Keyspaces compacted after the rebuild (see [module docs](mod@crate::repair)).
    pub compacted: Vec<String>,
    /// The highest sequence number in the rebuilt database.
    pub last_seqno: u64,
    /// Every file moved into `lost/`, where it now is.
    pub moved: Vec<PathBuf>,
}

/// Rebuilds the manifest of the database in `dir` from its tables and logs (see the
/// [module docs](mod@crate::repair)); the next [`Db::open`] with the same options opens
/// it. Run it when an open fails with [`Error::Corruption`] naming the manifest or
/// `CURRENT`, or naming a table (which repair moves to `lost/`).
///
/// ```
/// # fn main() -> mylsm::Result<()> {
/// # let tmp = tempfile::tempdir().unwrap();
/// let dir = tmp.path().join("db");
/// let db = mylsm::Db::open(&dir, mylsm::Options::default())?;
/// db.put("k", "v")?;
/// db.flush()?;
/// db.close()?;
/// std::fs::remove_file(dir.join("CURRENT")).unwrap();
/// assert!(mylsm::Db::open(&dir, mylsm::Options::default()).is_err());
///
/// let report = mylsm::repair(&dir, &mylsm::Options::default())?;
/// assert_eq!(report.keyspaces, ["default"]);
/// let db = mylsm::Db::open(&dir, mylsm::Options::default())?;
/// assert_eq!(db.get("k")?.as_deref(), Some(&b"v"[..]));
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::Locked`] if the database is open in a writable handle;
/// `InvalidArgument` if `dir` holds no database (no tables, logs or manifest) or the
/// options are invalid; I/O errors. An error leaves every original file in `dir` or in
/// `lost/`, so repair can run again. An error from the final compaction (a keyspace
/// whose merge operator `options` cannot find, say) comes after the manifest is
/// rebuilt: the database then opens, with lookups possibly wrong until compacted.
pub fn repair(dir: impl AsRef<Path>, options: &Options) -> Result<RepairReport> {
    let dir = dir.as_ref();
    options.validate()?;
    let fs = Arc::clone(&options.fs);
    let no_database =
        || Error::InvalidArgument(format!("no database to repair at {}", dir.display()));
    // Like open, nothing (not even LOCK) is written into a directory without a database.
    if !fs.exists(dir) || !Listing::read(fs.as_ref(), dir)?.holds_database() {
        return Err(no_database());
    }
    let lock = fs.lock(&filename::lock_file(dir))?;
    let listing = Listing::read(fs.as_ref(), dir)?;
    let mut r = Repairer { fs, dir, report: RepairReport::default() };
    let rebuilt = r.rebuild(options, &listing)?;
    drop(lock);
    let mut report = r.report;
    if !rebuilt.is_empty() {
        let db = Db::open(dir, options.clone())?;
        for name in rebuilt {
            db.keyspace(&name)?.compact_all()?;
            report.compacted.push(name);
        }
        db.close()?;
    }
    Ok(report)
}

struct Repairer<'a> {
    fs: Arc<dyn FileSystem>,
    dir: &'a Path,
    report: RepairReport,
}

impl Repairer<'_> {
    /// Steps 1-6 of [`repair`]; returns the keyspaces to compact.
    fn rebuild(&mut self, options: &Options, listing: &Listing) -> Result<Vec<String>> {
        let salvaged = scan::salvage_manifest(self.fs.as_ref(), self.dir, listing);
        self.report.manifest_salvaged.clone_from(&salvaged.from);
        let mut good = Vec::new();
        for &n in &listing.tables {
            match scan::check_table(self.fs.as_ref(), self.dir, n)? {
                Ok(t) => good.push(t),
                Err(_) => {
                    self.report.tables_lost += 1;
                    self.move_to_lost(&filename::table_file(self.dir, n))?;
                }
            }
        }
        let (mut keyspaces, skip) = keyspaces(&salvaged, &good);
        let mut tables: BTreeMap<u32, Vec<FileMeta>> = BTreeMap::new();
        for t in good {
            let id = t.props.keyspace_id;
            if skip.contains(&id) {
                self.report.tables_orphaned += 1;
                self.move_to_lost(&filename::table_file(self.dir, t.meta.number))?;
                continue;
            }
            tables.entry(id).or_default().push(t.meta);
        }
        // What each keyspace's tables hold already (ingested tables, at seqno 0, say
        // nothing about that).
        let covered: BTreeMap<u32, u64> = tables
            .iter()
            .map(|(&id, files)| (id, files.iter().map(|f| f.largest_seqno).max().unwrap_or(0)))
            .collect();
        let logs: Vec<u64> = listing.logs.keys().copied().collect();
        let replayed = logs::replay(self.fs.as_ref(), self.dir, &logs, &covered, &skip)?;
        self.report.wals = logs.len();
        self.report.wal_records = replayed.records;
        self.report.wal_damage.clone_from(&replayed.damage);

        // Ingested tables (written by `SstWriter`: every entry at seqno 0, read at a
        // global seqno only the manifest and the ingest's marker recorded): the
        // marker's seqno, or new ones above everything.
        let mut top = [replayed.max_seqno, salvaged.last_seqno]
            .into_iter()
            .chain(tables.values().flatten().map(|f| f.largest_seqno))
            .max()
            .unwrap_or(0);
        let mut ingested: Vec<&mut FileMeta> =
            tables.values_mut().flatten().filter(|f| f.largest_seqno == 0).collect();
        ingested.sort_by_key(|f| f.number);
        for f in ingested {
            let seqno = match replayed.ingested.get(&f.number) {
                Some(&s) => s,
                None => {
                    top += 1;
                    self.report.ingested_reseqnoed.push((f.number, top));
                    top
                }
            };
            (f.global_seqno, f.smallest_seqno, f.largest_seqno) = (seqno, seqno, seqno);
        }
        self.report.last_seqno = top;

        // The logs' records, one new L0 table per keyspace.
        let mut next = listing.max_number + 1;
        for (&id, mem) in &replayed.mems {
            if !keyspaces.contains_key(&id) {
                let name = unused_name(&keyspaces, id);
                self.report.keyspaces_unnamed.push(name.clone());
                keyspaces.insert(id, KeyspaceInfo { name, options: Vec::new() });
            }
            let info = &keyspaces[&id];
            let files = tables.entry(id).or_default();
            let version = l0_version(files)?;
            let limit = crate::engine::table_file::max_user_key(&version, [mem.as_ref()]);
            let opts = options
                .keyspace_tree_options(&info.options, &info.name, self.dir)
                .map_or_else(|_| TableOptions::from(options), |t| t.table);
            let tag = KeyspaceTag { id, name: info.name.clone(), options: info.options.clone() };
            let written = crate::engine::table_file::write_table(
                self.fs.as_ref(),
                self.dir,
                next,
                &opts,
                mem,
                limit,
                Some(&tag),
            )?;
            next += 1;
            if let Some(meta) = written {
                self.report.wal_tables += 1;
                files.push(meta);
            }
        }

        let mut m = Manifested {
            max_keyspace_id: keyspaces
                .keys()
                .copied()
                .max()
                .unwrap_or(0)
                .max(salvaged.max_keyspace_id.max(skip.iter().copied().max().unwrap_or(0))),
            next_file_number: next + 2,
            last_seqno: top,
            manifest_number: None,
            wals: Some(BTreeSet::new()),
            default_merge_operator: salvaged.default_merge_operator.clone(),
            trees: BTreeMap::new(),
        };
        let mut compact = Vec::new();
        for (id, info) in keyspaces {
            let files = tables.remove(&id).unwrap_or_default();
            self.report.tables += files.len();
            if interleaved(&files) {
                compact.push(info.name.clone());
            }
            self.report.keyspaces.push(info.name.clone());
            let version = l0_version(&files)?;
            let tree =
                TreeManifest { name: info.name, options: info.options, version, log_number: next };
            m.trees.insert(id, tree);
        }
        // `CURRENT` names the new manifest once this returns; only then do the old
        // manifests and the logs (whose records are in tables now) leave.
        drop(VersionSet::create(Arc::clone(&self.fs), self.dir, next, next + 1, &m)?);
        for &n in &listing.manifests {
            self.move_to_lost(&filename::manifest_file(self.dir, n))?;
        }
        for &n in &logs {
            self.move_to_lost(&filename::log_file(self.dir, n))?;
        }
        self.fs.sync_dir(self.dir)?;
        Ok(compact)
    }

    /// Moves `path` into `lost/` under its own name (with `.N` added if `lost/` has one
    /// already), durably.
    fn move_to_lost(&mut self, path: &Path) -> Result<()> {
        let lost = self.dir.join(LOST_DIR);
        self.fs.create_dir_all(&lost)?;
        let name = path.file_name().map_or_else(Default::default, |n| n.to_string_lossy());
        let mut to = lost.join(name.as_ref());
        let mut i = 1;
        while self.fs.exists(&to) {
            to = lost.join(format!("{name}.{i}"));
            i += 1;
        }
        self.fs.rename(path, &to)?;
        self.fs.sync_dir(&lost)?;
        self.report.moved.push(to);
        Ok(())
    }
}

/// The keyspaces to recreate (id → name and options, the default one included), and
/// the ids whose tables and records are garbage: keyspaces the salvaged manifest saw
/// dropped, and keyspaces whose name a keyspace of a higher id holds (names are unique
/// among live keyspaces and ids are never reused, so the lower id was dropped).
fn keyspaces(
    salvaged: &Salvaged,
    good: &[GoodTable],
) -> (BTreeMap<u32, KeyspaceInfo>, BTreeSet<u32>) {
    let mut skip = salvaged.dropped.clone();
    let mut ks = salvaged.keyspaces.clone();
    for t in good {
        let p = &t.props;
        if p.keyspace_id != 0 && !skip.contains(&p.keyspace_id) {
            let info =
                KeyspaceInfo { name: p.keyspace_name.clone(), options: p.keyspace_options.clone() };
            ks.entry(p.keyspace_id).or_insert(info);
        }
    }
    ks.retain(|&id, _| id != 0);
    let mut by_name: BTreeMap<String, u32> = BTreeMap::new();
    for (&id, info) in &ks {
        // Ascending ids: a later one with the same name supersedes.
        if let Some(old) = by_name.insert(info.name.clone(), id) {
            skip.insert(old);
        }
    }
    if let Some(&id) = by_name.get(DEFAULT_KEYSPACE) {
        skip.insert(id);
    }
    ks.retain(|id, _| !skip.contains(id));
    let default = KeyspaceInfo { name: DEFAULT_KEYSPACE.to_string(), options: Vec::new() };
    ks.insert(0, default);
    (ks, skip)
}

/// A name for keyspace `id`, whose name was lost, that no keyspace in `ks` has.
fn unused_name(ks: &BTreeMap<u32, KeyspaceInfo>, id: u32) -> String {
    let taken = |n: &str| ks.values().any(|k| k.name == n);
    let mut name = format!("repaired-{id}");
    let mut i = 1;
    while taken(&name) {
        name = format!("repaired-{id}-{i}");
        i += 1;
    }
    name
}

/// A version with `files` in L0.
fn l0_version(files: &[FileMeta]) -> Result<Version> {
    let added = files.iter().map(|f| (0, f.clone())).collect();
    Version::default().apply(&VersionEdit { added, ..VersionEdit::default() })
}

/// Whether two of `files` overlap in user keys while neither holds only newer seqnos
/// than the other: then L0's newest-first lookup could stop at an older version.
fn interleaved(files: &[FileMeta]) -> bool {
    files.iter().enumerate().any(|(i, a)| {
        files[i + 1..].iter().any(|b| {
            let overlap = key::user_key(&a.smallest) <= key::user_key(&b.largest)
                && key::user_key(&b.smallest) <= key::user_key(&a.largest);
            let ordered = a.smallest_seqno > b.largest_seqno || b.smallest_seqno > a.largest_seqno;
            overlap && !ordered
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(number: u64, keys: (&str, &str), seqnos: (u64, u64)) -> FileMeta {
        let ikey = |k: &str, s| {
            let mut v = Vec::new();
            key::append_internal_key(&mut v, k.as_bytes(), s, key::Kind::Put);
            v
        };
        FileMeta {
            number,
            size: 1,
            smallest: ikey(keys.0, seqnos.0),
            largest: ikey(keys.1, seqnos.1),
            smallest_seqno: seqnos.0,
            largest_seqno: seqnos.1,
            has_range_dels: false,
            expires_by: 0,
            global_seqno: 0,
            num_entries: 0,
            num_deletes: 0,
        }
    }

    #[test]
    fn only_overlapping_tables_with_interleaved_seqnos_need_a_compaction() {
        // Flushes: each newer than the one before.
        let flushed = [table(1, ("a", "z"), (1, 10)), table(2, ("a", "z"), (11, 20))];
        assert!(!interleaved(&flushed));
        // Disjoint key ranges never conflict, whatever their seqnos.
        let disjoint = [table(1, ("a", "f"), (1, 30)), table(2, ("g", "z"), (5, 20))];
        assert!(!interleaved(&disjoint));
        // A deep table with a wide seqno range under a shallower one.
        let deep = [table(1, ("a", "z"), (1, 30)), table(2, ("k", "m"), (12, 20))];
        assert!(interleaved(&deep));
    }

    #[test]
    fn a_name_taken_by_a_newer_keyspace_or_a_drop_makes_tables_garbage() {
        let tagged = |id: u32, name: &str| GoodTable {
            meta: table(u64::from(id), ("a", "b"), (1, 2)),
            props: crate::sstable::TableProperties {
                keyspace_id: id,
                keyspace_name: name.into(),
                ..Default::default()
            },
        };
        let mut salvaged = Salvaged::default();
        salvaged.dropped.insert(4);
        let good = [tagged(2, "users"), tagged(3, "orders"), tagged(4, "gone"), tagged(7, "users")];
        let (ks, skip) = keyspaces(&salvaged, &good);
        let names: Vec<(u32, &str)> = ks.iter().map(|(&id, k)| (id, k.name.as_str())).collect();
        assert_eq!(names, [(0, "default"), (3, "orders"), (7, "users")]);
        assert_eq!(skip, BTreeSet::from([2, 4]));
    }
}
