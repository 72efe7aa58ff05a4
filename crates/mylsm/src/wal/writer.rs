//! Appends records to a WAL file, cutting them into fragments at 32 KiB block edges.

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
}

impl LogWriter {
    /// A writer appending to `file`, which already holds `len` bytes of log.
    pub fn new(file: Box<dyn WritableFile>) -> Self {
        let block_offset = (file.len() % BLOCK_SIZE as u64) as usize;
        LogWriter { file, block_offset, buf: Vec::new() }
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
}
