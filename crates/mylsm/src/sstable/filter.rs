//! The table's bloom filter over user keys, blocked by cache line so that a probe
//! touches one 64-byte line: one cache miss per lookup of an absent key.
//!
//! ```text
//! filter := line[num_lines]  num_probes: u8  kind: u8 (1)
//! line   := 64 bytes = 512 bits; bit i is (byte i / 8) >> (i % 8) & 1
//! ```
//!
//! A key's 64-bit XXH3 hash `h` picks the line `((h >> 32) * num_lines) >> 32` and sets
//! `num_probes` bits in it: probe `j` sets bit `p_j >> 23`, where `p_0` is the low 32
//! bits of `h` and `p_{j+1} = p_j * 0x9e3779b9 (mod 2^32)`. This is RocksDB's
//! `FastLocalBloom` without its grouping of probes into 64-bit words; unlike LevelDB's
//! filter block (one filter per 2 KiB of data) there is one filter per table.

use std::sync::Arc;

use xxhash_rust::xxh3::xxh3_64;

const LINE_BYTES: usize = 64;
const LINE_BITS: u32 = 512;
/// The `kind` byte of the layout above.
const FILTER_KIND: u8 = 1;
const MAX_PROBES: u8 = 30;
const GOLDEN: u32 = 0x9e37_79b9;

/// Collects the hashes of a table's user keys, then lays out the filter.
#[derive(Debug)]
pub(crate) struct FilterBuilder {
    bits_per_key: usize,
    hashes: Vec<u64>,
}

impl FilterBuilder {
    pub fn new(bits_per_key: usize) -> Self {
        FilterBuilder { bits_per_key: bits_per_key.max(1), hashes: Vec::new() }
    }

    /// Adds one user key; the caller skips repeats of the same key.
    pub fn add_key(&mut self, user_key: &[u8]) {
        self.hashes.push(xxh3_64(user_key));
    }

    /// The filter bytes for every key added.
    pub fn finish(&self) -> Vec<u8> {
        let bits = self.hashes.len().saturating_mul(self.bits_per_key);
        let num_lines = bits.div_ceil(LINE_BITS as usize).max(1);
        let num_probes = probes_for(self.bits_per_key);
        let mut data = vec![0u8; num_lines * LINE_BYTES + 2];
        for &h in &self.hashes {
            let line = line_for(h, num_lines) * LINE_BYTES;
            for bit in probes(h, num_probes) {
                data[line + bit / 8] |= 1 << (bit % 8);
            }
        }
        data[num_lines * LINE_BYTES] = num_probes;
        data[num_lines * LINE_BYTES + 1] = FILTER_KIND;
        data
    }
}

/// Probes per key: about 0.6 × bits per key, a little below the 0.69 that is optimal
/// for an unblocked filter, because blocking crowds some lines (RocksDB's choice).
fn probes_for(bits_per_key: usize) -> u8 {
    ((bits_per_key * 6 + 5) / 10).clamp(1, usize::from(MAX_PROBES)) as u8
}

fn line_for(h: u64, num_lines: usize) -> usize {
    (((h >> 32) * num_lines as u64) >> 32) as usize
}

/// The bit positions within a line that key hash `h` sets.
fn probes(h: u64, num_probes: u8) -> impl Iterator<Item = usize> {
    let mut p = h as u32;
    (0..num_probes).map(move |_| {
        let bit = (p >> 23) as usize;
        p = p.wrapping_mul(GOLDEN);
        bit
    })
}

/// A filter read back from a table.
#[derive(Debug)]
pub(crate) struct BloomFilter {
    data: Arc<[u8]>,
    num_lines: usize,
    num_probes: u8,
}

impl BloomFilter {
    /// Checks the layout of `data`; the error says what is wrong.
    pub fn new(data: Arc<[u8]>) -> Result<Self, String> {
        let Some(bits_len) = data.len().checked_sub(2) else {
            return Err("filter shorter than its two-byte tail".into());
        };
        let (num_probes, kind) = (data[bits_len], data[bits_len + 1]);
        let num_lines = bits_len / LINE_BYTES;
        if kind != FILTER_KIND {
            return Err(format!("unknown filter kind {kind}"));
        }
        if bits_len % LINE_BYTES != 0 || num_lines == 0 || num_lines > u32::MAX as usize {
            return Err(format!("filter of {bits_len} bytes is not a whole number of lines"));
        }
        if !(1..=MAX_PROBES).contains(&num_probes) {
            return Err(format!("filter claims {num_probes} probes"));
        }
        Ok(BloomFilter { data, num_lines, num_probes })
    }

    /// False only if `user_key` was certainly not added.
    pub fn may_contain(&self, user_key: &[u8]) -> bool {
        let h = xxh3_64(user_key);
        let line = &self.data[line_for(h, self.num_lines) * LINE_BYTES..][..LINE_BYTES];
        probes(h, self.num_probes).all(|bit| line[bit / 8] & (1 << (bit % 8)) != 0)
    }

    /// The filter's size in bytes.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn num_probes(&self) -> u8 {
        self.num_probes
    }

    pub fn num_lines(&self) -> usize {
        self.num_lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(keys: impl Iterator<Item = Vec<u8>>, bits: usize) -> BloomFilter {
        let mut b = FilterBuilder::new(bits);
        keys.for_each(|k| b.add_key(&k));
        BloomFilter::new(b.finish().into()).unwrap()
    }

    #[test]
    fn no_false_negatives_and_about_one_percent_false_positives() {
        let n = 100_000u64;
        let f = build((0..n).map(|i| format!("key{i:08}").into_bytes()), 10);
        assert!((0..n).all(|i| f.may_contain(format!("key{i:08}").as_bytes())));
        let fp = (n..2 * n).filter(|i| f.may_contain(format!("key{i:08}").as_bytes())).count();
        let rate = fp as f64 / n as f64;
        assert!(rate <= 0.02, "false-positive rate {rate}");
        assert_eq!(f.len(), (n as usize * 10).div_ceil(512) * 64 + 2);
    }

    #[test]
    fn more_bits_per_key_mean_fewer_false_positives() {
        let rate = |bits| {
            let f = build((0..20_000u32).map(|i| i.to_le_bytes().to_vec()), bits);
            (20_000..120_000u32).filter(|i| f.may_contain(&i.to_le_bytes())).count()
        };
        let (r5, r10, r20) = (rate(5), rate(10), rate(20));
        assert!(r5 > r10 && r10 > r20, "{r5} {r10} {r20}");
    }

    #[test]
    fn an_empty_filter_contains_nothing_and_damaged_layouts_are_refused() {
        let f = build(std::iter::empty(), 10);
        assert!(!f.may_contain(b"x") && !f.may_contain(b""));
        let good = FilterBuilder::new(10).finish();
        assert!(BloomFilter::new(good[..1].into()).is_err());
        assert!(BloomFilter::new(good[1..].into()).is_err());
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = 9;
        assert!(BloomFilter::new(bad.into()).is_err());
        let mut bad = good;
        let n = bad.len();
        bad[n - 2] = 0;
        assert!(BloomFilter::new(bad.into()).is_err());
    }
}
