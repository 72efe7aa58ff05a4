//! Merge operators: update a value without reading it.
//!
//! [`crate::Db::merge`] writes an *operand*; a read combines the operands newer than
//! the key's last put (its *base*, if any) with the keyspace's [`MergeOperator`].
//! Compaction folds operands into their base when every reader would see the same
//! result, and write-time collapsing bounds how many operands a read walks
//! ([`crate::KeyspaceOptions::max_merge_operands`]).
//!
//! The operator is set per keyspace ([`crate::KeyspaceOptions::merge_operator`], or
//! [`crate::Options::merge_operator`] for the default keyspace). Its name is stored
//! in the manifest, and opening with an operator of another name (or none) fails with
//! `InvalidArgument`: data written for one operator is never read with another.
//!
//! ```
//! # fn main() -> mylsm::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! use mylsm::merge::U64Add;
//! let opts = mylsm::Options { merge_operator: Some(std::sync::Arc::new(U64Add)), ..Default::default() };
//! let db = mylsm::Db::open(dir.path(), opts)?;
//! db.merge(b"hits", 5u64.to_le_bytes())?;
//! db.merge(b"hits", 2u64.to_le_bytes())?;
//! assert_eq!(db.get(b"hits")?.as_deref(), Some(&7u64.to_le_bytes()[..]));
//! # Ok(()) }
//! ```

use std::sync::Arc;

/// Combines a key's operands into a value. Implementations must be deterministic (the
/// same inputs give the same output on every run and machine) and associative in the
/// sense that merging a prefix of the operands first and then the rest gives the same
/// result, because compaction and write-time collapsing merge in steps.
pub trait MergeOperator: Send + Sync + 'static {
    /// The operator's name, stored with the keyspace; an open with a different name
    /// fails rather than misread the operands.
    fn name(&self) -> &str;

    /// The value of `key` after applying `operands` (oldest first) to `base` (`None`:
    /// the key had no value, or was deleted).
    ///
    /// # Errors
    /// A [`MergeError`] when the base or an operand is not something the operator can
    /// read (a malformed number, say). The read that needed the result then fails with
    /// [`crate::Error::MergeFailed`]; compaction keeps the operands as they are.
    fn full_merge(
        &self,
        key: &[u8],
        base: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> std::result::Result<Vec<u8>, MergeError>;

    /// One operand equivalent to `operands` (oldest first, at least two), if the
    /// operator can combine operands without a base; `None` keeps them all.
    fn partial_merge(&self, _key: &[u8], _operands: &[&[u8]]) -> Option<Vec<u8>> {
        None
    }
}

impl std::fmt::Debug for dyn MergeOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MergeOperator").field(&self.name()).finish()
    }
}

/// Why a merge failed (an operand or base the operator cannot read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError(pub String);

impl std::fmt::Display for MergeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MergeError {}

/// A counter: operands and values are `u64` little-endian (8 bytes); the result is
/// their wrapping sum. A missing base counts as 0. Name: `mylsm.u64add`.
#[derive(Debug, Clone, Copy, Default)]
pub struct U64Add;

fn read_u64(what: &str, b: &[u8]) -> std::result::Result<u64, MergeError> {
    let bytes: [u8; 8] = b
        .try_into()
        .map_err(|_| MergeError(format!("u64add: {what} is {} bytes, not 8", b.len())))?;
    Ok(u64::from_le_bytes(bytes))
}

impl MergeOperator for U64Add {
    fn name(&self) -> &str {
        "mylsm.u64add"
    }

    fn full_merge(
        &self,
        _key: &[u8],
        base: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> std::result::Result<Vec<u8>, MergeError> {
        let mut sum = base.map_or(Ok(0), |b| read_u64("the base value", b))?;
        for op in operands {
            sum = sum.wrapping_add(read_u64("an operand", op)?);
        }
        Ok(sum.to_le_bytes().to_vec())
    }

    fn partial_merge(&self, key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        self.full_merge(key, None, operands).ok()
    }
}

/// Appends operands to the value, `separator` between any two parts (a missing base
/// is the empty start: no separator before the first operand). Name:
/// `mylsm.append` followed by the separator's bytes in hex (`mylsm.append.2c` for a
/// comma), so the name says everything the operator does.
#[derive(Debug, Clone)]
pub struct Append {
    separator: Vec<u8>,
    name: String,
}

impl Append {
    /// An appender that puts `separator` between parts.
    pub fn new(separator: impl AsRef<[u8]>) -> Self {
        let separator = separator.as_ref().to_vec();
        let hex: String = separator.iter().map(|b| format!("{b:02x}")).collect();
        let name =
            if hex.is_empty() { "mylsm.append".into() } else { format!("mylsm.append.{hex}") };
        Append { separator, name }
    }

    /// The separator.
    pub fn separator(&self) -> &[u8] {
        &self.separator
    }
}

impl MergeOperator for Append {
    fn name(&self) -> &str {
        &self.name
    }

    fn full_merge(
        &self,
        _key: &[u8],
        base: Option<&[u8]>,
        operands: &[&[u8]],
    ) -> std::result::Result<Vec<u8>, MergeError> {
        let mut out = base.map(<[u8]>::to_vec).unwrap_or_default();
        let mut first = base.is_none();
        for op in operands {
            if !first {
                out.extend_from_slice(&self.separator);
            }
            first = false;
            out.extend_from_slice(op);
        }
        Ok(out)
    }

    fn partial_merge(&self, key: &[u8], operands: &[&[u8]]) -> Option<Vec<u8>> {
        self.full_merge(key, None, operands).ok()
    }
}

/// The built-in operator a stored name names (`mylsm.u64add`, `mylsm.append[.HEX]`),
/// so that tools can open a keyspace that uses one without being told.
pub fn builtin(name: &str) -> Option<Arc<dyn MergeOperator>> {
    if name == "mylsm.u64add" {
        return Some(Arc::new(U64Add));
    }
    let hex = match name.strip_prefix("mylsm.append") {
        Some("") => "",
        Some(rest) => rest.strip_prefix('.')?,
        None => return None,
    };
    if hex.is_empty() && name != "mylsm.append" || hex.len() % 2 != 0 {
        return None;
    }
    let sep: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    let op = Append::new(sep?);
    (op.name() == name).then(|| Arc::new(op) as Arc<dyn MergeOperator>)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_merge_and_come_back_by_name() {
        let add = U64Add;
        let ops = [&1u64.to_le_bytes()[..], &2u64.to_le_bytes()[..]];
        assert_eq!(
            add.full_merge(b"k", Some(&4u64.to_le_bytes()), &ops).unwrap(),
            7u64.to_le_bytes()
        );
        assert!(add.full_merge(b"k", Some(b"xyz"), &ops).is_err());
        let app = Append::new(",");
        assert_eq!(app.full_merge(b"k", None, &[b"a", b"b"]).unwrap(), b"a,b");
        assert_eq!(app.full_merge(b"k", Some(b"x"), &[b"a"]).unwrap(), b"x,a");
        assert_eq!(app.name(), "mylsm.append.2c");
        for name in ["mylsm.u64add", "mylsm.append", "mylsm.append.2c", "mylsm.append.0d0a"] {
            assert_eq!(builtin(name).unwrap().name(), name);
        }
        for name in ["mylsm.append.", "mylsm.append.2", "mylsm.append.zz", "other", "mylsm.appendx"]
        {
            assert!(builtin(name).is_none(), "{name}");
        }
    }
}
