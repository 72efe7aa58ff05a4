//! Criterion benchmarks of the skip list's two hot paths: inserting into a fresh list and
//! looking up keys it holds.
//!
//! Keys and values have db_bench's shape: a 16-byte key, the number `i` as 16 decimal
//! digits, and a 100-byte value. `SkipList` has no `get`; a lookup is what the memtable
//! does, a seek followed by a comparison of the key it landed on.
//!
//! Run with `cargo bench -p mylsm-skiplist --bench skiplist`; the times are short so that
//! the whole suite stays quick, and criterion's `--measurement-time` overrides them.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use mylsm_skiplist::{BytewiseComparator, SkipList};
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

/// Entries per list, in both benchmarks: about 12 MiB of keys and values, enough that a
/// lookup misses the caches as it would in a full memtable.
const ENTRIES: usize = 100_000;
const VALUE_LEN: usize = 100;

/// The keys `0..n` as 16-digit decimal strings, in a random (but fixed) order.
fn shuffled_keys(n: usize, seed: u64) -> Vec<[u8; 16]> {
    let mut keys: Vec<[u8; 16]> = (0..n).map(key).collect();
    keys.shuffle(&mut SmallRng::seed_from_u64(seed));
    keys
}

fn key(i: usize) -> [u8; 16] {
    let mut k = [0; 16];
    k.copy_from_slice(format!("{i:016}").as_bytes());
    k
}

/// The value stored under `key`, if any: the memtable's point lookup.
fn get<'a>(list: &'a SkipList<BytewiseComparator>, key: &[u8]) -> Option<&'a [u8]> {
    let mut it = list.iter();
    it.seek(key);
    (it.valid() && it.key() == key).then(|| it.value())
}

/// Inserts `ENTRIES` keys into an empty list, in random order and in key order (the
/// shape of fillseq, fillbatch and a bulk load); the time is per insert. Creating and
/// dropping the list are outside the measurement.
fn insert(c: &mut Criterion) {
    let random = shuffled_keys(ENTRIES, 1);
    let sequential: Vec<[u8; 16]> = (0..ENTRIES).map(key).collect();
    let value = [b'v'; VALUE_LEN];
    let mut group = c.benchmark_group("skiplist");
    // One iteration is a whole list (tens of milliseconds), so take few samples.
    group.sample_size(10).measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(ENTRIES as u64));
    for (name, keys) in [("insert_random_100k", &random), ("insert_sequential_100k", &sequential)] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || SkipList::new(BytewiseComparator),
                |list| {
                    for k in keys {
                        list.insert(black_box(k), &value);
                    }
                    list
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
}

/// Looks up keys of a `ENTRIES`-entry list in a random order unrelated to the order they
/// were inserted in; the time is per lookup.
fn get_existing(c: &mut Criterion) {
    let list = SkipList::new(BytewiseComparator);
    for k in shuffled_keys(ENTRIES, 1) {
        assert!(list.insert(&k, &[b'v'; VALUE_LEN]));
    }
    let probes = shuffled_keys(ENTRIES, 2);
    let mut group = c.benchmark_group("skiplist");
    group.throughput(Throughput::Elements(1));
    group.bench_function("get_existing_of_100k", |b| {
        let mut next = probes.iter().cycle();
        b.iter(|| {
            let k = next.next().expect("a cycle never ends");
            get(&list, black_box(k)).expect("every probe is in the list")
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = insert, get_existing
}
criterion_main!(benches);
