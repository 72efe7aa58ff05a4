//! `Table`: an open table file: its index, filter and properties held in memory, data
//! blocks read on demand through the shared block cache.
//!
//! Opening reads the footer, then (format 2) the meta-index block it names, which says
//! where the filter and properties lie (format 1 footers say so themselves), then the
//! index, filter and properties, checking every checksum; data blocks are checked as
//! they are read. Any damage, including a handle that points outside the file, is
//! `Corruption` naming the file and the block's offset.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::block::{Block, BlockIter, BlockLoc};
use super::filter::BloomFilter;
use super::footer::{BlockHandle, Footer, FooterMeta, FOOTER_LEN};
use super::meta_index::TableMeta;
use super::raw_block::{read_block, read_exact_at};
use super::{Compression, TableIter, TableProperties};
use crate::cache::BlockCache;
use crate::fs::RandomAccessFile;
use crate::iter::InternalIterator;
use crate::key::{self, InternalKeyComparator};
use crate::range_del::Fragments;
#[cfg(any(test, feature = "fuzzing"))]
use crate::Value;
use crate::{Error, Result};

/// An open, immutable table.
#[derive(Debug)]
pub(crate) struct Table {
    file: Arc<dyn RandomAccessFile>,
    path: Arc<Path>,
    file_number: u64,
    /// Where the footer begins; every block must end at or before it.
    data_end: u64,
    cache: Arc<BlockCache>,
    index: Block,
    filter: Option<BloomFilter>,
    properties: TableProperties,
    /// The table's range tombstones, fragmented once at open (`None`: it has none).
    tombstones: Option<Arc<Fragments>>,
    /// An ingested table's global seqno: every entry (stored at seqno 0) and every
    /// tombstone reads as carrying it. 0 for other tables.
    global_seqno: u64,
}

/// What the bloom filters of the tables did for point lookups.
#[derive(Debug, Default)]
pub(crate) struct FilterCounters {
    /// Lookups that consulted a filter.
    pub checks: AtomicU64,
    /// Lookups the filter answered "absent", sparing a block read.
    pub negatives: AtomicU64,
    /// Lookups the filter let through that found no entry for the key (false
    /// positives; also counts a key present only in versions newer than the read).
    pub false_positives: AtomicU64,
}

/// One data block, as `inspect sst` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// File offset of the block.
    pub offset: u64,
    /// Bytes on disk, not counting the 5-byte trailer.
    pub size: u64,
    /// Bytes of the block contents once decompressed.
    pub uncompressed_size: u64,
    /// Entries in the block.
    pub entries: u64,
    /// The block's first internal key.
    pub first_key: Vec<u8>,
    /// The block's last internal key.
    pub last_key: Vec<u8>,
    /// How the block is compressed on disk.
    pub compression: Compression,
}

/// The shape of a table's bloom filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterInfo {
    /// Bytes of the filter block contents.
    pub size: u64,
    /// Number of 64-byte lines.
    pub num_lines: u64,
    /// Bits set (and tested) per key, all within one line.
    pub num_probes: u8,
}

impl Table {
    /// Opens table `file` (`file_size` bytes, numbered `file_number`) of either format
    /// version, reading and verifying its footer, meta-index, index, filter and properties.
    pub fn open(
        file: Arc<dyn RandomAccessFile>,
        path: PathBuf,
        file_number: u64,
        file_size: u64,
        cache: Arc<BlockCache>,
    ) -> Result<Table> {
        let path: Arc<Path> = Arc::from(path);
        let Some(data_end) = file_size.checked_sub(FOOTER_LEN as u64) else {
            let detail = format!("{file_size} bytes is too short for a table footer");
            return Err(Error::corruption(path.as_ref(), 0, detail));
        };
        let mut buf = [0; FOOTER_LEN];
        read_exact_at(file.as_ref(), &path, data_end, &mut buf)?;
        let footer = Footer::decode(&buf, &path, data_end)?;
        let read = |h: BlockHandle| read_block(file.as_ref(), &path, h, data_end);
        let loc = |h: BlockHandle| BlockLoc { file: Arc::clone(&path), offset: h.offset };

        let meta = match footer.meta {
            FooterMeta::Inline(meta) => meta,
            FooterMeta::MetaIndex(h) => {
                TableMeta::decode_meta_index(&Block::new(read(h)?.0, loc(h))?)?
            }
        };
        let index = Block::new(read(footer.index)?.0, loc(footer.index))?;
        let filter = match meta.filter {
            Some(h) => Some(
                BloomFilter::new(read(h)?.0)
                    .map_err(|e| loc(h).corruption(format!("filter: {e}")))?,
            ),
            None => None,
        };
        let h = meta.properties;
        let mut properties = TableProperties::decode(&read(h)?.0)
            .map_err(|(at, e)| loc(h).corruption(format!("{e} at byte {at} of the block")))?;
        properties.file_size = file_size;
        let tombstones = match meta.range_del {
            Some(h) => {
                let block = Block::new(read(h)?.0, loc(h))?;
                let mut ts = Vec::new();
                let mut it = block.iter();
                it.seek_to_first();
                while it.valid() {
                    let t = crate::range_del::decode_entry(it.key(), it.value());
                    ts.push(t.ok_or_else(|| loc(h).corruption("malformed range tombstone"))?);
                    it.next();
                }
                it.status()?;
                Some(Arc::new(Fragments::new(ts)))
            }
            None => None,
        };
        Ok(Table {
            file,
            path,
            file_number,
            data_end,
            cache,
            index,
            filter,
            properties,
            tombstones,
            global_seqno: 0,
        })
    }

    /// The table read as ingested at `seqno` (> 0): its entries, stored at seqno 0,
    /// and its range tombstones carry `seqno` instead.
    pub fn with_global_seqno(mut self, seqno: u64) -> Table {
        self.global_seqno = seqno;
        self.tombstones = self.tombstones.map(|t| {
            Arc::new(Fragments::new(t.tombstones().map(|mut ts| {
                ts.seqno = seqno;
                ts
            })))
        });
        self
    }

    /// The global seqno an ingested table is read at (0: none).
    pub fn global_seqno(&self) -> u64 {
        self.global_seqno
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    #[cfg_attr(not(test), expect(dead_code, reason = "compaction (the next issue) uses it"))]
    pub fn file_number(&self) -> u64 {
        self.file_number
    }

    pub fn properties(&self) -> &TableProperties {
        &self.properties
    }

    /// `get_counted` without counting, for tests of the table alone.
    #[cfg(test)]
    pub fn get(&self, lookup_ikey: &[u8]) -> Result<Option<(Vec<u8>, Value)>> {
        self.get_counted(lookup_ikey, &FilterCounters::default())
    }

    /// The first entry at or after `lookup_ikey` if its user key is the lookup's, as
    /// (internal key, value) — the caller interprets the kind and seqno — counting what
    /// the bloom filter did in `counters`. The engine's lookups go through
    /// [`Table::for_each_version`]; this whole-table `get` is for tests and fuzzing.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn get_counted(
        &self,
        lookup_ikey: &[u8],
        counters: &FilterCounters,
    ) -> Result<Option<(Vec<u8>, Value)>> {
        let user_key = key::user_key(lookup_ikey);
        if let Some(f) = &self.filter {
            counters.checks.fetch_add(1, Ordering::Relaxed);
            if !f.may_contain(user_key) {
                counters.negatives.fetch_add(1, Ordering::Relaxed);
                return Ok(None);
            }
        }
        let mut found = if self.global_seqno == 0 {
            self.seek_user_key(lookup_ikey, user_key)?
        } else if self.global_seqno <= key::seqno_of(lookup_ikey) {
            self.seek_user_key(&key::lookup_key(user_key, key::MAX_SEQNO), user_key)?
        } else {
            None
        };
        if let Some((ikey, _)) = &mut found {
            if self.global_seqno != 0 {
                let stored = std::mem::take(ikey);
                key::set_with_seqno(ikey, &stored, self.global_seqno);
            }
        }
        if found.is_none() && self.filter.is_some() {
            counters.false_positives.fetch_add(1, Ordering::Relaxed);
        }
        Ok(found)
    }

    #[cfg(any(test, feature = "fuzzing"))]
    fn seek_user_key(
        &self,
        lookup_ikey: &[u8],
        user_key: &[u8],
    ) -> Result<Option<(Vec<u8>, Value)>> {
        // The index separators guarantee that if the table holds such an entry, it is
        // in the first block whose separator is at or after the lookup key.
        let mut index = self.index.iter();
        index.seek(lookup_ikey);
        if !index.valid() {
            return index.status().map(|()| None);
        }
        let block = self.data_block(index.value())?;
        let mut it = block.iter();
        it.seek(lookup_ikey);
        if it.valid() && key::user_key(it.key()) == user_key {
            return Ok(Some((it.key().to_vec(), it.value_slice())));
        }
        it.status().map(|()| None)
    }

    /// The table's range tombstones, fragmented; `None` if it has none.
    pub fn range_tombstones(&self) -> Option<&Arc<Fragments>> {
        self.tombstones.as_ref()
    }

    /// Calls `f` with each entry of `lookup_ikey`'s user key at or after it (its
    /// versions at or below the lookup's seqno, newest first) until `f` returns
    /// `false`, after asking the bloom filter (counted in `counters`).
    pub fn for_each_version(
        &self,
        lookup_ikey: &[u8],
        user_key: &[u8],
        counters: &FilterCounters,
        mut f: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<()> {
        if let Some(filter) = &self.filter {
            counters.checks.fetch_add(1, Ordering::Relaxed);
            if !filter.may_contain(user_key) {
                counters.negatives.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
        }
        // An ingested table's entries are all at its global seqno: visible together or
        // not at all, found by seeking past every stored seqno.
        let global_lookup;
        let mut patched = Vec::new();
        let lookup_ikey = match self.global_seqno {
            0 => lookup_ikey,
            g if g > key::seqno_of(lookup_ikey) => return Ok(()),
            _ => {
                global_lookup = key::lookup_key(user_key, key::MAX_SEQNO);
                &global_lookup
            }
        };
        let mut index = self.index.iter();
        index.seek(lookup_ikey);
        let mut first = true;
        while index.valid() {
            let block = self.data_block(index.value())?;
            let mut it = block.iter();
            it.seek(lookup_ikey);
            while it.valid() {
                if key::user_key(it.key()) != user_key {
                    if first && self.filter.is_some() {
                        counters.false_positives.fetch_add(1, Ordering::Relaxed);
                    }
                    return it.status();
                }
                first = false;
                let ikey = if self.global_seqno == 0 {
                    it.key()
                } else {
                    key::set_with_seqno(&mut patched, it.key(), self.global_seqno);
                    &patched
                };
                if !f(ikey, it.value()) {
                    return Ok(());
                }
                it.next();
            }
            it.status()?;
            // The key's versions may go on in the next block.
            index.next();
        }
        if first && self.filter.is_some() {
            counters.false_positives.fetch_add(1, Ordering::Relaxed);
        }
        index.status()
    }

    /// A cursor over every entry, which keeps the table open.
    pub fn iter(self: &Arc<Self>) -> TableIter {
        TableIter::new(Arc::clone(self))
    }

    /// `iter`, whose blocks read from disk go into the block cache only if `fill`.
    pub fn iter_filling(self: &Arc<Self>, fill: bool) -> TableIter {
        TableIter::new(Arc::clone(self)).filling(fill)
    }

    pub(super) fn index_iter(&self) -> BlockIter {
        self.index.iter()
    }

    fn decode_handle(&self, index_value: &[u8]) -> Result<BlockHandle> {
        BlockHandle::decode(index_value)
            .ok_or_else(|| self.index.loc().corruption("index entry holds a malformed handle"))
    }

    /// The data block an index entry's value points to, from the cache when it is there.
    pub(super) fn data_block(&self, index_value: &[u8]) -> Result<Block> {
        self.data_block_filling(index_value, true)
    }

    /// `data_block`, putting a block read from disk into the cache only if `fill`.
    pub(super) fn data_block_filling(&self, index_value: &[u8], fill: bool) -> Result<Block> {
        let handle = self.decode_handle(index_value)?;
        let loc = BlockLoc { file: Arc::clone(&self.path), offset: handle.offset };
        if let Some(contents) = self.cache.get(self.file_number, handle.offset) {
            return Block::new(contents, loc);
        }
        let (contents, _) = read_block(self.file.as_ref(), &self.path, handle, self.data_end)?;
        // Only a block that parses goes into the cache.
        let block = Block::new(Arc::clone(&contents), loc)?;
        if fill {
            self.cache.insert(self.file_number, handle.offset, contents);
        }
        Ok(block)
    }

    /// Reads every data block from disk (bypassing the cache), checking its checksum,
    /// every entry, and that keys increase and stay within their index separators.
    pub fn verify(&self) -> Result<()> {
        let mut prev: Option<Vec<u8>> = None;
        let mut entries = 0u64;
        let blocks = self.scan_blocks(|separator, block, _| {
            let bad = |what: &str| Err(block.loc().corruption(format!("verify: {what}")));
            let mut it = block.iter();
            it.seek_to_first();
            while it.valid() {
                if key::parse_internal_key(it.key()).is_none() {
                    return bad("a key is not a valid internal key");
                }
                let cmp = |a: &[u8], b: &[u8]| InternalKeyComparator.compare(a, b);
                if prev.as_deref().is_some_and(|p| cmp(p, it.key()).is_ge()) {
                    return bad("keys out of order");
                }
                if cmp(it.key(), separator).is_gt() {
                    return bad("a key lies beyond its index separator");
                }
                prev = Some(it.key().to_vec());
                entries += 1;
                it.next();
            }
            it.status()
        })?;
        let p = &self.properties;
        if entries != p.num_entries || blocks.len() as u64 != p.num_data_blocks {
            let detail = format!(
                "verify: {entries} entries in {} blocks, properties say {} in {}",
                blocks.len(),
                p.num_entries,
                p.num_data_blocks
            );
            return Err(self.index.loc().corruption(detail));
        }
        Ok(())
    }

    /// Lists the data blocks, reading each from disk.
    pub fn blocks(&self) -> Result<Vec<BlockInfo>> {
        self.scan_blocks(|_, _, _| Ok(()))
    }

    /// The filter's shape, if the table has one.
    pub fn filter_info(&self) -> Option<FilterInfo> {
        self.filter.as_ref().map(|f| FilterInfo {
            size: f.len() as u64,
            num_lines: f.num_lines() as u64,
            num_probes: f.num_probes(),
        })
    }

    /// Reads each data block from disk in index order, calls `f` with the block's
    /// index separator and the block, and describes the block.
    fn scan_blocks(
        &self,
        mut f: impl FnMut(&[u8], &Block, Compression) -> Result<()>,
    ) -> Result<Vec<BlockInfo>> {
        let mut infos = Vec::new();
        let mut index = self.index.iter();
        index.seek_to_first();
        while index.valid() {
            let handle = self.decode_handle(index.value())?;
            let (contents, compression) =
                read_block(self.file.as_ref(), &self.path, handle, self.data_end)?;
            let loc = BlockLoc { file: Arc::clone(&self.path), offset: handle.offset };
            let block = Block::new(contents, loc)?;
            f(index.key(), &block, compression)?;
            let mut it = block.iter();
            let mut info = BlockInfo {
                offset: handle.offset,
                size: handle.size,
                uncompressed_size: block.len() as u64,
                entries: 0,
                first_key: Vec::new(),
                last_key: Vec::new(),
                compression,
            };
            it.seek_to_first();
            if it.valid() {
                info.first_key = it.key().to_vec();
            }
            while it.valid() {
                info.entries += 1;
                it.next();
            }
            it.status()?;
            it.seek_to_last();
            if it.valid() {
                info.last_key = it.key().to_vec();
            }
            infos.push(info);
            index.next();
        }
        index.status()?;
        Ok(infos)
    }
}
