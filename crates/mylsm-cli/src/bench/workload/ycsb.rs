//! The YCSB mixes (A–F) as a thread runs them: each operation's kind drawn with the
//! mix's shares, its key zipfian (scrambled) or, for D, skewed to the latest insert.

use std::sync::atomic::Ordering;
use std::time::Instant;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Thread, Workload, YCSB_MAX_SCAN};
use crate::engine::Engine;
use crate::report::OpKind;
use crate::zipf::ScrambledZipfian;

impl Thread<'_> {
    /// `ops` operations of a YCSB mix (or until the time is up), each of a kind drawn
    /// with the mix's shares, on a key drawn zipfian (scrambled) or, for workload D,
    /// skewed towards the latest insert.
    pub(super) fn ycsb<E: Engine>(
        &mut self,
        engine: &E,
        workload: Workload,
        ops: u64,
    ) -> Result<(), E::Error> {
        let keys = self.settings.keys;
        let sync = self.settings.sync;
        let mix = workload.ycsb_mix();
        let mut rng = SmallRng::seed_from_u64(self.seed ^ ((workload as u64) << 32));
        let zipf = ScrambledZipfian::new(self.settings.num);
        for _ in 0..ops {
            if self.expired() {
                break;
            }
            let mut p: f64 = rng.random();
            let kind = mix
                .iter()
                .find(|&&(_, share)| {
                    p -= share;
                    p < 0.0
                })
                .map_or(mix[mix.len() - 1].0, |&(k, _)| k);
            // Inserts take a new key; the rest choose among the keys there are.
            let i = match (kind, &mut self.latest) {
                (OpKind::Insert, _) => self.inserted.fetch_add(1, Ordering::Relaxed),
                (_, Some(latest)) => latest.next(self.inserted.load(Ordering::Relaxed), &mut rng),
                (_, None) => zipf.next(&mut rng),
            };
            let key = keys.key(i);
            let key = key.as_bytes();
            let start = Instant::now();
            let mut bytes = 0;
            match kind {
                OpKind::Read | OpKind::ReadModifyWrite => {
                    let value = engine.get(key)?;
                    if let Some(n) = value {
                        bytes += key.len() + n;
                        self.rec.found();
                    }
                    if kind == OpKind::ReadModifyWrite {
                        bytes += self.put(engine, key, sync)?;
                    }
                }
                OpKind::Update | OpKind::Insert => bytes += self.put(engine, key, sync)?,
                OpKind::Scan => {
                    let len = rng.random_range(1..=YCSB_MAX_SCAN);
                    engine.seek(key, len, &mut |k, v| bytes += k.len() + v.len())?;
                }
            }
            self.rec.record(start, 1, bytes);
            self.rec.kind(kind);
        }
        Ok(())
    }
}
