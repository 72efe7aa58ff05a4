//! Block handles and the fixed-size footer that ends every table.
//!
//! ```text
//! block handle (index values) := offset: varint64  size: varint64
//! footer := index:      offset fixed64, size fixed64
//!           filter:     offset fixed64, size fixed64    (size 0: no filter)
//!           properties: offset fixed64, size fixed64
//!           format_version: fixed32                      (1)
//!           checksum: fixed32     masked CRC32C of the 52 bytes before it
//!           magic: fixed64        0x5453536d736c796d ("mylsmSST" in file order)
//! ```
//!
//! A handle's size counts the block contents only, not its 5-byte trailer. Unlike
//! LevelDB's varint-packed footer with a metaindex block, every handle here is
//! fixed-width and the footer has its own checksum, so it is checked before it is used.

use std::path::Path;

use crate::coding::{fixed32, fixed64, put_fixed32, put_fixed64, put_varint64, Reader};
use crate::{Error, Result};

/// Length of the footer in bytes.
pub(crate) const FOOTER_LEN: usize = 64;

/// The last eight bytes of every table.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"mylsmSST");

/// The only table format version written and read.
pub(crate) const FORMAT_VERSION: u32 = 1;

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

    /// Decodes an index entry's value, which must be exactly one handle.
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
    /// `None` when the table was written without a filter.
    pub filter: Option<BlockHandle>,
    pub properties: BlockHandle,
}

impl Footer {
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut buf = Vec::with_capacity(FOOTER_LEN);
        for h in [self.index, self.filter.unwrap_or_default(), self.properties] {
            put_fixed64(&mut buf, h.offset);
            put_fixed64(&mut buf, h.size);
        }
        put_fixed32(&mut buf, FORMAT_VERSION);
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
        let version = fixed32(&bytes[48..]);
        if version != FORMAT_VERSION {
            return Err(bad(48, &format!("table footer: unknown format version {version}")));
        }
        let handle = |at: usize| BlockHandle {
            offset: fixed64(&bytes[at..]),
            size: fixed64(&bytes[at + 8..]),
        };
        let (index, filter, properties) = (handle(0), handle(16), handle(32));
        let filter = (filter.size != 0).then_some(filter);
        Ok(Footer { index, filter, properties })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_round_trips_and_every_byte_is_checked() {
        let f = Footer {
            index: BlockHandle { offset: 100, size: 20 },
            filter: Some(BlockHandle { offset: 7, size: 93 }),
            properties: BlockHandle { offset: 125, size: 300 },
        };
        let bytes = f.encode();
        assert_eq!(Footer::decode(&bytes, Path::new("t"), 0).unwrap(), f);
        for i in 0..FOOTER_LEN {
            let mut b = bytes;
            b[i] ^= 0x10;
            let e = Footer::decode(&b, Path::new("t"), 1000).unwrap_err();
            assert!(matches!(e, Error::Corruption { offset, .. } if offset >= 1048), "{i}");
        }
        let none = Footer { filter: None, ..f };
        assert_eq!(Footer::decode(&none.encode(), Path::new("t"), 0).unwrap(), none);
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
