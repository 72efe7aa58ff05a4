//! The benchmark's keys, values and key orders, all reproducible from a seed.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Length of every benchmark key.
pub const KEY_LEN: usize = 16;

/// Key number `i` as 16 zero-padded decimal digits, db_bench's `%016d`, written
/// without allocating because it sits inside the timed loop.
pub fn key(mut i: u64) -> [u8; KEY_LEN] {
    let mut k = [b'0'; KEY_LEN];
    for b in k.iter_mut().rev() {
        *b = b'0' + (i % 10) as u8;
        i /= 10;
    }
    k
}

/// A key that sorts next to key `i` but is never written: db_bench's `readmissing`
/// appends a dot.
pub fn missing_key(i: u64) -> [u8; KEY_LEN + 1] {
    let mut k = [b'.'; KEY_LEN + 1];
    k[..KEY_LEN].copy_from_slice(&key(i));
    k
}

/// The key numbers of a workload, indexed by operation number.
#[derive(Debug, Clone)]
pub enum KeyOrder {
    /// Operation `j` uses key `j`.
    Sequential,
    /// Operation `j` uses key `perm[j]`, a uniformly random permutation of `0..n`.
    Random(Vec<u64>),
}

impl KeyOrder {
    /// A random permutation of the keys `0..n`.
    pub fn random(n: u64, seed: u64) -> Self {
        let mut perm: Vec<u64> = (0..n).collect();
        perm.shuffle(&mut SmallRng::seed_from_u64(seed));
        KeyOrder::Random(perm)
    }

    /// The key number of operation `j`.
    pub fn at(&self, j: u64) -> u64 {
        match self {
            KeyOrder::Sequential => j,
            KeyOrder::Random(perm) => perm[j as usize],
        }
    }
}

/// Size of the pool values are cut from, db_bench's: big enough that values do not
/// repeat within a block-sized window, small enough to stay in cache.
const POOL_BYTES: usize = 1 << 20;

/// Values in the manner of db_bench's `RandomGenerator`: slices of a pool made of
/// 100-byte pieces, each a random 50-byte printable string repeated, so that the data
/// compresses to about half its size.
#[derive(Debug)]
pub struct ValueGen {
    pool: Vec<u8>,
    pos: usize,
    len: usize,
}

impl ValueGen {
    /// A generator of `len`-byte values.
    pub fn new(seed: u64, len: usize) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let size = POOL_BYTES.max(len);
        let mut pool = Vec::with_capacity(size + 100);
        while pool.len() < size {
            let raw: Vec<u8> = (0..50).map(|_| rng.random_range(b' '..=b'~')).collect();
            pool.extend_from_slice(&raw);
            pool.extend_from_slice(&raw);
        }
        ValueGen { pool, pos: 0, len }
    }

    /// The next value.
    pub fn next_value(&mut self) -> &[u8] {
        if self.pos + self.len > self.pool.len() {
            self.pos = 0;
        }
        self.pos += self.len;
        &self.pool[self.pos - self.len..self.pos]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_db_bench() {
        assert_eq!(&key(42), format!("{:016}", 42).as_bytes());
        assert_eq!(&key(9_999_999_999_999_999), b"9999999999999999");
        assert_eq!(&missing_key(7), b"0000000000000007.");
    }

    #[test]
    fn random_order_is_a_reproducible_permutation() {
        let a = KeyOrder::random(1000, 1);
        let mut seen: Vec<u64> = (0..1000).map(|j| a.at(j)).collect();
        assert_eq!(seen, (0..1000).map(|j| KeyOrder::random(1000, 1).at(j)).collect::<Vec<_>>());
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn values_have_the_requested_size() {
        let mut g = ValueGen::new(3, 100);
        assert_eq!(g.next_value().len(), 100);
        let mut big = ValueGen::new(3, 3 << 20);
        assert_eq!(big.next_value().len(), 3 << 20);
        assert_eq!(big.next_value().len(), 3 << 20);
    }
}
