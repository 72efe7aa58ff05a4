//! Test helpers: in-memory files, building a table or a block from entries, and turning
//! a new table into the format-1 table the old writer would have produced.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use super::block::{Block, BlockLoc};
use super::block_builder::BlockBuilder;
use super::footer::{Footer, FooterMeta, FOOTER_LEN};
use super::meta_index::TableMeta;
use super::raw_block::BLOCK_TRAILER_LEN;
use super::{Table, TableBuilder, TableOptions, TableProperties};
use crate::cache::BlockCache;
use crate::fs::{RandomAccessFile, WritableFile};
use crate::iter::conformance::Entries;
use crate::key::{append_internal_key, Kind};
use crate::Result;

/// A read-only file over bytes in memory.
#[derive(Debug)]
pub(crate) struct BytesFile(pub Vec<u8>);

impl RandomAccessFile for BytesFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let start = usize::try_from(offset).map_or(self.0.len(), |o| o.min(self.0.len()));
        let n = buf.len().min(self.0.len() - start);
        buf[..n].copy_from_slice(&self.0[start..start + n]);
        Ok(n)
    }

    fn len(&self) -> Result<u64> {
        Ok(self.0.len() as u64)
    }
}

/// An append-only file whose bytes the test can take afterwards.
#[derive(Debug, Clone, Default)]
pub(crate) struct VecFile(pub Arc<Mutex<Vec<u8>>>);

impl VecFile {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl WritableFile for VecFile {
    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        Ok(())
    }

    fn len(&self) -> u64 {
        self.0.lock().unwrap().len() as u64
    }
}

pub(crate) fn ikey(user_key: &[u8], seqno: u64, kind: Kind) -> Vec<u8> {
    let mut k = Vec::new();
    append_internal_key(&mut k, user_key, seqno, kind);
    k
}

/// The path tables built here claim to live at.
pub(crate) fn table_path() -> PathBuf {
    PathBuf::from("/db/000042.sst")
}

/// Writes `entries` (sorted internal keys) as a table; returns its bytes.
pub(crate) fn build_table(entries: &Entries, opts: TableOptions) -> (Vec<u8>, TableProperties) {
    let out = VecFile::default();
    let mut b = TableBuilder::new(Box::new(out.clone()), table_path(), opts);
    for (k, v) in entries {
        b.add(k, v).unwrap();
    }
    let props = b.finish().unwrap();
    (out.bytes(), props)
}

/// Opens table bytes with a cache of `cache_bytes`.
pub(crate) fn open_table(bytes: Vec<u8>, cache_bytes: u64) -> Result<Arc<Table>> {
    open_table_with_cache(bytes, Arc::new(BlockCache::new(cache_bytes)))
}

/// Opens table bytes with the given cache.
pub(crate) fn open_table_with_cache(bytes: Vec<u8>, cache: Arc<BlockCache>) -> Result<Arc<Table>> {
    let len = bytes.len() as u64;
    Table::open(Arc::new(BytesFile(bytes)), table_path(), 42, len, cache).map(Arc::new)
}

/// Lays out `entries` as one block.
pub(crate) fn build_block(entries: &Entries, restart_interval: usize) -> Vec<u8> {
    let mut b = BlockBuilder::new(restart_interval);
    for (k, v) in entries {
        b.add(k, v);
    }
    b.finish().to_vec()
}

pub(crate) fn open_block(bytes: &[u8]) -> Result<Block> {
    let loc = BlockLoc { file: Arc::from(table_path()), offset: 4096 };
    Block::new(Arc::from(bytes), loc)
}

/// The format-1 table holding the same entries as format-2 table `bytes`: the writer
/// puts the meta-index block last, so dropping it and writing a footer that names the
/// filter and properties itself gives, byte for byte, what the format-1 writer wrote.
pub(crate) fn downgrade_to_v1(bytes: &[u8]) -> Vec<u8> {
    let data_end = bytes.len() - FOOTER_LEN;
    let footer_bytes = bytes[data_end..].try_into().unwrap();
    let footer = Footer::decode(footer_bytes, &table_path(), data_end as u64).unwrap();
    let FooterMeta::MetaIndex(h) = footer.meta else { panic!("not a format-2 table") };
    let (start, end) = (h.offset as usize, (h.offset + h.size) as usize);
    assert_eq!(end + BLOCK_TRAILER_LEN, data_end, "the meta-index is the last block");
    let meta = TableMeta::decode_meta_index(&open_block(&bytes[start..end]).unwrap()).unwrap();
    let mut out = bytes[..start].to_vec();
    out.extend_from_slice(&Footer { index: footer.index, meta: FooterMeta::Inline(meta) }.encode());
    out
}
