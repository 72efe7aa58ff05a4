//! The meta-index block of a format-2 table, which maps the names of the table's
//! per-table blocks (filter, properties, and any added later) to their handles.
//!
//! ```text
//! meta_index := block in BlockBuilder's format, restart interval 1, uncompressed
//! entry      := name (the block key)  ->  block handle (offset varint64, size varint64)
//! names      := "mylsm.filter"        the bloom filter       (absent: no filter)
//!               "mylsm.properties"    the properties block   (required)
//!               "mylsm.opt." suffix   a block a reader may go without
//! ```
//!
//! Names are compared bytewise and must strictly increase, so none repeats. A reader
//! skips a name it does not know if it starts with `mylsm.opt.`, without looking at its
//! value; any other unknown name is `Corruption`. A writer that adds a block a reader
//! must not ignore (range tombstones, say) gives it a name without that prefix, so an
//! older build refuses the table instead of returning answers the block would change.
//!
//! This is LevelDB's metaindex block. The differences: the filter is named
//! `mylsm.filter` rather than `filter.<policy>`, the properties block is listed here,
//! and the `mylsm.opt.` rule tells a reader which unknown blocks it may skip.

use super::block::Block;
use super::block_builder::BlockBuilder;
use super::footer::BlockHandle;
use crate::iter::InternalIterator;
use crate::Result;

/// The name of the filter block.
pub(crate) const FILTER: &[u8] = b"mylsm.filter";

/// The name of the properties block.
pub(crate) const PROPERTIES: &[u8] = b"mylsm.properties";

/// The name of the range-deletion block (a reader must know it: builds before range
/// deletes refuse such tables).
pub(crate) const RANGE_DEL: &[u8] = b"mylsm.range_del";

/// Names with this prefix name blocks that a reader which does not know them may ignore.
pub(crate) const OPTIONAL_PREFIX: &[u8] = b"mylsm.opt.";

/// The handles of a table's blocks other than the data and index blocks, wherever the
/// footer found them: in the footer itself (format 1) or in the meta-index (format 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TableMeta {
    /// `None` when the table was written without a filter.
    pub filter: Option<BlockHandle>,
    pub properties: BlockHandle,
    /// `None` when the table holds no range tombstones.
    pub range_del: Option<BlockHandle>,
}

impl TableMeta {
    /// The contents of a meta-index block that names these blocks.
    pub fn encode_meta_index(&self) -> Vec<u8> {
        // Entries in name order.
        let entries = [
            (FILTER, self.filter),
            (PROPERTIES, Some(self.properties)),
            (RANGE_DEL, self.range_del),
        ];
        let mut block = BlockBuilder::new(1);
        for (name, handle) in entries {
            if let Some(h) = handle {
                let mut value = Vec::with_capacity(20);
                h.encode_to(&mut value);
                block.add(name, &value);
            }
        }
        block.finish().to_vec()
    }

    /// Reads a meta-index block; any damage or unknown required name is `Corruption`
    /// at the block's offset.
    pub fn decode_meta_index(block: &Block) -> Result<TableMeta> {
        let bad = |what: String| block.loc().corruption(format!("meta-index: {what}"));
        let (mut filter, mut properties, mut range_del) = (None, None, None);
        let mut prev: Option<Vec<u8>> = None;
        let mut it = block.iter();
        it.seek_to_first();
        while it.valid() {
            let name = it.key();
            if let Some(p) = prev.as_deref().filter(|p| *p >= name) {
                let (p, n) = (p.escape_ascii(), name.escape_ascii());
                return Err(bad(format!("name \"{n}\" does not sort after \"{p}\"")));
            }
            let slot = if name == FILTER {
                Some(&mut filter)
            } else if name == PROPERTIES {
                Some(&mut properties)
            } else if name == RANGE_DEL {
                Some(&mut range_del)
            } else if name.starts_with(OPTIONAL_PREFIX) {
                None
            } else {
                let n = name.escape_ascii();
                return Err(bad(format!("unknown block \"{n}\" (the table needs a newer build)")));
            };
            if let Some(slot) = slot {
                let handle = BlockHandle::decode(it.value()).ok_or_else(|| {
                    bad(format!("the value of \"{}\" is not a block handle", name.escape_ascii()))
                })?;
                *slot = Some(handle);
            }
            prev = Some(name.to_vec());
            it.next();
        }
        it.status()?;
        let properties = properties.ok_or_else(|| bad("no \"mylsm.properties\" entry".into()))?;
        Ok(TableMeta { filter, properties, range_del })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sstable::test_util::{build_block, open_block, table_path};
    use crate::Error;

    fn handle_bytes(offset: u64, size: u64) -> Vec<u8> {
        let mut v = Vec::new();
        BlockHandle { offset, size }.encode_to(&mut v);
        v
    }

    fn decode(entries: &[(&[u8], Vec<u8>)]) -> Result<TableMeta> {
        let entries: Vec<_> = entries.iter().map(|(k, v)| (k.to_vec(), v.clone())).collect();
        TableMeta::decode_meta_index(&open_block(&build_block(&entries, 1))?)
    }

    /// Asserts Corruption at the block's offset whose detail mentions `needle`.
    fn assert_corruption(r: Result<TableMeta>, needle: &str) {
        match r {
            Err(Error::Corruption { file, offset, detail }) => {
                assert_eq!((file, offset), (table_path(), 4096));
                assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
            }
            other => panic!("expected Corruption mentioning {needle:?}, got {other:?}"),
        }
    }

    #[test]
    fn meta_index_round_trips_with_and_without_a_filter() {
        let with = TableMeta {
            filter: Some(BlockHandle { offset: 7, size: 93 }),
            properties: BlockHandle { offset: 1 << 33, size: 300 },
            range_del: Some(BlockHandle { offset: 9, size: 10 }),
        };
        let without = TableMeta { filter: None, range_del: None, ..with };
        for meta in [with, without] {
            let block = open_block(&meta.encode_meta_index()).unwrap();
            assert_eq!(TableMeta::decode_meta_index(&block).unwrap(), meta);
        }
    }

    #[test]
    fn unknown_optional_names_are_skipped_whatever_their_value() {
        let meta = decode(&[
            (FILTER, handle_bytes(1, 2)),
            (b"mylsm.opt.histogram", b"not a handle".to_vec()),
            (PROPERTIES, handle_bytes(3, 4)),
        ])
        .unwrap();
        assert_eq!(meta.filter, Some(BlockHandle { offset: 1, size: 2 }));
        assert_eq!(meta.properties, BlockHandle { offset: 3, size: 4 });
    }

    #[test]
    fn unknown_required_names_are_corruption_asking_for_a_newer_build() {
        for name in [&b"mylsm.blob"[..], b"filter.leveldb.BuiltinBloomFilter2", b"mylsm.opt"] {
            let mut entries = vec![(name, handle_bytes(1, 2)), (PROPERTIES, handle_bytes(3, 4))];
            entries.sort();
            assert_corruption(decode(&entries), "needs a newer build");
        }
    }

    #[test]
    fn a_missing_properties_entry_is_corruption() {
        assert_corruption(decode(&[]), "mylsm.properties");
        assert_corruption(decode(&[(FILTER, handle_bytes(1, 2))]), "mylsm.properties");
    }

    #[test]
    fn duplicate_or_unsorted_names_are_corruption() {
        let props = (PROPERTIES, handle_bytes(3, 4));
        assert_corruption(decode(&[props.clone(), props.clone()]), "does not sort after");
        let filter = (FILTER, handle_bytes(1, 2));
        assert_corruption(decode(&[props, filter]), "does not sort after");
    }

    #[test]
    fn known_names_must_hold_exactly_one_handle() {
        for value in [vec![], vec![0xff], [handle_bytes(3, 4), vec![0]].concat()] {
            assert_corruption(decode(&[(PROPERTIES, value)]), "not a block handle");
        }
    }

    #[test]
    fn a_malformed_entry_is_corruption_not_a_panic() {
        let mut bytes =
            TableMeta { filter: None, properties: BlockHandle::default(), range_del: None }
                .encode_meta_index();
        // The entry's unshared length: claim more bytes than the block holds.
        bytes[1] = 0x7f;
        assert_corruption(TableMeta::decode_meta_index(&open_block(&bytes).unwrap()), "block");
    }
}
