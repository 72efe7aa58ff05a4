//! Unit tests of the write batch's encoding, limits and keyspace records.

use std::path::Path;

use super::decode::KEYSPACE_BIT;
use super::*;

#[test]
fn encode_decode_round_trip_keeps_order_and_seqno() {
    let mut b = WriteBatch::new();
    b.put(b"a", b"1");
    b.delete(b"b");
    b.put(b"", vec![7u8; 300]);
    b.set_seqno(42);
    let enc = b.encoded().to_vec();
    let d = WriteBatch::decode(&enc, Path::new("x.log"), 0).unwrap();
    assert_eq!(d.seqno(), 42);
    assert_eq!(d.len(), 3);
    let recs: Vec<_> = d.records().collect();
    assert_eq!(recs[0], Record { keyspace: 0, kind: Kind::Put, key: b"a", value: b"1" });
    assert_eq!(recs[1], Record { keyspace: 0, kind: Kind::Delete, key: b"b", value: b"" });
    assert_eq!(recs[2].value.len(), 300);
}

/// Found by review: a logged batch whose seqnos do not fit an internal key (or an
/// empty one) replayed into the memtable with its seqno cut short, or overflowed.
#[test]
fn a_logged_batch_with_seqnos_out_of_range_is_corruption() {
    for (seqno, n) in [(0, 1), (0, 0), (crate::key::MAX_SEQNO, 2), (u64::MAX, 1), (7, 0)] {
        let mut b = WriteBatch::new();
        for i in 0..n {
            b.put(format!("k{i}"), b"v");
        }
        b.set_seqno(seqno);
        let e = WriteBatch::decode(b.encoded(), Path::new("w.log"), 64).unwrap_err();
        assert!(matches!(&e, Error::Corruption { offset: 64, .. }), "{seqno}+{n}: {e}");
    }
    let mut fits = WriteBatch::new();
    fits.put(b"k", b"v");
    fits.set_seqno(crate::key::MAX_SEQNO);
    assert!(WriteBatch::decode(fits.encoded(), Path::new("w.log"), 0).is_ok());
}

#[test]
fn every_truncation_and_count_mismatch_is_corruption() {
    let mut b = WriteBatch::new();
    b.put(b"key", b"value");
    b.delete(b"gone");
    let enc = b.encoded().to_vec();
    for cut in 0..enc.len() {
        let e = WriteBatch::decode(&enc[..cut], Path::new("w.log"), 100).unwrap_err();
        assert!(e.is_corruption(), "cut at {cut}: {e}");
    }
    let mut bad = enc.clone();
    bad[8] = 5;
    assert!(WriteBatch::decode(&bad, Path::new("w.log"), 0).unwrap_err().is_corruption());
    let mut bad_kind = enc;
    bad_kind[HEADER_LEN] = 9;
    let e = WriteBatch::decode(&bad_kind, Path::new("w.log"), 1000).unwrap_err();
    assert!(matches!(e, Error::Corruption { offset: 1012, .. }), "{e}");
}

/// The format hooks for keyspaces, merge and range delete: a keyspace-tagged record
/// decodes with its keyspace (and re-encodes byte for byte), a default-keyspace
/// record has no tag, and the reserved kinds are refused.
#[test]
fn keyspace_tags_round_trip_and_reserved_kinds_are_refused() {
    let mut b = WriteBatch::new();
    b.put(b"a", b"1");
    let plain = b.encoded().to_vec();
    assert_eq!(plain[HEADER_LEN], Kind::Put as u8, "keyspace 0 carries no tag");
    let mut tagged = plain[..HEADER_LEN].to_vec();
    tagged[8] = 1;
    tagged.extend_from_slice(&[KEYSPACE_BIT | 1, 0x87, 0x01, 1, b'k', 1, b'v']);
    tagged[..8].copy_from_slice(&5u64.to_le_bytes());
    let d = WriteBatch::decode(&tagged, Path::new("w.log"), 0).unwrap();
    let recs: Vec<_> = d.records().collect();
    assert_eq!(recs, [Record { keyspace: 135, kind: Kind::Put, key: b"k", value: b"v" }]);
    assert_eq!(d.rep, tagged, "re-encoded byte for byte");
    for reserved in [3u8, 0x10, KEYSPACE_BIT | 3, 0x21] {
        let mut bad = plain.clone();
        bad[..8].copy_from_slice(&5u64.to_le_bytes());
        bad[HEADER_LEN] = reserved;
        let e = WriteBatch::decode(&bad, Path::new("w.log"), 0).unwrap_err();
        assert!(e.is_corruption(), "kind {reserved:#x}: {e}");
    }
}

#[test]
fn batches_collect_from_pairs_and_clear_keeps_the_buffer() {
    let mut b: WriteBatch = [("a", "1"), ("b", "2")].into_iter().collect();
    assert_eq!(b.len(), 2);
    b.extend(vec![(b"c".to_vec(), b"3".to_vec())]);
    assert_eq!(b.len(), 3);
    let cap = b.rep.capacity();
    b.clear();
    assert!(b.is_empty() && b.encoded_len() == HEADER_LEN && b.rep.capacity() == cap);
    let big = WriteBatch::with_capacity(4096);
    assert!(big.rep.capacity() >= 4096 && big.is_empty());
}

#[test]
fn append_concatenates_records_and_limits_are_checked() {
    let mut a = WriteBatch::new();
    a.put(b"a", b"1");
    let mut b = WriteBatch::new();
    b.delete(b"b");
    a.append(&b);
    assert_eq!(a.len(), 2);
    assert!(a.validate().is_ok());
    let mut big = WriteBatch::new();
    big.put(vec![0u8; MAX_KEY_LEN + 1], b"v");
    assert!(matches!(big.validate(), Err(Error::InvalidArgument(_))));
}
