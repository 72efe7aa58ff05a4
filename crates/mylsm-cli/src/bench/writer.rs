//! The background writer of `readwhilewriting`: one thread overwriting random
//! existing keys for as long as the readers run, as db_bench's `BGWriter` does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::engine::{Engine, Entry};
use crate::gen::ValueGen;
use crate::workload::Settings;

/// What the background writer did.
#[derive(Debug, Clone, Copy)]
pub struct WriterStats {
    pub ops: u64,
    /// Bytes of keys and values it put.
    pub bytes: u64,
    pub seconds: f64,
}

impl WriterStats {
    /// Writes per second.
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }
}

/// Overwrites random keys of `0..settings.num` with fresh values (synced only under
/// `--sync`) until `stop` is set, starting when `barrier` releases the readers too. It
/// writes at least once, so that its rate is never a division of nothing.
pub fn run<E: Engine>(
    engine: &E,
    settings: &Settings,
    stop: &AtomicBool,
    barrier: &Barrier,
) -> Result<WriterStats, E::Error> {
    let seed = settings.seed.wrapping_mul(31).wrapping_add(0xb6);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut values = ValueGen::new(seed, settings.value_size);
    let (mut ops, mut bytes) = (0, 0);
    barrier.wait();
    let start = Instant::now();
    loop {
        let key = settings.keys.key(rng.random_range(0..settings.num.max(1)));
        let value = values.next_value();
        bytes += (key.as_bytes().len() + value.len()) as u64;
        engine.write(&[Entry { key: key.as_bytes(), value: Some(value) }], settings.sync)?;
        ops += 1;
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(WriterStats { ops, bytes, seconds: start.elapsed().as_secs_f64() })
}
