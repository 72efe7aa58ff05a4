//! Shared helpers of the behaviour tests: options on `MemFs`, a `BTreeMap` model of
//! write batches, and reading a whole database back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use mylsm::fs::MemFs;
use mylsm::{Db, Options, WriteBatch};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub const DIR: &str = "/db";

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Options that put the database on `fs`.
pub fn options(fs: &MemFs) -> Options {
    Options { fs: Arc::new(fs.clone()), ..Options::default() }
}

/// Options on `fs` with tiny memtables, tables and levels, so a few hundred writes make
/// flushes and compactions run all the time.
pub fn tiny(fs: &MemFs) -> Options {
    Options {
        write_buffer_size: 4 << 10,
        target_file_size: 2 << 10,
        l0_compaction_trigger: 2,
        max_bytes_for_level_base: 8 << 10,
        block_size: 256,
        ..options(fs)
    }
}

pub fn open(fs: &MemFs) -> Db {
    Db::open(Path::new(DIR), options(fs)).expect("open")
}

/// One operation of a batch, kept so the model can replay it.
#[derive(Debug, Clone)]
pub enum Op {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

pub fn apply(model: &mut Model, ops: &[Op]) {
    for op in ops {
        match op {
            Op::Put(k, v) => {
                model.insert(k.clone(), v.clone());
            }
            Op::Delete(k) => {
                model.remove(k);
            }
        }
    }
}

pub fn to_batch(ops: &[Op]) -> WriteBatch {
    let mut b = WriteBatch::new();
    for op in ops {
        match op {
            Op::Put(k, v) => b.put(k, v),
            Op::Delete(k) => b.delete(k),
        }
    }
    b
}

/// A random key from a small key space, so keys are overwritten and deleted often.
pub fn random_key(rng: &mut SmallRng, space: u32) -> Vec<u8> {
    format!("key{:04}", rng.random_range(0..space)).into_bytes()
}

/// A random value; some are long enough to span WAL blocks.
pub fn random_value(rng: &mut SmallRng) -> Vec<u8> {
    let len = if rng.random_bool(0.02) {
        rng.random_range(20_000..70_000)
    } else {
        rng.random_range(0..40)
    };
    (0..len).map(|_| rng.random()).collect()
}

pub fn random_batch(rng: &mut SmallRng, space: u32) -> Vec<Op> {
    let n = if rng.random_bool(0.7) { 1 } else { rng.random_range(2..8) };
    (0..n)
        .map(|_| {
            let k = random_key(rng, space);
            if rng.random_bool(0.25) {
                Op::Delete(k)
            } else {
                Op::Put(k, random_value(rng))
            }
        })
        .collect()
}

pub fn rng(seed: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed)
}

/// Everything the database holds, read with a forward iterator.
pub fn contents(db: &Db) -> Model {
    db.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("iter")).collect()
}

/// The keys on which two states differ, for assertion messages: up to five, each with
/// what each side holds (value lengths, not whole values).
pub fn diff(got: &Model, want: &Model) -> String {
    let keys: std::collections::BTreeSet<&Vec<u8>> = got.keys().chain(want.keys()).collect();
    let show =
        |v: Option<&Vec<u8>>| v.map_or("absent".to_string(), |v| format!("{} bytes", v.len()));
    let rows: Vec<String> = keys
        .into_iter()
        .filter(|k| got.get(*k) != want.get(*k))
        .take(5)
        .map(|k| {
            format!("{}: got {}, want {}", k.escape_ascii(), show(got.get(k)), show(want.get(k)))
        })
        .collect();
    rows.join("; ")
}
