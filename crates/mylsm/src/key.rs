//! Internal keys (user key ‖ seqno ‖ kind) and the order the memtable and tables keep.
//!
//! ```text
//! internal key := user_key  trailer
//! trailer      := fixed64 little-endian (seqno << 8 | kind)
//! ```
//!
//! Order: user key bytewise ascending, then trailer descending, so the newest version
//! of a key comes first and a seek to `(key, snapshot_seqno)` lands on the newest
//! version visible at that snapshot. This is LevelDB's `dbformat.h` with the same
//! layout; kinds keep LevelDB's numbering.

use std::cmp::Ordering;

use mylsm_skiplist::Comparator;

/// Length of the trailer appended to every user key.
pub(crate) const TRAILER_LEN: usize = 8;

/// The largest sequence number: seqnos share a u64 with the 8-bit kind.
pub(crate) const MAX_SEQNO: u64 = (1 << 56) - 1;

/// What an entry records about its user key.
///
/// Kind bytes are allocated once for every build (`docs/wal_format.md`): 0 Delete,
/// 1 Put, 2 Merge, 0x0F RangeDelete (RocksDB's numbers), 0x20 PutExpiring, 0xff only
/// in seek targets. `from_u8` refuses every kind this build does not write, so a newer
/// build's data is `Corruption` here, never misread (and builds before this one refuse
/// kinds 2, 0x0F and 0x20 the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// The key was deleted (a tombstone).
    Delete = 0,
    /// The key was set to the entry's value.
    Put = 1,
    /// A merge operand for the keyspace's merge operator (the value is the operand).
    Merge = 2,
    /// A range tombstone: deletes the user keys from this key (inclusive) to the end
    /// key stored as the value (exclusive; empty: no end) at older seqnos. Only in a
    /// memtable's range-deletion list and a table's range-deletion block, never among
    /// point entries.
    RangeDelete = 0x0F,
    /// The key was set to a value that expires: the entry's value is the expiry
    /// (fixed64, milliseconds since the Unix epoch) followed by the user value.
    PutExpiring = 0x20,
}

/// The kind a seek target carries: the largest, so a seek at seqno `s` lands before
/// every entry with that seqno.
const KIND_FOR_SEEK: u8 = 0xff;

impl Kind {
    pub(crate) fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Delete),
            1 => Some(Kind::Put),
            2 => Some(Kind::Merge),
            0x0F => Some(Kind::RangeDelete),
            0x20 => Some(Kind::PutExpiring),
            _ => None,
        }
    }
}

fn pack(seqno: u64, kind: u8) -> u64 {
    debug_assert!(seqno <= MAX_SEQNO);
    (seqno << 8) | u64::from(kind)
}

/// Appends the internal key for (`user_key`, `seqno`, `kind`) to `dst`.
pub(crate) fn append_internal_key(dst: &mut Vec<u8>, user_key: &[u8], seqno: u64, kind: Kind) {
    dst.extend_from_slice(user_key);
    dst.extend_from_slice(&pack(seqno, kind as u8).to_le_bytes());
}

/// The internal key a lookup of `user_key` at `seqno` seeks to.
pub(crate) fn lookup_key(user_key: &[u8], seqno: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    k.extend_from_slice(user_key);
    k.extend_from_slice(&pack(seqno, KIND_FOR_SEEK).to_le_bytes());
    k
}

/// An internal key split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedKey<'a> {
    pub user_key: &'a [u8],
    pub seqno: u64,
    pub kind: Kind,
}

/// Splits an internal key; `None` if it is too short or carries an unknown kind.
pub(crate) fn parse_internal_key(ikey: &[u8]) -> Option<ParsedKey<'_>> {
    let split = ikey.len().checked_sub(TRAILER_LEN)?;
    let trailer = crate::coding::fixed64(&ikey[split..]);
    Some(ParsedKey {
        user_key: &ikey[..split],
        seqno: trailer >> 8,
        kind: Kind::from_u8(trailer as u8)?,
    })
}

/// The user-key part of an internal key (the whole key if it is too short to have a
/// trailer, which only damaged input can produce).
pub(crate) fn user_key(ikey: &[u8]) -> &[u8] {
    &ikey[..ikey.len().saturating_sub(TRAILER_LEN)]
}

/// Sets `dst` to `ikey` with its seqno replaced by `seqno` (the kind kept): how an
/// ingested table's entries, stored at seqno 0, are read.
pub(crate) fn set_with_seqno(dst: &mut Vec<u8>, ikey: &[u8], seqno: u64) {
    dst.clear();
    dst.extend_from_slice(ikey);
    if let Some(split) = ikey.len().checked_sub(TRAILER_LEN) {
        let kind = trailer(ikey) as u8;
        dst[split..].copy_from_slice(&pack(seqno, kind).to_le_bytes());
    }
}

/// The seqno an internal key (or lookup key) carries.
pub(crate) fn seqno_of(ikey: &[u8]) -> u64 {
    trailer(ikey) >> 8
}

/// The largest internal key of `user_key`: every entry of that user key sorts at or
/// before it.
pub(crate) fn last_key_of(user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    k.extend_from_slice(user_key);
    k.extend_from_slice(&0u64.to_le_bytes());
    k
}

fn trailer(ikey: &[u8]) -> u64 {
    match ikey.len().checked_sub(TRAILER_LEN) {
        Some(split) => crate::coding::fixed64(&ikey[split..]),
        None => 0,
    }
}

/// The internal key that sorts before every real entry of `user_key`: the largest
/// trailer, so it is a valid index separator for that user key.
fn separator_key(user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(user_key.len() + TRAILER_LEN);
    k.extend_from_slice(user_key);
    k.extend_from_slice(&pack(MAX_SEQNO, KIND_FOR_SEEK).to_le_bytes());
    k
}

/// A short internal key `s` with `start <= s < limit`, for the index entry between two
/// data blocks (`start` < `limit` required).
///
/// LevelDB's `InternalKeyComparator::FindShortestSeparator` over the bytewise
/// comparator's: where the user keys first differ, bump that byte of `start` and cut
/// the rest, when the bumped byte still sorts below `limit`'s. The shortened user key
/// gets the largest trailer, so it sorts before every real entry of that user key.
pub(crate) fn shortest_separator(start: &[u8], limit: &[u8]) -> Vec<u8> {
    let (us, ul) = (user_key(start), user_key(limit));
    let diff = us.iter().zip(ul).take_while(|(a, b)| a == b).count();
    if diff < us.len().min(ul.len()) {
        let byte = us[diff];
        if byte < 0xff && byte + 1 < ul[diff] {
            let mut short = us[..=diff].to_vec();
            short[diff] += 1;
            // Only a strictly shorter user key saves space; otherwise keep `start`.
            if short.len() < us.len() {
                return separator_key(&short);
            }
        }
    }
    start.to_vec()
}

/// A short internal key at or after `key`, for the index entry of the last data block
/// (LevelDB's `FindShortSuccessor`): bump the first byte of the user key that is not
/// 0xff and cut the rest.
pub(crate) fn short_successor(key: &[u8]) -> Vec<u8> {
    let uk = user_key(key);
    match uk.iter().position(|&b| b != 0xff) {
        Some(i) if i + 1 < uk.len() => {
            let mut short = uk[..=i].to_vec();
            short[i] += 1;
            separator_key(&short)
        }
        _ => key.to_vec(),
    }
}

/// Orders internal keys: user key ascending, then seqno and kind descending.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct InternalKeyComparator;

impl Comparator for InternalKeyComparator {
    fn compare(&self, a: &[u8], b: &[u8]) -> Ordering {
        user_key(a).cmp(user_key(b)).then_with(|| trailer(b).cmp(&trailer(a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ik(k: &[u8], s: u64, kind: Kind) -> Vec<u8> {
        let mut v = Vec::new();
        append_internal_key(&mut v, k, s, kind);
        v
    }

    #[test]
    fn newer_versions_sort_first_and_user_keys_ascend() {
        let c = InternalKeyComparator;
        assert_eq!(c.compare(&ik(b"a", 5, Kind::Put), &ik(b"a", 4, Kind::Put)), Ordering::Less);
        assert_eq!(c.compare(&ik(b"a", 1, Kind::Put), &ik(b"b", 9, Kind::Put)), Ordering::Less);
        // A user key that is a prefix of another sorts first, whatever the trailers.
        assert_eq!(c.compare(&ik(b"a", 1, Kind::Put), &ik(b"ab", 9, Kind::Put)), Ordering::Less);
        assert_eq!(c.compare(&lookup_key(b"a", 5), &ik(b"a", 5, Kind::Put)), Ordering::Less);
        assert_eq!(c.compare(&lookup_key(b"a", 4), &ik(b"a", 5, Kind::Put)), Ordering::Greater);
    }

    #[test]
    fn separators_shorten_and_stay_between_their_neighbours() {
        let c = InternalKeyComparator;
        let cases: &[(&[u8], &[u8])] = &[
            (b"abcdef", b"abzzz"),
            (b"abc", b"abd"),
            (b"abc", b"abcd"),
            (b"k", b"k"),
            (b"", b"a"),
            (b"a\xff\xff", b"b"),
            (b"helloworld", b"hellz"),
        ];
        for &(a, b) in cases {
            let (start, limit) = (ik(a, 9, Kind::Put), ik(b, 3, Kind::Put));
            assert_eq!(c.compare(&start, &limit), Ordering::Less);
            let s = shortest_separator(&start, &limit);
            assert_ne!(c.compare(&s, &start), Ordering::Less, "{a:?} {b:?}");
            assert_eq!(c.compare(&s, &limit), Ordering::Less, "{a:?} {b:?}");
            assert!(s.len() <= start.len());
        }
        assert_eq!(
            user_key(&shortest_separator(&ik(b"abcdef", 1, Kind::Put), &ik(b"abzz", 1, Kind::Put))),
            b"abd"
        );
        for k in [&b"abc"[..], b"\xff\xffa", b"\xff\xff", b""] {
            let key = ik(k, 7, Kind::Delete);
            let s = short_successor(&key);
            assert_ne!(c.compare(&s, &key), Ordering::Less, "{k:?}");
            assert!(s.len() <= key.len());
        }
        assert_eq!(user_key(&short_successor(&ik(b"abc", 1, Kind::Put))), b"b");
    }

    #[test]
    fn parse_round_trips_and_rejects_damage() {
        let k = ik(b"key", MAX_SEQNO, Kind::Delete);
        let p = parse_internal_key(&k).unwrap();
        assert_eq!((p.user_key, p.seqno, p.kind), (&b"key"[..], MAX_SEQNO, Kind::Delete));
        assert!(parse_internal_key(b"short").is_none());
        assert!(parse_internal_key(&lookup_key(b"k", 3)).is_none());
    }
}
