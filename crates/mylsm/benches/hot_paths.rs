//! Criterion benchmarks of the engine's hot paths: below the `Db` API the seek inside a
//! data block, the backward walk through one, the bloom filter probe and the append of a
//! record to the write-ahead log; through it the short range scan (a seek and ten nexts)
//! and the reverse scan of a small tree.
//!
//! Entries have db_bench's shape: a 16-byte key, the number `i` as 16 decimal digits, and
//! a 100-byte value; a log record is 116 bytes, one such key and value. The internals are
//! reached through `mylsm::bench_hooks`, which forwards to the engine's own types.
//!
//! Run with `cargo bench -p mylsm --bench hot_paths`; the times are short so that the
//! whole suite stays quick, and criterion's `--measurement-time` overrides them.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mylsm::bench_hooks::{lookup_key, BloomFilter, DataBlockBuilder, LogWriter};
use mylsm::fs::{FileSystem, MemFs};
use mylsm::{Db, Options};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

const VALUE_LEN: usize = 100;
const RECORD_LEN: usize = 116;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0; 16];
    k.copy_from_slice(format!("{i:016}").as_bytes());
    k
}

/// Seeks to keys of a full 4 KiB block, in a random order: the last step of a table's
/// point lookup, after the bloom filter and the index. Each seek opens a fresh cursor,
/// as `Table::get` does; the time is per seek.
fn block_seek(c: &mut Criterion) {
    // Consecutive keys, as a block of a densely filled table holds, from some way into
    // the key space so that they share a long prefix as real ones do.
    let mut builder = DataBlockBuilder::new();
    let mut user_keys = Vec::new();
    for (seqno, i) in (1..).zip(500_000..) {
        if builder.is_full() {
            break;
        }
        let k = key(i);
        builder.add_put(&k, seqno, &[b'v'; VALUE_LEN]);
        user_keys.push(k);
    }
    let block_len = builder.size_estimate();
    let block = builder.finish();
    // A snapshot newer than every entry, so each seek lands on its key's only version.
    let mut targets: Vec<Vec<u8>> = user_keys.iter().map(|k| lookup_key(k, 1 << 40)).collect();
    targets.shuffle(&mut SmallRng::seed_from_u64(3));

    let mut group = c.benchmark_group("block");
    group.throughput(Throughput::Elements(1));
    let name = format!("point_seek_{}_entries_{block_len}_bytes", user_keys.len());
    group.bench_function(name, |b| {
        let mut next = targets.iter().cycle();
        b.iter(|| {
            let target = next.next().expect("a cycle never ends");
            assert!(block.point_seek(black_box(target)));
        });
    });
    group.finish();
}

/// Walks a full 4 KiB block from its last entry to its first: what a reverse scan pays
/// per entry inside a block. The time is per entry.
fn block_scan_backward(c: &mut Criterion) {
    let mut builder = DataBlockBuilder::new();
    let mut entries = 0;
    for (seqno, i) in (1..).zip(500_000..) {
        if builder.is_full() {
            break;
        }
        builder.add_put(&key(i), seqno, &[b'v'; VALUE_LEN]);
        entries += 1;
    }
    let block = builder.finish();
    let mut group = c.benchmark_group("block");
    group.throughput(Throughput::Elements(entries));
    group.bench_function(format!("scan_backward_{entries}_entries"), |b| {
        b.iter(|| assert_eq!(block.scan_backward(), entries));
    });
    group.finish();
}

/// Keys in a small tree on `MemFs`: a compacted run, newer tables over part of it and a
/// memtable over part of that, as a database that has been written for a while has.
const TREE_KEYS: u64 = 100_000;

/// A database holding keys `0..TREE_KEYS` (random order), with a fifth of them
/// rewritten into level-0 tables and a twentieth rewritten again in the memtable, with a
/// block cache of `cache_bytes`.
fn small_tree(cache_bytes: usize) -> Db {
    let options = Options {
        fs: std::sync::Arc::new(MemFs::new()),
        write_buffer_size: 2 << 20,
        block_cache_bytes: cache_bytes,
        ..Options::default()
    };
    let db = Db::open("/bench-tree", options).expect("MemFs opens a database");
    let mut rng = SmallRng::seed_from_u64(5);
    let value = [b'v'; VALUE_LEN];
    let mut order: Vec<u64> = (0..TREE_KEYS).collect();
    order.shuffle(&mut rng);
    for &i in &order {
        db.put(key(i), value).expect("MemFs writes");
    }
    db.flush().expect("MemFs flushes");
    db.compact_range::<&[u8], _>(..).expect("MemFs compacts");
    for _ in 0..TREE_KEYS / 5 {
        db.put(key(rng.random_range(0..TREE_KEYS)), value).expect("MemFs writes");
    }
    db.flush().expect("MemFs flushes");
    for _ in 0..TREE_KEYS / 20 {
        db.put(key(rng.random_range(0..TREE_KEYS)), value).expect("MemFs writes");
    }
    db
}

/// Through the `Db` API on a small tree: db_bench's `seekrandom` (a new iterator, a seek
/// to a random key, ten entries read; the time is per seek), with every block cached and
/// with a 1 MiB block cache (most blocks read from the file and decompressed, as in a
/// tree much larger than its cache), and `readreverse` (the whole tree backwards; the
/// time is per entry).
fn db_scans(c: &mut Criterion) {
    let db = small_tree(64 << 20);
    let cold = small_tree(1 << 20);
    let mut group = c.benchmark_group("db");
    group.throughput(Throughput::Elements(1));
    for (name, db) in [("seek_then_10_next", &db), ("seek_then_10_next_1mib_cache", &cold)] {
        group.bench_function(name, |b| {
            let mut rng = SmallRng::seed_from_u64(6);
            b.iter(|| {
                let mut it = db.iter();
                it.seek(key(rng.random_range(0..TREE_KEYS)));
                let n = it.take(10).map(|e| e.expect("MemFs reads").1.len()).sum::<usize>();
                black_box(n)
            });
        });
    }
    group.throughput(Throughput::Elements(TREE_KEYS));
    group.bench_function(format!("reverse_scan_{TREE_KEYS}_keys"), |b| {
        b.iter(|| {
            let mut n = 0;
            for entry in db.iter().rev() {
                black_box(entry.expect("MemFs reads"));
                n += 1;
            }
            assert_eq!(n, TREE_KEYS);
        });
    });
    group.finish();
}

/// Probes a filter of 10,000 keys at 10 bits per key (the default) with keys it holds and
/// keys it does not, in a random order: what a point lookup pays per table before it
/// reads any block. The time is per probe.
fn bloom_probe(c: &mut Criterion) {
    const KEYS: u64 = 10_000;
    let mut rng = SmallRng::seed_from_u64(4);
    let mut present: Vec<[u8; 16]> = (0..KEYS).map(key).collect();
    let mut absent: Vec<[u8; 16]> = (KEYS..2 * KEYS).map(key).collect();
    let filter = BloomFilter::build(present.iter().map(|k| &k[..]), 10);
    present.shuffle(&mut rng);
    absent.shuffle(&mut rng);

    let mut group = c.benchmark_group("bloom");
    group.throughput(Throughput::Elements(1));
    group.bench_function("probe_present_of_10k_at_10_bits", |b| {
        let mut next = present.iter().cycle();
        b.iter(|| {
            let k = next.next().expect("a cycle never ends");
            assert!(filter.may_contain(black_box(k)));
        });
    });
    // About 1% of these are false positives, as in a real lookup of absent keys.
    group.bench_function("probe_absent_of_10k_at_10_bits", |b| {
        let mut next = absent.iter().cycle();
        b.iter(|| filter.may_contain(black_box(next.next().expect("a cycle never ends"))));
    });
    group.finish();
}

/// Appends 116-byte records to a log on `MemFs`, without syncing: the framing, the
/// CRC32C and the append, which a write pays before its fsync. The time is per record.
fn wal_append(c: &mut Criterion) {
    // The log is cut over to a fresh file every `ROLL` records, outside the timing, so
    // that a long run does not grow one in-memory file without bound.
    const ROLL: u64 = 8192;
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/bench")).expect("MemFs creates a directory");
    let path = Path::new("/bench/000003.log");
    let record: Vec<u8> = (0..RECORD_LEN).map(|i| (i * 7) as u8).collect();

    let mut group = c.benchmark_group("wal");
    group.throughput(Throughput::Bytes(RECORD_LEN as u64));
    group.bench_function("append_116_byte_record_no_sync", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(ROLL);
                let mut log = LogWriter::new(fs.create(path).expect("MemFs creates a file"));
                let start = Instant::now();
                for _ in 0..n {
                    log.add_record(black_box(&record)).expect("MemFs appends");
                }
                elapsed += start.elapsed();
                left -= n;
            }
            elapsed
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = block_seek, block_scan_backward, bloom_probe, wal_append, db_scans
}
criterion_main!(benches);
