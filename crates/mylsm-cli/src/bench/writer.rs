//! The background writer of `readwhilewriting`: one thread overwriting random
//! existing keys for as long as the readers run, as db_bench's `BGWriter` does.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::Instant;

use mylsm::{Db, WriteBatch, WriteOptions};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::gen::{self, ValueGen, KEY_LEN};
use super::Settings;

/// What the background writer did.
#[derive(Debug, Clone, Copy)]
pub struct WriterStats {
    pub ops: u64,
    /// Bytes of keys and values it put.
    pub bytes: u64,
    pub seconds: f64,
}

impl WriterStats {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.seconds.max(1e-9)
    }
}

/// Overwrites random keys of `0..settings.num` with fresh values (unsynced) until
/// `stop` is set, starting when `barrier` releases the readers too. It writes at
/// least once, so that its rate is never a division of nothing.
pub fn run(
    db: &Db,
    settings: &Settings,
    stop: &AtomicBool,
    barrier: &Barrier,
) -> mylsm::Result<WriterStats> {
    let seed = settings.seed.wrapping_mul(31).wrapping_add(0xb6);
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut values = ValueGen::new(seed, settings.value_size);
    let opts = WriteOptions { sync: false };
    let (mut ops, mut bytes) = (0, 0);
    barrier.wait();
    let start = Instant::now();
    loop {
        let key = gen::key(rng.random_range(0..settings.num.max(1)));
        let value = values.next_value();
        bytes += (KEY_LEN + value.len()) as u64;
        let mut batch = WriteBatch::new();
        batch.put(key, value);
        db.write_opt(batch, &opts)?;
        ops += 1;
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    Ok(WriterStats { ops, bytes, seconds: start.elapsed().as_secs_f64() })
}
