//! Block compression codecs, and decompression that never allocates more than the
//! format allows.
//!
//! ```text
//! compressed contents := uncompressed_len: fixed32  codec_bytes
//! ```
//!
//! Both codecs store the uncompressed length first (for LZ4 this is exactly what
//! `lz4_flex::compress_prepend_size` writes), so the reader can check it against
//! [`MAX_BLOCK_LEN`] and against the codec's best possible ratio before it allocates.

use std::fmt;

/// The largest uncompressed block contents a table may hold: a full block plus one
/// maximal entry (a 64 KiB key and a 256 MiB value) fit with room to spare, and
/// restart offsets stay far below `u32::MAX`.
pub(super) const MAX_BLOCK_LEN: usize = 512 << 20;

/// LZ4's best ratio is just under 255:1 (a match length costs one byte per 255).
const LZ4_MAX_RATIO: usize = 255;

/// Zstandard's best ratio: an RLE block of up to 128 KiB costs 4 bytes.
const ZSTD_MAX_RATIO: usize = 32 << 10;

/// Zstandard's default level, a balance of speed and ratio suited to flushes.
const ZSTD_LEVEL: i32 = 3;

/// How table data blocks are compressed.
///
/// LZ4 is the default: it costs little CPU to write and almost none to read. Zstd
/// shrinks tables further (often by another 20–40%) at several times LZ4's CPU cost.
/// A block that does not shrink by at least 12.5% is stored uncompressed whatever the
/// choice, as in LevelDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Compression {
    /// Store blocks as they are.
    None,
    /// LZ4 block format (`lz4_flex`).
    #[default]
    Lz4,
    /// Zstandard at level 3.
    Zstd,
}

impl Compression {
    /// The type byte in a block trailer.
    pub(super) fn to_u8(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Lz4 => 1,
            Compression::Zstd => 2,
        }
    }

    pub(super) fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(Compression::None),
            1 => Some(Compression::Lz4),
            2 => Some(Compression::Zstd),
            _ => None,
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        })
    }
}

/// Compresses `raw` with `codec`; `None` when the codec is `None`, fails, or saves less
/// than 12.5%, in which case the block is stored as it is.
pub(super) fn compress(codec: Compression, raw: &[u8]) -> Option<Vec<u8>> {
    let len = u32::try_from(raw.len()).ok()?;
    let out = match codec {
        Compression::None => return None,
        Compression::Lz4 => lz4_flex::compress_prepend_size(raw),
        Compression::Zstd => {
            let mut out = len.to_le_bytes().to_vec();
            out.extend_from_slice(&zstd::bulk::compress(raw, ZSTD_LEVEL).ok()?);
            out
        }
    };
    (out.len() < raw.len() - raw.len() / 8).then_some(out)
}

/// Decompresses `data` written by [`compress`] with `codec` (not `None`). The error
/// says what was wrong; the caller names the file and block.
pub(super) fn decompress(codec: Compression, data: &[u8]) -> Result<Vec<u8>, String> {
    let (len, body) = match data.split_first_chunk::<4>() {
        Some((len, body)) => (u32::from_le_bytes(*len) as usize, body),
        None => return Err("compressed block shorter than its length prefix".into()),
    };
    let max_ratio = if codec == Compression::Lz4 { LZ4_MAX_RATIO } else { ZSTD_MAX_RATIO };
    if len > MAX_BLOCK_LEN || len > body.len().saturating_mul(max_ratio) {
        return Err(format!("implausible uncompressed length {len} for {} bytes", body.len()));
    }
    let (n, out) = match codec {
        Compression::None => return Err("block is not compressed".into()),
        Compression::Lz4 => {
            // At most 255 times the stored bytes, which the reader holds already.
            let mut out = vec![0; len];
            let n = lz4_flex::decompress_into(body, &mut out).map_err(|e| e.to_string())?;
            (n, out)
        }
        Compression::Zstd => {
            // Zstd's ratio bound is 32768:1, so a forged prefix on a few KiB could claim
            // hundreds of MiB: grow the buffer with the real output instead of
            // allocating the claim, and stop one byte past it.
            let mut out = Vec::new();
            let mut decoder =
                zstd::stream::read::Decoder::with_buffer(body).map_err(|e| format!("zstd: {e}"))?;
            // The decoder allocates the window the frame header asks for (up to 128 MiB
            // by default) before it decodes a byte. A frame `compress` wrote never needs
            // a window beyond its content, so refuse any larger one.
            decoder.window_log_max(window_log(len)).map_err(|e| format!("zstd: {e}"))?;
            std::io::Read::read_to_end(&mut std::io::Read::take(decoder, len as u64 + 1), &mut out)
                .map_err(|e| format!("zstd: {e}"))?;
            (out.len(), out)
        }
    };
    if n != len {
        return Err(format!("decompressed to {n} bytes, {len} declared"));
    }
    Ok(out)
}

/// The log2 of the smallest window holding `len` bytes, at least Zstd's minimum (1 KiB).
fn window_log(len: usize) -> u32 {
    let bits = usize::BITS - (len.max(1 << 10) - 1).leading_zeros();
    bits.min(31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_blocks_round_trip_through_both_codecs() {
        let raw: Vec<u8> = (0..10_000u32).flat_map(|i| (i % 37).to_le_bytes()).collect();
        for codec in [Compression::Lz4, Compression::Zstd] {
            let c = compress(codec, &raw).expect("compressible");
            assert!(c.len() < raw.len() / 2);
            assert_eq!(decompress(codec, &c).unwrap(), raw);
            assert_eq!(Compression::from_u8(codec.to_u8()), Some(codec));
        }
        assert_eq!(compress(Compression::None, &raw), None);
    }

    #[test]
    fn incompressible_blocks_are_stored_raw() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let raw: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(compress(Compression::Lz4, &raw), None);
        assert_eq!(compress(Compression::Zstd, &raw), None);
    }

    /// Found while writing the `block` fuzz target, whose `-malloc_limit_mb=64` flags it:
    /// a 3 KiB Zstd block claiming 96 MiB passed the ratio check and had 96 MiB
    /// allocated for it before decoding failed. Decoding now allocates only what the stream really produces
    /// (the allocation cap itself is what libFuzzer checks on `fuzz/corpus/block`).
    #[test]
    fn zstd_bomb_length_prefix_is_not_allocated_up_front() {
        let raw = vec![9u8; 3 << 10];
        let mut c = compress(Compression::Zstd, &raw).unwrap();
        c.resize(3 << 10, 0);
        c[..4].copy_from_slice(&(96u32 << 20).to_le_bytes());
        assert!(decompress(Compression::Zstd, &c).is_err());
        // A genuine block at a high ratio still decodes.
        let zeros = vec![0u8; 8 << 20];
        let c = compress(Compression::Zstd, &zeros).unwrap();
        assert!(c.len() < 4096, "{} bytes", c.len());
        assert_eq!(decompress(Compression::Zstd, &c).unwrap(), zeros);
    }

    #[test]
    fn lying_length_prefixes_are_rejected_before_allocating() {
        for codec in [Compression::Lz4, Compression::Zstd] {
            let mut c = compress(codec, &[7u8; 1000]).unwrap();
            c[..4].copy_from_slice(&u32::MAX.to_le_bytes());
            assert!(decompress(codec, &c).unwrap_err().contains("implausible"));
            c[..4].copy_from_slice(&999u32.to_le_bytes());
            assert!(decompress(codec, &c).is_err());
            c[..4].copy_from_slice(&1001u32.to_le_bytes());
            assert!(decompress(codec, &c).is_err());
            assert!(decompress(codec, &[1, 2]).is_err());
        }
    }

    #[test]
    fn a_zstd_frame_asking_for_a_window_beyond_its_content_is_refused() {
        // Magic; no content size, multi-segment; window descriptor 0x88: 2^27 = 128 MiB;
        // one last raw block of 5 bytes.
        let mut frame = 5u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x88, 41, 0, 0]);
        frame.extend_from_slice(b"hello");
        let err = decompress(Compression::Zstd, &frame).unwrap_err();
        assert!(err.contains("zstd"), "{err}");
        // The same frame with a 1 KiB window decodes.
        frame[9] = 0x00;
        assert_eq!(decompress(Compression::Zstd, &frame).unwrap(), b"hello");
        // A real block of several MiB still decodes: its window is its content.
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8 ^ (i >> 12) as u8).collect();
        let c = compress(Compression::Zstd, &big).expect("compressible");
        assert_eq!(decompress(Compression::Zstd, &c).unwrap(), big);
    }

    #[test]
    fn window_logs_cover_the_content() {
        assert_eq!(window_log(0), 10);
        assert_eq!(window_log(1024), 10);
        assert_eq!(window_log(1025), 11);
        assert_eq!(window_log(4096), 12);
        assert_eq!(window_log(MAX_BLOCK_LEN), 29);
    }
}
