//! Names of the files in a database directory, and parsing them back.
//!
//! ```text
//! LOCK          exclusive lock held by the open Db
//! NNNNNN.log    write-ahead log number NNNNNN (zero-padded to at least 6 digits)
//! ```

use std::path::{Path, PathBuf};

/// What a file in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Lock,
    Log(u64),
}

pub(crate) fn lock_file(dir: &Path) -> PathBuf {
    dir.join("LOCK")
}

pub(crate) fn log_file(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

/// Recognizes a file name written by mylsm; `None` for anything else.
pub(crate) fn parse(name: &str) -> Option<FileKind> {
    if name == "LOCK" {
        return Some(FileKind::Lock);
    }
    let stem = name.strip_suffix(".log")?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok().map(FileKind::Log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let dir = Path::new("/d");
        let name = log_file(dir, 42);
        assert_eq!(name, Path::new("/d/000042.log"));
        assert_eq!(parse("000042.log"), Some(FileKind::Log(42)));
        assert_eq!(parse("12345678.log"), Some(FileKind::Log(12_345_678)));
        assert_eq!(parse("LOCK"), Some(FileKind::Lock));
        for junk in ["x.log", ".log", "+1.log", "000001.sst.tmp", "LOCK2"] {
            assert_eq!(parse(junk), None, "{junk}");
        }
    }
}
