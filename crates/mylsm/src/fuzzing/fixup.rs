//! Recomputes the checksums of a table or a log in place, so that a fuzzer's change to a
//! length, a handle or a key reaches the parser behind the checksum instead of stopping
//! at the checksum.
//!
//! Each function walks the structure the way the reader will, trusting whatever lengths
//! and handles it finds, and rewrites every checksum it can locate; anything it cannot
//! follow it leaves as it is (the reader then reports it).

use std::path::Path;
use std::sync::Arc;

use crate::coding::{fixed32, fixed64, Reader};
use crate::iter::InternalIterator;
use crate::sstable::{Block, BlockLoc};
use crate::wal::{mask_crc, BLOCK_SIZE, HEADER_SIZE};

const FOOTER_LEN: usize = 64;
const BLOCK_TRAILER_LEN: usize = 5;

/// The most index entries whose data blocks get their checksums fixed, so one exec
/// stays fast however many entries the index claims.
const MAX_DATA_BLOCKS: usize = 4096;

/// Fixes the footer checksum, the trailers of the blocks the footer names (through the
/// meta-index for format 2, if it is stored uncompressed) and, if the index block is
/// stored uncompressed, the trailers of the data blocks it names.
pub(super) fn table(bytes: &mut [u8]) {
    let Some(data_end) = bytes.len().checked_sub(FOOTER_LEN) else { return };
    let crc = mask_crc(crc32c::crc32c(&bytes[data_end..data_end + 52]));
    bytes[data_end + 52..data_end + 56].copy_from_slice(&crc.to_le_bytes());
    let handle = |at: usize| (fixed64(&bytes[at..]), fixed64(&bytes[at + 8..]));
    let index = handle(data_end);
    // Format 2 names the filter and properties in the meta-index; format 1 (and any
    // other version, which the reader refuses anyway) in the footer.
    let meta_blocks = if fixed32(&bytes[data_end + 48..]) == 2 {
        named_handles(bytes, handle(data_end + 16), data_end)
    } else {
        vec![handle(data_end + 16), handle(data_end + 32)]
    };
    for h in meta_blocks {
        block_trailer(bytes, h, data_end);
    }
    for h in named_handles(bytes, index, data_end) {
        block_trailer(bytes, h, data_end);
    }
}

/// Fixes the trailer of block `at` and, if it is stored uncompressed, returns the
/// handles its entries hold (at most `MAX_DATA_BLOCKS`), skipping values that are not.
fn named_handles(bytes: &mut [u8], at: (u64, u64), data_end: usize) -> Vec<(u64, u64)> {
    let Some(contents) = block_trailer(bytes, at, data_end) else { return Vec::new() };
    if bytes[contents.end] != 0 {
        return Vec::new();
    }
    let loc = BlockLoc { file: Arc::from(Path::new("fixup")), offset: at.0 };
    let Ok(block) = Block::new(Arc::from(&bytes[contents]), loc) else { return Vec::new() };
    let mut it = block.iter();
    it.seek_to_first();
    let mut handles = Vec::new();
    while it.valid() && handles.len() < MAX_DATA_BLOCKS {
        let mut r = Reader::new(it.value());
        if let (Ok(offset), Ok(size)) = (r.varint64("offset"), r.varint64("size")) {
            handles.push((offset, size));
        }
        it.next();
    }
    handles
}

/// Rewrites the checksum in the trailer of block `(offset, size)` if the block and its
/// trailer end at or before `limit`; returns the range of its contents if so.
fn block_trailer(
    bytes: &mut [u8],
    (offset, size): (u64, u64),
    limit: usize,
) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(size).ok()?)?;
    if end.checked_add(BLOCK_TRAILER_LEN)? > limit {
        return None;
    }
    let kind = bytes[end];
    let crc = mask_crc(crc32c::crc32c_append(crc32c::crc32c(&bytes[start..end]), &[kind]));
    bytes[end + 1..end + BLOCK_TRAILER_LEN].copy_from_slice(&crc.to_le_bytes());
    Some(start..end)
}

/// Fixes the checksum of every fragment whose header and payload fit in its 32 KiB
/// block, walking fragments the way the reader does.
pub(super) fn log(bytes: &mut [u8]) {
    for block in bytes.chunks_mut(BLOCK_SIZE) {
        let mut pos = 0;
        while block.len() - pos >= HEADER_SIZE {
            if block[pos..pos + HEADER_SIZE].iter().all(|&b| b == 0) {
                // A zero header starts a zero-filled tail: keep it one.
                break;
            }
            let len = usize::from(u16::from_le_bytes([block[pos + 4], block[pos + 5]]));
            let end = pos + HEADER_SIZE + len;
            if end > block.len() {
                break;
            }
            let kind = block[pos + 6];
            let payload = &block[pos + HEADER_SIZE..end];
            let crc = mask_crc(crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload));
            block[pos..pos + 4].copy_from_slice(&crc.to_le_bytes());
            pos = end;
        }
    }
}
