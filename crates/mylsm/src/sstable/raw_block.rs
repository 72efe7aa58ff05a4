//! A block as it lies on disk: its (possibly compressed) contents and the 5-byte
//! trailer that says how they are compressed and checksums them.
//!
//! ```text
//! on-disk block := contents: [u8; handle.size]
//!                  compression: u8           0 none | 1 LZ4 | 2 Zstd
//!                  checksum: fixed32         masked CRC32C of contents ‖ compression
//! ```
//!
//! The trailer is LevelDB's. The checksum covers the bytes as stored, so damage is found
//! before anything is decompressed or parsed.

use std::path::Path;
use std::sync::Arc;

use super::compression::{self, Compression};
use super::footer::BlockHandle;
use crate::coding::fixed32;
use crate::fs::{RandomAccessFile, WritableFile};
use crate::{Error, Result};

/// Length of the trailer that follows every block's contents.
pub(crate) const BLOCK_TRAILER_LEN: usize = 5;

fn block_crc(contents: &[u8], kind: u8) -> u32 {
    crate::wal::mask_crc(crc32c::crc32c_append(crc32c::crc32c(contents), &[kind]))
}

/// Appends `raw` to `file` at `offset` (the file's current length), compressed with
/// `codec` when that saves at least 12.5%, followed by its trailer. Returns the
/// block's handle and the compression actually used.
pub(crate) fn write_block(
    file: &mut dyn WritableFile,
    offset: u64,
    raw: &[u8],
    codec: Compression,
) -> Result<(BlockHandle, Compression)> {
    let compressed = compression::compress(codec, raw);
    let (contents, used) = match &compressed {
        Some(c) => (c.as_slice(), codec),
        None => (raw, Compression::None),
    };
    let kind = used.to_u8();
    let mut trailer = [kind, 0, 0, 0, 0];
    trailer[1..].copy_from_slice(&block_crc(contents, kind).to_le_bytes());
    file.append(contents)?;
    file.append(&trailer)?;
    Ok((BlockHandle { offset, size: contents.len() as u64 }, used))
}

/// Reads exactly `buf.len()` bytes at `offset`; a short read is `Corruption`, since
/// every caller checked the range against the table's size first.
pub(crate) fn read_exact_at(
    file: &dyn RandomAccessFile,
    path: &Path,
    offset: u64,
    buf: &mut [u8],
) -> Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let n = file.read_at(offset + done as u64, &mut buf[done..])?;
        if n == 0 {
            let detail = format!("table truncated: {} of {} bytes readable", done, buf.len());
            return Err(Error::corruption(path, offset, detail));
        }
        done += n;
    }
    Ok(())
}

/// Reads, verifies and decompresses the block at `handle`, which must end (trailer
/// included) at or before `limit`, the offset where the footer begins. Returns the
/// uncompressed contents and the compression found in the trailer.
pub(crate) fn read_block(
    file: &dyn RandomAccessFile,
    path: &Path,
    handle: BlockHandle,
    limit: u64,
) -> Result<(Arc<[u8]>, Compression)> {
    let bad = |detail: String| Error::corruption(path, handle.offset, detail);
    let fits = handle
        .size
        .checked_add(BLOCK_TRAILER_LEN as u64)
        .and_then(|n| n.checked_add(handle.offset))
        .is_some_and(|end| end <= limit);
    let len = usize::try_from(handle.size).ok().filter(|_| fits).ok_or_else(|| {
        bad(format!("block handle ({} bytes) runs past the table's data end {limit}", handle.size))
    })?;
    let mut buf = vec![0; len + BLOCK_TRAILER_LEN];
    read_exact_at(file, path, handle.offset, &mut buf)?;
    let kind = buf[len];
    if fixed32(&buf[len + 1..]) != block_crc(&buf[..len], kind) {
        return Err(bad("block checksum mismatch".into()));
    }
    let codec = Compression::from_u8(kind)
        .ok_or_else(|| bad(format!("unknown block compression type {kind}")))?;
    let contents = match codec {
        Compression::None => {
            buf.truncate(len);
            Arc::from(buf)
        }
        _ => Arc::from(compression::decompress(codec, &buf[..len]).map_err(bad)?),
    };
    Ok((contents, codec))
}
