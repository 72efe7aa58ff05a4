//! The write-ahead log: LevelDB-style block framing with a CRC32C per fragment.
//!
//! ```text
//! file     := block*                      (every block 32 KiB but the last)
//! block    := fragment* trailer?
//! fragment := checksum: fixed32   masked CRC32C of type ‖ payload
//!             length:   fixed16   payload bytes, little-endian
//!             type:     u8        1 FULL | 2 FIRST | 3 MIDDLE | 4 LAST
//!             payload:  [u8; length]
//! trailer  := 0x00 × (1..=6)          when fewer than 7 bytes remain in a block
//! ```
//!
//! A record (one encoded write batch) is one FULL fragment, or FIRST, MIDDLE*, LAST
//! when it crosses blocks. `docs/wal_format.md` is the byte-exact description; this
//! follows LevelDB's `log_format.md`, except that a zero-filled tail is a clean end:
//! the write path keeps zeros preallocated past the records so that its fsyncs commit
//! no file-size change (RocksDB's recycled logs serve the same end), and a record a
//! crash cut short over those zeros is a torn tail too.

mod reader;
mod writer;

pub(crate) use reader::LogReader;
pub use reader::RecoveryMode;
pub(crate) use writer::LogWriter;

pub(crate) const BLOCK_SIZE: usize = 32 * 1024;
pub(crate) const HEADER_SIZE: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum FragmentType {
    Full = 1,
    First = 2,
    Middle = 3,
    Last = 4,
}

impl FragmentType {
    fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(FragmentType::Full),
            2 => Some(FragmentType::First),
            3 => Some(FragmentType::Middle),
            4 => Some(FragmentType::Last),
            _ => None,
        }
    }
}

const MASK_DELTA: u32 = 0xa282_ead8;

/// Masks a CRC so that a checksum of data that itself embeds checksums stays strong
/// (LevelDB's `crc32c::Mask`).
pub(crate) fn mask_crc(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// The checksum stored in a fragment header.
fn fragment_crc(kind: u8, payload: &[u8]) -> u32 {
    mask_crc(crc32c::crc32c_append(crc32c::crc32c(&[kind]), payload))
}

#[cfg(test)]
mod tests;
