//! YCSB's zipfian key choosers: a zipfian generator over a growing item count, its
//! "scrambled" form that spreads the hot items over the key space, and "latest",
//! which favours the most recently inserted items.
//!
//! This follows YCSB's `ZipfianGenerator` (Gray et al., "Quickly Generating
//! Billion-Record Synthetic Databases", SIGMOD 1994) with its constant 0.99, and
//! `ScrambledZipfianGenerator`, which draws from a fixed 10^10 items with a
//! precomputed zeta and hashes the result (FNV-1a, 64 bit) into the key space, so that
//! choosing a key costs no per-key setup. What differs: a generator is owned by one
//! thread and takes its random numbers from the caller.

use rand::Rng;

/// YCSB's zipfian constant.
pub const ZIPFIAN_CONSTANT: f64 = 0.99;
/// Items the scrambled generator draws from before hashing, YCSB's `ITEM_COUNT`.
const SCRAMBLED_ITEMS: u64 = 10_000_000_000;
/// zeta(`SCRAMBLED_ITEMS`, 0.99), YCSB's precomputed `ZETAN`.
const SCRAMBLED_ZETAN: f64 = 26.469_028_201_783_02;

/// zeta(n, theta) - zeta(from, theta): the sum of 1/i^theta for i in (from, n].
fn zeta_between(from: u64, n: u64, theta: f64) -> f64 {
    (from + 1..=n).map(|i| 1.0 / (i as f64).powf(theta)).sum()
}

/// Zipfian numbers in `0..items`: item 0 the most popular, item i drawn with
/// probability proportional to 1/(i+1)^0.99. The item count may grow (`grow_to`),
/// which extends zeta incrementally as YCSB does.
#[derive(Debug, Clone)]
pub struct Zipfian {
    items: u64,
    theta: f64,
    alpha: f64,
    zeta2theta: f64,
    zetan: f64,
    eta: f64,
}

impl Zipfian {
    /// A generator over `0..items` (at least one item); computing zeta takes time
    /// linear in `items`, so build it before the clock starts.
    pub fn new(items: u64) -> Self {
        let items = items.max(1);
        Self::with_zeta(items, zeta_between(0, items, ZIPFIAN_CONSTANT))
    }

    /// A generator over `0..items` whose zeta(items) is known to be `zetan`.
    fn with_zeta(items: u64, zetan: f64) -> Self {
        let theta = ZIPFIAN_CONSTANT;
        let mut z = Zipfian {
            items,
            theta,
            alpha: 1.0 / (1.0 - theta),
            zeta2theta: zeta_between(0, 2, theta),
            zetan,
            eta: 0.0,
        };
        z.eta = z.eta_for(items);
        z
    }

    fn eta_for(&self, items: u64) -> f64 {
        (1.0 - (2.0 / items as f64).powf(1.0 - self.theta)) / (1.0 - self.zeta2theta / self.zetan)
    }

    /// The number of items drawn from.
    pub fn items(&self) -> u64 {
        self.items
    }

    /// Extends the items to `0..items`; a smaller count is ignored.
    pub fn grow_to(&mut self, items: u64) {
        if items > self.items {
            self.zetan += zeta_between(self.items, items, self.theta);
            self.items = items;
            self.eta = self.eta_for(items);
        }
    }

    /// The next item, in `0..items`.
    pub fn next<R: Rng>(&self, rng: &mut R) -> u64 {
        let u: f64 = rng.random();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1.min(self.items - 1);
        }
        let v = self.items as f64 * (self.eta * u - self.eta + 1.0).powf(self.alpha);
        // Rounding can land on `items` itself when u is close to 1.
        (v as u64).min(self.items - 1)
    }
}

/// YCSB's 64-bit FNV hash of the eight bytes of `v`, low byte first.
fn fnv_hash64(mut v: u64) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for _ in 0..8 {
        h ^= v & 0xff;
        h = h.wrapping_mul(1_099_511_628_211);
        v >>= 8;
    }
    // YCSB takes Math.abs of the signed hash; the same value as an unsigned one.
    (h as i64).unsigned_abs()
}

/// Zipfian numbers in `0..n` whose popular items are scattered over the range rather
/// than packed at its start, YCSB's `ScrambledZipfianGenerator`.
#[derive(Debug, Clone)]
pub struct ScrambledZipfian {
    n: u64,
    zipf: Zipfian,
}

impl ScrambledZipfian {
    /// A generator over `0..n` (at least one item); cheap to build.
    pub fn new(n: u64) -> Self {
        ScrambledZipfian { n: n.max(1), zipf: Zipfian::with_zeta(SCRAMBLED_ITEMS, SCRAMBLED_ZETAN) }
    }

    /// The next item, in `0..n`.
    pub fn next<R: Rng>(&self, rng: &mut R) -> u64 {
        fnv_hash64(self.zipf.next(rng)) % self.n
    }
}

/// YCSB's `SkewedLatestGenerator`: items counted back from the newest, zipfian in
/// their age, so that recently inserted items are the popular ones.
#[derive(Debug, Clone)]
pub struct Latest {
    zipf: Zipfian,
}

impl Latest {
    /// A generator over `0..items`, item `items - 1` the newest; linear in `items`.
    pub fn new(items: u64) -> Self {
        Latest { zipf: Zipfian::new(items) }
    }

    /// The next item when there are `items` of them (never fewer than at the start).
    pub fn next<R: Rng>(&mut self, items: u64, rng: &mut R) -> u64 {
        self.zipf.grow_to(items);
        let newest = self.zipf.items() - 1;
        newest - self.zipf.next(rng)
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    use super::*;

    const DRAWS: usize = 200_000;

    /// The share of `draws` taken by its most frequent value.
    fn top_share(draws: &[u64]) -> f64 {
        let mut counts = std::collections::HashMap::new();
        for &d in draws {
            *counts.entry(d).or_insert(0u64) += 1;
        }
        *counts.values().max().unwrap() as f64 / draws.len() as f64
    }

    #[test]
    fn item_zero_gets_its_zipfian_share() {
        let z = Zipfian::new(1000);
        let mut rng = SmallRng::seed_from_u64(1);
        let draws: Vec<u64> = (0..DRAWS).map(|_| z.next(&mut rng)).collect();
        let expected = 1.0 / zeta_between(0, 1000, ZIPFIAN_CONSTANT);
        let zeros = draws.iter().filter(|&&d| d == 0).count() as f64 / DRAWS as f64;
        assert!((zeros - expected).abs() < 0.1 * expected, "{zeros} vs {expected}");
        assert!(draws.iter().all(|&d| d < 1000));
    }

    #[test]
    fn scrambled_hot_key_gets_about_one_in_zeta() {
        let z = ScrambledZipfian::new(100_000);
        let mut rng = SmallRng::seed_from_u64(2);
        let draws: Vec<u64> = (0..DRAWS).map(|_| z.next(&mut rng)).collect();
        assert!(draws.iter().all(|&d| d < 100_000));
        // Item 0 of 10^10 has probability 1/zeta = 3.8%; hashing may fold a few
        // colder items onto the same key, so allow a little more.
        let share = top_share(&draws);
        let expected = 1.0 / SCRAMBLED_ZETAN;
        assert!(share > 0.9 * expected && share < 1.3 * expected, "{share} vs {expected}");
        // The hot keys are spread out: the ten hottest are not all at the start.
        assert!(draws.iter().any(|&d| d > 50_000));
    }

    #[test]
    fn latest_favours_the_newest_item() {
        let mut l = Latest::new(1000);
        let mut rng = SmallRng::seed_from_u64(3);
        let draws: Vec<u64> = (0..DRAWS).map(|_| l.next(1000, &mut rng)).collect();
        assert!(draws.iter().all(|&d| d < 1000));
        let newest = draws.iter().filter(|&&d| d == 999).count() as f64 / DRAWS as f64;
        assert!((newest - top_share(&draws)).abs() < 1e-12);
        // After growing, the new newest item is the favourite.
        let draws: Vec<u64> = (0..DRAWS).map(|_| l.next(2000, &mut rng)).collect();
        assert!(draws.iter().all(|&d| d < 2000));
        let newest = draws.iter().filter(|&&d| d == 1999).count() as f64 / DRAWS as f64;
        assert!((newest - top_share(&draws)).abs() < 1e-12);
    }

    #[test]
    fn a_seed_repeats_its_draws() {
        let z = ScrambledZipfian::new(5000);
        let run = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            (0..100).map(|_| z.next(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn incremental_zeta_matches_direct() {
        let mut z = Zipfian::new(100);
        z.grow_to(5000);
        let direct = Zipfian::new(5000);
        assert!((z.zetan - direct.zetan).abs() < 1e-9);
        assert!((z.eta - direct.eta).abs() < 1e-9);
    }
}
