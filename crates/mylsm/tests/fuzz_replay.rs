//! Replays the committed fuzz corpus and a seeded stream of random and mutated inputs
//! through `mylsm::fuzzing`, so stable-Rust CI checks every decoder without cargo-fuzz.
//!
//! `MYLSM_WRITE_SEEDS=1 cargo test -p mylsm --test fuzz_replay write_seed_corpus --
//! --ignored` rewrites the `seed-*` files of `fuzz/corpus/` from the engine's encoders.

use std::fs;
use std::path::{Path, PathBuf};

use mylsm::fuzzing;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_corpus_file_replays_without_a_broken_property() {
    let mut total = 0;
    for target in fuzzing::TARGETS {
        let dir = corpus_dir().join(target);
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no corpus for {target}");
        for f in files {
            let data = fs::read(&f).unwrap();
            eprintln!("{}", f.display());
            assert!(fuzzing::run(target, &data));
            total += 1;
        }
    }
    eprintln!("replayed {total} corpus files");
}

/// Random bytes, and seeds with a few bytes flipped, inserted, removed or truncated.
fn mutate(rng: &mut SmallRng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.random_range(1..5) {
        let at = if v.is_empty() { 0 } else { rng.random_range(0..v.len()) };
        match rng.random_range(0..5) {
            0 if !v.is_empty() => v[at] ^= 1 << rng.random_range(0..8),
            1 if !v.is_empty() => v[at] = rng.random(),
            2 => v.insert(at, rng.random()),
            3 if !v.is_empty() => {
                v.remove(at);
            }
            _ => v.truncate(at.max(1)),
        }
    }
    v
}

#[test]
fn random_and_mutated_inputs_break_no_property() {
    let seeds = fuzzing::seeds();
    // `MYLSM_FUZZ_SCALE=K` runs K times as many inputs (a longer run by hand), and
    // `MYLSM_FUZZ_SEED` another sequence of them.
    let env = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
    };
    let (scale, base_seed) = (env("MYLSM_FUZZ_SCALE", 1) as usize, env("MYLSM_FUZZ_SEED", 0x5eed));
    // Per target: random inputs, then mutated seeds. The whole-database target costs
    // far more per input than the decoders, so it gets fewer.
    for target in fuzzing::TARGETS {
        let n = scale * if target == "db_ops" { 100 } else { 5000 };
        let mine: Vec<&Vec<u8>> =
            seeds.iter().filter(|(t, _)| *t == target).map(|(_, s)| s).collect();
        assert!(!mine.is_empty(), "no seeds for {target}");
        let mut rng = SmallRng::seed_from_u64(base_seed ^ target.len() as u64);
        for i in 0..n {
            let input = if i % 3 == 0 {
                let len = rng.random_range(0..600);
                (0..len).map(|_| rng.random()).collect()
            } else {
                mutate(&mut rng, mine[i % mine.len()])
            };
            let ok = std::panic::catch_unwind(|| fuzzing::run(target, &input));
            if ok.is_err() {
                let path = std::env::temp_dir().join(format!("mylsm-fuzz-{target}-{i}"));
                fs::write(&path, &input).unwrap();
                panic!("{target}: input {i} broke a property; saved to {}", path.display());
            }
        }
    }
}

#[test]
#[ignore = "rewrites the seed corpus; run by hand after a format change"]
fn write_seed_corpus() {
    if std::env::var_os("MYLSM_WRITE_SEEDS").is_none() {
        return;
    }
    for (i, (target, data)) in fuzzing::seeds().into_iter().enumerate() {
        let dir = corpus_dir().join(target);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(format!("seed-{i:03}")), data).unwrap();
    }
}

/// Found by `fuzz/run batch`: the batch target rebuilt a decoded batch without the
/// records' keyspace ids, so a keyspace-tagged record re-encoded differently.
#[test]
fn a_keyspace_tagged_batch_record_survives_the_batch_target() {
    let input = [4u8, 0, 42, 0, 212, 250, 0, 0, 1, 0, 0, 0, 128, 1, 0];
    fuzzing::run("batch", &input);
}
