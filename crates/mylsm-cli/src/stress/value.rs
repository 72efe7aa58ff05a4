//! The keys and self-describing values `stress` writes, and the check that a value read
//! back is exactly one its key's writer wrote.
//!
//! ```text
//! key   := "w" writer:3 digits "-k" index:7 digits          e.g. w002-k0000417
//! value := key "|" writer "|" version "|" padlen "|" pad "|" hash:16 hex digits
//! ```
//!
//! `pad` is `padlen` letters generated from (writer, index, version), so a value can be
//! regenerated from its key and version; `hash` is FNV-1a 64 of everything before the
//! last `|`. A value read back is accepted only if it is byte for byte the one
//! [`value`] makes for its key, writer and version: a torn value fails the hash, a
//! value moved to another key fails the key field, a garbled one fails either.

use std::fmt::Write as _;

/// Identifies one key: its writer (the only thread that ever writes it) and its index
/// among that writer's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId {
    pub writer: u32,
    pub index: u32,
}

/// The largest writer id the key format holds.
pub const MAX_WRITERS: u32 = 1000;
/// The largest number of keys per writer the key format holds.
pub const MAX_KEYS_PER_WRITER: u32 = 10_000_000;

impl KeyId {
    /// The key's bytes.
    pub fn key(self) -> Vec<u8> {
        format!("w{:03}-k{:07}", self.writer, self.index).into_bytes()
    }

    /// Parses a key written by [`KeyId::key`]; `None` for anything else.
    pub fn parse(key: &[u8]) -> Option<KeyId> {
        let s = std::str::from_utf8(key).ok()?;
        let (w, i) = s.strip_prefix('w')?.split_once("-k")?;
        let digits = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_digit());
        if !digits(w, 3) || !digits(i, 7) {
            return None;
        }
        Some(KeyId { writer: w.parse().ok()?, index: i.parse().ok()? })
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "w{:03}-k{:07}", self.writer, self.index)
    }
}

/// FNV-1a, 64 bits: enough to tell a torn or garbled value from a real one, and
/// small enough not to need a dependency.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// A splitmix64 step, used to derive pad lengths and letters from the value's identity.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn identity(id: KeyId, version: u64) -> u64 {
    mix(mix(version) ^ (u64::from(id.writer) << 32 | u64::from(id.index)))
}

/// The pad length a value of `id` at `version` gets when pads are at most `max_pad`.
pub fn pad_len(id: KeyId, version: u64, max_pad: usize) -> usize {
    (identity(id, version) % (max_pad as u64).saturating_add(1)) as usize
}

/// The value writer `id.writer` puts under `id` at `version`, with `pad` pad letters.
pub fn value(id: KeyId, version: u64, pad: usize) -> Vec<u8> {
    let mut s = String::with_capacity(48 + pad);
    let _ = write!(s, "{id}|{}|{version}|{pad}|", id.writer);
    let mut x = identity(id, version);
    for _ in 0..pad {
        x = mix(x);
        s.push(char::from(b'a' + (x % 26) as u8));
    }
    let hash = fnv1a(s.as_bytes());
    let _ = write!(s, "|{hash:016x}");
    s.into_bytes()
}

/// Checks that `bytes`, read under `id`'s key, is a value [`value`] makes for `id`,
/// and returns its version; the error says what is wrong with it.
pub fn check(id: KeyId, bytes: &[u8]) -> Result<u64, String> {
    let show = || String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned();
    let Some(cut) = bytes.iter().rposition(|&b| b == b'|') else {
        return Err(format!("not a stress value: {:?}", show()));
    };
    let (body, hash) = (&bytes[..cut], &bytes[cut + 1..]);
    let stored = std::str::from_utf8(hash).ok().and_then(|h| u64::from_str_radix(h, 16).ok());
    if hash.len() != 16 || stored != Some(fnv1a(body)) {
        return Err(format!("checksum mismatch (torn or garbled value): {:?}", show()));
    }
    let body = std::str::from_utf8(body).map_err(|_| format!("not UTF-8: {:?}", show()))?;
    let fields: Vec<&str> = body.split('|').collect();
    let [key, writer, version, pad, _] = fields[..] else {
        return Err(format!("wrong field count: {:?}", show()));
    };
    if key != id.to_string() || writer != id.writer.to_string() {
        return Err(format!("value of {key} (writer {writer}) found under key {id}"));
    }
    let version: u64 = version.parse().map_err(|_| format!("bad version: {:?}", show()))?;
    let pad: usize = pad.parse().map_err(|_| format!("bad pad length: {:?}", show()))?;
    if value(id, version, pad) != bytes {
        return Err(format!("value differs from the one written at version {version}"));
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: KeyId = KeyId { writer: 7, index: 1234 };

    #[test]
    fn keys_round_trip_and_sort_by_writer_then_index() {
        assert_eq!(ID.key(), b"w007-k0001234");
        assert_eq!(KeyId::parse(&ID.key()), Some(ID));
        let a = KeyId { writer: 1, index: 999 }.key();
        let b = KeyId { writer: 2, index: 0 }.key();
        assert!(a < b);
        for bad in [&b"w7-k1"[..], b"w007-k000123", b"x007-k0001234", b"w007-k00012345"] {
            assert_eq!(KeyId::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_written_value_checks_with_its_version() {
        for pad in [0, 1, 63] {
            let v = value(ID, 42, pad);
            assert_eq!(check(ID, &v), Ok(42));
        }
    }

    #[test]
    fn torn_garbled_and_misattributed_values_are_rejected() {
        let v = value(ID, 42, 20);
        // Torn: any strict prefix.
        for n in 0..v.len() {
            assert!(check(ID, &v[..n]).is_err(), "prefix of {n} bytes accepted");
        }
        // Garbled: any single flipped byte.
        for i in 0..v.len() {
            let mut g = v.clone();
            g[i] ^= 0x01;
            assert!(check(ID, &g).is_err(), "flip at {i} accepted");
        }
        // Misattributed: a real value of another key, even of the same writer.
        let other = KeyId { writer: 7, index: 1235 };
        assert!(check(other, &v).unwrap_err().contains("found under key"));
        let theirs = KeyId { writer: 8, index: 1234 };
        assert!(check(theirs, &v).is_err());
    }

    #[test]
    fn pad_lengths_vary_and_stay_in_bounds() {
        let lens: Vec<usize> = (0..200).map(|v| pad_len(ID, v, 64)).collect();
        assert!(lens.iter().all(|&l| l <= 64));
        assert!(lens.iter().collect::<std::collections::HashSet<_>>().len() > 20);
        assert_eq!(pad_len(ID, 5, 0), 0);
    }
}
