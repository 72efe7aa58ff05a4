//! `BlockBuilder`: lays out sorted entries as a block with prefix-compressed keys and
//! restart points (LevelDB's `table/block_builder.cc`, same format).
//!
//! ```text
//! block    := entry*  restart: fixed32 × num_restarts  num_restarts: fixed32
//! entry    := shared: varint32      bytes of the key shared with the previous key
//!             unshared: varint32    bytes of the key that follow
//!             value_len: varint32
//!             key_delta: [u8; unshared]
//!             value: [u8; value_len]
//! restart  := offset in the block of an entry whose `shared` is 0
//! ```
//!
//! Every `restart_interval` entries the key is stored whole and its offset recorded,
//! so a reader can binary-search the restart points and decode forward from one. The
//! first entry is always a restart point, and even an empty block has one restart.

use crate::coding::{put_fixed32, put_varint32};

/// Accumulates entries in key order and produces the bytes of one block.
#[derive(Debug)]
pub(crate) struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    restart_interval: usize,
    /// Entries since the last restart point.
    counter: usize,
    entries: usize,
    last_key: Vec<u8>,
}

impl BlockBuilder {
    /// A builder with a restart point every `restart_interval` entries (at least 1).
    pub fn new(restart_interval: usize) -> Self {
        BlockBuilder {
            buf: Vec::new(),
            restarts: vec![0],
            restart_interval: restart_interval.max(1),
            counter: 0,
            entries: 0,
            last_key: Vec::new(),
        }
    }

    /// Forgets every entry, keeping the allocations.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.restarts.clear();
        self.restarts.push(0);
        self.counter = 0;
        self.entries = 0;
        self.last_key.clear();
    }

    /// Appends an entry. Keys must arrive in increasing order (the caller's comparator
    /// decides; the block itself only shares prefixes), and the block must stay under
    /// 4 GiB so that restart offsets fit in a u32; the table builder keeps it far below.
    pub fn add(&mut self, key: &[u8], value: &[u8]) {
        let shared = if self.counter < self.restart_interval {
            self.last_key.iter().zip(key).take_while(|(a, b)| a == b).count()
        } else {
            self.restarts.push(offset_u32(self.buf.len()));
            self.counter = 0;
            0
        };
        put_varint32(&mut self.buf, offset_u32(shared));
        put_varint32(&mut self.buf, offset_u32(key.len() - shared));
        put_varint32(&mut self.buf, offset_u32(value.len()));
        self.buf.extend_from_slice(&key[shared..]);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(&key[shared..]);
        self.counter += 1;
        self.entries += 1;
    }

    /// The block's bytes once finished: entries, restart array, restart count.
    pub fn finish(&mut self) -> &[u8] {
        for &r in &self.restarts {
            put_fixed32(&mut self.buf, r);
        }
        put_fixed32(&mut self.buf, offset_u32(self.restarts.len()));
        &self.buf
    }

    /// The size `finish` would produce now.
    pub fn size_estimate(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }
}

/// Converts a length within a block to its on-disk u32. Blocks are capped far below
/// 4 GiB by the table builder, so a failure here is a bug, not bad input.
#[expect(
    clippy::expect_used,
    reason = "`TableBuilder` refuses an entry that would grow a data block past \
              `MAX_BLOCK_LEN` (512 MiB); an index block, one entry per data block, would \
              reach 4 GiB only past tens of millions of data blocks in one table"
)]
fn offset_u32(n: usize) -> u32 {
    u32::try_from(n).expect("block offsets fit in u32: blocks are capped at 512 MiB")
}
