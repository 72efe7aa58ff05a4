//! `WriteBatch`: an atomic set of puts and deletes, and its encoding in the WAL.
//!
//! ```text
//! batch  := seqno: fixed64  count: fixed32  record*      (12-byte header, LevelDB's)
//! record := 0x01 key: varstring value: varstring         (Put)
//!         | 0x00 key: varstring                          (Delete)
//!         | 0x02 key: varstring operand: varstring       (Merge)
//!         | 0x0F start: varstring end: varstring         (RangeDelete; end "" = none)
//!         | 0x20 key: varstring (expiry: fixed64 ‖ value): varstring  (PutExpiring)
//!         | (0x80 | kind) keyspace: varint32  ...         (the same, in keyspace N)
//! marker := 0x30 table: varint64                         (Ingest; only with other markers)
//! varstring := len: varint32  bytes[len]
//! ```
//!
//! A record without bit 0x80 belongs to keyspace 0, the default, so batches of the
//! default keyspace are byte-identical to those of builds before keyspaces. Builds
//! before range deletes, merges and expiring values refuse kinds 2, 0x0F and 0x20 as
//! `Corruption` rather than misreading them. The expiry of a `PutExpiring` is absolute
//! (milliseconds since the Unix epoch) by the time the batch is logged, so a replay
//! never extends a value's life.
//!
//! A batch of markers records an ingest (`docs/ingest.md`): marker `i` gives seqno
//! `seqno + i` to ingested table `table`; replay reads it only so seqnos run on without
//! a gap. Builds before ingestion refuse tag 0x30 as an unknown kind.
//!
//! Record `i` of a batch gets sequence number `seqno + i`. The write leader
//! concatenates the batches of a group into one such batch, so one WAL record holds a
//! whole group and recovery applies it all or nothing.

mod decode;

use std::ops::{Bound, RangeBounds};
use std::time::Duration;

use crate::coding::put_length_prefixed;
use crate::key::Kind;
use crate::{Error, Result};

const HEADER_LEN: usize = 12;

/// The tag of an ingest marker (never a record kind).
const INGEST_TAG: u8 = 0x30;

/// The longest user key mylsm accepts.
pub const MAX_KEY_LEN: usize = 64 << 10;
/// The longest value mylsm accepts.
pub const MAX_VALUE_LEN: usize = 256 << 20;

/// An ordered set of puts and deletes applied atomically by `Db::write`.
#[derive(Clone, PartialEq, Eq)]
pub struct WriteBatch {
    rep: Vec<u8>,
    /// The keyspaces other than the default one that the records name.
    keyspaces: Vec<u32>,
    count: u32,
    longest_key: usize,
    longest_value: usize,
    /// The keyspaces that merge operands go to.
    merges_in: Vec<u32>,
    /// Offsets in `rep` of expiring values whose 8-byte prefix is still a time to live,
    /// to be made absolute when the batch is written.
    relative_ttls: Vec<usize>,
}

/// One decoded record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    /// The keyspace the record belongs to (0: the default one).
    pub keyspace: u32,
    pub kind: Kind,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WriteBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteBatch")
            .field("count", &self.count)
            .field("bytes", &self.rep.len())
            .finish()
    }
}

impl WriteBatch {
    /// An empty batch.
    ///
    /// # Examples
    ///
    /// ```
    /// let batch = mylsm::WriteBatch::new();
    /// assert!(batch.is_empty());
    ///
    /// ```
    pub fn new() -> Self {
        WriteBatch {
            rep: vec![0; HEADER_LEN],
            keyspaces: Vec::new(),
            count: 0,
            longest_key: 0,
            longest_value: 0,
            merges_in: Vec::new(),
            relative_ttls: Vec::new(),
        }
    }

    /// An empty batch with room for `bytes` bytes of records, so that filling it does
    /// not reallocate.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut batch = mylsm::WriteBatch::with_capacity(4096);
    /// batch.put("k", "v");
    /// assert_eq!(batch.len(), 1);
    ///
    /// ```
    pub fn with_capacity(bytes: usize) -> Self {
        let mut b = WriteBatch::new();
        b.rep.reserve(bytes);
        b
    }

    /// Sets `key` to `value` when the batch is written.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.put("k", "v");
    /// assert_eq!(db.get("k")?, None, "nothing is written before the batch is");
    /// db.write(batch)?;
    /// assert_eq!(db.get("k")?.unwrap(), "v");
    /// # Ok(()) }
    /// ```
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let (key, value) = (key.as_ref(), value.as_ref());
        self.rep.push(Kind::Put as u8);
        put_length_prefixed(&mut self.rep, key);
        put_length_prefixed(&mut self.rep, value);
        self.note(key.len(), value.len());
    }

    /// The keyspaces other than the default one that the batch writes to.
    pub(crate) fn keyspaces(&self) -> &[u32] {
        &self.keyspaces
    }

    /// The keyspaces the batch's merge operands go to.
    pub(crate) fn merge_keyspaces(&self) -> &[u32] {
        &self.merges_in
    }

    /// Adds a merge `operand` for `key`, combined with the key's value by the
    /// keyspace's merge operator when the key is read (see [`crate::merge`]). Writing
    /// the batch fails with `InvalidArgument` if the keyspace has no merge operator.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let opts = mylsm::Options { merge_operator: Some(std::sync::Arc::new(mylsm::merge::U64Add)), ..Default::default() };
    /// # let db = mylsm::Db::open(dir.path(), opts)?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.merge("hits", 1u64.to_le_bytes());
    /// batch.merge("hits", 1u64.to_le_bytes());
    /// db.write(batch)?;
    /// assert_eq!(db.get("hits")?.unwrap(), 2u64.to_le_bytes());
    /// # Ok(()) }
    /// ```
    pub fn merge(&mut self, key: impl AsRef<[u8]>, operand: impl AsRef<[u8]>) {
        self.push_record(&Record {
            keyspace: 0,
            kind: Kind::Merge,
            key: key.as_ref(),
            value: operand.as_ref(),
        });
    }

    /// Sets `key` to `value` for `ttl`: reads from then on find nothing (see
    /// [`crate::expiry`]). The time to live counts from when the batch is written.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.put_with_ttl("session", "token", std::time::Duration::from_secs(60));
    /// db.write(batch)?;
    /// assert_eq!(db.get("session")?.unwrap(), "token");
    /// # Ok(()) }
    /// ```
    pub fn put_with_ttl(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, ttl: Duration) {
        self.put_expiring_in(0, key.as_ref(), value.as_ref(), ExpiresAt::After(ttl));
    }

    /// Sets `key` to `value` until `expires_at` (milliseconds since the Unix epoch, by
    /// the database's clock).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.put_with_expiry("old", "v", 1); // 1 ms after the epoch: long past
    /// batch.put_with_expiry("new", "v", u64::MAX);
    /// db.write(batch)?;
    /// assert_eq!((db.get("old")?, db.get("new")?.is_some()), (None, true));
    /// # Ok(()) }
    /// ```
    pub fn put_with_expiry(
        &mut self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
        expires_at: u64,
    ) {
        self.put_expiring_in(0, key.as_ref(), value.as_ref(), ExpiresAt::At(expires_at));
    }

    pub(crate) fn put_expiring_in(
        &mut self,
        keyspace: u32,
        key: &[u8],
        value: &[u8],
        at: ExpiresAt,
    ) {
        let (prefix, relative) = match at {
            ExpiresAt::After(ttl) => (u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX), true),
            ExpiresAt::At(t) => (t, false),
        };
        let stored = crate::expiry::encode(prefix, value);
        self.push_record(&Record { keyspace, kind: Kind::PutExpiring, key, value: &stored });
        if relative {
            // The value is the record's last field: its prefix starts this far back.
            self.relative_ttls.push(self.rep.len() - stored.len());
        }
    }

    /// Deletes every key in `range` (any `RangeBounds`: `a..b`, `a..=b`, `a..`, `..`)
    /// in one record, whatever the number of keys. An empty range does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("a", "1")?;
    /// db.put("b", "2")?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.delete_range("a".."b")?;
    /// assert!(batch.delete_range("z".."a").unwrap_err().is_invalid_argument());
    /// db.write(batch)?;
    /// assert_eq!((db.get("a")?, db.get("b")?.is_some()), (None, true));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `InvalidArgument` if the range starts after it ends.
    pub fn delete_range<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        range: R,
    ) -> crate::Result<()> {
        self.delete_range_in_id(0, range)
    }

    /// Deletes every key that starts with `prefix` (all keys for an empty prefix).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("user:1", "ada")?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.delete_prefix("user:");
    /// db.write(batch)?;
    /// assert_eq!(db.get("user:1")?, None);
    /// # Ok(()) }
    /// ```
    pub fn delete_prefix(&mut self, prefix: impl AsRef<[u8]>) {
        let (lo, hi) = crate::db_iter::prefix_bounds(prefix.as_ref());
        // A prefix range is never reversed.
        let _ = self.delete_range_in_id(0, (lo, hi));
    }

    pub(crate) fn delete_range_in_id<K: AsRef<[u8]>, R: RangeBounds<K>>(
        &mut self,
        keyspace: u32,
        range: R,
    ) -> crate::Result<()> {
        if let (Some(s), Some(e)) = (bound_key(range.start_bound()), bound_key(range.end_bound())) {
            if s > e {
                return Err(crate::Error::InvalidArgument(format!(
                    "delete_range: start {:?} is after end {:?}",
                    String::from_utf8_lossy(s),
                    String::from_utf8_lossy(e)
                )));
            }
        }
        let start = match range.start_bound() {
            Bound::Included(s) => s.as_ref().to_vec(),
            Bound::Excluded(s) => [s.as_ref(), &[0]].concat(),
            Bound::Unbounded => Vec::new(),
        };
        let end = match range.end_bound() {
            Bound::Excluded(e) => Some(e.as_ref().to_vec()),
            Bound::Included(e) => Some([e.as_ref(), &[0]].concat()),
            Bound::Unbounded => None,
        };
        if end.as_deref().is_some_and(|e| e <= start.as_slice()) {
            return Ok(());
        }
        let end = end.unwrap_or_default();
        self.push_record(&Record { keyspace, kind: Kind::RangeDelete, key: &start, value: &end });
        Ok(())
    }

    /// Makes the expiries of `put_with_ttl` absolute, counting from `now`.
    pub(crate) fn stamp_expiries(&mut self, now: u64) {
        for at in std::mem::take(&mut self.relative_ttls) {
            let ttl = crate::coding::fixed64(&self.rep[at..at + 8]);
            let expiry = crate::expiry::expiry_after(now, Duration::from_millis(ttl));
            self.rep[at..at + 8].copy_from_slice(&expiry.to_le_bytes());
        }
    }

    /// Deletes `key` when the batch is written.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn main() -> mylsm::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = mylsm::Db::open(dir.path(), mylsm::Options::default())?;
    /// db.put("k", "v")?;
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.delete("k");
    /// db.write(batch)?;
    /// assert_eq!(db.get("k")?, None);
    /// # Ok(()) }
    /// ```
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        let key = key.as_ref();
        self.rep.push(Kind::Delete as u8);
        put_length_prefixed(&mut self.rep, key);
        self.note(key.len(), 0);
    }

    fn note(&mut self, key_len: usize, value_len: usize) {
        self.count += 1;
        self.longest_key = self.longest_key.max(key_len);
        self.longest_value = self.longest_value.max(value_len);
    }

    /// Number of puts and deletes in the batch.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.put("a", "1");
    /// batch.delete("b");
    /// assert_eq!(batch.len(), 2);
    ///
    /// ```
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True if the batch holds nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut batch = mylsm::WriteBatch::new();
    /// assert!(batch.is_empty());
    /// batch.put("k", "v");
    /// assert!(!batch.is_empty());
    ///
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every record, keeping the buffer's capacity for reuse.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut batch = mylsm::WriteBatch::new();
    /// batch.put("k", "v");
    /// batch.clear();
    /// assert!(batch.is_empty());
    ///
    /// ```
    pub fn clear(&mut self) {
        let mut rep = std::mem::take(&mut self.rep);
        rep.clear();
        rep.resize(HEADER_LEN, 0);
        *self = WriteBatch { rep, ..WriteBatch::new() };
    }

    /// Size of the encoded batch in bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut batch = mylsm::WriteBatch::new();
    /// let empty = batch.encoded_len();
    /// batch.put("key", "value");
    /// assert!(batch.encoded_len() >= empty + 8);
    ///
    /// ```
    pub fn encoded_len(&self) -> usize {
        self.rep.len()
    }

    /// Rejects keys and values over the documented limits.
    pub(crate) fn validate(&self) -> Result<()> {
        if self.longest_key > MAX_KEY_LEN {
            return Err(Error::InvalidArgument(format!(
                "key of {} bytes exceeds the {MAX_KEY_LEN}-byte limit",
                self.longest_key
            )));
        }
        if self.longest_value > MAX_VALUE_LEN {
            return Err(Error::InvalidArgument(format!(
                "value of {} bytes exceeds the {MAX_VALUE_LEN}-byte limit",
                self.longest_value
            )));
        }
        if u64::from(self.count) >= u64::from(u32::MAX) {
            return Err(Error::InvalidArgument("batch holds too many records".into()));
        }
        Ok(())
    }

    /// Sequence number of the first record (set by the write leader).
    pub(crate) fn seqno(&self) -> u64 {
        crate::coding::fixed64(&self.rep[..8])
    }

    pub(crate) fn set_seqno(&mut self, seqno: u64) {
        self.rep[..8].copy_from_slice(&seqno.to_le_bytes());
    }

    /// The WAL record of an ingest whose tables `tables` took seqnos `seqno..` in order.
    pub(crate) fn ingest_marker(seqno: u64, tables: &[u64]) -> WriteBatch {
        let mut b = WriteBatch::new();
        b.set_seqno(seqno);
        for &t in tables {
            b.rep.push(INGEST_TAG);
            crate::coding::put_varint64(&mut b.rep, t);
            b.count += 1;
        }
        b
    }

    /// Whether this is an ingest's marker batch, which holds no records.
    pub(crate) fn is_ingest_marker(&self) -> bool {
        self.rep.get(HEADER_LEN) == Some(&INGEST_TAG)
    }

    /// The encoded batch with its header up to date.
    pub(crate) fn encoded(&mut self) -> &[u8] {
        let count = self.count;
        self.rep[8..12].copy_from_slice(&count.to_le_bytes());
        &self.rep
    }

    /// Appends the records of `other` after this batch's records.
    pub(crate) fn append(&mut self, other: &WriteBatch) {
        let base = self.rep.len() - HEADER_LEN;
        self.relative_ttls.extend(other.relative_ttls.iter().map(|at| at + base));
        for &k in &other.merges_in {
            if !self.merges_in.contains(&k) {
                self.merges_in.push(k);
            }
        }
        self.rep.extend_from_slice(&other.rep[HEADER_LEN..]);
        for &k in &other.keyspaces {
            if !self.keyspaces.contains(&k) {
                self.keyspaces.push(k);
            }
        }
        self.count += other.count;
        self.longest_key = self.longest_key.max(other.longest_key);
        self.longest_value = self.longest_value.max(other.longest_value);
    }
}

/// Puts every `(key, value)` pair, in order.
impl<K: AsRef<[u8]>, V: AsRef<[u8]>> Extend<(K, V)> for WriteBatch {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, pairs: I) {
        for (k, v) in pairs {
            self.put(k, v);
        }
    }
}

/// A batch that puts every `(key, value)` pair, in order.
impl<K: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(K, V)> for WriteBatch {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut b = WriteBatch::new();
        b.extend(pairs);
        b
    }
}

/// When an expiring value expires.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ExpiresAt {
    /// This long after the batch is written.
    After(Duration),
    /// At this time (milliseconds since the Unix epoch).
    At(u64),
}

fn bound_key<K: AsRef<[u8]>>(b: Bound<&K>) -> Option<&[u8]> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.as_ref()),
        Bound::Unbounded => None,
    }
}

#[cfg(test)]
mod tests;
