//! Table tests: round trips over block sizes, restart intervals, compressions and key
//! shapes; point lookups against a model; properties, block listing, cache and filter.

use std::cmp::Ordering;
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::test_util::{build_table, ikey, open_table, open_table_with_cache, table_path, VecFile};
use super::{Compression, TableBuilder, TableOptions};
use crate::cache::BlockCache;
use crate::fs::WritableFile;
use crate::iter::conformance::{check_iterator, random_entries, Entries, KeyShape, ALL_SHAPES};
use crate::iter::InternalIterator;
use crate::key::{self, InternalKeyComparator, Kind, MAX_SEQNO};

const BLOCK_SIZES: [usize; 4] = [64, 512, 4096, 64 << 10];
const RESTART_INTERVALS: [usize; 4] = [1, 2, 16, 100];
const COMPRESSIONS: [Compression; 3] = [Compression::None, Compression::Lz4, Compression::Zstd];

/// What `Table::get` must answer: the first entry at or after `lookup` if it has the
/// lookup's user key.
fn model_get<'a>(entries: &'a Entries, lookup: &[u8]) -> Option<&'a (Vec<u8>, Vec<u8>)> {
    let i = entries
        .partition_point(|(k, _)| InternalKeyComparator.compare(k, lookup) == Ordering::Less);
    entries.get(i).filter(|(k, _)| key::user_key(k) == key::user_key(lookup))
}

fn check_gets(table: &super::Table, entries: &Entries) {
    let mut lookups: Vec<Vec<u8>> = Vec::new();
    for (k, _) in entries {
        let uk = key::user_key(k);
        lookups.push(k.clone());
        lookups.push(key::lookup_key(uk, MAX_SEQNO));
        lookups.push(key::lookup_key(uk, 0));
        // Between two versions of the key, which may lie in different blocks.
        let seqno = key::parse_internal_key(k).map_or(0, |p| p.seqno);
        lookups.push(key::lookup_key(uk, seqno.saturating_sub(1)));
        let mut absent = uk.to_vec();
        absent.push(0x5a);
        lookups.push(key::lookup_key(&absent, MAX_SEQNO));
    }
    lookups.push(key::lookup_key(b"", MAX_SEQNO));
    lookups.push(key::lookup_key(&[0xff; 40], MAX_SEQNO));
    for lookup in &lookups {
        let got = table.get(lookup).unwrap();
        let want = model_get(entries, lookup);
        match (got, want) {
            (None, None) => {}
            (Some((k, v)), Some((wk, wv))) => {
                assert_eq!(&k, wk);
                assert_eq!(&*v, &wv[..]);
            }
            (got, want) => panic!("get({lookup:?}): got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn tables_round_trip_over_block_sizes_restarts_compressions_and_key_shapes() {
    let mut case = 0u64;
    for block_size in BLOCK_SIZES {
        for restart_interval in RESTART_INTERVALS {
            for compression in COMPRESSIONS {
                let shape = ALL_SHAPES[case as usize % ALL_SHAPES.len()];
                let entries = random_entries(shape, 150, case);
                let opts = TableOptions {
                    block_size,
                    restart_interval,
                    compression,
                    ..TableOptions::default()
                };
                let (bytes, props) = build_table(&entries, opts);
                assert_eq!(props.num_entries, entries.len() as u64);
                let table = open_table(bytes, 1 << 20).unwrap();
                check_iterator(&entries, &|| Box::new(table.iter()), case);
                check_gets(&table, &entries);
                table.verify().unwrap();
                case += 1;
            }
        }
    }
}

#[test]
fn an_empty_table_opens_iterates_and_verifies() {
    let (bytes, props) = build_table(&[], TableOptions::default());
    assert_eq!((props.num_entries, props.num_data_blocks), (0, 0));
    let table = open_table(bytes, 0).unwrap();
    check_iterator(&[], &|| Box::new(table.iter()), 5);
    assert_eq!(table.get(&key::lookup_key(b"a", 1)).unwrap(), None);
    table.verify().unwrap();
    assert!(table.blocks().unwrap().is_empty());
}

#[test]
fn properties_describe_the_table() {
    let entries = random_entries(KeyShape::ManyVersions, 500, 77);
    let (bytes, props) = build_table(&entries, TableOptions::default());
    let table = open_table(bytes.clone(), 0).unwrap();
    let p = table.properties();
    assert_eq!(p, &props);
    assert_eq!(p.num_entries, 500);
    let deletes = entries.iter().filter(|(k, _)| k[k.len() - 8] == Kind::Delete as u8).count();
    assert_eq!((p.num_deletes, p.num_puts), (deletes as u64, 500 - deletes as u64));
    assert_eq!((&p.smallest_key, &p.largest_key), (&entries[0].0, &entries[499].0));
    assert_eq!((p.smallest_seqno, p.largest_seqno), (1, 500));
    let raw_keys: usize = entries.iter().map(|(k, _)| k.len()).sum();
    let raw_values: usize = entries.iter().map(|(_, v)| v.len()).sum();
    assert_eq!((p.raw_key_bytes, p.raw_value_bytes), (raw_keys as u64, raw_values as u64));
    assert_eq!(p.compression, Compression::Lz4);
    let blocks: Vec<super::BlockInfo> = table.blocks().unwrap();
    assert_eq!(blocks.len() as u64, p.num_data_blocks);
    assert_eq!(blocks.iter().map(|b| b.entries).sum::<u64>(), 500);
    assert_eq!(blocks.iter().map(|b| b.size + 5).sum::<u64>(), p.data_size);
    assert_eq!(blocks[0].first_key, entries[0].0);
    assert_eq!(blocks.last().unwrap().last_key, entries[499].0);
    let filter: super::FilterInfo = table.filter_info().unwrap();
    assert_eq!((filter.size, filter.num_probes), (p.filter_size, 6));
    assert_eq!(filter.num_lines * 64 + 2, filter.size);
    let total = p.data_size + p.filter_size + p.index_size + 3 * 5 + 64;
    assert!(total < bytes.len() as u64 && bytes.len() as u64 - total < 200, "properties block");
}

#[test]
fn compressible_data_is_compressed_and_incompressible_data_is_not() {
    let compressible: Vec<_> = (0..2000u32)
        .map(|i| (ikey(format!("key{i:06}").as_bytes(), 1, Kind::Put), vec![b'x'; 100]))
        .collect();
    for codec in [Compression::Lz4, Compression::Zstd] {
        let opts = TableOptions { compression: codec, ..TableOptions::default() };
        let (bytes, props) = build_table(&compressible, opts);
        assert!(props.data_size * 4 < props.raw_key_bytes + props.raw_value_bytes);
        let table = open_table(bytes, 0).unwrap();
        assert!(table.blocks().unwrap().iter().all(|b| b.compression == codec));
        check_gets(&table, &compressible);
    }
    let mut x = 1u64;
    let noise: Vec<_> = (0..200u32)
        .map(|i| {
            let v = (0..100)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (x >> 56) as u8
                })
                .collect();
            (ikey(&i.to_be_bytes(), 1, Kind::Put), v)
        })
        .collect();
    let (bytes, _) = build_table(&noise, TableOptions::default());
    let table = open_table(bytes, 0).unwrap();
    assert!(table.blocks().unwrap().iter().all(|b| b.compression == Compression::None));
}

#[test]
fn the_block_cache_serves_repeated_reads_within_its_budget() {
    let entries = random_entries(KeyShape::Binary, 3000, 8);
    let (bytes, _) = build_table(&entries, TableOptions::default());
    let cache = Arc::new(BlockCache::new(16 << 10));
    let table = open_table_with_cache(bytes, Arc::clone(&cache)).unwrap();
    let probe = &entries[1234].0;
    table.get(probe).unwrap().unwrap();
    let (hits, misses) = (cache.hits(), cache.misses());
    assert_eq!((hits, misses), (0, 1));
    table.get(probe).unwrap().unwrap();
    assert_eq!((cache.hits(), cache.misses()), (1, 1));
    let mut it = table.iter();
    it.seek_to_first();
    while it.valid() {
        it.next();
        assert!(cache.usage() <= cache.capacity());
    }
    it.status().unwrap();
    assert!(cache.usage() > 0);
}

#[test]
fn the_filter_spares_data_block_reads_for_absent_keys() {
    let entries: Vec<_> =
        (0..5000u32).map(|i| (ikey(&(2 * i).to_be_bytes(), 1, Kind::Put), vec![1])).collect();
    for (bits, max_reads) in [(10, 150), (0, 5000)] {
        let opts = TableOptions { bloom_bits_per_key: bits, ..TableOptions::default() };
        let (bytes, props) = build_table(&entries, opts);
        assert_eq!(props.filter_size == 0, bits == 0);
        let cache = Arc::new(BlockCache::new(0));
        let table = open_table_with_cache(bytes, Arc::clone(&cache)).unwrap();
        assert_eq!(table.filter_info().is_none(), bits == 0);
        for i in 0..5000u32 {
            assert_eq!(table.get(&key::lookup_key(&(2 * i + 1).to_be_bytes(), 9)).unwrap(), None);
        }
        let reads = cache.misses();
        assert!(reads <= max_reads, "{bits} bits/key: {reads} data block reads");
        assert!(table.get(&key::lookup_key(&8u32.to_be_bytes(), 9)).unwrap().is_some());
    }
}

#[test]
fn an_iterator_keeps_its_table_open() {
    let entries = random_entries(KeyShape::Binary, 100, 2);
    let (bytes, _) = build_table(&entries, TableOptions::default());
    let table = open_table(bytes, 0).unwrap();
    assert_eq!((table.path(), table.file_number()), (table_path().as_path(), 42));
    let mut it = table.iter();
    drop(table);
    it.seek_to_first();
    assert_eq!(it.key(), &entries[0].0[..]);
}

#[test]
fn the_size_estimate_tracks_the_file_as_it_grows() {
    for compression in COMPRESSIONS {
        let out = VecFile::default();
        let opts = TableOptions { compression, ..TableOptions::default() };
        let mut b = TableBuilder::new(Box::new(out.clone()), table_path(), opts);
        assert_eq!(b.file_size_estimate(), 0);
        let mut last = 0;
        for (i, (k, v)) in random_entries(KeyShape::LargeValues, 300, 6).iter().enumerate() {
            b.add(k, v).unwrap();
            let now = b.file_size_estimate();
            // Uncompressed, the estimate only grows; compressed, a block shrinks as it
            // is written, but never below what is on disk.
            if compression == Compression::None {
                assert!(now > last, "entry {i}");
            }
            assert!(now >= out.len(), "entry {i}");
            last = now;
        }
        assert_eq!(b.num_entries(), 300);
        assert_eq!(b.path(), table_path());
        let props = b.finish().unwrap();
        assert!(last >= props.data_size);
        assert!(out.len() >= last);
    }
}

#[test]
fn the_builder_refuses_keys_that_are_not_internal_keys_and_stays_failed() {
    let mut b =
        TableBuilder::new(Box::new(VecFile::default()), table_path(), TableOptions::default());
    let err = b.add(b"short", b"v").unwrap_err();
    assert!(matches!(err, crate::Error::InvalidArgument(_)), "{err}");
    assert!(b.add(&ikey(b"a", 1, Kind::Put), b"v").is_err());
    assert!(b.finish().is_err());
    let abandoned =
        TableBuilder::new(Box::new(VecFile::default()), table_path(), TableOptions::default());
    abandoned.abandon();
}

#[test]
fn index_separators_are_short_for_long_keys() {
    // User keys are 4 bytes of number and a 300-byte tail; the separator between two
    // blocks needs only the bytes up to where the numbers differ.
    let entries: Vec<_> = (0..400u32)
        .map(|i| {
            let mut k = (i * 1000).to_be_bytes().to_vec();
            k.extend_from_slice(&[b'z'; 300]);
            (ikey(&k, 1, Kind::Put), vec![0; 50])
        })
        .collect();
    let (bytes, props) = build_table(&entries, TableOptions::default());
    assert!(props.num_data_blocks > 20);
    let table = open_table(bytes, 0).unwrap();
    let mut index = table.index_iter();
    index.seek_to_first();
    let (mut short, mut total) = (0, 0);
    while index.valid() {
        total += 1;
        short += u64::from(key::user_key(index.key()).len() <= 4);
        index.next();
    }
    assert_eq!(total, props.num_data_blocks);
    assert!(short * 10 >= total * 9, "{short} of {total} separators are short");
}
