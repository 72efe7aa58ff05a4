//! The in-arena layout of a skip list node and the only code that touches node memory.
//!
//! A node is one contiguous arena chunk laid out as
//!
//! ```text
//! [ Node header | next[0] .. next[height-1] | key bytes | value bytes ]
//! ```
//!
//! The header is `#[repr(C)]` and the link array starts at the header size rounded up to
//! the link alignment; the arena hands out chunks aligned to [`NODE_ALIGN`]. Nodes are only
//! ever reached through raw pointers that descend from the arena block pointer, never through
//! a `&Node` covering the whole chunk, so the link and byte areas keep full provenance.

use std::marker::PhantomData;
use std::mem::{align_of, size_of};
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering;

use crate::arena::Arena;
use crate::sync::{AtomicPtr, InitMarker};

/// Maximum number of levels of any node (LevelDB's `kMaxHeight`).
pub(crate) const MAX_HEIGHT: usize = 12;

/// The fixed-size header of a node; links, key and value follow it in the same chunk.
#[repr(C)]
pub(crate) struct Node {
    key_len: u32,
    value_len: u32,
    height: u32,
    init: InitMarker,
}

/// A forward pointer at one level; null means "end of the list at this level".
type Link = AtomicPtr<Node>;

/// Byte offset of `next[0]` from the start of a node.
const LINKS_OFFSET: usize = size_of::<Node>().next_multiple_of(align_of::<Link>());

/// Alignment the arena must provide for node chunks.
pub(crate) const NODE_ALIGN: usize =
    if align_of::<Node>() > align_of::<Link>() { align_of::<Node>() } else { align_of::<Link>() };

/// A shared handle to a fully initialized node that stays alive for `'a`.
///
/// Invariant: `ptr` points to a node written completely by [`Node::create`], the creation
/// happens-before every use of the handle (the node was created by this thread, reached by an
/// `Acquire` load of a link, or handed over by a synchronizing operation), and the arena that
/// holds it outlives `'a`. Given that invariant the read accessors below are safe; only the
/// link stores, which also depend on the writer's protocol, are `unsafe fn`s.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeRef<'a> {
    ptr: NonNull<Node>,
    _list: PhantomData<&'a Node>,
}

impl Node {
    /// Allocates a node of `height` levels in `arena`, copies `key` and `value` into it and
    /// sets every link to null. The node is private to the caller until it is linked.
    ///
    /// # Panics
    ///
    /// Panics if `height` is not in `1..=MAX_HEIGHT` or if `key` or `value` is longer than
    /// `u32::MAX` bytes.
    pub(crate) fn create(
        arena: &mut Arena,
        height: usize,
        key: &[u8],
        value: &[u8],
    ) -> NonNull<Node> {
        assert!((1..=MAX_HEIGHT).contains(&height), "invalid node height {height}");
        let key_len = u32::try_from(key.len()).expect("skip list key longer than u32::MAX");
        let value_len = u32::try_from(value.len()).expect("skip list value longer than u32::MAX");
        let key_offset = LINKS_OFFSET + height * size_of::<Link>();
        let size = key_offset
            .checked_add(key.len())
            .and_then(|s| s.checked_add(value.len()))
            .expect("skip list entry size overflows usize");
        let node = arena.allocate(size).cast::<Node>();
        debug_assert_eq!(node.as_ptr().align_offset(NODE_ALIGN), 0);
        // The chunk is fresh, exclusively ours, `size` bytes long and aligned to `NODE_ALIGN`;
        // each write below lands inside it at an offset aligned for the written type.
        let header = Node { key_len, value_len, height: height as u32, init: InitMarker::new() };
        // SAFETY: The header occupies the start of the chunk, which is aligned for `Node`.
        unsafe { node.write(header) };
        for level in 0..height {
            // SAFETY: Link `level < height` lies inside the chunk, and `LINKS_OFFSET` and
            // `size_of::<Link>()` are multiples of the link alignment.
            unsafe { link_ptr(node, level).write(Link::new(ptr::null_mut())) };
        }
        let key_dst = byte_ptr(node, key_offset);
        // SAFETY: The key bytes occupy `key_offset..key_offset + key.len()` of the chunk, and a
        // caller's slice cannot overlap arena memory that nobody else has seen yet.
        unsafe { ptr::copy_nonoverlapping(key.as_ptr(), key_dst, key.len()) };
        let value_dst = byte_ptr(node, key_offset + key.len());
        // SAFETY: As for the key; the value bytes occupy the rest of the chunk, up to `size`.
        unsafe { ptr::copy_nonoverlapping(value.as_ptr(), value_dst, value.len()) };
        // SAFETY: The header was initialized above and is never written again.
        unsafe { node.as_ref() }.init.mark_written();
        node
    }
}

impl<'a> NodeRef<'a> {
    /// Wraps a raw node pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must satisfy the [`NodeRef`] invariant for `'a`: it was returned by
    /// [`Node::create`], its creation happens-before the calling thread's use of it, and the
    /// arena holding it outlives `'a`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Node>) -> Self {
        Self { ptr, _list: PhantomData }
    }

    /// The raw pointer, for storing in a cursor or link.
    pub(crate) fn as_ptr(self) -> NonNull<Node> {
        self.ptr
    }

    /// Returns the header, which is immutable once the node is created.
    fn header(self) -> &'a Node {
        // SAFETY: By the type invariant the header is initialized and lives for `'a`. The
        // reference covers only the header fields, which nobody writes after creation.
        unsafe { self.ptr.as_ref() }
    }

    /// Number of levels this node participates in.
    pub(crate) fn height(self) -> usize {
        self.header().height as usize
    }

    /// Returns the link at `level`.
    ///
    /// # Panics
    ///
    /// Panics if `level >= self.height()`; that check is what makes this method safe.
    fn link(self, level: usize) -> &'a Link {
        assert!(level < self.height(), "level {level} out of range for node");
        // SAFETY: `level < height`, so the link lies inside the node chunk, and it was
        // initialized by `Node::create`; links are only ever accessed atomically.
        unsafe { &*link_ptr(self.ptr, level) }
    }

    /// Loads the successor at `level` with `Acquire`, so that a returned node is fully
    /// initialized from this thread's point of view (invariant 3 of the crate docs).
    pub(crate) fn next(self, level: usize) -> Option<NodeRef<'a>> {
        let next = NonNull::new(self.link(level).load(Ordering::Acquire))?;
        // SAFETY: Links only ever hold null or nodes of the same arena that were completely
        // created before being stored with `Release`; our `Acquire` load synchronizes with
        // that store, and the arena lives as long as `self`.
        Some(unsafe { NodeRef::from_raw(next) })
    }

    /// Publishes `next` as this node's successor at `level` with a `Release` store.
    ///
    /// # Safety
    ///
    /// The caller must hold the writer lock of the list that owns both nodes, and `next`'s own
    /// links at `level` and below must already be set, so readers never observe a hole.
    pub(crate) unsafe fn set_next(self, level: usize, next: NodeRef<'a>) {
        self.link(level).store(next.ptr.as_ptr(), Ordering::Release);
    }

    /// Sets a link of a node that is not yet reachable at `level` by any reader.
    ///
    /// # Safety
    ///
    /// The caller must hold the writer lock, and `self` must not yet be linked at `level`
    /// (readers only follow a node's link at `level` after reaching the node at `level` or
    /// above); the later `Release` store that links it there makes this store visible too.
    pub(crate) unsafe fn set_next_unpublished(self, level: usize, next: Option<NodeRef<'a>>) {
        let raw = next.map_or(ptr::null_mut(), |n| n.ptr.as_ptr());
        self.link(level).store(raw, Ordering::Relaxed);
    }

    /// The node's key bytes, immutable for the node's lifetime.
    pub(crate) fn key(self) -> &'a [u8] {
        let header = self.header();
        header.init.mark_read();
        let offset = LINKS_OFFSET + self.height() * size_of::<Link>();
        // SAFETY: The key occupies `key_len` initialized bytes at `offset` inside the chunk,
        // written before publication and never written again.
        unsafe { std::slice::from_raw_parts(byte_ptr(self.ptr, offset), header.key_len as usize) }
    }

    /// The node's value bytes, immutable for the node's lifetime.
    pub(crate) fn value(self) -> &'a [u8] {
        let header = self.header();
        header.init.mark_read();
        let offset = LINKS_OFFSET + self.height() * size_of::<Link>() + header.key_len as usize;
        // SAFETY: The value occupies `value_len` initialized bytes right after the key inside
        // the chunk, written before publication and never written again.
        unsafe { std::slice::from_raw_parts(byte_ptr(self.ptr, offset), header.value_len as usize) }
    }
}

/// Address of the byte at `offset` from the start of `node`.
///
/// Wrapping arithmetic on the raw pointer is safe and keeps the provenance of the whole
/// arena chunk; callers only dereference results that lie inside the node.
fn byte_ptr(node: NonNull<Node>, offset: usize) -> *mut u8 {
    node.as_ptr().cast::<u8>().wrapping_add(offset)
}

/// Address of the link at `level` of `node` (computed, not checked against the height).
fn link_ptr(node: NonNull<Node>, level: usize) -> *mut Link {
    byte_ptr(node, LINKS_OFFSET + level * size_of::<Link>()).cast::<Link>()
}
