//! The byte format of a state-machine snapshot: what a leader sends a lagging
//! follower, and what the state machine keeps as its current snapshot.
//!
//! ```text
//! snapshot   := magic applied membership count record* crc
//! magic      := "MYLSMSN1"                       8 bytes
//! applied    := len:u32 postcard(Option<LogId>)  the last applied log id
//! membership := len:u32 postcard(StoredMembership)
//! count      := u64                              the number of records
//! record     := key_len:u32 key value_len:u32 value   one key of the data keyspace,
//!                                                      in key order
//! crc        := u32                              crc32c of every byte before it
//! ```
//!
//! Every integer is big-endian. The decoder checks every length against what remains
//! before it allocates, and returns an error, never panics, on bad bytes.

use openraft::AnyError;

use crate::codec::{decode, encode};
use crate::types::{LogId, StoredMembership};

const MAGIC: &[u8; 8] = b"MYLSMSN1";

/// The decoded content of a snapshot.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SnapshotContent {
    /// The last log id applied to the state the snapshot holds.
    pub applied: Option<LogId>,
    /// The membership as of `applied`.
    pub membership: StoredMembership,
    /// The data keyspace's keys and values, in key order.
    pub records: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Encodes a snapshot incrementally: [`SnapshotEncoder::new`], then
/// [`SnapshotEncoder::record`] per key in key order, then [`SnapshotEncoder::finish`].
#[derive(Debug)]
pub struct SnapshotEncoder {
    buf: Vec<u8>,
    count_at: usize,
    count: u64,
}

impl SnapshotEncoder {
    /// Starts a snapshot of the state as of `applied` with `membership`.
    pub fn new(applied: &Option<LogId>, membership: &StoredMembership) -> Self {
        let mut buf = MAGIC.to_vec();
        for part in [encode(applied), encode(membership)] {
            put_bytes(&mut buf, &part);
        }
        let count_at = buf.len();
        buf.extend_from_slice(&0u64.to_be_bytes());
        Self { buf, count_at, count: 0 }
    }

    /// Adds one key and its value.
    pub fn record(&mut self, key: &[u8], value: &[u8]) {
        put_bytes(&mut self.buf, key);
        put_bytes(&mut self.buf, value);
        self.count += 1;
    }

    /// The finished snapshot bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf[self.count_at..self.count_at + 8].copy_from_slice(&self.count.to_be_bytes());
        let crc = crc32c::crc32c(&self.buf);
        self.buf.extend_from_slice(&crc.to_be_bytes());
        self.buf
    }
}

fn put_bytes(buf: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are bounded by the engine's limits (64 KiB, 256 MiB), and the
    // postcard parts are small, so every length fits in a u32.
    buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    buf.extend_from_slice(bytes);
}

/// Decodes snapshot bytes written by [`SnapshotEncoder`].
pub fn decode_snapshot(bytes: &[u8]) -> Result<SnapshotContent, AnyError> {
    let bad = |what: &str| AnyError::error(format!("corrupt snapshot: {what}"));
    if bytes.len() < MAGIC.len() + 4 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad("no snapshot magic"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32c::crc32c(body) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(bad("checksum mismatch"));
    }
    let mut r = Reader { rest: &body[MAGIC.len()..] };
    let applied = decode(r.bytes().ok_or_else(|| bad("truncated applied id"))?, "applied id")?;
    let membership = decode(r.bytes().ok_or_else(|| bad("truncated membership"))?, "membership")?;
    let count = r.u64().ok_or_else(|| bad("truncated record count"))?;
    // Each record takes at least 8 bytes, so a count beyond that is corrupt; checking
    // first keeps a bad count from sizing the allocation.
    if count > (r.rest.len() / 8) as u64 {
        return Err(bad("record count exceeds the bytes present"));
    }
    let mut records = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let key = r.bytes().ok_or_else(|| bad("truncated key"))?.to_vec();
        let value = r.bytes().ok_or_else(|| bad("truncated value"))?.to_vec();
        records.push((key, value));
    }
    if !r.rest.is_empty() {
        return Err(bad("bytes after the last record"));
    }
    Ok(SnapshotContent { applied, membership, records })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_be_bytes(b.try_into().unwrap_or([0; 8])))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.take(4).map(|b| u32::from_be_bytes(b.try_into().unwrap_or([0; 4])))?;
        self.take(len as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let applied = Some(openraft::LogId::new(openraft::CommittedLeaderId::new(3, 1), 42));
        let mut enc = SnapshotEncoder::new(&applied, &StoredMembership::default());
        enc.record(b"a", b"1");
        enc.record(b"b", b"");
        enc.finish()
    }

    #[test]
    fn round_trips() {
        let content = decode_snapshot(&sample()).expect("decodes");
        assert_eq!(content.applied.map(|l| l.index), Some(42));
        assert_eq!(content.records, vec![(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), vec![])]);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error_not_a_panic() {
        let bytes = sample();
        for len in 0..bytes.len() {
            assert!(decode_snapshot(&bytes[..len]).is_err(), "truncated to {len}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode_snapshot(&b).is_err(), "flipped byte {i}");
        }
    }
}
