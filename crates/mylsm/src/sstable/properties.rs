//! `TableProperties`: what a table holds (counts, key and seqno ranges, sizes), written
//! in its own block so tools and compaction can learn it without a scan.
//!
//! ```text
//! properties := field*
//! field      := tag: varint32  len: varint32  payload: [u8; len]
//! ```
//!
//! Integer payloads are one varint64 filling the payload; key payloads are the raw
//! internal key. Tags (all required, each once, in any order): 1 entries, 2 puts,
//! 3 deletes, 4 smallest key, 5 largest key, 6 smallest seqno, 7 largest seqno,
//! 8 raw key bytes, 9 raw value bytes, 10 data size, 11 index size, 12 filter size,
//! 13 data blocks, 14 compression. Tags 100 and above are skipped by readers that do
//! not know them; any other unknown tag is corruption. Tag 104, the keyspace, is the one
//! payload that is not a single varint:
//!
//! ```text
//! tag 104 := id: varint32  name: varstring  options: varstring   (KeyspaceOptions)
//! ```
//!
//! It is written only for tables of a keyspace other than the default (id 0), so that a
//! database whose manifest is lost can be rebuilt with its keyspaces (`repair`).

use super::Compression;
use crate::coding::{put_length_prefixed, put_varint32, put_varint64, Reader};

/// Facts about one table, recorded when it is written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableProperties {
    /// Entries (all versions, puts and deletes).
    pub num_entries: u64,
    /// Puts among them (expiring puts included).
    pub num_puts: u64,
    /// Deletes among them.
    pub num_deletes: u64,
    /// Smallest and largest internal keys (empty if the table has no entries).
    pub smallest_key: Vec<u8>,
    /// (See `smallest_key`.)
    pub largest_key: Vec<u8>,
    /// Smallest and largest seqnos (0 if the table has no entries).
    pub smallest_seqno: u64,
    /// (See `smallest_seqno`.)
    pub largest_seqno: u64,
    /// Sum of internal key and value lengths, before prefix compression.
    pub raw_key_bytes: u64,
    /// (See `raw_key_bytes`.)
    pub raw_value_bytes: u64,
    /// Bytes of data blocks on disk, trailers included.
    pub data_size: u64,
    /// Bytes of the index block contents.
    pub index_size: u64,
    /// Bytes of the filter block contents (0 without a filter).
    pub filter_size: u64,
    /// Number of data blocks.
    pub num_data_blocks: u64,
    /// The compression the table was written with (a block that did not shrink enough
    /// is stored uncompressed regardless).
    pub compression: Compression,
    /// Merge operands (tag 100; skipped by older readers, like the next three).
    pub num_merges: u64,
    /// Range tombstones in the range-deletion block (tag 101).
    pub num_range_deletes: u64,
    /// Entries that never expire: puts, deletes and merge operands (tag 102). When 0
    /// and the table has no range tombstones and `max_expiry` is set, every entry is an
    /// expiring put, and the table holds nothing live once `max_expiry` has passed.
    /// (Tags 100-103 are written only when one of them would not be 0.)
    pub num_unexpiring: u64,
    /// The latest expiry of an expiring put (tag 103; 0: none).
    pub max_expiry: u64,
    /// The id of the keyspace the table was written for (tag 104; 0: the default
    /// keyspace, or a table written by a build before tag 104, or by `SstWriter`).
    pub keyspace_id: u32,
    /// That keyspace's name (empty with `keyspace_id` 0).
    pub keyspace_name: String,
    /// That keyspace's options in the manifest's encoding (`docs/manifest_format.md`,
    /// `KeyspaceOptions`), as they were when the table was written.
    pub keyspace_options: Vec<u8>,
    /// Bytes of the whole file. Not stored in the properties block (it cannot know its
    /// own end): set by the builder when it finishes and by the reader when it opens.
    pub file_size: u64,
}

/// The keyspace a table is written for, as tag 104 records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyspaceTag {
    pub id: u32,
    pub name: String,
    /// `KeyspaceOptions::encode` of its options.
    pub options: Vec<u8>,
}

const NUM_TAGS: u32 = 14;
/// Tags at and above this may be skipped by a reader that does not know them.
const FIRST_SKIPPABLE_TAG: u32 = 100;
/// The keyspace a table belongs to (id, name, options); absent for the default one.
const TAG_KEYSPACE: u32 = 104;

impl TableProperties {
    /// The properties block's contents (`docs/table_format.md`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut int = |tag: u32, v: u64| {
            let mut payload = Vec::new();
            put_varint64(&mut payload, v);
            put_varint32(&mut out, tag);
            put_length_prefixed(&mut out, &payload);
        };
        int(1, self.num_entries);
        int(2, self.num_puts);
        int(3, self.num_deletes);
        int(6, self.smallest_seqno);
        int(7, self.largest_seqno);
        int(8, self.raw_key_bytes);
        int(9, self.raw_value_bytes);
        int(10, self.data_size);
        int(11, self.index_size);
        int(12, self.filter_size);
        int(13, self.num_data_blocks);
        int(14, u64::from(self.compression.to_u8()));
        // Written only when they say something beyond the tags above, so tables of
        // puts and deletes stay byte for byte what earlier builds wrote.
        if self.num_merges > 0 || self.num_range_deletes > 0 || self.max_expiry > 0 {
            int(100, self.num_merges);
            int(101, self.num_range_deletes);
            int(102, self.num_unexpiring);
            int(103, self.max_expiry);
        }
        // Only for keyspaces other than the default, so that the tables of a database
        // without keyspaces stay byte for byte what earlier builds wrote.
        if self.keyspace_id != 0 {
            let mut payload = Vec::new();
            put_varint32(&mut payload, self.keyspace_id);
            put_length_prefixed(&mut payload, self.keyspace_name.as_bytes());
            put_length_prefixed(&mut payload, &self.keyspace_options);
            put_varint32(&mut out, TAG_KEYSPACE);
            put_length_prefixed(&mut out, &payload);
        }
        for (tag, key) in [(4, &self.smallest_key), (5, &self.largest_key)] {
            put_varint32(&mut out, tag);
            put_length_prefixed(&mut out, key);
        }
        out
    }

    /// Decodes a properties block.
    ///
    /// # Errors
    /// The byte offset within the block and what is wrong there, if a field is
    /// malformed, a tag is unknown or repeated, or a required tag is missing (the offset
    /// is then the block's length).
    pub fn decode(src: &[u8]) -> Result<Self, (usize, String)> {
        let mut p = TableProperties::default();
        let mut seen = 0u32;
        let mut unexpiring = None;
        let mut r = Reader::new(src);
        while !r.is_empty() {
            let at = r.offset();
            let bad = |what: &str| (at, format!("properties: {what}"));
            let tag = r.varint32("tag").map_err(|_| bad("malformed tag"))?;
            let payload = r.length_prefixed("payload").map_err(|_| bad("malformed field"))?;
            if tag == TAG_KEYSPACE {
                let (id, name, options) =
                    decode_keyspace(payload).ok_or_else(|| bad("malformed keyspace (tag 104)"))?;
                (p.keyspace_id, p.keyspace_name, p.keyspace_options) = (id, name, options);
                continue;
            }
            if tag >= FIRST_SKIPPABLE_TAG {
                let mut pr = Reader::new(payload);
                let v = pr.varint64("value").ok().filter(|_| pr.is_empty());
                match (tag, v) {
                    (100, Some(v)) => p.num_merges = v,
                    (101, Some(v)) => p.num_range_deletes = v,
                    (102, Some(v)) => unexpiring = Some(v),
                    (103, Some(v)) => p.max_expiry = v,
                    _ => {}
                }
                continue;
            }
            if !(1..=NUM_TAGS).contains(&tag) || seen & (1 << tag) != 0 {
                return Err(bad(&format!("unknown or repeated tag {tag}")));
            }
            seen |= 1 << tag;
            if tag == 4 || tag == 5 {
                let key = payload.to_vec();
                *(if tag == 4 { &mut p.smallest_key } else { &mut p.largest_key }) = key;
                continue;
            }
            let mut pr = Reader::new(payload);
            let v = pr.varint64("value").ok().filter(|_| pr.is_empty());
            let v = v.ok_or_else(|| bad(&format!("tag {tag} is not one varint")))?;
            match tag {
                1 => p.num_entries = v,
                2 => p.num_puts = v,
                3 => p.num_deletes = v,
                6 => p.smallest_seqno = v,
                7 => p.largest_seqno = v,
                8 => p.raw_key_bytes = v,
                9 => p.raw_value_bytes = v,
                10 => p.data_size = v,
                11 => p.index_size = v,
                12 => p.filter_size = v,
                13 => p.num_data_blocks = v,
                _ => {
                    let c = u8::try_from(v).ok().and_then(Compression::from_u8);
                    p.compression = c.ok_or_else(|| bad(&format!("compression {v}")))?;
                }
            }
        }
        // Without tag 102 no entry expires.
        p.num_unexpiring = unexpiring.unwrap_or(p.num_entries);
        let all = ((1u32 << (NUM_TAGS + 1)) - 1) & !1;
        if seen != all {
            return Err((src.len(), format!("properties: missing tags (mask {seen:#x})")));
        }
        Ok(p)
    }
}

/// The payload of tag 104: a keyspace id above 0, a UTF-8 name and the options bytes,
/// filling the payload exactly.
fn decode_keyspace(payload: &[u8]) -> Option<(u32, String, Vec<u8>)> {
    let mut r = Reader::new(payload);
    let id = r.varint32("keyspace id").ok().filter(|&id| id > 0)?;
    let name = String::from_utf8(r.length_prefixed("keyspace name").ok()?.to_vec()).ok()?;
    let options = r.length_prefixed("keyspace options").ok()?.to_vec();
    r.is_empty().then_some((id, name, options))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> TableProperties {
        TableProperties {
            num_entries: 10,
            num_puts: 7,
            num_deletes: 3,
            smallest_key: b"a\0\0\0\0\0\0\0\0".to_vec(),
            largest_key: vec![],
            smallest_seqno: 1,
            largest_seqno: u64::MAX >> 8,
            raw_key_bytes: 1 << 40,
            raw_value_bytes: 5,
            data_size: 6,
            index_size: 7,
            filter_size: 0,
            num_data_blocks: 9,
            compression: Compression::Zstd,
            num_merges: 2,
            num_range_deletes: 3,
            num_unexpiring: 4,
            max_expiry: 5,
            keyspace_id: 3,
            keyspace_name: "users".into(),
            keyspace_options: vec![1, 2, 3],
            file_size: 0,
        }
    }

    #[test]
    fn a_default_keyspace_table_writes_no_keyspace_tag() {
        let plain = TableProperties {
            keyspace_id: 0,
            keyspace_name: String::new(),
            keyspace_options: Vec::new(),
            ..sample()
        };
        // The tagged encoding is the plain one plus one field: tag, length, then id,
        // "users" and three option bytes, each string with its length.
        assert_eq!(sample().encode().len(), plain.encode().len() + 1 + 1 + (1 + 6 + 4));
        assert_eq!(TableProperties::decode(&plain.encode()).unwrap(), plain);
    }

    #[test]
    fn a_malformed_keyspace_tag_is_refused() {
        for payload in
            [&[0u8, 0, 0][..], &[1, 5, b'a'][..], &[1, 0, 0, 9][..], &[1, 1, 0xff, 0][..]]
        {
            let mut enc = TableProperties { keyspace_id: 0, ..sample() }.encode();
            put_varint32(&mut enc, TAG_KEYSPACE);
            put_length_prefixed(&mut enc, payload);
            assert!(TableProperties::decode(&enc).is_err(), "{payload:?}");
        }
    }

    #[test]
    fn properties_round_trip_and_skip_unknown_high_tags() {
        let p = sample();
        let mut enc = p.encode();
        assert_eq!(TableProperties::decode(&enc).unwrap(), p);
        put_varint32(&mut enc, 150);
        put_length_prefixed(&mut enc, b"future");
        assert_eq!(TableProperties::decode(&enc).unwrap(), p);
    }

    #[test]
    fn damaged_properties_are_refused_without_panicking() {
        let enc = sample().encode();
        for cut in 0..enc.len() {
            assert!(TableProperties::decode(&enc[..cut]).is_err(), "cut {cut}");
        }
        let mut dup = enc.clone();
        dup.extend_from_slice(&enc[..3]);
        assert!(TableProperties::decode(&dup).is_err());
        let mut unknown = enc;
        put_varint32(&mut unknown, 50);
        put_length_prefixed(&mut unknown, b"");
        assert!(TableProperties::decode(&unknown).is_err());
    }
}
