//! Cursors over a skip list: a borrowing [`Iter`] and an `Arc`-owning [`ArcIter`].
//!
//! Both wrap one private [`Cursor`], generic over how the list is held, so the positioning
//! logic exists once. A cursor stores a raw node pointer plus the list that owns the node;
//! since nodes are never freed before the list drops (crate invariant 1), holding the list
//! keeps the pointer valid.

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

use crate::node::{Node, NodeRef};
use crate::{Comparator, SkipList};

/// Position logic shared by [`Iter`] and [`ArcIter`]; `L` is how the list is held.
///
/// Invariant: `node`, when set, points to a node of `*list` that was reached through the
/// list's searches, so it satisfies the `NodeRef` invariant for as long as `list` is held.
#[derive(Clone)]
struct Cursor<L> {
    list: L,
    node: Option<NonNull<Node>>,
}

// SAFETY: The pointer is only a position inside node memory owned by `*list`; node contents
// are immutable after publication or atomic, so using the position from another thread is
// as safe as using the list itself, which `L: Send` / `L: Sync` vouches for.
unsafe impl<L: Send> Send for Cursor<L> {}
// SAFETY: See the `Send` impl; `&Cursor` only allows reading through the position.
unsafe impl<L: Sync> Sync for Cursor<L> {}

impl<C: Comparator, L: Deref<Target = SkipList<C>>> Cursor<L> {
    fn new(list: L) -> Self {
        Self { list, node: None }
    }

    fn current(&self) -> Option<NodeRef<'_>> {
        // SAFETY: By the struct invariant the node belongs to `*self.list`, which `&self`
        // keeps alive, and it was published to this thread when the search returned it.
        self.node.map(|ptr| unsafe { NodeRef::from_raw(ptr) })
    }

    fn expect_current(&self) -> NodeRef<'_> {
        self.current().expect("skip list cursor used while not valid")
    }

    fn valid(&self) -> bool {
        self.node.is_some()
    }

    fn next(&mut self) {
        let next = self.expect_current().next(0).map(NodeRef::as_ptr);
        self.node = next;
    }

    fn prev(&mut self) {
        // Nodes have no back links, so search for the last node before the current key
        // instead, exactly like LevelDB; this costs O(log n).
        let prev = self.list.find_less_than(self.expect_current().key()).map(NodeRef::as_ptr);
        self.node = prev;
    }

    fn seek(&mut self, target: &[u8]) {
        let found = self.list.find_greater_or_equal(target, None).map(NodeRef::as_ptr);
        self.node = found;
    }

    fn seek_for_prev(&mut self, target: &[u8]) {
        let found = self.list.find_less_or_equal(target).map(NodeRef::as_ptr);
        self.node = found;
    }

    fn seek_to_first(&mut self) {
        let found = self.list.first().map(NodeRef::as_ptr);
        self.node = found;
    }

    fn seek_to_last(&mut self) {
        let found = self.list.find_last().map(NodeRef::as_ptr);
        self.node = found;
    }
}

impl<'a, C: Comparator> Cursor<&'a SkipList<C>> {
    /// Like `current`, but with the lifetime of the borrowed list rather than of `self`.
    fn current_for_list(&self) -> NodeRef<'a> {
        let ptr = self.node.expect("skip list cursor used while not valid");
        // SAFETY: The node belongs to the list borrowed for `'a` (struct invariant), and
        // nodes live as long as their list.
        unsafe { NodeRef::from_raw(ptr) }
    }
}

/// Generates the cursor methods shared by both public cursor types.
macro_rules! cursor_methods {
    () => {
        /// Whether the cursor is positioned at an entry.
        pub fn valid(&self) -> bool {
            self.cursor.valid()
        }

        /// Moves to the next entry, or becomes invalid after the last one.
        ///
        /// # Panics
        ///
        /// Panics if the cursor is not [`valid`](Self::valid) (a caller bug).
        pub fn next(&mut self) {
            self.cursor.next();
        }

        /// Moves to the previous entry, or becomes invalid before the first one. This is an
        /// O(log n) search, as nodes have no backward links.
        ///
        /// # Panics
        ///
        /// Panics if the cursor is not [`valid`](Self::valid) (a caller bug).
        pub fn prev(&mut self) {
            self.cursor.prev();
        }

        /// Positions at the first entry whose key is `>= target`, or becomes invalid.
        pub fn seek(&mut self, target: &[u8]) {
            self.cursor.seek(target);
        }

        /// Positions at the last entry whose key is `<= target`, or becomes invalid.
        pub fn seek_for_prev(&mut self, target: &[u8]) {
            self.cursor.seek_for_prev(target);
        }

        /// Positions at the first entry, or becomes invalid if the list is empty.
        pub fn seek_to_first(&mut self) {
            self.cursor.seek_to_first();
        }

        /// Positions at the last entry, or becomes invalid if the list is empty.
        pub fn seek_to_last(&mut self) {
            self.cursor.seek_to_last();
        }
    };
}

/// A cursor borrowing a [`SkipList`]. It starts invalid; position it with a seek.
///
/// Entries inserted after the cursor was positioned may or may not be seen by later moves;
/// every move yields a fully written entry and keys are always visited in sorted order.
pub struct Iter<'a, C: Comparator> {
    cursor: Cursor<&'a SkipList<C>>,
}

impl<'a, C: Comparator> Iter<'a, C> {
    pub(crate) fn new(list: &'a SkipList<C>) -> Self {
        Self { cursor: Cursor::new(list) }
    }

    /// The current key, borrowed from the list.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](Self::valid) (a caller bug).
    pub fn key(&self) -> &'a [u8] {
        self.cursor.current_for_list().key()
    }

    /// The current value, borrowed from the list.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](Self::valid) (a caller bug).
    pub fn value(&self) -> &'a [u8] {
        self.cursor.current_for_list().value()
    }

    cursor_methods!();
}

impl<C: Comparator> Clone for Iter<'_, C> {
    fn clone(&self) -> Self {
        Self { cursor: self.cursor.clone() }
    }
}

impl<C: Comparator> fmt::Debug for Iter<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.cursor.current().map(NodeRef::key);
        f.debug_struct("Iter").field("key", &key).finish_non_exhaustive()
    }
}

/// A cursor that owns an `Arc` of its [`SkipList`], for callers that cannot borrow the
/// list (for example an iterator that outlives the memtable handle it came from). It starts
/// invalid; position it with a seek.
pub struct ArcIter<C: Comparator> {
    cursor: Cursor<Arc<SkipList<C>>>,
}

impl<C: Comparator> ArcIter<C> {
    /// Creates an unpositioned cursor that keeps `list` alive.
    pub fn new(list: Arc<SkipList<C>>) -> Self {
        Self { cursor: Cursor::new(list) }
    }

    /// The current key.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](Self::valid) (a caller bug).
    pub fn key(&self) -> &[u8] {
        self.cursor.expect_current().key()
    }

    /// The current value.
    ///
    /// # Panics
    ///
    /// Panics if the cursor is not [`valid`](Self::valid) (a caller bug).
    pub fn value(&self) -> &[u8] {
        self.cursor.expect_current().value()
    }

    /// The list this cursor keeps alive.
    pub fn list(&self) -> &Arc<SkipList<C>> {
        &self.cursor.list
    }

    cursor_methods!();
}

impl<C: Comparator> Clone for ArcIter<C> {
    fn clone(&self) -> Self {
        Self { cursor: self.cursor.clone() }
    }
}

impl<C: Comparator> fmt::Debug for ArcIter<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.cursor.current().map(NodeRef::key);
        f.debug_struct("ArcIter").field("key", &key).finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
#[path = "iter_tests.rs"]
mod tests;
