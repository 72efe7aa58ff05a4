//! Block handles and the fixed-size footer that ends every table.
//!
//! ```text
//! block handle (index values) := offset: varint64  size: varint64
//! footer (format 2) := index:      offset fixed64, size fixed64
//!                      meta_index: offset fixed64, size fixed64
//!                      reserved:   [u8; 16]                        (all zero)
//!                      format_version: fixed32                      (2)
//!                      checksum: fixed32   masked CRC32C of the 52 bytes before it
//!                      magic: fixed64      0x5453536d736c796d ("mylsmSST" in file order)
//! footer (format 1) := index, filter, properties: offset fixed64, size fixed64 each
//!                      (filter size 0: no filter), format_version 1, checksum, magic
//! ```
//!
//! A handle's size counts the block contents only, not its 5-byte trailer. Format 2
//! names the filter and properties in the meta-index block (`meta_index.rs`), so a new
//! per-table block needs no new footer; format 1 is still read, never written. Unlike
//! LevelDB's varint-packed footer, every handle here is fixed-width and the footer has
//! its own checksum, so it is checked before it is used. Every build since format 1
//! refuses an unknown version, so an older build reports a format-2 table as
//! `Corruption` ("unknown format version 2") rather than misreading it.

use std::path::Path;

use super::meta_index::TableMeta;
use crate::coding::{fixed32, fixed64, put_fixed32, put_fixed64, put_varint64, Reader};
use crate::{Error, Result};

/// Length of the footer in bytes.
pub(crate) const FOOTER_LEN: usize = 64;

/// The last eight bytes of every table.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"mylsmSST");

/// The format version every new table is written in: the footer names a meta-index.
pub(crate) const FORMAT_VERSION: u32 = 2;

/// The first format version, whose footer names the filter and properties itself.
pub(crate) const FORMAT_VERSION_1: u32 = 1;

/// Where a block's contents lie in the file (its trailer follows them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct BlockHandle {
    pub offset: u64,
    pub size: u64,
}

impl BlockHandle {
    pub fn encode_to(&self, dst: &mut Vec<u8>) {
        put_varint64(dst, self.offset);
        put_varint64(dst, self.size);
    }

    /// Decodes an index or meta-index entry's value, which must be exactly one handle.
    pub fn decode(src: &[u8]) -> Option<BlockHandle> {
        let mut r = Reader::new(src);
        let h = BlockHandle { offset: r.varint64("offset").ok()?, size: r.varint64("size").ok()? };
        r.is_empty().then_some(h)
    }
}

/// The decoded footer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Footer {
    pub index: BlockHandle,
    pub meta: FooterMeta,
}

/// How the footer leads to the filter and properties blocks; the variant is the format
/// version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FooterMeta {
    /// Format 1: the footer holds their handles itself.
    Inline(TableMeta),
    /// Format 2: the footer names the meta-index block, which holds them.
    MetaIndex(BlockHandle),
}

impl Footer {
    pub fn format_version(&self) -> u32 {
        match self.meta {
            FooterMeta::Inline(_) => FORMAT_VERSION_1,
            FooterMeta::MetaIndex(_) => FORMAT_VERSION,
        }
    }

    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let (second, third) = match self.meta {
            FooterMeta::Inline(m) => (m.filter.unwrap_or_default(), m.properties),
            // The reserved bytes are the zeros of a default handle.
            FooterMeta::MetaIndex(h) => (h, BlockHandle::default()),
        };
        let mut buf = Vec::with_capacity(FOOTER_LEN);
        for h in [self.index, second, third] {
            put_fixed64(&mut buf, h.offset);
            put_fixed64(&mut buf, h.size);
        }
        put_fixed32(&mut buf, self.format_version());
        let crc = crate::wal::mask_crc(crc32c::crc32c(&buf));
        put_fixed32(&mut buf, crc);
        put_fixed64(&mut buf, MAGIC);
        let mut out = [0; FOOTER_LEN];
        out.copy_from_slice(&buf);
        out
    }

    /// Decodes the footer of table `file`, which starts at file offset `offset`.
    pub fn decode(bytes: &[u8; FOOTER_LEN], file: &Path, offset: u64) -> Result<Footer> {
        let bad = |at: usize, what: &str| Error::corruption(file, offset + at as u64, what);
        // Every read below lies within the fixed 64-byte array, so none can run short.
        if fixed64(&bytes[56..]) != MAGIC {
            return Err(bad(56, "table footer: bad magic number (not a mylsm table)"));
        }
        if fixed32(&bytes[52..]) != crate::wal::mask_crc(crc32c::crc32c(&bytes[..52])) {
            return Err(bad(52, "table footer: checksum mismatch"));
        }
        let handle = |at: usize| BlockHandle {
            offset: fixed64(&bytes[at..]),
            size: fixed64(&bytes[at + 8..]),
        };
        let index = handle(0);
        let meta = match fixed32(&bytes[48..]) {
            FORMAT_VERSION_1 => {
                let filter = Some(handle(16)).filter(|h| h.size != 0);
                FooterMeta::Inline(TableMeta { filter, properties: handle(32), range_del: None })
            }
            FORMAT_VERSION => {
                // Zero, so that a later build may put something here that this one
                // must not ignore: this one then refuses the table, not misreads it.
                if bytes[32..48].iter().any(|&b| b != 0) {
                    return Err(bad(32, "table footer: reserved bytes are not zero"));
                }
                FooterMeta::MetaIndex(handle(16))
            }
            v => return Err(bad(48, &format!("table footer: unknown format version {v}"))),
        };
        Ok(Footer { index, meta })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2() -> Footer {
        Footer {
            index: BlockHandle { offset: 100, size: 20 },
            meta: FooterMeta::MetaIndex(BlockHandle { offset: 125, size: 40 }),
        }
    }

    fn v1(filter: Option<BlockHandle>) -> Footer {
        let properties = BlockHandle { offset: 125, size: 300 };
        Footer {
            index: BlockHandle { offset: 100, size: 20 },
            meta: FooterMeta::Inline(TableMeta { filter, properties, range_del: None }),
        }
    }

    /// Rewrites the footer's checksum after a test changed the bytes it covers.
    fn reseal(bytes: &mut [u8; FOOTER_LEN]) {
        let crc = crate::wal::mask_crc(crc32c::crc32c(&bytes[..52]));
        bytes[52..56].copy_from_slice(&crc.to_le_bytes());
    }

    fn corruption_offset(bytes: &[u8; FOOTER_LEN]) -> u64 {
        match Footer::decode(bytes, Path::new("t"), 1000) {
            Err(Error::Corruption { offset, .. }) => offset,
            other => panic!("expected Corruption, got {other:?}"),
        }
    }

    #[test]
    fn both_formats_round_trip_and_every_byte_is_checked() {
        let some_filter = Some(BlockHandle { offset: 7, size: 93 });
        for f in [v2(), v1(some_filter), v1(None)] {
            let bytes = f.encode();
            assert_eq!(Footer::decode(&bytes, Path::new("t"), 0).unwrap(), f);
            for i in 0..FOOTER_LEN {
                let mut b = bytes;
                b[i] ^= 0x10;
                assert!(corruption_offset(&b) >= 1048, "{i}");
            }
        }
        assert_eq!(v2().encode()[48..52], 2u32.to_le_bytes());
        assert_eq!(v1(None).encode()[48..52], 1u32.to_le_bytes());
    }

    #[test]
    fn reserved_bytes_of_a_format_2_footer_must_be_zero() {
        for i in 32..48 {
            let mut b = v2().encode();
            b[i] = 1;
            reseal(&mut b);
            assert_eq!(corruption_offset(&b), 1032, "{i}");
        }
    }

    #[test]
    fn unknown_versions_are_corruption_at_the_version() {
        for version in [0, 3, 0x100, u32::MAX] {
            let mut b = v2().encode();
            b[48..52].copy_from_slice(&u32::to_le_bytes(version));
            reseal(&mut b);
            assert_eq!(corruption_offset(&b), 1048, "{version}");
        }
    }

    #[test]
    fn handles_must_be_exactly_two_varints() {
        let mut v = Vec::new();
        BlockHandle { offset: 1 << 40, size: 4096 }.encode_to(&mut v);
        assert_eq!(BlockHandle::decode(&v), Some(BlockHandle { offset: 1 << 40, size: 4096 }));
        assert_eq!(BlockHandle::decode(&v[..v.len() - 1]), None);
        v.push(0);
        assert_eq!(BlockHandle::decode(&v), None);
    }
}
