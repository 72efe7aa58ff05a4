//! `Slice`, the cheap-to-clone byte string the public API hands out as `Key` and `Value`.

use std::borrow::Borrow;
use std::fmt;
use std::ops::{Deref, Range};
use std::sync::Arc;

/// An immutable, reference-counted byte string: cloning it is a pointer copy.
///
/// It may view part of a larger shared buffer (a decoded block, say), so handing a
/// value out of a read does not copy it: an iterator's values from tables are views of
/// their blocks. Such a view keeps its whole block (`Options::block_size`, 4 KiB by
/// default) in memory while it lives; copy it (`to_vec`) to keep a small value long.
#[derive(Clone)]
pub struct Slice {
    buf: Arc<[u8]>,
    range: Range<usize>,
}

/// A user key as returned by iterators.
pub type Key = Slice;
/// A value as returned by `get` and iterators.
pub type Value = Slice;

impl Slice {
    /// A slice owning a copy of `data`.
    pub fn copy_from(data: &[u8]) -> Self {
        Slice::from(Arc::<[u8]>::from(data))
    }

    /// A view of `range` within the shared buffer `buf`.
    ///
    /// Returns `None` if `range` does not lie within `buf`.
    pub fn view(buf: Arc<[u8]>, range: Range<usize>) -> Option<Self> {
        (range.start <= range.end && range.end <= buf.len()).then_some(Slice { buf, range })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[self.range.clone()]
    }

    /// A copy of the bytes in a fresh `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl From<Arc<[u8]>> for Slice {
    fn from(buf: Arc<[u8]>) -> Self {
        let range = 0..buf.len();
        Slice { buf, range }
    }
}

impl From<Vec<u8>> for Slice {
    fn from(v: Vec<u8>) -> Self {
        Slice::from(Arc::<[u8]>::from(v))
    }
}

impl From<&[u8]> for Slice {
    fn from(v: &[u8]) -> Self {
        Slice::copy_from(v)
    }
}

impl Deref for Slice {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Slice {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<[u8]> for Slice {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Slice {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Slice {}

impl PartialEq<[u8]> for Slice {
    fn eq(&self, other: &[u8]) -> bool {
        self.as_bytes() == other
    }
}

impl PartialEq<&[u8]> for Slice {
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_bytes() == *other
    }
}

impl<const N: usize> PartialEq<&[u8; N]> for Slice {
    fn eq(&self, other: &&[u8; N]) -> bool {
        self.as_bytes() == other.as_slice()
    }
}

impl PartialEq<str> for Slice {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for Slice {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<Vec<u8>> for Slice {
    fn eq(&self, other: &Vec<u8>) -> bool {
        self.as_bytes() == other.as_slice()
    }
}

impl<const N: usize> PartialEq<[u8; N]> for Slice {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.as_bytes() == other.as_slice()
    }
}

impl PartialEq<Slice> for [u8] {
    fn eq(&self, other: &Slice) -> bool {
        self == other.as_bytes()
    }
}

impl PartialEq<Slice> for &[u8] {
    fn eq(&self, other: &Slice) -> bool {
        *self == other.as_bytes()
    }
}

impl PartialEq<Slice> for Vec<u8> {
    fn eq(&self, other: &Slice) -> bool {
        self.as_slice() == other.as_bytes()
    }
}

impl PartialEq<Slice> for &str {
    fn eq(&self, other: &Slice) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// The empty slice (one shared buffer: making one allocates nothing).
impl Default for Slice {
    fn default() -> Self {
        static EMPTY: std::sync::OnceLock<Arc<[u8]>> = std::sync::OnceLock::new();
        Slice::from(Arc::clone(EMPTY.get_or_init(|| Arc::from(&[][..]))))
    }
}

impl From<&str> for Slice {
    fn from(s: &str) -> Self {
        Slice::copy_from(s.as_bytes())
    }
}

impl From<String> for Slice {
    fn from(s: String) -> Self {
        Slice::from(s.into_bytes())
    }
}

impl<const N: usize> From<[u8; N]> for Slice {
    fn from(a: [u8; N]) -> Self {
        Slice::copy_from(&a)
    }
}

impl<const N: usize> From<&[u8; N]> for Slice {
    fn from(a: &[u8; N]) -> Self {
        Slice::copy_from(a)
    }
}

impl From<Slice> for Vec<u8> {
    fn from(s: Slice) -> Self {
        s.to_vec()
    }
}

impl From<Slice> for Arc<[u8]> {
    /// The slice's bytes: its shared buffer itself when the slice spans all of it.
    fn from(s: Slice) -> Self {
        if s.range == (0..s.buf.len()) {
            s.buf
        } else {
            Arc::from(s.as_bytes())
        }
    }
}

impl PartialOrd for Slice {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Slice {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(other.as_bytes())
    }
}

impl std::hash::Hash for Slice {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl fmt::Debug for Slice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\"", self.as_bytes().escape_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_share_the_buffer_and_compare_by_content() {
        let buf: Arc<[u8]> = Arc::from(&b"hello world"[..]);
        let a = Slice::view(buf.clone(), 6..11).unwrap();
        assert_eq!(&*a, b"world");
        assert_eq!(a, Slice::copy_from(b"world"));
        assert!(Slice::view(buf, 6..12).is_none());
        assert_eq!(format!("{a:?}"), "b\"world\"");
    }

    #[test]
    fn conversions_and_comparisons_read_naturally() {
        let s: Slice = "grace".into();
        assert_eq!(s, "grace");
        assert_eq!("grace", s);
        assert_eq!(s, *b"grace");
        assert_eq!(s, b"grace");
        assert_eq!(s, b"grace".to_vec());
        assert_eq!(b"grace".to_vec(), s);
        assert_eq!(Slice::from(*b"ab"), Slice::from(String::from("ab")));
        assert_eq!(Vec::<u8>::from(Slice::from(&b"xy"[..])), b"xy");
        assert!(Slice::default().is_empty());
        assert_eq!(Some(Slice::from("v")), Some("v".into()));
        let whole = Slice::from(vec![1u8, 2, 3]);
        let buf = Arc::<[u8]>::from(whole.clone());
        assert_eq!(&*buf, &[1, 2, 3]);
    }
}
