//! The benchmark's keys, values and key orders, all reproducible from a seed.

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// The default key length, db_bench's.
pub const KEY_LEN: usize = 16;
/// The longest key `--key-size` accepts; keys are built on the stack.
pub const MAX_KEY_LEN: usize = 1024;

/// Keys of one fixed length: key number `i` as zero-padded decimal digits, db_bench's
/// `%016d` at the default length, so that key order is number order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyFormat {
    len: usize,
}

/// A key built on the stack, since keys are made inside the timed loop; one byte of
/// room is kept for `readmissing`'s suffix.
#[derive(Debug, Clone, Copy)]
pub struct KeyBuf {
    bytes: [u8; MAX_KEY_LEN + 1],
    len: usize,
}

impl KeyBuf {
    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl KeyFormat {
    /// Keys of `len` bytes that can number `count` distinct keys, or why not.
    pub fn new(len: usize, count: u64) -> Result<Self, String> {
        if len == 0 || len > MAX_KEY_LEN {
            return Err(format!("key size {len} is not in 1..={MAX_KEY_LEN}"));
        }
        // Largest key number is count - 1; it must fit in `len` decimal digits.
        let digits = count.saturating_sub(1).checked_ilog10().map_or(1, |d| d as usize + 1);
        if digits > len {
            return Err(format!("{len}-byte keys cannot number {count} keys"));
        }
        Ok(KeyFormat { len })
    }

    /// Bytes per key.
    pub fn key_len(&self) -> usize {
        self.len
    }

    /// Key number `i`.
    pub fn key(&self, mut i: u64) -> KeyBuf {
        let mut k = KeyBuf { bytes: [b'0'; MAX_KEY_LEN + 1], len: self.len };
        for b in k.bytes[..self.len].iter_mut().rev() {
            if i == 0 {
                break;
            }
            *b = b'0' + (i % 10) as u8;
            i /= 10;
        }
        k
    }

    /// A key that sorts next to key `i` but is never written: db_bench's `readmissing`
    /// appends a dot.
    pub fn missing_key(&self, i: u64) -> KeyBuf {
        let mut k = self.key(i);
        k.bytes[self.len] = b'.';
        k.len += 1;
        k
    }
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

    /// The key number of operation `j`; a random order repeats itself when there are
    /// more operations than keys (`--reads` above `--num`).
    pub fn at(&self, j: u64) -> u64 {
        match self {
            KeyOrder::Sequential => j,
            KeyOrder::Random(perm) => perm[(j % perm.len().max(1) as u64) as usize],
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
        let f = KeyFormat::new(KEY_LEN, 1 << 40).unwrap();
        assert_eq!(f.key(42).as_bytes(), format!("{:016}", 42).as_bytes());
        assert_eq!(f.key(9_999_999_999_999_999).as_bytes(), b"9999999999999999");
        assert_eq!(f.missing_key(7).as_bytes(), b"0000000000000007.");
    }

    #[test]
    fn key_size_bounds_the_key_count() {
        assert_eq!(KeyFormat::new(4, 10_000).unwrap().key(9999).as_bytes(), b"9999");
        assert_eq!(KeyFormat::new(1, 1).unwrap().key(0).as_bytes(), b"0");
        assert!(KeyFormat::new(4, 10_001).is_err());
        assert!(KeyFormat::new(0, 1).is_err());
        let long = KeyFormat::new(100, 10).unwrap().key(3);
        assert_eq!(long.as_bytes().len(), 100);
        assert!(long.as_bytes().ends_with(b"03") && long.as_bytes()[0] == b'0');
    }

    #[test]
    fn random_order_is_a_reproducible_permutation() {
        let a = KeyOrder::random(1000, 1);
        let mut seen: Vec<u64> = (0..1000).map(|j| a.at(j)).collect();
        assert_eq!(seen, (0..1000).map(|j| KeyOrder::random(1000, 1).at(j)).collect::<Vec<_>>());
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert_eq!(a.at(1000), a.at(0));
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
