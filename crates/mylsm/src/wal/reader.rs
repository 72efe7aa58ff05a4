//! Reads records back from a WAL file, telling a torn tail (a clean end) from damage.
//!
//! What counts as a torn tail, the only damage a crash can leave in a log that was
//! appended in order: a fragment header or payload cut short by the end of the file,
//! a record whose FIRST fragment is not followed by its LAST before the end, a run
//! of zero bytes that lasts to the end of the file (pages the file system extended
//! but never wrote, or zeros the writer preallocated), and a damaged fragment cut
//! short by such a run (an append over preallocated zeros that a crash kept only the
//! start of: its last byte is zero, and so is everything after it). Anything else — a
//! checksum mismatch, an impossible length or type, fragments out of order, zeros
//! followed by data — is corruption.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{fragment_crc, FragmentType, BLOCK_SIZE, HEADER_SIZE};
use crate::fs::RandomAccessFile;
use crate::{Error, Result};

static ZEROS: [u8; BLOCK_SIZE] = [0; BLOCK_SIZE];

/// What recovery does when a log is damaged somewhere other than its torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// A torn tail is the end of the log; any other damage fails `open` with
    /// [`Error::Corruption`] naming the file and offset. Nothing is silently dropped.
    #[default]
    TolerateTornTail,
    /// Replay stops at the first damaged fragment, torn or not, and everything after it
    /// in this log and in later logs is discarded: the database opens as of the last
    /// intact write before the damage. For recovering a log whose unsynced pages were
    /// written out of order before a power loss.
    PointInTime,
}

/// Reads the records of one log file in order.
#[derive(Debug)]
pub(crate) struct LogReader {
    file: Arc<dyn RandomAccessFile>,
    path: PathBuf,
    file_len: u64,
    mode: RecoveryMode,
    block: Vec<u8>,
    /// File offset of `block[0]`.
    block_start: u64,
    /// Read position within `block`.
    pos: usize,
    done: bool,
    /// Where replay stopped early under [`RecoveryMode::PointInTime`], and why.
    dropped: Option<(u64, String)>,
}

/// Why a fragment could not be used.
enum Bad {
    /// The file ends inside the fragment or in a zero-filled tail: a clean end.
    Torn,
    /// Real damage at this file offset.
    Corrupt(u64, String),
}

struct Fragment {
    kind: FragmentType,
    offset: u64,
    range: std::ops::Range<usize>,
}

impl LogReader {
    pub fn new(file: Arc<dyn RandomAccessFile>, path: &Path, mode: RecoveryMode) -> Result<Self> {
        let file_len = file.len()?;
        Ok(LogReader {
            file,
            path: path.to_path_buf(),
            file_len,
            mode,
            block: Vec::with_capacity(BLOCK_SIZE),
            block_start: 0,
            pos: 0,
            done: false,
            dropped: None,
        })
    }

    /// Where and why replay of this log stopped before its end, if it did.
    pub fn dropped(&self) -> Option<&(u64, String)> {
        self.dropped.as_ref()
    }

    /// The next record and the file offset of its first fragment; `None` at the end.
    pub fn next_record(&mut self) -> Result<Option<(u64, Vec<u8>)>> {
        let mut record: Vec<u8> = Vec::new();
        let mut record_start: Option<u64> = None;
        while !self.done {
            let frag = match self.next_fragment()? {
                Some(Ok(f)) => f,
                Some(Err(Bad::Torn)) | None => break,
                Some(Err(Bad::Corrupt(offset, detail))) => return self.damaged(offset, detail),
            };
            let payload = &self.block[frag.range.clone()];
            match (frag.kind, record_start) {
                (FragmentType::Full, None) => return Ok(Some((frag.offset, payload.to_vec()))),
                (FragmentType::First, None) => {
                    record_start = Some(frag.offset);
                    record.extend_from_slice(payload);
                }
                (FragmentType::Middle, Some(_)) => record.extend_from_slice(payload),
                (FragmentType::Last, Some(start)) => {
                    record.extend_from_slice(payload);
                    return Ok(Some((start, record)));
                }
                (kind, _) => {
                    let detail = format!("{kind:?} fragment out of sequence");
                    return self.damaged(frag.offset, detail);
                }
            }
        }
        self.done = true;
        Ok(None)
    }

    fn damaged(&mut self, offset: u64, detail: String) -> Result<Option<(u64, Vec<u8>)>> {
        self.done = true;
        match self.mode {
            RecoveryMode::TolerateTornTail => {
                Err(Error::corruption(&self.path, offset, format!("WAL: {detail}")))
            }
            RecoveryMode::PointInTime => {
                self.dropped = Some((offset, detail));
                Ok(None)
            }
        }
    }

    /// Loads the next block; false at the end of the file.
    fn load_next_block(&mut self) -> Result<bool> {
        let next = self.block_start + self.block.len() as u64;
        if next >= self.file_len {
            return Ok(false);
        }
        let len = (self.file_len - next).min(BLOCK_SIZE as u64) as usize;
        self.block.resize(len, 0);
        let mut done = 0;
        while done < len {
            let n = self.file.read_at(next + done as u64, &mut self.block[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        self.block.truncate(done);
        self.block_start = next;
        self.pos = 0;
        Ok(done > 0)
    }

    fn next_fragment(&mut self) -> Result<Option<Result<Fragment, Bad>>> {
        loop {
            let left = self.block.len() - self.pos;
            if left < HEADER_SIZE {
                // In a full block these are the zero trailer; in the last, partial block
                // they are a header cut short by the end of the file.
                if left == 0 || self.block.len() == BLOCK_SIZE {
                    if self.load_next_block()? {
                        continue;
                    }
                    return Ok(None);
                }
                return Ok(Some(Err(Bad::Torn)));
            }
            let offset = self.block_start + self.pos as u64;
            let h = &self.block[self.pos..self.pos + HEADER_SIZE];
            let crc = crate::coding::fixed32(h);
            let len = usize::from(u16::from_le_bytes([h[4], h[5]]));
            let kind = h[6];
            if crc == 0 && len == 0 && kind == 0 {
                return Ok(Some(Err(self.zeros_from(offset)?)));
            }
            if HEADER_SIZE + len > left {
                let ends_in_file = self.block_start + (self.pos + HEADER_SIZE + len) as u64;
                if self.block.len() < BLOCK_SIZE && ends_in_file > self.file_len {
                    return Ok(Some(Err(Bad::Torn)));
                }
                let detail = format!("fragment length {len} crosses the block end");
                return Ok(Some(Err(self.damaged_or_torn(offset, self.block.len(), detail)?)));
            }
            let start = self.pos + HEADER_SIZE;
            let payload = &self.block[start..start + len];
            if fragment_crc(kind, payload) != crc {
                let detail = "fragment checksum mismatch".to_string();
                return Ok(Some(Err(self.damaged_or_torn(offset, start + len, detail)?)));
            }
            let Some(kind) = FragmentType::from_u8(kind) else {
                let detail = format!("unknown fragment type {kind}");
                return Ok(Some(Err(self.damaged_or_torn(offset, start + len, detail)?)));
            };
            self.pos = start + len;
            return Ok(Some(Ok(Fragment { kind, offset, range: start..start + len })));
        }
    }

    /// Classifies a zero header at `offset`: torn if zeros last to the end of the file.
    fn zeros_from(&mut self, offset: u64) -> Result<Bad> {
        Ok(match self.first_nonzero(offset)? {
            Some(at) => {
                let detail = format!("zero-filled region followed by data at offset {at}");
                Bad::Corrupt(offset, detail)
            }
            None => Bad::Torn,
        })
    }

    /// Classifies the damaged fragment at `offset`, whose bytes in this block end at
    /// `end` (a position in `block`): torn if its last byte is zero and so is every byte
    /// after it, the trace of an append over preallocated zeros cut short by a crash.
    /// (A fragment written whole and damaged later whose payload ends in zero bytes
    /// reads as torn too; only the log's last fragment can be mistaken so.)
    fn damaged_or_torn(&mut self, offset: u64, end: usize, detail: String) -> Result<Bad> {
        let zero_end = end > 0 && self.block[end - 1] == 0;
        if zero_end && self.first_nonzero(self.block_start + end as u64)?.is_none() {
            return Ok(Bad::Torn);
        }
        Ok(Bad::Corrupt(offset, detail))
    }

    /// The offset of the first non-zero byte at or after `from`, if any.
    fn first_nonzero(&mut self, from: u64) -> Result<Option<u64>> {
        let mut at = from;
        let mut buf = vec![0u8; BLOCK_SIZE];
        while at < self.file_len {
            let n = self.file.read_at(at, &mut buf)?;
            if n == 0 {
                break;
            }
            // A preallocated tail is a long run of zeros: compare whole blocks first.
            if buf[..n] != ZEROS[..n] {
                let i = buf[..n].iter().position(|&b| b != 0).unwrap_or(0);
                return Ok(Some(at + i as u64));
            }
            at += n as u64;
        }
        Ok(None)
    }
}
