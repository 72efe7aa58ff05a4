//! Read-only reports on the files of a database — one table, one log, the manifest —
//! for `mylsm inspect` and for anyone debugging a directory by hand.
//!
//! These read files directly and take no lock, so they can look at a database another
//! process has open; what they report may then be a moment out of date.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::batch::WriteBatch;
use crate::cache::BlockCache;
use crate::fs::FileSystem;
use crate::key::Kind;
use crate::sstable::Table;
use crate::version::set::read_manifest;
use crate::version::NUM_LEVELS;
use crate::wal::{LogReader, RecoveryMode};
use crate::{Error, Result};

pub use crate::sstable::{BlockInfo, FilterInfo, TableProperties};

/// What `inspect sst` shows of one table file.
#[derive(Debug, Clone)]
pub struct TableReport {
    /// The table file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_size: u64,
    /// Its properties block.
    pub properties: TableProperties,
    /// Every data block, in file order.
    pub blocks: Vec<BlockInfo>,
    /// The bloom filter's shape, if the table has one.
    pub filter: Option<FilterInfo>,
    /// The range tombstones, fragmented: `[start, end)` (`None`: no end) with the
    /// seqno of each tombstone covering the piece, newest first.
    pub range_tombstones: Vec<RangeTombstone>,
}

/// A range tombstone piece as `inspect sst` shows it: start, end (`None`: no end), and
/// the seqnos of the tombstones covering it, newest first.
pub type RangeTombstone = (Vec<u8>, Option<Vec<u8>>, Vec<u64>);

/// Opens table `path`, verifies every checksum in it, and describes it.
///
/// # Errors
/// An I/O error if the file cannot be opened or read; `Corruption`, naming the offset,
/// if it is not a table or any block fails its checksum or does not decode.
pub fn table(fs: &dyn FileSystem, path: &Path) -> Result<TableReport> {
    let file = fs.open(path)?;
    let file_size = file.len()?;
    let table = Table::open(file, path.to_path_buf(), 0, file_size, Arc::new(BlockCache::new(0)))?;
    table.verify()?;
    Ok(TableReport {
        path: path.to_path_buf(),
        file_size,
        properties: table.properties().clone(),
        blocks: table.blocks()?,
        filter: table.filter_info(),
        range_tombstones: table
            .range_tombstones()
            .map(|f| {
                f.pieces().map(|p| (p.start.clone(), p.end.clone(), p.seqnos.clone())).collect()
            })
            .unwrap_or_default(),
    })
}

/// One internal entry of a table, as `inspect sst --scan` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableEntryView {
    /// The user key.
    pub key: Vec<u8>,
    /// The entry's sequence number.
    pub seqno: u64,
    /// `"put"`, `"delete"`, `"merge"` or `"put-expiring"`.
    pub kind: &'static str,
    /// The value (for an expiring put, without its expiry).
    pub value: Vec<u8>,
    /// An expiring put's expiry, ms since the epoch.
    pub expiry: Option<u64>,
}

/// The internal entries of table `path` whose user keys lie in `[from, to)` (`None`:
/// unbounded), every version, in the table's order, at most `limit` of them.
///
/// # Errors
/// An I/O error if the file cannot be opened or read; `Corruption` if it is not a
/// table or a block it reads is damaged.
pub fn table_entries(
    fs: &dyn FileSystem,
    path: &Path,
    from: Option<&[u8]>,
    to: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<TableEntryView>> {
    use crate::iter::InternalIterator;
    let file = fs.open(path)?;
    let file_size = file.len()?;
    let table = Table::open(file, path.to_path_buf(), 0, file_size, Arc::new(BlockCache::new(0)))?;
    let table = Arc::new(table);
    let mut it = table.iter();
    match from {
        Some(k) => it.seek(&crate::key::lookup_key(k, crate::key::MAX_SEQNO)),
        None => it.seek_to_first(),
    }
    let mut out = Vec::new();
    while it.valid() && out.len() < limit {
        let Some(p) = crate::key::parse_internal_key(it.key()) else {
            return Err(Error::corruption(path, 0, "malformed internal key in a data block"));
        };
        if to.is_some_and(|t| p.user_key >= t) {
            break;
        }
        let (kind, value, expiry) = match p.kind {
            Kind::Put => ("put", it.value().to_vec(), None),
            Kind::Delete => ("delete", Vec::new(), None),
            Kind::Merge => ("merge", it.value().to_vec(), None),
            Kind::PutExpiring => match crate::expiry::decode(it.value()) {
                Some((e, v)) => ("put-expiring", v.to_vec(), Some(e)),
                None => ("put-expiring", Vec::new(), None),
            },
            Kind::RangeDelete => ("delete-range", it.value().to_vec(), None),
        };
        out.push(TableEntryView { key: p.user_key.to_vec(), seqno: p.seqno, kind, value, expiry });
        it.next();
    }
    it.status()?;
    Ok(out)
}

/// One operation of a logged batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOp {
    /// The sequence number of the operation.
    pub seqno: u64,
    /// `"put"`, `"delete"`, `"merge"`, `"delete-range"` (the key is the start, the
    /// end is the value) or `"put-expiring"`.
    pub kind: &'static str,
    /// The user key (a range deletion's start).
    pub key: Vec<u8>,
    /// Bytes of the value (operand, end key or expiring value).
    pub value_len: usize,
}

/// One record (one write group) of a write-ahead log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// File offset of the record's first fragment.
    pub offset: u64,
    /// The operations of the record's batch, in seqno order.
    pub ops: Vec<LoggedOp>,
}

/// Every record of log `path`, checking every checksum; a torn tail ends the list.
///
/// # Errors
/// An I/O error if the file cannot be opened or read; `Corruption`, naming the offset,
/// for damage other than a torn tail, or a record that is not a write batch.
pub fn wal(fs: &dyn FileSystem, path: &Path) -> Result<Vec<LogRecord>> {
    let mut reader = LogReader::new(fs.open(path)?, path, RecoveryMode::TolerateTornTail)?;
    let mut out = Vec::new();
    while let Some((offset, record)) = reader.next_record()? {
        let batch = WriteBatch::decode(&record, path, offset)?;
        let ops = batch
            .records()
            .enumerate()
            .map(|(i, r)| LoggedOp {
                seqno: batch.seqno() + i as u64,
                kind: match r.kind {
                    Kind::Put => "put",
                    Kind::Delete => "delete",
                    Kind::Merge => "merge",
                    Kind::RangeDelete => "delete-range",
                    Kind::PutExpiring => "put-expiring",
                },
                key: r.key.to_vec(),
                value_len: r.value.len(),
            })
            .collect();
        out.push(LogRecord { offset, ops });
    }
    Ok(out)
}

/// One live table as the manifest records it: number, size, smallest and largest
/// internal keys, seqno range.
pub use crate::version::FileMeta as TableEntry;

/// What `inspect manifest` shows.
#[derive(Debug, Clone)]
pub struct ManifestReport {
    /// The manifest file read.
    pub manifest: PathBuf,
    /// Each edit of the manifest, rendered for reading.
    pub edits: Vec<String>,
    /// The default keyspace's live tables per level, L0 first.
    pub levels: Vec<Vec<TableEntry>>,
    /// The other live keyspaces: (id, name, tables per level).
    pub keyspaces: Vec<(u32, String, Vec<Vec<TableEntry>>)>,
    /// WALs numbered below this hold nothing a table lacks.
    pub log_number: u64,
    /// No file number at or above this is in use.
    pub next_file_number: u64,
    /// The highest sequence number the manifest records.
    pub last_seqno: u64,
}

/// Reads `CURRENT` and the manifest of the database in `dir`.
///
/// # Errors
/// `InvalidArgument` if `dir` has no `CURRENT` file (it holds no database); an I/O
/// error if a file cannot be read; `Corruption` if `CURRENT` or the manifest it names
/// is damaged or missing.
pub fn manifest(fs: &dyn FileSystem, dir: &Path) -> Result<ManifestReport> {
    let Some((m, edits)) = read_manifest(fs, dir)? else {
        return Err(Error::InvalidArgument(format!("{} has no CURRENT file", dir.display())));
    };
    let tables = |v: &crate::version::Version| -> Vec<Vec<TableEntry>> {
        (0..NUM_LEVELS)
            .map(|l| v.levels[l].iter().map(|f| TableEntry::clone(f)).collect())
            .collect()
    };
    let levels = m.trees.get(&0).map(|t| tables(&t.version)).unwrap_or_default();
    let keyspaces = m
        .trees
        .iter()
        .filter(|(&id, _)| id != 0)
        .map(|(&id, t)| (id, t.name.clone(), tables(&t.version)))
        .collect();
    let number = m.manifest_number.unwrap_or_default();
    Ok(ManifestReport {
        manifest: crate::filename::manifest_file(dir, number),
        edits: edits.iter().map(|e| format!("{e:?}")).collect(),
        levels,
        keyspaces,
        log_number: m.log_number(),
        next_file_number: m.next_file_number,
        last_seqno: m.last_seqno,
    })
}
