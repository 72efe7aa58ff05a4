//! The layout of Redis data in a keyspace: metadata rows, sub-rows and the value
//! envelope that carries a key's type and expiry.
//!
//! Every Redis database `N` is the mylsm keyspace `dbN`. In it:
//!
//! ```text
//! metadata row:  'm' ‖ user key                          → envelope
//! sub-row:       's' ‖ u32 BE key length ‖ user key ‖ u64 BE version ‖ tag ‖ field → payload
//!
//! envelope = type u8 ‖ flags u8 ‖ [expire_at_ms u64 LE, if flags & 1] ‖ body
//!   string:      body = the value's bytes
//!   hash:        body = version u64 LE ‖ size u64 LE
//!   set:         body = version u64 LE ‖ size u64 LE ‖ low (the rest: no member is
//!     smaller, so SPOP seeks there, past the tombstones of the members it popped)
//!   list, zset:  body = version u64 LE ‖ size u64 LE ‖ head u64 LE ‖ tail u64 LE
//!     (list: elements are at indexes [head, tail); zset: head is a lower bound on
//!     every member's sortable score, read as a BE u64, so that ZPOPMIN seeks past
//!     the tombstones of the members it popped before; tail is unused)
//!
//! tags: 'f' hash field → value, set member → "", zset member → score (f64 bits, BE)
//!       'i' zset score index: sortable score (8 bytes) ‖ member → ""
//!       'l' list element: u64 BE index in [head, tail) → element
//! ```
//!
//! Strings live entirely in their metadata row. A collection's elements live in
//! sub-rows under a version number that is unique to that incarnation of the key, so
//! a collection deleted or expired and then re-created never sees its predecessor's
//! rows (they are also deleted eagerly, in the same batch as the metadata row, except
//! when the key merely expires, whose rows go when the key is next written). Key length
//! prefixes keep one key's sub-rows from running into another's whose name it prefixes.

/// The type byte of the envelope; the numbers are on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String = 0,
    List = 1,
    Hash = 2,
    Set = 3,
    ZSet = 4,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::String,
            1 => Kind::List,
            2 => Kind::Hash,
            3 => Kind::Set,
            4 => Kind::ZSet,
            _ => return None,
        })
    }

    /// The name TYPE prints.
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::List => "list",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
        }
    }
}

const FLAG_EXPIRE: u8 = 1;

/// The first index of an empty list: the middle of the u64 range, so both ends grow.
pub const LIST_MID: u64 = 1 << 63;

/// A decoded metadata row.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    pub kind: Kind,
    /// Absolute expiry, milliseconds since the Unix epoch.
    pub expire_at_ms: Option<u64>,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    String(Vec<u8>),
    Collection(Coll),
}

/// The header of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coll {
    pub version: u64,
    pub size: u64,
    /// Lists: the index of the first element and one past the last. Sorted sets:
    /// `head` bounds every score from below (see the module doc).
    pub head: u64,
    pub tail: u64,
    /// Sets: a lower bound on every member.
    pub low: Vec<u8>,
}

impl Meta {
    pub fn string(value: Vec<u8>, expire_at_ms: Option<u64>) -> Meta {
        Meta { kind: Kind::String, expire_at_ms, body: Body::String(value) }
    }

    pub fn collection(kind: Kind, version: u64) -> Meta {
        let head = if kind == Kind::ZSet { 0 } else { LIST_MID };
        let c = Coll { version, size: 0, head, tail: LIST_MID, low: Vec::new() };
        Meta { kind, expire_at_ms: None, body: Body::Collection(c) }
    }

    pub fn coll(&self) -> Option<&Coll> {
        match &self.body {
            Body::Collection(c) => Some(c),
            Body::String(_) => None,
        }
    }

    pub fn coll_mut(&mut self) -> Option<&mut Coll> {
        match &mut self.body {
            Body::Collection(c) => Some(c),
            Body::String(_) => None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let body_len = match &self.body {
            Body::String(v) => v.len(),
            Body::Collection(c) => 32 + c.low.len(),
        };
        let mut out = Vec::with_capacity(10 + body_len);
        out.push(self.kind as u8);
        match self.expire_at_ms {
            Some(at) => {
                out.push(FLAG_EXPIRE);
                out.extend_from_slice(&at.to_le_bytes());
            }
            None => out.push(0),
        }
        match &self.body {
            Body::String(v) => out.extend_from_slice(v),
            Body::Collection(c) => {
                out.extend_from_slice(&c.version.to_le_bytes());
                out.extend_from_slice(&c.size.to_le_bytes());
                if has_ends(self.kind) {
                    out.extend_from_slice(&c.head.to_le_bytes());
                    out.extend_from_slice(&c.tail.to_le_bytes());
                }
                if self.kind == Kind::Set {
                    out.extend_from_slice(&c.low);
                }
            }
        }
        out
    }

    /// `None` for bytes this layout did not write.
    pub fn decode(bytes: &[u8]) -> Option<Meta> {
        let (&kind, rest) = bytes.split_first()?;
        let kind = Kind::from_u8(kind)?;
        let (&flags, mut rest) = rest.split_first()?;
        let expire_at_ms = if flags & FLAG_EXPIRE != 0 {
            let (at, r) = take_u64(rest)?;
            rest = r;
            Some(at)
        } else {
            None
        };
        let body = if kind == Kind::String {
            Body::String(rest.to_vec())
        } else {
            let (version, r) = take_u64(rest)?;
            let (size, r) = take_u64(r)?;
            let (head, tail, r) = if has_ends(kind) {
                let (head, r) = take_u64(r)?;
                let (tail, r) = take_u64(r)?;
                (head, tail, r)
            } else {
                (LIST_MID, LIST_MID, r)
            };
            let low = if kind == Kind::Set { r.to_vec() } else { Vec::new() };
            Body::Collection(Coll { version, size, head, tail, low })
        };
        Some(Meta { kind, expire_at_ms, body })
    }

    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at_ms.is_some_and(|at| at <= now_ms)
    }
}

/// Whether the collection header carries `head` and `tail`.
fn has_ends(kind: Kind) -> bool {
    matches!(kind, Kind::List | Kind::ZSet)
}

fn take_u64(b: &[u8]) -> Option<(u64, &[u8])> {
    let (head, rest) = b.split_first_chunk::<8>()?;
    Some((u64::from_le_bytes(*head), rest))
}

/// The metadata row key of `key`.
pub fn meta_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(b'm');
    k.extend_from_slice(key);
    k
}

/// The prefix every metadata row starts with.
pub const META_PREFIX: &[u8] = b"m";

/// The prefix of every sub-row of one collection incarnation with one tag.
pub fn sub_prefix(key: &[u8], version: u64, tag: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(14 + key.len());
    k.push(b's');
    k.extend_from_slice(&(key.len() as u32).to_be_bytes());
    k.extend_from_slice(key);
    k.extend_from_slice(&version.to_be_bytes());
    k.push(tag);
    k
}

/// The prefix of every sub-row of one collection incarnation, whatever the tag.
pub fn sub_prefix_all(key: &[u8], version: u64) -> Vec<u8> {
    let mut k = sub_prefix(key, version, 0);
    k.pop();
    k
}

/// The first key after every key that starts with `prefix` (a sub-row prefix, whose
/// last byte is a tag below 0xff).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    if let Some(last) = end.last_mut() {
        *last = last.saturating_add(1);
    }
    end
}

pub const TAG_FIELD: u8 = b'f';
pub const TAG_SCORE: u8 = b'i';
pub const TAG_LIST: u8 = b'l';

/// The row key of a field (hash field, set member, zset member).
pub fn field_key(key: &[u8], version: u64, field: &[u8]) -> Vec<u8> {
    let mut k = sub_prefix(key, version, TAG_FIELD);
    k.extend_from_slice(field);
    k
}

/// The row key of list element `index`.
pub fn list_key(key: &[u8], version: u64, index: u64) -> Vec<u8> {
    let mut k = sub_prefix(key, version, TAG_LIST);
    k.extend_from_slice(&index.to_be_bytes());
    k
}

/// The row key of a zset member in the score index.
pub fn score_key(key: &[u8], version: u64, score: f64, member: &[u8]) -> Vec<u8> {
    let mut k = sub_prefix(key, version, TAG_SCORE);
    k.extend_from_slice(&sortable_score(score));
    k.extend_from_slice(member);
    k
}

/// A score as 8 bytes whose bytewise order is the numeric order.
pub fn sortable_score(score: f64) -> [u8; 8] {
    let bits = score.to_bits();
    let flipped = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    flipped.to_be_bytes()
}

pub fn score_from_sortable(b: [u8; 8]) -> f64 {
    let v = u64::from_be_bytes(b);
    let bits = if v >> 63 == 1 { v & !(1 << 63) } else { !v };
    f64::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        for m in [
            Meta::string(b"hello".to_vec(), None),
            Meta::string(Vec::new(), Some(1_700_000_000_000)),
            Meta::collection(Kind::List, 7),
            Meta { expire_at_ms: Some(5), ..Meta::collection(Kind::ZSet, 9) },
            {
                let mut m = Meta::collection(Kind::Set, 3);
                m.coll_mut().unwrap().low = b"member".to_vec();
                m
            },
        ] {
            assert_eq!(Meta::decode(&m.encode()), Some(m));
        }
        assert_eq!(Meta::decode(&[9, 0]), None);
        assert_eq!(Meta::decode(&[1, 0, 1]), None);
    }

    #[test]
    fn sortable_scores_sort_numerically() {
        let scores =
            [f64::NEG_INFINITY, -1e300, -2.5, -0.0, 0.0, 1e-300, 3.0, 1e300, f64::INFINITY];
        for w in scores.windows(2) {
            assert!(sortable_score(w[0]) <= sortable_score(w[1]), "{} {}", w[0], w[1]);
        }
        for s in scores {
            assert_eq!(score_from_sortable(sortable_score(s)).to_bits(), s.to_bits());
        }
    }

    #[test]
    fn one_keys_rows_never_run_into_anothers() {
        let a = sub_prefix_all(b"ab", 1);
        let b = sub_prefix_all(b"a", 1);
        assert!(!a.starts_with(&b) && !b.starts_with(&a));
    }
}
