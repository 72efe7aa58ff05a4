//! A bump allocator that hands out aligned chunks of large, never-moving blocks.
//!
//! This mirrors LevelDB's `util/arena.cc`: small requests are carved out of the current
//! block, requests larger than a quarter block get a dedicated block (so that a single big
//! entry does not waste the rest of a fresh standard block), and nothing is freed before the
//! arena itself drops. Pointers are kept as `NonNull<u8>` derived from the allocation and
//! advanced with `add`, never round-tripped through integers, so they keep their provenance.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

/// Block size used by [`crate::SkipList::new`].
pub(crate) const DEFAULT_BLOCK_SIZE: usize = 64 * 1024;

/// Owner of every block backing a skip list's nodes.
#[derive(Debug)]
pub(crate) struct Arena {
    /// Alignment of every block and every chunk handed out; a power of two.
    align: usize,
    /// Size of a standard block.
    block_size: usize,
    /// Start of the block that small requests are currently carved from.
    current: Option<NonNull<u8>>,
    /// Bytes of `current` already handed out; always a multiple of `align`.
    used: usize,
    /// Bytes of `current` still available.
    remaining: usize,
    /// Every block ever allocated with the layout it must be freed with.
    blocks: Vec<(NonNull<u8>, Layout)>,
    /// Sum of the sizes of `blocks`.
    reserved: usize,
}

// SAFETY: The arena exclusively owns its blocks; the raw pointers are only handles to heap
// memory that no other `Arena` refers to, so moving the arena to another thread moves that
// ownership with it. Chunks already handed out are governed by the skip list's own contract.
unsafe impl Send for Arena {}

impl Arena {
    /// Creates an empty arena; no memory is reserved until the first allocation.
    ///
    /// # Panics
    ///
    /// Panics if `align` is not a power of two.
    pub(crate) fn new(block_size: usize, align: usize) -> Self {
        assert!(align.is_power_of_two(), "arena alignment must be a power of two");
        Self {
            align,
            block_size,
            current: None,
            used: 0,
            remaining: 0,
            blocks: Vec::new(),
            reserved: 0,
        }
    }

    /// Total bytes of all blocks reserved so far.
    pub(crate) fn memory_usage(&self) -> usize {
        self.reserved
    }

    /// Returns a chunk of at least `size` bytes aligned to the arena's alignment.
    ///
    /// The chunk is uninitialized, is never handed out again, and stays valid (and at the same
    /// address) until the arena drops.
    ///
    /// # Panics
    ///
    /// Panics if `size` rounded up to the alignment overflows `isize`; aborts via
    /// [`handle_alloc_error`] if the system allocator fails.
    pub(crate) fn allocate(&mut self, size: usize) -> NonNull<u8> {
        // Rounding every request keeps `used` a multiple of `align`, so the next chunk is
        // aligned without any pointer arithmetic on addresses.
        let size = size
            .max(1)
            .checked_next_multiple_of(self.align)
            .expect("arena allocation size overflows usize");
        if let Some(block) = self.current {
            if size <= self.remaining {
                // SAFETY: `used + size <= block_size`, so the result stays inside the block
                // allocation `block` was derived from.
                let chunk = unsafe { block.add(self.used) };
                self.used += size;
                self.remaining -= size;
                return chunk;
            }
        }
        if size > self.block_size / 4 {
            // A large request gets a block of its own and leaves the current block alone, so
            // the current block's unused tail stays available for later small requests.
            return self.new_block(size);
        }
        let block = self.new_block(self.block_size);
        self.current = Some(block);
        self.used = size;
        self.remaining = self.block_size - size;
        block
    }

    /// Allocates and records a fresh block of exactly `size` bytes (`size > 0`).
    fn new_block(&mut self, size: usize) -> NonNull<u8> {
        let layout =
            Layout::from_size_align(size, self.align).expect("arena block size overflows isize");
        // Reserve the bookkeeping slot first so that a panic there cannot leak the block.
        self.blocks.reserve(1);
        // SAFETY: `layout` has a non-zero size because every caller passes a size that is at
        // least one rounded-up chunk (`size >= align >= 1`).
        let raw = unsafe { alloc(layout) };
        let Some(block) = NonNull::new(raw) else { handle_alloc_error(layout) };
        self.blocks.push((block, layout));
        self.reserved += size;
        block
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        for &(block, layout) in &self.blocks {
            // SAFETY: Each block was returned by `alloc` with exactly this layout and is freed
            // once, here. The skip list guarantees no node reference outlives the arena.
            unsafe { dealloc(block.as_ptr(), layout) };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_aligned_and_disjoint() {
        let mut arena = Arena::new(256, 8);
        let a = arena.allocate(3);
        let b = arena.allocate(8);
        assert_eq!(a.as_ptr().align_offset(8), 0);
        assert_eq!(b.as_ptr().align_offset(8), 0);
        // SAFETY: Both chunks come from the same 256-byte block, so their distance is defined.
        let distance = unsafe { b.as_ptr().offset_from(a.as_ptr()) };
        assert_eq!(distance, 8);
        assert_eq!(arena.memory_usage(), 256);
    }

    #[test]
    fn large_requests_get_dedicated_blocks() {
        let mut arena = Arena::new(256, 8);
        arena.allocate(8);
        arena.allocate(1000);
        assert_eq!(arena.memory_usage(), 256 + 1000);
        // The standard block still has room, so a small request must not reserve more.
        arena.allocate(8);
        assert_eq!(arena.memory_usage(), 256 + 1000);
    }

    #[test]
    fn exhausted_block_is_replaced() {
        let mut arena = Arena::new(64, 8);
        for _ in 0..8 {
            arena.allocate(16);
        }
        assert_eq!(arena.memory_usage(), 64 * 2);
    }

    #[test]
    fn chunks_are_writable() {
        let mut arena = Arena::new(64, 8);
        let chunk = arena.allocate(16);
        // SAFETY: The chunk is 16 writable bytes that nothing else uses.
        unsafe { chunk.as_ptr().write_bytes(0xAB, 16) };
        // SAFETY: The 16 bytes were just initialized above.
        let bytes = unsafe { std::slice::from_raw_parts(chunk.as_ptr(), 16) };
        assert_eq!(bytes, [0xAB; 16]);
    }
}
