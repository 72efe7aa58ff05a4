//! `Version`: an immutable snapshot of which table files make up each level, and the
//! point lookup across them.
//!
//! Invariants: L0 is ordered newest first (by largest seqno, the table's epoch: a
//! flushed memtable's seqnos are all newer than those of the tables flushed before it,
//! and an ingested table's global seqno is newer than everything it may overlap; file
//! numbers do not say this, since an ingest can take its number before a flush of older
//! data takes one) and its tables may overlap; every level below is ordered by smallest key and its tables'
//! key ranges do not overlap, so at most one table per level can hold a key. A Version
//! never changes once built; an edit makes a new one.

use std::cmp::Ordering;
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::edit::{FileMeta, VersionEdit, NUM_LEVELS};
use crate::key::{self, InternalKeyComparator};
use crate::resolve::{Resolver, Walk};
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
        let mut removed = Vec::new();
        for &(level, number) in &edit.deleted {
            let Some(i) = levels[level].iter().position(|f| f.number == number) else {
                return Err(Error::corruption(
                    "<manifest>",
                    0,
                    format!("edit deletes table {number} which is not in L{level}"),
                ));
            };
            removed.push(levels[level].remove(i));
        }
        for (level, meta) in &edit.added {
            // A file moved between levels keeps its `Arc`: whether a table file may be
            // deleted is judged by who still holds that `Arc`, so a moved file must not
            // look unreferenced while an older version still reads it.
            let moved = removed.iter().find(|f| f.number == meta.number && ***f == *meta);
            levels[*level].push(moved.map_or_else(|| Arc::new(meta.clone()), Arc::clone));
        }
        levels[0].sort_by_key(|f| std::cmp::Reverse((f.largest_seqno, f.number)));
        let cmp = InternalKeyComparator;
        for files in levels.iter_mut().skip(1) {
            files.sort_by(|a, b| cmp.compare(&a.smallest, &b.smallest));
            for pair in files.windows(2) {
                // A table bounded by a tombstone's end sentinel ends before that key.
                let (end, next) =
                    (key::user_key(&pair[0].largest), key::user_key(&pair[1].smallest));
                let exclusive = crate::range_del::is_end_sentinel(&pair[0].largest);
                if end > next || (end == next && !exclusive) {
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

    /// Feeds `r` the versions of `user_key` the tables hold, newest first, until it
    /// has what it needs.
    pub fn get(&self, tables: &TableCache, user_key: &[u8], r: &mut Resolver<'_>) -> Result<()> {
        for file in &self.levels[0] {
            if covers(file, user_key) && probe(tables, file, user_key, r)? {
                return Ok(());
            }
        }
        for files in &self.levels[1..] {
            // The first table whose largest key is at or after the lookup key. (A table
            // bounded by a tombstone's end sentinel ends before that user key.)
            let lookup = key::lookup_key(user_key, r.read_seqno());
            let i = files.partition_point(|f| {
                InternalKeyComparator.compare(&f.largest, &lookup) == Ordering::Less
            });
            if let Some(file) = files.get(i) {
                if covers(file, user_key) && probe(tables, file, user_key, r)? {
                    return Ok(());
                }
            }
        }
        r.end();
        Ok(())
    }

    /// The seqno of the newest change to `user_key` in the tables: its newest version or
    /// a newer covering range tombstone; 0 if none.
    pub fn newest_seqno(&self, tables: &TableCache, user_key: &[u8]) -> Result<u64> {
        let lookup = key::lookup_key(user_key, key::MAX_SEQNO);
        let l0 = self.levels[0].iter().filter(|f| covers(f, user_key));
        let sorted = self.levels[1..].iter().filter_map(|files| {
            let i = files.partition_point(|f| {
                InternalKeyComparator.compare(&f.largest, &lookup) == Ordering::Less
            });
            files.get(i).filter(|f| covers(f, user_key))
        });
        for file in l0.chain(sorted) {
            let table = tables.get(file)?;
            let mut newest =
                table.range_tombstones().map_or(0, |f| f.max_cover(user_key, key::MAX_SEQNO));
            table.for_each_version(&lookup, user_key, &tables.filter, |ikey, _| {
                if let Some(p) = key::parse_internal_key(ikey) {
                    newest = newest.max(p.seqno);
                }
                false
            })?;
            if newest > 0 {
                return Ok(newest);
            }
        }
        Ok(0)
    }

    /// The files of `level` whose user-key range meets `[begin, end]` (`None`: unbounded
    /// on that side), in the level's order. For L0 these are only the files that meet
    /// the range itself, not those that meet them in turn.
    pub fn overlapping_files(
        &self,
        level: usize,
        begin: Option<&[u8]>,
        end: Option<&[u8]>,
    ) -> Vec<Arc<FileMeta>> {
        let files = &self.levels[level];
        let meets = |f: &FileMeta| {
            begin.is_none_or(|b| key::user_key(&f.largest) >= b)
                && end.is_none_or(|e| key::user_key(&f.smallest) <= e)
        };
        if level == 0 {
            return files.iter().filter(|f| meets(f)).cloned().collect();
        }
        // A sorted level: skip the files that end before `begin`, then take files until
        // one starts after `end`.
        let start = begin.map_or(0, |b| files.partition_point(|f| key::user_key(&f.largest) < b));
        files[start..].iter().take_while(|f| meets(f)).cloned().collect()
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
    let largest = key::user_key(&file.largest);
    let below_largest = match user_key.cmp(largest) {
        Ordering::Less => true,
        Ordering::Equal => !crate::range_del::is_end_sentinel(&file.largest),
        Ordering::Greater => false,
    };
    key::user_key(&file.smallest) <= user_key && below_largest
}

/// Feeds `r` the versions of `user_key` in one table; `true` when the walk is over
/// (a base or end was found, or a tombstone in this table hides everything older).
fn probe(
    tables: &TableCache,
    file: &FileMeta,
    user_key: &[u8],
    r: &mut Resolver<'_>,
) -> Result<bool> {
    let table = tables.get(file)?;
    // Tombstones first: a table the bloom filter rules out may still delete the key.
    if let Some(f) = table.range_tombstones() {
        r.cover(f.max_cover(user_key, r.read_seqno()));
    }
    let lookup = key::lookup_key(user_key, r.read_seqno());
    let mut failed = Ok(());
    table.for_each_version(&lookup, user_key, &tables.filter, |ikey, value| {
        let Some(p) = key::parse_internal_key(ikey) else {
            failed = Err(Error::corruption(table.path(), 0, "malformed internal key in table"));
            return false;
        };
        match r.feed(p.seqno, p.kind, value) {
            Ok(w) => w == Walk::More,
            Err(e) => {
                failed = Err(e);
                false
            }
        }
    })?;
    failed?;
    Ok(r.is_done() || r.covered_at() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Kind;

    fn meta(number: u64, lo: &[u8], hi: &[u8]) -> FileMeta {
        let ik = |k: &[u8]| {
            let mut v = Vec::new();
            key::append_internal_key(&mut v, k, 1, Kind::Put);
            v
        };
        FileMeta {
            number,
            size: 100,
            smallest: ik(lo),
            largest: ik(hi),
            smallest_seqno: 1,
            largest_seqno: 1,
            has_range_dels: false,
            expires_by: 0,
            global_seqno: 0,
            num_entries: 0,
            num_deletes: 0,
        }
    }

    #[test]
    fn a_moved_file_keeps_its_arc_so_it_is_not_mistaken_for_unreferenced() {
        let add = VersionEdit { added: vec![(0, meta(7, b"a", b"c"))], ..VersionEdit::default() };
        let v1 = Version::default().apply(&add).unwrap();
        let mv = VersionEdit {
            deleted: vec![(0, 7)],
            added: vec![(1, meta(7, b"a", b"c"))],
            ..VersionEdit::default()
        };
        let v2 = v1.apply(&mv).unwrap();
        assert!(Arc::ptr_eq(&v1.levels[0][0], &v2.levels[1][0]));
    }

    #[test]
    fn overlapping_tables_in_a_sorted_level_and_unknown_deletions_are_refused() {
        let two = VersionEdit {
            added: vec![(1, meta(1, b"a", b"m")), (1, meta(2, b"k", b"z"))],
            ..VersionEdit::default()
        };
        assert!(Version::default().apply(&two).unwrap_err().is_corruption());
        let del = VersionEdit { deleted: vec![(2, 9)], ..VersionEdit::default() };
        assert!(Version::default().apply(&del).unwrap_err().is_corruption());
    }
}
