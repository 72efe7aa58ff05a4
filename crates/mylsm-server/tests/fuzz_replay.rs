//! Replays the fuzz corpus of the request decoder (`fuzz/corpus/resp/`) through
//! `mylsm_server::fuzzing::resp`, so stable-Rust CI checks its properties without
//! cargo-fuzz, and a seeded stream of mutations of the seeds besides.

use std::fs;
use std::path::Path;

use mylsm_server::fuzzing;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn corpus() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/resp");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus in {}", dir.display());
    files.iter().map(|f| fs::read(f).unwrap()).collect()
}

#[test]
fn every_corpus_file_replays_without_a_broken_property() {
    for data in corpus() {
        fuzzing::resp(&data);
    }
}

#[test]
fn mutated_seeds_break_no_property() {
    let seeds = corpus();
    let mut rng = SmallRng::seed_from_u64(20);
    for _ in 0..20_000 {
        let mut v = seeds[rng.random_range(0..seeds.len())].clone();
        for _ in 0..rng.random_range(1..6) {
            let at = rng.random_range(0..=v.len());
            match rng.random_range(0..4) {
                0 if at < v.len() => v[at] = rng.random(),
                1 => {
                    v.insert(at, *b"*$\r\n0123456789-\" \\x".get(rng.random_range(0..19)).unwrap())
                }
                2 if at < v.len() => {
                    v.remove(at);
                }
                _ => v.truncate(at.max(2)),
            }
        }
        fuzzing::resp(&v);
    }
}
