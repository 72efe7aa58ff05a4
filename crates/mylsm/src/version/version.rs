//! `Version`: an immutable snapshot of which table files make up each level, and the
//! point lookup across them.
//!
//! Invariants: L0 is ordered newest first (by file number, which grows with time) and
//! its tables may overlap; every level below is ordered by smallest key and its tables'
//! key ranges do not overlap, so at most one table per level can hold a key. A Version
//! never changes once built; an edit makes a new one.

use std::cmp::Ordering;
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::edit::{FileMeta, VersionEdit, NUM_LEVELS};
use crate::key::{self, InternalKeyComparator, Kind};
use crate::memtable::Lookup;
use crate::table_cache::TableCache;
use crate::{Error, Result};

/// The live table files, level by level.
#[derive(Debug, Clone, Default)]
pub(crate) struct Version {
    pub levels: [Vec<Arc<FileMeta>>; NUM_LEVELS],
}

impl Version {
    /// The version that results from applying `edit` to this one.
    pub fn apply(&self, edit: &VersionEdit) -> Result<Version> {
        let mut levels = self.levels.clone();
        for &(level, number) in &edit.deleted {
            let before = levels[level].len();
            levels[level].retain(|f| f.number != number);
            if levels[level].len() == before {
                return Err(Error::corruption(
                    "<manifest>",
                    0,
                    format!("edit deletes table {number} which is not in L{level}"),
                ));
            }
        }
        for (level, meta) in &edit.added {
            levels[*level].push(Arc::new(meta.clone()));
        }
        levels[0].sort_by_key(|f| std::cmp::Reverse(f.number));
        let cmp = InternalKeyComparator;
        for files in levels.iter_mut().skip(1) {
            files.sort_by(|a, b| cmp.compare(&a.smallest, &b.smallest));
            for pair in files.windows(2) {
                if key::user_key(&pair[0].largest) >= key::user_key(&pair[1].smallest) {
                    return Err(Error::corruption(
                        "<manifest>",
                        0,
                        format!(
                            "tables {} and {} overlap in a sorted level",
                            pair[0].number, pair[1].number
                        ),
                    ));
                }
            }
        }
        Ok(Version { levels })
    }

    /// The newest version of `user_key` visible at `seqno` among the tables.
    pub fn get(&self, tables: &TableCache, user_key: &[u8], seqno: u64) -> Result<Lookup> {
        let lookup = key::lookup_key(user_key, seqno);
        for file in &self.levels[0] {
            if covers(file, user_key) {
                if let Some(found) = probe(tables, file, &lookup, user_key)? {
                    return Ok(found);
                }
            }
        }
        for files in &self.levels[1..] {
            // The first table whose largest key is at or after the lookup key.
            let i = files.partition_point(|f| {
                InternalKeyComparator.compare(&f.largest, &lookup) == Ordering::Less
            });
            if let Some(file) = files.get(i) {
                if covers(file, user_key) {
                    if let Some(found) = probe(tables, file, &lookup, user_key)? {
                        return Ok(found);
                    }
                }
            }
        }
        Ok(Lookup::Absent)
    }

    /// Number of table files in `level`.
    pub fn num_files(&self, level: usize) -> usize {
        self.levels[level].len()
    }

    /// Bytes of table files in `level`.
    pub fn level_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|f| f.size).sum()
    }

    /// Every live table file with its level.
    pub fn files(&self) -> impl Iterator<Item = (usize, &Arc<FileMeta>)> {
        self.levels.iter().enumerate().flat_map(|(l, fs)| fs.iter().map(move |f| (l, f)))
    }

    /// An edit that recreates this version from nothing (the first record of a new
    /// manifest).
    pub fn snapshot_edit(&self) -> VersionEdit {
        let added = self.files().map(|(l, f)| (l, FileMeta::clone(f))).collect();
        VersionEdit { added, ..VersionEdit::default() }
    }
}

fn covers(file: &FileMeta, user_key: &[u8]) -> bool {
    key::user_key(&file.smallest) <= user_key && user_key <= key::user_key(&file.largest)
}

/// Looks `user_key` up in one table; `None` if the table has no visible version.
fn probe(
    tables: &TableCache,
    file: &FileMeta,
    lookup: &[u8],
    user_key: &[u8],
) -> Result<Option<Lookup>> {
    let table = tables.get(file)?;
    let Some((found, value)) = table.get(lookup)? else { return Ok(None) };
    let Some(p) = key::parse_internal_key(&found) else {
        return Err(Error::corruption(table.path(), 0, "malformed internal key in table"));
    };
    if p.user_key != user_key {
        return Ok(None);
    }
    Ok(Some(match p.kind {
        Kind::Put => Lookup::Found(value),
        Kind::Delete => Lookup::Deleted,
    }))
}
