//! `Block` and `BlockIter`: reading a block written by `BlockBuilder`, with a cursor
//! that binary-searches the restart points (LevelDB's `table/block.cc`).
//!
//! The restart array is checked when the block is opened: its count must fit, the
//! first restart must be 0 and the offsets must increase and stay inside the entries.
//! Entries are checked as the cursor decodes them; a malformed one leaves the cursor
//! invalid with a `Corruption` that names the file, the block's file offset and the
//! byte within the (uncompressed) block.

use std::cmp::Ordering;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use crate::coding::{fixed32, Reader};
use crate::iter::InternalIterator;
use crate::key::InternalKeyComparator;
use crate::Value;
use crate::{Error, Result};

/// Where a block came from, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct BlockLoc {
    pub file: Arc<Path>,
    /// File offset of the block's on-disk bytes.
    pub offset: u64,
}

impl BlockLoc {
    pub fn corruption(&self, detail: impl Into<String>) -> Error {
        Error::corruption(self.file.as_ref(), self.offset, detail)
    }
}

/// The uncompressed contents of a block with a validated restart array. Cloning shares
/// the contents.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    data: Arc<[u8]>,
    /// Where the restart array starts, which is also where the entries end.
    restarts_offset: usize,
    num_restarts: usize,
    loc: BlockLoc,
}

/// One decoded entry's layout within the block.
struct Entry {
    shared: usize,
    delta: Range<usize>,
    value: Range<usize>,
}

impl Block {
    /// Checks the restart array of `data`; the entries are checked as they are read.
    pub fn new(data: Arc<[u8]>, loc: BlockLoc) -> Result<Block> {
        let len = data.len();
        let num_restarts = match len.checked_sub(4) {
            Some(at) => fixed32(&data[at..]) as usize,
            None => return Err(loc.corruption("block: shorter than its restart count")),
        };
        if num_restarts == 0 || num_restarts > (len - 4) / 4 {
            let detail = format!("block: {num_restarts} restarts do not fit in {len} bytes");
            return Err(loc.corruption(detail));
        }
        let restarts_offset = len - 4 - 4 * num_restarts;
        let block = Block { data, restarts_offset, num_restarts, loc };
        block.check_restarts()?;
        Ok(block)
    }

    /// The first restart must be 0, and the rest must increase and stay in the entries.
    fn check_restarts(&self) -> Result<()> {
        let mut prev = 0;
        for i in 0..self.num_restarts {
            let r = self.restart(i);
            let in_place = if i == 0 { r == 0 } else { r > prev && r < self.restarts_offset };
            if !in_place {
                return Err(self
                    .loc
                    .corruption(format!("block: restart {i} at {r} is out of place")));
            }
            prev = r;
        }
        Ok(())
    }

    fn restart(&self, i: usize) -> usize {
        let at = self.restarts_offset + 4 * i;
        fixed32(&self.data[at..at + 4]) as usize
    }

    /// The offset of restart point `i + 1`, or `usize::MAX` if `i` is the last.
    fn restart_after(&self, i: usize) -> usize {
        if i + 1 < self.num_restarts {
            self.restart(i + 1)
        } else {
            usize::MAX
        }
    }

    /// Decodes the entry at `off`, checking every length against the entry area.
    fn entry(&self, off: usize) -> Option<Entry> {
        let area = self.data.get(off..self.restarts_offset)?;
        let (shared, unshared, value_len, header) = match *area {
            // The common case, as in LevelDB's `DecodeEntry`: all three lengths are
            // below 128, so each varint is a single byte.
            [a, b, c, ..] if (a | b | c) < 0x80 => (a as usize, b as usize, c as usize, 3),
            _ => {
                let mut r = Reader::new(area);
                let shared = r.varint32("shared").ok()? as usize;
                let unshared = r.varint32("unshared").ok()? as usize;
                let value_len = r.varint32("value length").ok()? as usize;
                (shared, unshared, value_len, r.offset())
            }
        };
        let start = off + header;
        if unshared.checked_add(value_len)? > area.len() - header {
            return None;
        }
        let value_start = start + unshared;
        Some(Entry {
            shared,
            delta: start..value_start,
            value: value_start..value_start + value_len,
        })
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn loc(&self) -> &BlockLoc {
        &self.loc
    }

    /// A cursor over the block's entries, ordered by internal key.
    pub fn iter(&self) -> BlockIter {
        self.iter_reusing(None)
    }

    /// `iter`, reusing the buffers of `old`, a cursor the caller is done with (a table
    /// cursor moving on to its next block), so that the move allocates nothing.
    pub fn iter_reusing(&self, old: Option<BlockIter>) -> BlockIter {
        let (mut key, mut behind) = old.map(|o| (o.key, o.behind)).unwrap_or_default();
        key.clear();
        behind.clear();
        BlockIter {
            block: self.clone(),
            current: self.restarts_offset,
            next: self.restarts_offset,
            restart_index: self.num_restarts,
            key,
            value: 0..0,
            err: None,
            behind,
        }
    }
}

/// A cursor over one block. Invalid when `current` is the end of the entries.
#[derive(Debug)]
pub(crate) struct BlockIter {
    block: Block,
    /// Offset of the current entry.
    current: usize,
    /// Offset just past the current entry.
    next: usize,
    /// The restart point at or before `current`.
    restart_index: usize,
    key: Vec<u8>,
    value: Range<usize>,
    err: Option<Error>,
    /// The entries `prev` decoded on its way from a restart point to the current entry.
    behind: Behind,
}

/// The entries of one restart interval that a backward step decoded, so that the steps
/// after it pop them instead of decoding the interval again: a walk backwards decodes
/// each entry about twice instead of about `restart_interval / 2` times (RocksDB's
/// `prev_entries_`). Valid only while `at` is `Some`: every other move clears it.
#[derive(Debug, Default)]
struct Behind {
    /// Each entry: its offset, the offset after it, its value and where its key ends
    /// in `keys` (it starts where the one before it ends).
    entries: Vec<(usize, usize, Range<usize>, usize)>,
    /// The entries' whole keys, one after another.
    keys: Vec<u8>,
    /// The index in `entries` of the cursor's current entry.
    at: Option<usize>,
}

impl Behind {
    fn clear(&mut self) {
        self.entries.clear();
        self.keys.clear();
        self.at = None;
    }
}

impl BlockIter {
    /// The current value as a shared view of the block: no copy (the view keeps the
    /// block's memory alive while it lives).
    pub fn value_slice(&self) -> Value {
        // The range was checked against the block when the entry was decoded, so the
        // view always succeeds; the copy is only a panic-free fallback.
        Value::view(Arc::clone(&self.block.data), self.value.clone())
            .unwrap_or_else(|| Value::copy_from(self.value()))
    }

    fn end(&self) -> usize {
        self.block.restarts_offset
    }

    fn invalidate(&mut self) {
        self.behind.at = None;
        self.current = self.end();
        self.next = self.end();
        self.restart_index = self.block.num_restarts;
    }

    fn corrupt(&mut self, at: usize, what: &str) {
        let detail = format!("block: {what} at byte {at} of the uncompressed block");
        self.err.get_or_insert_with(|| self.block.loc.corruption(detail));
        self.invalidate();
    }

    /// Positions before the entry at restart point `i`, so that the next
    /// `parse_next` decodes it.
    fn seek_to_restart(&mut self, i: usize) {
        self.key.clear();
        self.restart_index = i;
        self.next = self.block.restart(i);
    }

    /// Decodes the entry at `next` into the cursor; false at the end or on damage.
    fn parse_next(&mut self) -> bool {
        self.behind.at = None;
        self.current = self.next;
        if self.current >= self.end() {
            self.invalidate();
            return false;
        }
        let Some(e) = self.block.entry(self.current) else {
            self.corrupt(self.current, "malformed entry");
            return false;
        };
        if e.shared > self.key.len() {
            self.corrupt(self.current, "entry shares more bytes than the previous key has");
            return false;
        }
        let mut next_restart = self.block.restart_after(self.restart_index);
        while next_restart <= self.current {
            self.restart_index += 1;
            next_restart = self.block.restart_after(self.restart_index);
        }
        // Entries must chain through every restart point, and those carry whole keys:
        // otherwise a scan from one restart would not meet the entries seen from another.
        if e.shared != 0 && self.block.restart(self.restart_index) == self.current {
            self.corrupt(self.current, "restart entry shares a prefix");
            return false;
        }
        if next_restart < e.value.end {
            self.corrupt(self.current, "entry runs over the next restart point");
            return false;
        }
        self.key.truncate(e.shared);
        self.key.extend_from_slice(&self.block.data[e.delta]);
        self.next = e.value.end;
        self.value = e.value;
        true
    }

    /// The whole key stored at restart point `i`; `None` (with the cursor corrupt) if
    /// the entry there is malformed or shares a prefix.
    fn restart_key(&mut self, i: usize) -> Option<Range<usize>> {
        let off = self.block.restart(i);
        match self.block.entry(off) {
            Some(e) if e.shared == 0 => Some(e.delta),
            _ => {
                self.corrupt(off, "malformed restart entry");
                None
            }
        }
    }
}

impl InternalIterator for BlockIter {
    fn valid(&self) -> bool {
        self.err.is_none() && self.current < self.end()
    }

    fn seek(&mut self, target: &[u8]) {
        if self.err.is_some() {
            return;
        }
        // Find the last restart point whose key is below `target`, then scan forward.
        let (mut lo, mut hi) = (0, self.block.num_restarts - 1);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            let Some(k) = self.restart_key(mid) else { return };
            if InternalKeyComparator.compare(&self.block.data[k], target) == Ordering::Less {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        self.seek_to_restart(lo);
        while self.parse_next() {
            if InternalKeyComparator.compare(&self.key, target) != Ordering::Less {
                return;
            }
        }
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        self.seek(target);
        if self.valid() {
            if InternalKeyComparator.compare(&self.key, target) == Ordering::Greater {
                self.prev();
            }
        } else if self.err.is_none() {
            self.seek_to_last();
        }
    }

    fn seek_to_first(&mut self) {
        if self.err.is_none() {
            self.seek_to_restart(0);
            self.parse_next();
        }
    }

    fn seek_to_last(&mut self) {
        if self.err.is_none() {
            self.seek_to_restart(self.block.num_restarts - 1);
            while self.parse_next() && self.next < self.end() {}
        }
    }

    fn next(&mut self) {
        debug_assert!(self.valid());
        self.parse_next();
    }

    fn prev(&mut self) {
        debug_assert!(self.valid());
        if let Some(i) = self.behind.at.filter(|&i| i > 0) {
            // The entry before this one was decoded by the step that brought us here.
            let (current, next, value, end) = self.behind.entries[i - 1].clone();
            let start = i.checked_sub(2).map_or(0, |j| self.behind.entries[j].3);
            self.key.clear();
            self.key.extend_from_slice(&self.behind.keys[start..end]);
            (self.current, self.next, self.value) = (current, next, value);
            self.behind.at = Some(i - 1);
            return;
        }
        // Back up to the restart point before the current entry, then decode forward
        // to the entry just before it (LevelDB's scheme: no backward links on disk),
        // keeping what is decoded for the steps back that follow.
        let original = self.current;
        while self.block.restart(self.restart_index) >= original {
            if self.restart_index == 0 {
                self.invalidate();
                return;
            }
            self.restart_index -= 1;
        }
        self.seek_to_restart(self.restart_index);
        let mut behind = std::mem::take(&mut self.behind);
        behind.clear();
        while self.parse_next() {
            behind.keys.extend_from_slice(&self.key);
            behind.entries.push((self.current, self.next, self.value.clone(), behind.keys.len()));
            if self.next >= original {
                break;
            }
        }
        if self.valid() {
            if self.next != original {
                self.corrupt(self.current, "entries do not chain to the current one");
            } else {
                behind.at = Some(behind.entries.len() - 1);
            }
        }
        self.behind = behind;
    }

    fn key(&self) -> &[u8] {
        debug_assert!(self.valid());
        &self.key
    }

    fn value(&self) -> &[u8] {
        debug_assert!(self.valid());
        &self.block.data[self.value.clone()]
    }

    fn status(&self) -> Result<()> {
        self.err.clone().map_or(Ok(()), Err)
    }
}
