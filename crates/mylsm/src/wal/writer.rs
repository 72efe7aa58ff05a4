//! Appends records to a WAL file, cutting them into fragments at 32 KiB block edges,
//! and keeps zeros preallocated ahead of them for the write path's syncs.

use super::{fragment_crc, FragmentType, BLOCK_SIZE, HEADER_SIZE};
use crate::fs::WritableFile;
use crate::Result;

/// Writes records in the format of [`super`]. Each `add_record` is one `append` to
/// the file, so a record reaches the operating system whole or (on a crash during the
/// call) as a torn tail the reader treats as the end.
#[derive(Debug)]
pub(crate) struct LogWriter {
    file: Box<dyn WritableFile>,
    block_offset: usize,
    buf: Vec<u8>,
    /// The file's size: the end of the zeros `sync_preallocating` wrote, or `len()`.
    allocated: u64,
}

/// The most zeros [`LogWriter::sync_preallocating`] puts ahead of the records; it puts
/// as many as the log already holds (at least a block), so a small log (tiny memtables)
/// is not mostly zeros, and a big one pays a size change once per 512 KiB.
const PREALLOCATE: u64 = 1 << 20;

impl LogWriter {
    /// A writer appending to `file`, which already holds `len` bytes of log.
    pub fn new(file: Box<dyn WritableFile>) -> Self {
        let block_offset = (file.len() % BLOCK_SIZE as u64) as usize;
        let allocated = file.len();
        LogWriter { file, block_offset, buf: Vec::new(), allocated }
    }

    /// Bytes in the log file.
    pub fn len(&self) -> u64 {
        self.file.len()
    }

    /// Appends one record.
    pub fn add_record(&mut self, mut data: &[u8]) -> Result<()> {
        self.buf.clear();
        let mut first = true;
        loop {
            let left_in_block = BLOCK_SIZE - self.block_offset;
            if left_in_block < HEADER_SIZE {
                // Too small for a header: pad with zeros and start a new block.
                self.buf.extend_from_slice(&[0; HEADER_SIZE][..left_in_block]);
                self.block_offset = 0;
                continue;
            }
            let avail = left_in_block - HEADER_SIZE;
            let n = data.len().min(avail);
            let last = n == data.len();
            let kind = match (first, last) {
                (true, true) => FragmentType::Full,
                (true, false) => FragmentType::First,
                (false, false) => FragmentType::Middle,
                (false, true) => FragmentType::Last,
            };
            let payload = &data[..n];
            self.buf.extend_from_slice(&fragment_crc(kind as u8, payload).to_le_bytes());
            self.buf.extend_from_slice(&(n as u16).to_le_bytes());
            self.buf.push(kind as u8);
            self.buf.extend_from_slice(payload);
            self.block_offset += HEADER_SIZE + n;
            data = &data[n..];
            first = false;
            if last {
                break;
            }
        }
        let result = self.file.append(&self.buf);
        if self.buf.capacity() > 4 * BLOCK_SIZE {
            // Do not keep a huge buffer alive after one huge record.
            self.buf = Vec::new();
        }
        result
    }

    /// Makes every record appended so far durable.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync()
    }

    /// Makes every record appended so far durable, as `sync`, and first, when fewer
    /// zeros than half the log's length (at least a block, at most [`PREALLOCATE`]) lie
    /// ahead of the records, writes zeros up to that length ahead, made durable by the
    /// same sync. Records then overwrite zeros, so the file
    /// size stays put and the next syncs are `fdatasync`s without a metadata update
    /// (RocksDB gets the same by recycling logs). A zero-filled tail is the end of the
    /// log to the reader, and a record torn by a crash runs into it (`reader.rs`).
    ///
    /// A failed preallocation is not the write's failure: this log goes on without it,
    /// and the sync reports whatever the device really has.
    pub fn sync_preallocating(&mut self) -> Result<()> {
        let len = self.file.len();
        let ahead = len.clamp(BLOCK_SIZE as u64, PREALLOCATE);
        if self.allocated < len + ahead / 2 {
            let target = len + ahead;
            // Past `u64::MAX / 2`, the test above never passes again.
            self.allocated =
                if self.file.preallocate(target).is_ok() { target } else { u64::MAX / 2 };
        }
        self.file.sync()
    }
}
