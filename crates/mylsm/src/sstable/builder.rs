//! `TableBuilder`: writes sorted internal entries as a table file, block by block.
//!
//! ```text
//! table := data_block*  filter_block?  index_block  properties_block  meta_index_block
//!          footer
//! index entry := separator internal key -> block handle (offset varint64, size varint64)
//! meta-index entry := block name -> block handle, by name     (see `meta_index.rs`)
//! footer := index handle, meta-index handle, format_version 2  (see `footer.rs`)
//! ```
//!
//! Each data block is cut once it reaches `block_size` uncompressed bytes. Its index
//! entry is written when the next key arrives, so the key can be a short separator
//! between the block's last key and the next block's first (LevelDB's
//! `pending_index_entry`); the last block's entry is a short successor of its last key.
//! The index block has a restart point at every entry, so a lookup binary-searches it
//! directly. Filter, index, properties and meta-index blocks are stored uncompressed.
//! The meta-index comes last so that a reader of a format-1 table, whose footer named
//! the filter and properties directly, sees the same blocks in the same places.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use mylsm_skiplist::Comparator;

use super::block_builder::BlockBuilder;
use super::compression::{Compression, MAX_BLOCK_LEN};
use super::filter::FilterBuilder;
use super::footer::{BlockHandle, Footer, FooterMeta, FOOTER_LEN};
use super::meta_index::TableMeta;
use super::raw_block::{write_block, BLOCK_TRAILER_LEN};
use super::{KeyspaceTag, TableOptions, TableProperties};
use crate::fs::WritableFile;
use crate::key::{self, InternalKeyComparator, Kind};
use crate::{Error, Result};

/// Bytes an entry's three varint headers take at most.
const ENTRY_HEADER_MAX: usize = 15;

/// Bytes a block needs besides its entries: one restart offset and the restart count.
const BLOCK_OVERHEAD_MIN: usize = 8;

/// Writes one table. After any error the builder refuses further calls with that error
/// and should be abandoned (and its file removed by the caller).
#[derive(Debug)]
pub(crate) struct TableBuilder {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    opts: TableOptions,
    /// Bytes written to the file so far.
    offset: u64,
    data: BlockBuilder,
    index: BlockBuilder,
    filter: Option<FilterBuilder>,
    /// The handle of the last data block written, whose index entry waits for the
    /// next key (or for `finish`).
    pending_index: Option<BlockHandle>,
    last_key: Vec<u8>,
    props: TableProperties,
    /// Range tombstones to write in the range-deletion block.
    tombstones: crate::range_del::Fragments,
    failed: Option<Error>,
}

impl TableBuilder {
    pub fn new(file: Box<dyn WritableFile>, path: PathBuf, opts: TableOptions) -> Self {
        let offset = file.len();
        TableBuilder {
            file,
            path,
            data: BlockBuilder::new(opts.restart_interval),
            index: BlockBuilder::new(1),
            filter: (opts.bloom_bits_per_key > 0)
                .then(|| FilterBuilder::new(opts.bloom_bits_per_key)),
            props: TableProperties { compression: opts.compression, ..Default::default() },
            opts,
            offset,
            pending_index: None,
            last_key: Vec::new(),
            tombstones: crate::range_del::Fragments::default(),
            failed: None,
        }
    }

    /// Records in the table's properties that it belongs to keyspace `id` (tag 104;
    /// nothing is recorded for the default keyspace, id 0).
    pub fn set_keyspace(&mut self, keyspace: Option<&KeyspaceTag>) {
        if let Some(k) = keyspace.filter(|k| k.id != 0) {
            self.props.keyspace_id = k.id;
            self.props.keyspace_name.clone_from(&k.name);
            self.props.keyspace_options.clone_from(&k.options);
        }
    }

    #[cfg_attr(not(test), expect(dead_code, reason = "compaction (the next issue) uses it"))]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an entry. Internal keys must strictly increase.
    pub fn add(&mut self, internal_key: &[u8], value: &[u8]) -> Result<()> {
        self.check()?;
        let r = self.add_entry(internal_key, value);
        self.latch(r)
    }

    fn add_entry(&mut self, ikey: &[u8], value: &[u8]) -> Result<()> {
        let parsed = key::parse_internal_key(ikey)
            .ok_or_else(|| self.invalid(format!("{} bytes are not an internal key", ikey.len())))?;
        let first = self.props.num_entries == 0;
        debug_assert!(
            first || InternalKeyComparator.compare(&self.last_key, ikey) == Ordering::Less,
            "table keys must strictly increase"
        );
        let entry_len = ikey.len() + value.len() + ENTRY_HEADER_MAX;
        // A block holds at least one entry, so one that cannot fit alone is refused, and
        // one that would push the current block over the cap starts a new block.
        if entry_len + BLOCK_OVERHEAD_MIN > MAX_BLOCK_LEN {
            return Err(self.invalid(format!("entry of {entry_len} bytes exceeds a block")));
        }
        if self.data.size_estimate() + entry_len > MAX_BLOCK_LEN {
            self.flush_data_block()?;
        }
        if let Some(handle) = self.pending_index.take() {
            let separator = key::shortest_separator(&self.last_key, ikey);
            // The index is one block, and a block's offsets are 32-bit: a table whose
            // index would pass the block limit is refused, not written wrong.
            if self.index.size_estimate() + separator.len() + ENTRY_HEADER_MAX + 20 > MAX_BLOCK_LEN
            {
                self.pending_index = Some(handle);
                return Err(self
                    .invalid("its index would pass the block limit: write smaller tables".into()));
            }
            self.add_index_entry(&separator, handle);
        }
        if let Some(f) = &mut self.filter {
            if first || key::user_key(&self.last_key) != parsed.user_key {
                f.add_key(parsed.user_key);
            }
        }
        self.record(ikey, value, parsed);
        self.last_key.clear();
        self.last_key.extend_from_slice(ikey);
        self.data.add(ikey, value);
        if self.data.size_estimate() >= self.opts.block_size {
            self.flush_data_block()?;
        }
        Ok(())
    }

    /// Sets the range tombstones the table holds (fragmented); they widen its bounds.
    pub fn set_range_tombstones(&mut self, tombstones: crate::range_del::Fragments) {
        self.tombstones = tombstones;
    }

    /// Updates the properties for one entry.
    fn record(&mut self, ikey: &[u8], value: &[u8], parsed: key::ParsedKey<'_>) {
        let p = &mut self.props;
        if p.num_entries == 0 {
            p.smallest_key = ikey.to_vec();
            p.smallest_seqno = parsed.seqno;
        }
        p.num_entries += 1;
        match parsed.kind {
            Kind::Put => {
                p.num_puts += 1;
                p.num_unexpiring += 1;
            }
            Kind::PutExpiring => {
                p.num_puts += 1;
                if let Some((expiry, _)) = crate::expiry::decode(value) {
                    p.max_expiry = p.max_expiry.max(expiry);
                }
            }
            Kind::Delete => {
                p.num_deletes += 1;
                p.num_unexpiring += 1;
            }
            Kind::Merge => {
                p.num_merges += 1;
                p.num_unexpiring += 1;
            }
            Kind::RangeDelete => {}
        }
        p.smallest_seqno = p.smallest_seqno.min(parsed.seqno);
        p.largest_seqno = p.largest_seqno.max(parsed.seqno);
        p.raw_key_bytes += ikey.len() as u64;
        p.raw_value_bytes += value.len() as u64;
    }

    fn add_index_entry(&mut self, key: &[u8], handle: BlockHandle) {
        let mut v = Vec::with_capacity(20);
        handle.encode_to(&mut v);
        self.index.add(key, &v);
    }

    /// Writes the data block being built, if it has any entries.
    fn flush_data_block(&mut self) -> Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let raw = self.data.finish();
        let (handle, _) = write_block(&mut *self.file, self.offset, raw, self.opts.compression)?;
        self.data.reset();
        let on_disk = handle.size + BLOCK_TRAILER_LEN as u64;
        self.offset += on_disk;
        self.props.data_size += on_disk;
        self.props.num_data_blocks += 1;
        self.pending_index = Some(handle);
        Ok(())
    }

    /// Writes an uncompressed block that is not a data block (filter, index, properties
    /// or meta-index).
    fn write_meta_block(&mut self, contents: &[u8]) -> Result<BlockHandle> {
        let (handle, _) = write_block(&mut *self.file, self.offset, contents, Compression::None)?;
        self.offset += handle.size + BLOCK_TRAILER_LEN as u64;
        Ok(handle)
    }

    /// The file's size if the table were finished now, less the meta blocks: what a
    /// compaction compares with its target file size to decide where to cut.
    pub fn file_size_estimate(&self) -> u64 {
        let pending = if self.data.is_empty() { 0 } else { self.data.size_estimate() };
        self.offset + pending as u64
    }

    /// Entries added so far.
    #[cfg_attr(not(test), expect(dead_code, reason = "compaction (the next issue) uses it"))]
    pub fn num_entries(&self) -> u64 {
        self.props.num_entries
    }

    /// Writes the filter, index, properties, meta-index and footer, and syncs the file.
    pub fn finish(mut self) -> Result<TableProperties> {
        self.check()?;
        self.flush_data_block()?;
        let filter = match self.filter.take() {
            Some(f) => Some(self.write_meta_block(&f.finish())?),
            None => None,
        };
        if let Some(handle) = self.pending_index.take() {
            let successor = key::short_successor(&self.last_key);
            self.add_index_entry(&successor, handle);
        }
        let mut index_builder = std::mem::replace(&mut self.index, BlockBuilder::new(1));
        let index = self.write_meta_block(index_builder.finish())?;
        self.props.filter_size = filter.map_or(0, |h| h.size);
        self.props.index_size = index.size;
        self.props.largest_key = std::mem::take(&mut self.last_key);
        let range_del = self.write_range_dels()?;
        let properties = self.write_meta_block(&self.props.encode())?;
        let meta_index = TableMeta { filter, properties, range_del }.encode_meta_index();
        let meta_index = self.write_meta_block(&meta_index)?;
        let footer = Footer { index, meta: FooterMeta::MetaIndex(meta_index) };
        self.file.append(&footer.encode())?;
        self.offset += FOOTER_LEN as u64;
        self.file.sync()?;
        self.props.file_size = self.offset;
        Ok(self.props)
    }

    /// Writes the range-deletion block, if there are tombstones, and widens the bounds
    /// and seqno range to cover them.
    fn write_range_dels(&mut self) -> Result<Option<BlockHandle>> {
        let Some((lo, hi)) = self.tombstones.bounds() else { return Ok(None) };
        let (lo_seq, hi_seq) = self.tombstones.seqno_range().unwrap_or((0, 0));
        let mut block = BlockBuilder::new(1);
        for t in self.tombstones.tombstones() {
            let (k, v) = crate::range_del::encode_entry(&t);
            block.add(&k, &v);
        }
        let p = &mut self.props;
        p.num_range_deletes = self.tombstones.len() as u64;
        let cmp = InternalKeyComparator;
        if p.num_entries == 0 || cmp.compare(&lo, &p.smallest_key) == Ordering::Less {
            p.smallest_key = lo;
        }
        if p.num_entries == 0 || cmp.compare(&hi, &p.largest_key) == Ordering::Greater {
            p.largest_key = hi;
        }
        if p.num_entries == 0 {
            (p.smallest_seqno, p.largest_seqno) = (lo_seq, hi_seq);
        } else {
            p.smallest_seqno = p.smallest_seqno.min(lo_seq);
            p.largest_seqno = p.largest_seqno.max(hi_seq);
        }
        let contents = block.finish().to_vec();
        Ok(Some(self.write_meta_block(&contents)?))
    }

    /// Gives up on the table; the caller removes the partly written file.
    pub fn abandon(self) {}

    fn check(&self) -> Result<()> {
        self.failed.clone().map_or(Ok(()), Err)
    }

    fn latch(&mut self, r: Result<()>) -> Result<()> {
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn invalid(&self, what: String) -> Error {
        Error::InvalidArgument(format!("table {}: {what}", self.path.display()))
    }
}
