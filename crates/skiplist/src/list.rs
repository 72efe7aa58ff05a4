//! The skip list itself: construction, the serialized insert and the lock-free searches.

use std::cmp::Ordering as KeyOrdering;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize as StatCounter, Ordering};
use std::sync::PoisonError;

use crate::arena::{Arena, DEFAULT_BLOCK_SIZE};
use crate::node::{Node, NodeRef, MAX_HEIGHT, NODE_ALIGN};
use crate::sync::{AtomicUsize, Mutex, MutexGuard};
use crate::{Comparator, Iter};

/// Seed of the height generator; fixed so that layouts (and loom runs) are reproducible.
const DEFAULT_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// An arena-backed sorted map from byte keys to byte values with one writer at a time and
/// lock-free readers. See the crate documentation for the full concurrency contract.
pub struct SkipList<C: Comparator> {
    cmp: C,
    /// Sentinel of height `MAX_HEIGHT` with an empty key; never yielded to callers.
    head: NonNull<Node>,
    /// Height of the tallest node ever inserted (at least 1). Only the writer stores it.
    max_height: AtomicUsize,
    len: StatCounter,
    memory_usage: StatCounter,
    /// State only the writer touches. The arena inside it owns the memory of every node.
    writer: Mutex<Writer>,
}

/// Everything the writer lock protects.
struct Writer {
    arena: Arena,
    rng: XorShift64,
    /// Where the last insert went (RocksDB's `seq_splice_`): at every level, the last node
    /// before the position just after the newest node (the newest node itself at its own
    /// levels, the head where nothing precedes it). All inserts go through the writer, so it
    /// always describes the current list. An insert whose key follows `splice[0]` (key-order
    /// loads: fillseq, batches, bulk loads) starts its search there instead of at the head.
    splice: [NonNull<Node>; MAX_HEIGHT],
    /// Whether the last insert landed within `SPLICE_LEVELS` levels of the splice before
    /// it; only then does the next insert try the splice, so random inserts pay nothing.
    splice_near: bool,
}

/// Levels an insert climbs from the splice looking for a bracket that holds its key (about
/// `4^SPLICE_LEVELS` nodes around the last insert) before it searches from the head.
const SPLICE_LEVELS: usize = 3;

// SAFETY: `head`, the splice and every node pointer point into arena blocks owned by `writer.arena`,
// which is `Send`, so sending the list sends that ownership. Nodes hold only plain bytes and
// atomics, nothing tied to a thread, and `C: Send + Sync` by the `Comparator` bound.
unsafe impl<C: Comparator> Send for SkipList<C> {}

// SAFETY: Through `&SkipList` the only mutation is `insert`, which serializes on the
// `writer` mutex and changes shared node memory only through atomic link stores. Everything
// else a reader touches is either atomic or immutable after publication, and publication uses
// Release/Acquire so the plain bytes are visible before they are read (crate invariants 2-4).
unsafe impl<C: Comparator> Sync for SkipList<C> {}

impl<C: Comparator> SkipList<C> {
    /// Creates an empty list whose arena uses 64 KiB blocks.
    pub fn new(cmp: C) -> Self {
        Self::with_block_size(cmp, DEFAULT_BLOCK_SIZE)
    }

    /// Creates an empty list whose arena allocates blocks of `block_size` bytes.
    ///
    /// Entries needing more than a quarter of a block get a dedicated block, so any size is
    /// valid; a very small one merely gives every entry its own block.
    pub fn with_block_size(cmp: C, block_size: usize) -> Self {
        Self::with_seed(cmp, block_size, DEFAULT_SEED)
    }

    /// Like [`SkipList::with_block_size`] with a chosen seed for the height generator, so
    /// loom models can force tall nodes. Not part of the stable API.
    #[cfg(loom)]
    #[doc(hidden)]
    pub fn loom_with_seed(cmp: C, block_size: usize, seed: u64) -> Self {
        Self::with_seed(cmp, block_size, seed)
    }

    pub(crate) fn with_seed(cmp: C, block_size: usize, seed: u64) -> Self {
        let mut arena = Arena::new(block_size, NODE_ALIGN);
        let head = Node::create(&mut arena, MAX_HEIGHT, &[], &[]);
        Self {
            cmp,
            head,
            max_height: AtomicUsize::new(1),
            len: StatCounter::new(0),
            memory_usage: StatCounter::new(arena.memory_usage()),
            writer: Mutex::new(Writer {
                arena,
                rng: XorShift64::new(seed),
                splice: [head; MAX_HEIGHT],
                splice_near: false,
            }),
        }
    }

    /// Inserts `key -> value`, copying both into the arena.
    ///
    /// Returns `false` and inserts nothing if a key equal to `key` under the comparator is
    /// already present. Concurrent calls are serialized by an internal lock; readers are never
    /// blocked.
    ///
    /// # Panics
    ///
    /// Panics if `key` or `value` is longer than `u32::MAX` bytes, or if the comparator panics
    /// (the list is left unchanged and stays usable in that case).
    pub fn insert(&self, key: &[u8], value: &[u8]) -> bool {
        let mut writer = self.lock_writer();
        // SAFETY: The splice holds the head or nodes this list's writer created, in its own
        // arena, which lives as long as `self` (invariant 1); we hold the writer lock, so
        // their creation happens-before this use.
        let mut prev = writer.splice.map(|p| unsafe { NodeRef::from_raw(p) });
        let (found, near) = self.find_from_splice(key, &mut prev, writer.splice_near);
        writer.splice_near = near;
        if found.is_some_and(|n| self.cmp.compare(n.key(), key) == KeyOrdering::Equal) {
            return false;
        }
        let height = writer.rng.random_height();
        if height > self.max_height() {
            // `prev` already holds the head for the new levels. Raising `max_height` before
            // linking is fine: a reader that sees the new height finds null head links there
            // (or the fully published node) and simply descends.
            self.max_height.store(height, Ordering::Relaxed);
        }
        let created = Node::create(&mut writer.arena, height, key, value);
        // SAFETY: The node was just created by this thread in our own arena.
        let node = unsafe { NodeRef::from_raw(created) };
        for (level, pred) in prev.iter().enumerate().take(height) {
            // SAFETY: We hold the writer lock, and the node is not reachable at `level` yet:
            // it becomes reachable there only through the `set_next` just below.
            unsafe { node.set_next_unpublished(level, pred.next(level)) };
            // SAFETY: We hold the writer lock and the node's own link at `level` and below are
            // set, so linking bottom-up with a `Release` store upholds crate invariant 3.
            unsafe { pred.set_next(level, node) };
        }
        for slot in &mut prev[..height] {
            *slot = node;
        }
        writer.splice = prev.map(NodeRef::as_ptr);
        self.len.fetch_add(1, Ordering::Relaxed);
        self.memory_usage.store(writer.arena.memory_usage(), Ordering::Relaxed);
        true
    }

    /// The insert's search: returns the first node `>= key`, leaves in `prev[level]` the
    /// last node before it at every level, and says whether `key` landed near the splice
    /// that `prev` held on entry (the splice of the last insert).
    ///
    /// When the last insert was near its splice too (`near`) and `key` follows `prev[0]`
    /// (or that is the head), it climbs from level 0 to the lowest level whose bracket
    /// `prev[level] .. prev[level].next(level)` holds `key` and searches down from there:
    /// one or two comparisons for a key-order load. The brackets above that level hold
    /// `key` too (each contains the one below it, as every level is a subsequence of the
    /// one under it), so they stay. Otherwise, or when no bracket within `SPLICE_LEVELS`
    /// levels holds `key`, it searches from the head.
    fn find_from_splice<'a>(
        &'a self,
        key: &[u8],
        prev: &mut [NodeRef<'a>; MAX_HEIGHT],
        near: bool,
    ) -> (Option<NodeRef<'a>>, bool) {
        let head = self.head();
        let follows = |n: NodeRef<'_>| self.cmp.compare(n.key(), key) == KeyOrdering::Less;
        if near && (prev[0] == head || follows(prev[0])) {
            // `prev[level] < key` at every level: each is at or before `prev[0]`.
            for level in 0..SPLICE_LEVELS {
                if !prev[level].next(level).is_some_and(follows) {
                    let start = prev[level];
                    return (self.search_down(key, start, level, Some(prev)), true);
                }
            }
        }
        let splice = *prev;
        *prev = [head; MAX_HEIGHT];
        let found = self.find_greater_or_equal(key, Some(prev));
        (found, (0..SPLICE_LEVELS).any(|level| prev[level] == splice[level]))
    }

    /// Number of entries. Exact when no insert is in flight; otherwise it may lag behind
    /// what an iterator already observes.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Whether the list has no entries (with the same caveat as [`SkipList::len`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes reserved by the arena (whole blocks), for memtable size accounting.
    pub fn memory_usage(&self) -> usize {
        self.memory_usage.load(Ordering::Relaxed)
    }

    /// The comparator that orders this list.
    pub fn comparator(&self) -> &C {
        &self.cmp
    }

    /// Returns an unpositioned cursor over the list.
    pub fn iter(&self) -> Iter<'_, C> {
        Iter::new(self)
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // A panic while the lock is held can only come from the comparator during the search,
        // before anything was modified, so a poisoned lock still guards a consistent list.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn head(&self) -> NodeRef<'_> {
        // SAFETY: The head was created in `with_seed` in our own arena, before `self` could be
        // shared, and lives as long as `self`.
        unsafe { NodeRef::from_raw(self.head) }
    }

    fn max_height(&self) -> usize {
        // Relaxed is enough, as in LevelDB: the height only grows, a stale value just starts
        // the search lower (still correct, the bottom level links every node), and a fresh
        // value points at head links that are either null or were stored with `Release`.
        self.max_height.load(Ordering::Relaxed)
    }

    /// The first node, if any.
    pub(crate) fn first(&self) -> Option<NodeRef<'_>> {
        self.head().next(0)
    }

    /// Returns the first node with a key `>= key`. If `prev` is given, fills `prev[level]`
    /// with the last node before that position at every level below the current height.
    pub(crate) fn find_greater_or_equal<'a>(
        &'a self,
        key: &[u8],
        prev: Option<&mut [NodeRef<'a>; MAX_HEIGHT]>,
    ) -> Option<NodeRef<'a>> {
        self.search_down(key, self.head(), self.max_height() - 1, prev)
    }

    /// Like [`SkipList::find_greater_or_equal`], starting at node `x` (before `key`) on
    /// `level`; fills `prev` at `level` and below.
    fn search_down<'a>(
        &'a self,
        key: &[u8],
        mut x: NodeRef<'a>,
        mut level: usize,
        mut prev: Option<&mut [NodeRef<'a>; MAX_HEIGHT]>,
    ) -> Option<NodeRef<'a>> {
        loop {
            let next = x.next(level);
            match next {
                Some(n) if self.cmp.compare(n.key(), key) == KeyOrdering::Less => x = n,
                _ => {
                    if let Some(prev) = prev.as_deref_mut() {
                        prev[level] = x;
                    }
                    if level == 0 {
                        return next;
                    }
                    level -= 1;
                }
            }
        }
    }

    /// Returns the last node with a key `< key`.
    pub(crate) fn find_less_than(&self, key: &[u8]) -> Option<NodeRef<'_>> {
        self.find_last_where(|k| self.cmp.compare(k, key) == KeyOrdering::Less)
    }

    /// Returns the last node with a key `<= key`.
    pub(crate) fn find_less_or_equal(&self, key: &[u8]) -> Option<NodeRef<'_>> {
        self.find_last_where(|k| self.cmp.compare(k, key) != KeyOrdering::Greater)
    }

    /// Returns the last node.
    pub(crate) fn find_last(&self) -> Option<NodeRef<'_>> {
        self.find_last_where(|_| true)
    }

    /// Returns the last node whose key satisfies `pred`, which must hold for a prefix of the
    /// list (true up to some point, false after it).
    fn find_last_where(&self, pred: impl Fn(&[u8]) -> bool) -> Option<NodeRef<'_>> {
        let head = self.head();
        let mut x = head;
        let mut level = self.max_height() - 1;
        loop {
            match x.next(level) {
                Some(n) if pred(n.key()) => x = n,
                _ if level == 0 => return (x != head).then_some(x),
                _ => level -= 1,
            }
        }
    }
}

impl<C: Comparator> fmt::Debug for SkipList<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkipList")
            .field("len", &self.len())
            .field("memory_usage", &self.memory_usage())
            .field("max_height", &self.max_height())
            .finish_non_exhaustive()
    }
}

/// Marsaglia's xorshift64, enough to draw geometric node heights without a dependency.
struct XorShift64(u64);

impl XorShift64 {
    fn new(seed: u64) -> Self {
        // An all-zero state would be a fixed point, so it is replaced by the default seed.
        Self(if seed == 0 { DEFAULT_SEED } else { seed })
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Draws a height in `1..=MAX_HEIGHT`, growing by one with probability 1/4 each time
    /// (LevelDB's branching factor), using the top bits, which are the best mixed.
    fn random_height(&mut self) -> usize {
        let mut height = 1;
        while height < MAX_HEIGHT && self.next_u64() >> 62 == 0 {
            height += 1;
        }
        height
    }
}

#[cfg(all(test, not(loom)))]
#[path = "list_tests.rs"]
mod tests;
