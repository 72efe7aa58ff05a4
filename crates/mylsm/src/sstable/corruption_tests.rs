//! Damaged tables: flipped, zeroed and truncated bytes in every part of a table of
//! either format, garbage files, and crafted files whose checksums are valid but whose
//! contents lie (in blocks, the meta-index or the footer). Each must be `Corruption`
//! naming the file, never a panic, a huge allocation or a wrong value.

use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::footer::{BlockHandle, Footer, FooterMeta, FOOTER_LEN};
use super::meta_index::TableMeta;
use super::test_util::{
    build_block, build_table, downgrade_to_v1, ikey, open_block, open_table, table_path, BytesFile,
};
use super::{Compression, Table, TableOptions};
use crate::cache::BlockCache;
use crate::iter::conformance::{random_entries, Entries, Entry, KeyShape};
use crate::iter::InternalIterator;
use crate::key::{self, InternalKeyComparator, Kind, MAX_SEQNO};
use crate::Error;

fn assert_names_the_table(e: &Error, what: &str) {
    match e {
        Error::Corruption { file, .. } => assert_eq!(file, &table_path(), "{what}: {e}"),
        other => panic!("{what}: expected Corruption, got {other}"),
    }
}

/// A table with every part present: several data blocks (compressed with `codec`
/// where that pays), a filter, an index, properties and the footer.
fn small_table(codec: Compression) -> (Vec<u8>, Vec<Entry>) {
    let mut entries = random_entries(KeyShape::LongSharedPrefix, 60, 11);
    entries.extend(random_entries(KeyShape::Binary, 20, 12));
    entries.sort_by(|a, b| InternalKeyComparator.compare(&a.0, &b.0));
    entries.dedup_by(|a, b| a.0 == b.0);
    let opts = TableOptions { block_size: 512, compression: codec, ..TableOptions::default() };
    let bytes = build_table(&entries, opts).0;
    let table = open_table(bytes.clone(), 0).unwrap();
    let blocks = table.blocks().unwrap();
    assert!(blocks.len() > 5 && table.filter_info().is_some());
    assert!(blocks.iter().any(|b| b.compression == codec));
    (bytes, entries)
}

/// Reads everything a damaged table offers and checks that every answer is either the
/// right one or `Corruption` naming the file. Returns whether damage was reported.
fn check_damaged(bytes: Vec<u8>, file_size: u64, entries: &Entries, what: &str) -> bool {
    let cache = Arc::new(BlockCache::new(1 << 20));
    let table = match Table::open(Arc::new(BytesFile(bytes)), table_path(), 42, file_size, cache) {
        Ok(t) => Arc::new(t),
        Err(e) => {
            assert_names_the_table(&e, what);
            return true;
        }
    };
    let mut reported = false;
    for (i, (k, v)) in entries.iter().enumerate() {
        match table.get(k) {
            Ok(Some((fk, fv))) => assert!(fk == *k && *fv == v[..], "{what}: wrong value"),
            Ok(None) => panic!("{what}: entry {i} lost without an error"),
            Err(e) => {
                assert_names_the_table(&e, what);
                reported = true;
            }
        }
    }
    match table.get(&key::lookup_key(b"absent\x00key", MAX_SEQNO)) {
        Ok(found) => assert!(found.is_none(), "{what}: found an absent key"),
        Err(e) => assert_names_the_table(&e, what),
    }
    let mut it = table.iter();
    it.seek_to_first();
    let mut n = 0;
    while it.valid() {
        assert!(it.key() == &entries[n].0[..] && it.value() == &entries[n].1[..], "{what}");
        n += 1;
        it.next();
    }
    match it.status() {
        Ok(()) => assert_eq!(n, entries.len(), "{what}: iteration ended early"),
        Err(e) => {
            assert_names_the_table(&e, what);
            reported = true;
        }
    }
    let mut it = table.iter();
    it.seek_to_last();
    let mut n = entries.len();
    while it.valid() {
        n -= 1;
        assert!(it.key() == &entries[n].0[..] && it.value() == &entries[n].1[..], "{what}");
        it.prev();
    }
    if let Err(e) = it.status() {
        assert_names_the_table(&e, what);
    }
    match table.verify() {
        Ok(()) => assert!(!reported, "{what}: verify missed damage that reads found"),
        Err(e) => {
            assert_names_the_table(&e, what);
            reported = true;
        }
    }
    reported
}

/// Every byte of a table is under a checksum (blocks and trailers under their block's,
/// the footer under its own and the magic), so no single-byte change goes unnoticed, in
/// either format.
#[test]
fn every_flipped_byte_in_every_part_is_reported() {
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd] {
        let (v2, entries) = small_table(codec);
        for (format, good) in [("format 2", v2.clone()), ("format 1", downgrade_to_v1(&v2))] {
            assert!(!check_damaged(good.clone(), good.len() as u64, &entries, "intact"));
            for at in 0..good.len() {
                let mut bad = good.clone();
                bad[at] ^= 1 << (at % 8);
                let what = format!("{format}, {codec}: flip at {at} of {}", good.len());
                assert!(check_damaged(bad, good.len() as u64, &entries, &what), "{what}");
            }
        }
    }
}

#[test]
fn zeroed_runs_are_reported_wherever_they_change_something() {
    let (good, entries) = small_table(Compression::Lz4);
    for at in (0..good.len()).step_by(5) {
        let mut bad = good.clone();
        let end = (at + 16).min(bad.len());
        bad[at..end].fill(0);
        if bad != good {
            let what = format!("zeros at {at}..{end}");
            assert!(check_damaged(bad, good.len() as u64, &entries, &what), "{what} unnoticed");
        }
    }
}

#[test]
fn truncated_tables_are_corruption_whatever_size_the_caller_believes() {
    let (good, entries) = small_table(Compression::Lz4);
    for len in (0..good.len()).step_by(3) {
        let cut = good[..len].to_vec();
        let what = format!("truncated to {len}");
        assert!(check_damaged(cut.clone(), len as u64, &entries, &what));
        // A manifest that records the full size while the file is shorter.
        assert!(check_damaged(cut, good.len() as u64, &entries, &what));
    }
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 100]);
    assert!(check_damaged(longer, good.len() as u64 + 100, &entries, "zero-padded"));
}

#[test]
fn garbage_files_of_any_length_are_corruption() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for len in [0, 1, 7, 63, 64, 65, 100, 1000, 4096, 100_000] {
        for fill in 0..3 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    [x as u8, 0, 0xff][fill]
                })
                .collect();
            let e = open_table(bytes, 1 << 20).unwrap_err();
            assert_names_the_table(&e, &format!("{len} bytes of garbage {fill}"));
        }
    }
}

/// The two ways a footer can lead to the properties block.
#[derive(Debug, Clone, Copy)]
enum Format {
    V1,
    V2,
}

/// Ends `body` with a footer of `format` naming `index` and `properties`, by way of a
/// meta-index block for format 2; for files with valid checksums everywhere but lying
/// contents, where the checks behind the checksums must still hold.
fn with_footer(
    mut body: Vec<u8>,
    format: Format,
    index: BlockHandle,
    properties: BlockHandle,
) -> Vec<u8> {
    let meta = TableMeta { filter: None, properties, range_del: None };
    let meta = match format {
        Format::V1 => FooterMeta::Inline(meta),
        Format::V2 => FooterMeta::MetaIndex(push_block(&mut body, &meta.encode_meta_index(), 0)),
    };
    body.extend_from_slice(&Footer { index, meta }.encode());
    body
}

/// Appends `contents` with a valid trailer of compression `kind`; returns its handle.
fn push_block(file: &mut Vec<u8>, contents: &[u8], kind: u8) -> BlockHandle {
    let handle = BlockHandle { offset: file.len() as u64, size: contents.len() as u64 };
    let crc = crc32c::crc32c_append(crc32c::crc32c(contents), &[kind]);
    file.extend_from_slice(contents);
    file.push(kind);
    file.extend_from_slice(&crate::wal::mask_crc(crc).to_le_bytes());
    handle
}

#[test]
fn handles_outside_the_file_are_corruption_without_allocating() {
    let huge = [
        BlockHandle { offset: 0, size: u64::MAX },
        BlockHandle { offset: u64::MAX, size: 1 },
        BlockHandle { offset: 0, size: 1 << 40 },
        BlockHandle { offset: 10, size: 0 },
    ];
    for h in huge {
        for format in [Format::V1, Format::V2] {
            let bytes = with_footer(vec![0; 10], format, h, h);
            let e = open_table(bytes, 0).unwrap_err();
            assert_names_the_table(&e, &format!("{format:?}, {h:?}"));
        }
        // A format-2 footer whose meta-index handle lies outside the file.
        let mut bytes = vec![0; 10];
        let meta = FooterMeta::MetaIndex(h);
        bytes.extend_from_slice(&Footer { index: h, meta }.encode());
        assert_names_the_table(&open_table(bytes, 0).unwrap_err(), &format!("meta-index {h:?}"));
    }
}

#[test]
fn checksummed_lies_are_still_corruption() {
    let good_props = super::TableProperties::default().encode();
    let entries = vec![(ikey(b"k", 1, Kind::Put), b"v".to_vec())];
    // A decompression bomb: an LZ4 block claiming a 2 GiB output.
    let mut bomb = (2u32 << 30).to_le_bytes().to_vec();
    bomb.extend_from_slice(&[0x1f, b'a', 0, 0]);
    // An index entry whose value is not a handle, and one pointing into the footer.
    let not_a_handle = build_block(&[(ikey(b"k", 1, Kind::Put), b"\xff".to_vec())], 1);
    // Under the absolute cap, but beyond what four bytes can expand to.
    let mut small_bomb = (100u32 << 20).to_le_bytes().to_vec();
    small_bomb.extend_from_slice(&[0x1f, b'a', 0, 0]);
    let cases: Vec<(&str, Vec<u8>, u8, bool)> = vec![
        ("restart count too large", vec![0xff; 8], 0, false),
        ("lz4 bomb", bomb.clone(), 1, false),
        ("zstd bomb", bomb, 2, false),
        ("lz4 bomb under the cap", small_bomb.clone(), 1, false),
        ("zstd bomb under the cap", small_bomb, 2, false),
        ("unknown compression", build_block(&entries, 1), 9, false),
        ("index value is not a handle", not_a_handle, 0, true),
    ];
    for ((what, contents, kind, opens), format) in
        cases.into_iter().flat_map(|c| [(c.clone(), Format::V1), (c, Format::V2)])
    {
        let mut file = Vec::new();
        let index = push_block(&mut file, &contents, kind);
        let props = push_block(&mut file, &good_props, 0);
        let bytes = with_footer(file, format, index, props);
        let what = &format!("{format:?}: {what}");
        match open_table(bytes, 0) {
            Err(e) => assert!(!opens, "{what}: {e}"),
            Ok(t) => {
                assert!(opens, "{what} opened");
                assert_names_the_table(&t.get(&entries[0].0).unwrap_err(), what);
                assert_names_the_table(&t.verify().unwrap_err(), what);
                let mut it = t.iter();
                it.seek_to_first();
                assert!(!it.valid());
                assert_names_the_table(&it.status().unwrap_err(), what);
            }
        }
    }
    // An index entry pointing at the footer itself.
    let mut file = Vec::new();
    let into_footer = BlockHandle { offset: 40, size: 30 };
    let mut v = Vec::new();
    into_footer.encode_to(&mut v);
    let index = push_block(&mut file, &build_block(&[(ikey(b"k", 1, Kind::Put), v)], 1), 0);
    let props = push_block(&mut file, &good_props, 0);
    let t = open_table(with_footer(file, Format::V2, index, props), 0).unwrap();
    assert_names_the_table(&t.get(&entries[0].0).unwrap_err(), "handle into the footer");
    assert_eq!(FOOTER_LEN, 64);
}

/// The meta-index of format-2 table `bytes`: its offset and its entries.
fn meta_index_entries(bytes: &[u8]) -> (u64, Vec<Entry>) {
    let data_end = bytes.len() - FOOTER_LEN;
    let footer = Footer::decode(bytes[data_end..].try_into().unwrap(), &table_path(), 0).unwrap();
    let FooterMeta::MetaIndex(h) = footer.meta else { panic!("not a format-2 table") };
    let block = open_block(&bytes[h.offset as usize..(h.offset + h.size) as usize]).unwrap();
    let mut it = block.iter();
    it.seek_to_first();
    let mut entries = Vec::new();
    while it.valid() {
        entries.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    (h.offset, entries)
}

/// Format-2 table `bytes` with its meta-index holding `entries` instead, every
/// checksum valid (the meta-index is the last block, so it is simply replaced).
fn with_meta_index(bytes: &[u8], entries: &[Entry]) -> Vec<u8> {
    let data_end = bytes.len() - FOOTER_LEN;
    let footer = Footer::decode(bytes[data_end..].try_into().unwrap(), &table_path(), 0).unwrap();
    let (offset, _) = meta_index_entries(bytes);
    let mut out = bytes[..offset as usize].to_vec();
    let meta = FooterMeta::MetaIndex(push_block(&mut out, &build_block(entries, 1), 0));
    out.extend_from_slice(&Footer { index: footer.index, meta }.encode());
    out
}

/// Opens `bytes` expecting `Corruption` naming the table at `offset` and saying `needle`.
fn assert_corruption_at(bytes: Vec<u8>, offset: u64, needle: &str) {
    match open_table(bytes, 0).unwrap_err() {
        Error::Corruption { file, offset: at, detail } => {
            assert_eq!((file, at), (table_path(), offset), "{needle}: {detail}");
            assert!(detail.contains(needle), "{detail:?} lacks {needle:?}");
        }
        other => panic!("expected Corruption saying {needle:?}, got {other}"),
    }
}

#[test]
fn meta_index_names_a_reader_must_know_are_enforced() {
    let (good, entries) = small_table(Compression::Lz4);
    let (offset, meta) = meta_index_entries(&good);
    let names: Vec<&[u8]> = meta.iter().map(|(k, _)| &k[..]).collect();
    assert_eq!(names, [&b"mylsm.filter"[..], b"mylsm.properties"]);
    let (filter, props) = (meta[0].clone(), meta[1].clone());
    let named = |name: &[u8]| (name.to_vec(), props.1.clone());

    // A block this build does not know and may not ignore, such as one a newer build
    // adds for range tombstones.
    let unknown = with_meta_index(&good, &[filter.clone(), props.clone(), named(b"mylsm.rd")]);
    assert_corruption_at(unknown, offset, "needs a newer build");
    let no_properties = with_meta_index(&good, std::slice::from_ref(&filter));
    assert_corruption_at(no_properties, offset, "mylsm.properties");
    let duplicate = with_meta_index(&good, &[filter.clone(), props.clone(), props.clone()]);
    assert_corruption_at(duplicate, offset, "does not sort after");
    let unsorted = with_meta_index(&good, &[props.clone(), filter.clone()]);
    assert_corruption_at(unsorted, offset, "does not sort after");

    // An optional block this build does not know is skipped, and the table reads whole.
    let optional = named(b"mylsm.opt.histogram");
    let bytes = with_meta_index(&good, &[filter.clone(), optional, props.clone()]);
    assert!(!check_damaged(bytes.clone(), bytes.len() as u64, &entries, "optional block"));
    // Without the filter entry the table still reads, through no filter.
    let bytes = with_meta_index(&good, &[props]);
    assert!(open_table(bytes.clone(), 0).unwrap().filter_info().is_none());
    assert!(!check_damaged(bytes.clone(), bytes.len() as u64, &entries, "no filter"));
}

/// Footer fields a checksum cannot vouch for: it covers them, so these carry a valid one.
#[test]
fn reserved_footer_bytes_and_unknown_versions_are_corruption_at_the_footer() {
    let (good, _) = small_table(Compression::None);
    let data_end = good.len() - FOOTER_LEN;
    let resealed = |at: usize, bytes: &[u8]| {
        let mut bad = good.clone();
        bad[data_end + at..data_end + at + bytes.len()].copy_from_slice(bytes);
        let crc = crate::wal::mask_crc(crc32c::crc32c(&bad[data_end..data_end + 52]));
        bad[data_end + 52..data_end + 56].copy_from_slice(&crc.to_le_bytes());
        bad
    };
    for at in [32, 40, 47] {
        let bad = resealed(at, &[1]);
        assert_corruption_at(bad, data_end as u64 + 32, "reserved bytes are not zero");
    }
    for version in [0u32, 3, u32::MAX] {
        let bad = resealed(48, &version.to_le_bytes());
        assert_corruption_at(bad, data_end as u64 + 48, "unknown format version");
    }
}
