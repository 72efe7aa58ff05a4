//! The caller-supplied total order on keys and the default bytewise order.

use std::cmp::Ordering;

/// A total order on keys, supplied by the user of a [`crate::SkipList`].
///
/// The list keeps entries sorted by this order and treats keys that compare
/// [`Ordering::Equal`] as the same key. The comparator must be a consistent total order for
/// the lifetime of the list; an inconsistent one cannot cause memory unsafety, but lookups
/// and iteration order are then unspecified. It is called while the writer lock is held, so
/// it must not insert into the same list (that would deadlock).
pub trait Comparator: Send + Sync + 'static {
    /// Compares two keys.
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering;
}

/// Orders keys lexicographically by their bytes, like `<[u8]>::cmp`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BytewiseComparator;

impl Comparator for BytewiseComparator {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        a.cmp(b)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn bytewise_is_lexicographic() {
        let cmp = BytewiseComparator;
        assert_eq!(cmp.compare(b"a", b"b"), Ordering::Less);
        assert_eq!(cmp.compare(b"ab", b"a"), Ordering::Greater);
        assert_eq!(cmp.compare(b"", b""), Ordering::Equal);
    }
}
