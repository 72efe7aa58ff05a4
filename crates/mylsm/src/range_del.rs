//! Range tombstones: `[start, end)#n` deletes every version `k#m` of a user key with
//! `start <= k < end` and `m < n` (the inequality is strict, Pebble's rule). `end`
//! `None` means no end: every key from `start` on.
//!
//! A source (a memtable, a table, a compaction's inputs) keeps its tombstones as
//! [`Fragments`]: non-overlapping pieces sorted by start, each with the seqnos of every
//! tombstone that covers it, newest first (RocksDB's `FragmentedRangeTombstoneList`,
//! Pebble's `keyspan`). A lookup is then one binary search per source, whatever the
//! number of tombstones: `max_cover(key, seqno)` is the newest tombstone seqno at or
//! below the read's seqno that covers `key` (0: none), and a version older than that
//! is deleted.
//!
//! Tables store their fragments in a range-deletion block (`docs/sst_format.md`):
//! entries `start‖(seqno << 8 | 0x0F)` → end (empty: no end), in internal-key order.
//! A table's bounds cover its tombstones: the largest key is then the end's
//! [`end_sentinel`], which sorts before every real entry of the end key, since the end
//! is exclusive.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

use crate::key::{self, Kind, MAX_SEQNO};

/// One range tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tombstone {
    pub start: Vec<u8>,
    /// Exclusive; `None`: no end.
    pub end: Option<Vec<u8>>,
    pub seqno: u64,
}

/// One piece of the fragmented tombstones: `[start, end)`, covered by the tombstones
/// whose seqnos are listed, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fragment {
    pub start: Vec<u8>,
    pub end: Option<Vec<u8>>,
    pub seqnos: Vec<u64>,
}

impl Fragment {
    fn contains(&self, k: &[u8]) -> bool {
        self.start.as_slice() <= k && self.end.as_deref().is_none_or(|e| k < e)
    }

    /// The newest seqno at or below `seqno`, or 0.
    fn newest_at(&self, seqno: u64) -> u64 {
        self.seqnos.iter().copied().find(|&s| s <= seqno).unwrap_or(0)
    }
}

/// Compares two exclusive ends, `None` (no end) last.
pub(crate) fn cmp_end(a: Option<&[u8]>, b: Option<&[u8]>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// A user key above every key mylsm accepts: what a table's largest key names when a
/// tombstone in it has no end.
pub(crate) fn unbounded_end_key() -> Vec<u8> {
    vec![0xff; crate::MAX_KEY_LEN + 1]
}

/// The internal key that bounds a table whose tombstone ends (exclusively) at `end`:
/// `end` with the largest seqno, which sorts before every real entry of `end`.
pub(crate) fn end_sentinel(end: Option<&[u8]>) -> Vec<u8> {
    let mut k = Vec::new();
    match end {
        Some(e) => key::append_internal_key(&mut k, e, MAX_SEQNO, Kind::RangeDelete),
        None => {
            key::append_internal_key(&mut k, &unbounded_end_key(), MAX_SEQNO, Kind::RangeDelete)
        }
    }
    k
}

/// Whether `ikey` is an [`end_sentinel`]: a bound that no entry of its user key reaches.
pub(crate) fn is_end_sentinel(ikey: &[u8]) -> bool {
    key::parse_internal_key(ikey)
        .is_some_and(|p| p.seqno == MAX_SEQNO && p.kind == Kind::RangeDelete)
}

/// Tombstones fragmented into non-overlapping pieces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fragments {
    frags: Vec<Fragment>,
}

impl Fragments {
    /// Fragments `tombstones` (in any order; empty ranges are dropped).
    pub fn new(tombstones: impl IntoIterator<Item = Tombstone>) -> Fragments {
        let mut ts: Vec<Tombstone> = tombstones
            .into_iter()
            .filter(|t| t.end.as_deref().is_none_or(|e| t.start.as_slice() < e))
            .collect();
        if ts.is_empty() {
            return Fragments::default();
        }
        ts.sort_by(|a, b| a.start.cmp(&b.start));
        // Every start and end is a boundary; between two boundaries the set of covering
        // tombstones does not change.
        let mut bounds: Vec<Option<&[u8]>> = Vec::with_capacity(ts.len() * 2);
        for t in &ts {
            bounds.push(Some(&t.start));
            bounds.push(t.end.as_deref());
        }
        bounds.sort_by(|a, b| cmp_end(*a, *b));
        bounds.dedup();
        // A sweep: `active` holds the seqnos of the tombstones covering the current
        // piece; `ends` the active tombstones by end, soonest first.
        let mut active: BTreeMap<u64, usize> = BTreeMap::new();
        let mut ends: BinaryHeap<std::cmp::Reverse<EndKey<'_>>> = BinaryHeap::new();
        let mut next = 0;
        let mut frags = Vec::new();
        for (i, b) in bounds.iter().enumerate() {
            let Some(b) = *b else { break };
            while let Some(std::cmp::Reverse(top)) = ends.peek() {
                if cmp_end(top.end, Some(b)).is_gt() {
                    break;
                }
                if let Some(n) = active.get_mut(&top.seqno) {
                    *n -= 1;
                    if *n == 0 {
                        active.remove(&top.seqno);
                    }
                }
                ends.pop();
            }
            while next < ts.len() && ts[next].start.as_slice() <= b {
                let t = &ts[next];
                *active.entry(t.seqno).or_insert(0) += 1;
                ends.push(std::cmp::Reverse(EndKey { end: t.end.as_deref(), seqno: t.seqno }));
                next += 1;
            }
            if !active.is_empty() {
                let end = bounds.get(i + 1).copied().flatten().map(<[u8]>::to_vec);
                let seqnos = active.keys().rev().copied().collect();
                frags.push(Fragment { start: b.to_vec(), end, seqnos });
            }
        }
        Fragments { frags }
    }

    pub fn is_empty(&self) -> bool {
        self.frags.is_empty()
    }

    #[cfg(test)]
    pub fn fragments(&self) -> &[Fragment] {
        &self.frags
    }

    /// The pieces, in key order.
    pub fn pieces(&self) -> impl Iterator<Item = &Fragment> {
        self.frags.iter()
    }

    /// Number of (piece, seqno) pairs: what the table stores.
    pub fn len(&self) -> usize {
        self.frags.iter().map(|f| f.seqnos.len()).sum()
    }

    /// The piece that contains `k`, if any.
    fn find(&self, k: &[u8]) -> Option<&Fragment> {
        let i = self.frags.partition_point(|f| f.start.as_slice() <= k).checked_sub(1)?;
        Some(&self.frags[i]).filter(|f| f.contains(k))
    }

    /// The newest seqno at or below `seqno` of a tombstone covering `k`; 0 if none.
    pub fn max_cover(&self, k: &[u8], seqno: u64) -> u64 {
        self.find(k).map_or(0, |f| f.newest_at(seqno))
    }

    /// Whether a tombstone newer than `seqno` covers `k` and no snapshot lies between
    /// them (`stripe` maps a seqno to the index of the first snapshot that sees it), so
    /// that every reader of the version reads the tombstone too.
    pub fn covers_in_stripe(&self, k: &[u8], seqno: u64, stripe: impl Fn(u64) -> usize) -> bool {
        let Some(f) = self.find(k) else { return false };
        // The oldest tombstone newer than the version is the one most likely to share
        // its stripe (stripes grow with seqnos).
        f.seqnos.iter().rev().find(|&&n| n > seqno).is_some_and(|&n| stripe(n) == stripe(seqno))
    }

    /// Every (piece, seqno) as a tombstone, in internal-key order of their starts.
    pub fn tombstones(&self) -> impl Iterator<Item = Tombstone> + '_ {
        self.frags.iter().flat_map(|f| {
            f.seqnos.iter().map(|&seqno| Tombstone {
                start: f.start.clone(),
                end: f.end.clone(),
                seqno,
            })
        })
    }

    /// The pieces within `[lo, hi)` (`None`: unbounded), cut to it.
    pub fn clipped(&self, lo: Option<&[u8]>, hi: Option<&[u8]>) -> Fragments {
        let mut frags = Vec::new();
        for f in &self.frags {
            let start = match lo {
                Some(lo) if f.start.as_slice() < lo => lo,
                _ => f.start.as_slice(),
            };
            let end = match (f.end.as_deref(), hi) {
                (Some(e), Some(h)) => Some(e.min(h)),
                (e, None) => e,
                (None, h) => h,
            };
            if end.is_none_or(|e| start < e) {
                let (start, end) = (start.to_vec(), end.map(<[u8]>::to_vec));
                frags.push(Fragment { start, end, seqnos: f.seqnos.clone() });
            }
        }
        Fragments { frags }
    }

    /// What a compaction keeps: of each piece, the newest seqno of every snapshot
    /// stripe, less the oldest stripe's at the bottommost level (nothing it could
    /// delete remains below it, and its own stripe's versions are dropped).
    pub fn retained(&self, stripe: impl Fn(u64) -> usize, bottommost: bool) -> Fragments {
        let mut frags = Vec::new();
        for f in &self.frags {
            let mut seqnos: Vec<u64> = Vec::new();
            let mut last_stripe = None;
            for &s in &f.seqnos {
                let st = stripe(s);
                if last_stripe == Some(st) {
                    continue;
                }
                last_stripe = Some(st);
                if !(bottommost && st == 0) {
                    seqnos.push(s);
                }
            }
            if !seqnos.is_empty() {
                frags.push(Fragment { start: f.start.clone(), end: f.end.clone(), seqnos });
            }
        }
        Fragments { frags }
    }

    /// The smallest and largest internal keys the tombstones span, as table bounds.
    pub fn bounds(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let first = self.frags.first()?;
        let last = self.frags.last()?;
        let mut smallest = Vec::new();
        key::append_internal_key(&mut smallest, &first.start, first.seqnos[0], Kind::RangeDelete);
        Some((smallest, end_sentinel(last.end.as_deref())))
    }

    /// The smallest and largest seqnos of the tombstones.
    pub fn seqno_range(&self) -> Option<(u64, u64)> {
        let all = self.frags.iter().flat_map(|f| f.seqnos.iter().copied());
        all.fold(None, |acc, s| match acc {
            None => Some((s, s)),
            Some((lo, hi)) => Some((lo.min(s), hi.max(s))),
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
struct EndKey<'a> {
    end: Option<&'a [u8]>,
    seqno: u64,
}

impl Ord for EndKey<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_end(self.end, other.end).then(self.seqno.cmp(&other.seqno))
    }
}

impl PartialOrd for EndKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Encodes a tombstone as a range-deletion entry: (internal key, value).
pub(crate) fn encode_entry(t: &Tombstone) -> (Vec<u8>, Vec<u8>) {
    let mut k = Vec::with_capacity(t.start.len() + key::TRAILER_LEN);
    key::append_internal_key(&mut k, &t.start, t.seqno, Kind::RangeDelete);
    (k, t.end.clone().unwrap_or_default())
}

/// Decodes a range-deletion entry; `None` if the key is not a range-deletion key or
/// the range is empty. (Seqno 0, which covers nothing, is what a table written for
/// ingestion holds until it is read at its global seqno.)
pub(crate) fn decode_entry(ikey: &[u8], value: &[u8]) -> Option<Tombstone> {
    let p = key::parse_internal_key(ikey)?;
    if p.kind != Kind::RangeDelete {
        return None;
    }
    let end = (!value.is_empty()).then(|| value.to_vec());
    if end.as_deref().is_some_and(|e| e <= p.user_key) {
        return None;
    }
    Some(Tombstone { start: p.user_key.to_vec(), end, seqno: p.seqno })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str, e: Option<&str>, n: u64) -> Tombstone {
        Tombstone { start: s.into(), end: e.map(Into::into), seqno: n }
    }

    /// The model: the newest covering seqno at or below `seqno`.
    fn model(ts: &[Tombstone], k: &[u8], seqno: u64) -> u64 {
        ts.iter()
            .filter(|t| t.seqno <= seqno && t.start.as_slice() <= k)
            .filter(|t| t.end.as_deref().is_none_or(|e| k < e))
            .map(|t| t.seqno)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn fragments_answer_like_the_tombstones_they_came_from() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for _ in 0..300 {
            let n = rng.random_range(0..12);
            let ts: Vec<Tombstone> = (0..n)
                .map(|i| {
                    let a = rng.random_range(0..20u8);
                    let b = rng.random_range(0..22u8);
                    let end = (b < 21).then(|| vec![b'a' + b]);
                    Tombstone { start: vec![b'a' + a], end, seqno: i + 1 }
                })
                .collect();
            let f = Fragments::new(ts.clone());
            for pair in f.fragments().windows(2) {
                assert!(pair[0].end.as_deref().is_some_and(|e| e <= pair[1].start.as_slice()));
            }
            for k in 0..24u8 {
                for seqno in 0..=n + 1 {
                    let k = [b'a' + k];
                    assert_eq!(f.max_cover(&k, seqno), model(&ts, &k, seqno), "{ts:?} {k:?}");
                }
            }
            // Re-fragmenting the stored form changes nothing.
            assert_eq!(Fragments::new(f.tombstones()), f);
        }
    }

    #[test]
    fn clipping_keeps_what_lies_inside() {
        let f = Fragments::new([t("b", Some("m"), 5), t("d", None, 3)]);
        let c = f.clipped(Some(b"c"), Some(b"e"));
        assert_eq!(c.max_cover(b"c", 10), 5);
        assert_eq!(c.max_cover(b"b", 10), 0);
        assert_eq!(c.max_cover(b"d", 10), 5);
        assert_eq!(c.max_cover(b"e", 10), 0);
        let tail = f.clipped(Some(b"x"), None);
        assert_eq!(tail.max_cover(b"zzzz", 10), 3);
        assert_eq!(tail.max_cover(b"w", 10), 0);
    }

    #[test]
    fn retention_keeps_the_newest_per_stripe() {
        let f = Fragments::new([t("a", Some("c"), 9), t("a", Some("c"), 7), t("a", Some("c"), 3)]);
        let snapshots = [5u64];
        let stripe = |s: u64| snapshots.partition_point(|&x| x < s);
        let kept = f.retained(stripe, false);
        assert_eq!(kept.fragments()[0].seqnos, vec![9, 3]);
        let bottom = f.retained(stripe, true);
        assert_eq!(bottom.fragments()[0].seqnos, vec![9]);
        assert!(f.covers_in_stripe(b"b", 8, stripe));
        assert!(!f.covers_in_stripe(b"b", 4, stripe));
        assert!(f.covers_in_stripe(b"b", 2, stripe));
    }

    #[test]
    fn entries_round_trip_and_the_sentinel_is_recognised() {
        for ts in [t("a", Some("b"), 4), t("k", None, 9)] {
            let (k, v) = encode_entry(&ts);
            assert_eq!(decode_entry(&k, &v), Some(ts));
        }
        let (k, _) = encode_entry(&t("z", Some("a"), 4));
        assert_eq!(decode_entry(&k, b"a"), None);
        assert!(is_end_sentinel(&end_sentinel(Some(b"q"))));
        assert!(!is_end_sentinel(&encode_entry(&t("q", None, 3)).0));
    }
}
