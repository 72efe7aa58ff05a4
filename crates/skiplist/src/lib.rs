//! An arena-backed concurrent skip list with one writer and lock-free readers, used as the
//! memtable of mylsm; modeled on LevelDB's `db/skiplist.h` and `util/arena.cc`.
//!
//! # Principal types
//!
//! - [`SkipList`]: a sorted map from byte keys to byte values. Keys and values are copied
//!   inline into large arena blocks, so an insert performs no per-entry heap allocation.
//!   Entries cannot be removed or updated; deletions are the engine's job (tombstone keys).
//! - [`Comparator`]: the caller-supplied total order on keys; [`BytewiseComparator`] is the
//!   lexicographic default.
//! - [`Iter`]: a cursor borrowing the list; [`ArcIter`]: the same cursor owning an
//!   `Arc<SkipList>`. Both support `seek`, `seek_for_prev`, `next`, `prev`, `seek_to_first`
//!   and `seek_to_last`.
//!
//! # Thread-safety contract
//!
//! `SkipList` is `Send + Sync`. [`SkipList::insert`] takes `&self` and serializes writers on
//! an internal mutex that also guards the arena cursor and the height generator, so racing
//! inserts are sound (they simply take turns). Readers (`iter`, `len`, `memory_usage`) take
//! no lock and are never blocked by the writer. A reader running concurrently with an insert
//! observes the following:
//!
//! - each entry is either fully visible (key, value and links initialized) or not at all;
//!   a reader never sees a partially written entry;
//! - a forward iteration always yields a strictly increasing sequence of keys;
//! - an iteration contains every entry whose `insert` returned before the iteration started
//!   (more precisely: that happens-before it); entries inserted concurrently may or may not
//!   appear, depending on whether they land ahead of or behind the cursor;
//! - `len` and `memory_usage` are statistics and may briefly lag behind what a cursor sees.
//!
//! # Invariants
//!
//! These hold at every moment any thread can observe, and the `unsafe` code relies on them:
//!
//! 1. Nodes are never freed, moved or unlinked until the `SkipList` drops: the arena only
//!    grows, and its blocks are released in its `Drop`. A node pointer obtained from a list
//!    therefore stays valid for as long as the list is borrowed or an `Arc` to it is held.
//! 2. A node's contents other than its next pointers (key length, value length, height, key
//!    and value bytes) are written once, before the node is linked, and are immutable after.
//! 3. Publication is bottom-up with release stores: the writer sets a new node's link at
//!    level `i` before linking the node at level `i`, links level 0 first, and links with
//!    `Release` stores, while readers load links with `Acquire`. Hence a reader that reaches a
//!    node through a link at any level sees the node fully initialized, including its own
//!    links at that level.
//! 4. Every level is a strictly increasing (per the comparator) singly linked list; level 0
//!    contains every published node, and the nodes of level `i + 1` are a subsequence of
//!    those of level `i`. Keys are unique under the comparator.
//! 5. Only the writer, holding the lock, stores links or `max_height`. A link only ever
//!    changes from `pred -> succ` to `pred -> new` where `new -> succ` was already set and
//!    `pred < new < succ`, so a traversal never goes backwards and never skips a node that was
//!    linked before the traversal passed its predecessor.
//! 6. `max_height` only grows and is read with `Relaxed`, as in LevelDB. That is enough:
//!    a stale (smaller) value starts a search lower, which is merely slower since level 0
//!    links everything; a fresh value may be seen before the tall node is linked, but the head
//!    links of the new levels are then still null, which the search treats as "descend". The
//!    pointers actually followed are always obtained by `Acquire` loads (invariant 3).
//!
//! # Example
//!
//! ```
//! use mylsm_skiplist::{BytewiseComparator, SkipList};
//!
//! let list = SkipList::new(BytewiseComparator);
//! assert!(list.insert(b"banana", b"yellow"));
//! assert!(list.insert(b"apple", b"red"));
//! assert!(!list.insert(b"apple", b"green"), "duplicate keys are rejected");
//!
//! let mut it = list.iter();
//! it.seek(b"b");
//! assert!(it.valid());
//! assert_eq!((it.key(), it.value()), (&b"banana"[..], &b"yellow"[..]));
//! it.prev();
//! assert_eq!(it.key(), b"apple");
//! it.prev();
//! assert!(!it.valid());
//! ```
//!
//! # Unsafe code
//!
//! This is the only crate of mylsm allowed to use `unsafe`. It is confined to `arena.rs`
//! (raw block allocation), `node.rs` (node layout; every access goes through `NodeRef`, whose
//! invariant encodes 1-3), and the few places that turn stored pointers back into `NodeRef`s.
//! Under `--cfg loom` the atomics and the writer mutex come from `loom` (see `sync.rs`), so the
//! publication protocol can be model-checked with `tests/loom.rs`.

#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

mod arena;
mod comparator;
mod iter;
mod list;
mod node;
mod sync;

pub use comparator::{BytewiseComparator, Comparator};
pub use iter::{ArcIter, Iter};
pub use list::SkipList;
