//! The single-key commands (put, get, delete, merge, delete-range) and scan.
//!
//! They take keys and values as bytes: `main` reads the arguments as text, or as hex
//! under `--hex` (see `hex`).

use std::io::{self, Write};
use std::ops::Bound;

use mylsm::Keyspace;

use crate::error::CliError;
use crate::{hex, tsv};

/// Sets `key` to `value` in `ks`, for `ttl` seconds if given.
pub fn put(ks: &Keyspace, key: &[u8], value: &[u8], ttl: Option<u64>) -> Result<(), CliError> {
    match ttl {
        Some(secs) => Ok(ks.put_with_ttl(key, value, std::time::Duration::from_secs(secs))?),
        None => Ok(ks.put(key, value)?),
    }
}

/// Whether `ks` counts with the built-in u64add operator, whose values the commands
/// read and write as decimal numbers.
fn counts(ks: &Keyspace) -> bool {
    ks.merge_operator().is_some_and(|m| m.name() == "mylsm.u64add")
}

/// Adds `operand` to `key` with the keyspace's merge operator: a decimal number for a
/// u64add keyspace (negative ones subtract), even under `--hex`, since it is a number
/// rather than bytes; else the bytes to append, which `--hex` reads as hex.
pub fn merge(ks: &Keyspace, key: &[u8], operand: &str) -> Result<(), CliError> {
    if ks.merge_operator().is_none() {
        return Err(CliError::Input(format!(
            "keyspace {:?} has no merge operator (create one with `keyspace create NAME --merge \
             u64add|append`)",
            ks.name()
        )));
    }
    if counts(ks) {
        let n: i64 = operand.parse().map_err(|_| {
            CliError::Input(format!(
                "{operand:?} is not a number (the keyspace counts with u64add)"
            ))
        })?;
        return Ok(ks.merge(key, (n as u64).to_le_bytes())?);
    }
    Ok(ks.merge(key, hex::arg("OPERAND", operand)?)?)
}

/// Deletes the keys from `from` (included) to `to` (excluded).
pub fn delete_range(ks: &Keyspace, from: &[u8], to: &[u8]) -> Result<(), CliError> {
    if from > to {
        return Err(CliError::Input(format!(
            "delete-range: FROM {} sorts after TO {}, so the range is backwards",
            hex::show(from),
            hex::show(to)
        )));
    }
    Ok(ks.delete_range(from..to)?)
}

/// Prints the raw value of `key` in `ks` (hex digits under `--hex`; a u64add counter
/// as a decimal number either way) and a newline; returns whether the key was found.
pub fn get(ks: &Keyspace, key: &[u8]) -> Result<bool, CliError> {
    let Some(value) = ks.get(key)? else {
        return Ok(false);
    };
    let text;
    let value: &[u8] = match <[u8; 8]>::try_from(&value[..]) {
        Ok(n) if counts(ks) => {
            text = u64::from_le_bytes(n).to_string();
            text.as_bytes()
        }
        _ if hex::on() => {
            text = hex::encode(&value);
            text.as_bytes()
        }
        _ => &value,
    };
    let mut out = io::stdout().lock();
    out.write_all(value).and_then(|()| out.write_all(b"\n")).map_err(CliError::Output)?;
    out.flush().map_err(CliError::Output)?;
    Ok(true)
}

/// Deletes `key` from `ks`.
pub fn delete(ks: &Keyspace, key: &[u8]) -> Result<(), CliError> {
    Ok(ks.delete(key)?)
}

/// Lower and upper bounds of a key range, as the engine takes them.
type Bounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The key range a scan covers: the intersection of `[from, to)` and the keys that
/// start with `prefix`; an absent part does not restrict.
#[derive(Debug, Default)]
pub struct ScanRange<'a> {
    pub from: Option<&'a [u8]>,
    pub to: Option<&'a [u8]>,
    pub prefix: Option<&'a [u8]>,
}

impl ScanRange<'_> {
    /// The range as engine bounds, or `None` when it is empty.
    fn bounds(&self) -> Option<Bounds> {
        let prefix = self.prefix;
        // The larger of the two lower bounds and the smaller of the two upper bounds.
        let lower = match (self.from, prefix) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let upper = match (self.to.map(<[u8]>::to_vec), prefix.and_then(successor)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if let (Some(lo), Some(hi)) = (lower, &upper) {
            if lo >= hi.as_slice() {
                return None;
            }
        }
        Some((
            lower.map_or(Bound::Unbounded, |lo| Bound::Included(lo.to_vec())),
            upper.map_or(Bound::Unbounded, Bound::Excluded),
        ))
    }
}

/// The smallest key greater than every key starting with `prefix`, or `None` when no
/// such key exists (the prefix is empty or all 0xff).
fn successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let last = prefix.iter().rposition(|&b| b != 0xff)?;
    let mut s = prefix[..=last].to_vec();
    s[last] += 1;
    Some(s)
}

/// Prints the entries of `range` in `ks` as escaped `key<TAB>value` lines, at most
/// `limit` of them, in descending order when `reverse`.
pub fn scan(
    ks: &Keyspace,
    range: &ScanRange<'_>,
    limit: Option<usize>,
    reverse: bool,
) -> Result<(), CliError> {
    let Some(bounds) = range.bounds() else {
        return Ok(());
    };
    let limit = limit.unwrap_or(usize::MAX);
    let iter = ks.range(bounds);
    if reverse {
        tsv::write_entries(iter.rev().take(limit))
    } else {
        tsv::write_entries(iter.take(limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(from: Option<&str>, to: Option<&str>, prefix: Option<&str>) -> String {
        let (from, to, prefix) =
            (from.map(str::as_bytes), to.map(str::as_bytes), prefix.map(str::as_bytes));
        format!("{:?}", ScanRange { from, to, prefix }.bounds())
    }

    #[test]
    fn ranges_intersect() {
        assert_eq!(bounds(None, None, None), "Some((Unbounded, Unbounded))");
        assert_eq!(bounds(Some("b"), None, Some("a")), "None");
        assert_eq!(bounds(Some("ab"), Some("az"), Some("a")), bounds(Some("ab"), Some("az"), None));
        assert_eq!(bounds(Some("a"), Some("z"), Some("k")), bounds(Some("k"), Some("l"), None));
        assert_eq!(bounds(Some("z"), Some("a"), None), "None");
        assert_eq!(successor(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(successor(b"\xff"), None);
    }
}
