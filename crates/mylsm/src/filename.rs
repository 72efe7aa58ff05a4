//! Names of the files in a database directory, and parsing them back.
//!
//! ```text
//! LOCK              exclusive lock held by the open Db
//! CURRENT           names the live manifest ("MANIFEST-NNNNNN\n")
//! MANIFEST-NNNNNN   log of version edits
//! NNNNNN.log        write-ahead log
//! NNNNNN.sst        table file
//! NNNNNN.dbtmp      temporary file (a CURRENT being replaced)
//! ```
//!
//! Numbers are zero-padded to at least six digits and come from one counter, so no two
//! files ever share a number.

use std::path::{Path, PathBuf};

/// The largest file number open accepts from the manifest or the directory: far beyond
/// any real database, and far enough below `u64::MAX` that counting up cannot wrap.
pub(crate) const MAX_FILE_NUMBER: u64 = 1 << 62;

/// What a file in the database directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileKind {
    Lock,
    Current,
    Manifest(u64),
    Log(u64),
    Table(u64),
    Temp(u64),
}

pub(crate) fn lock_file(dir: &Path) -> PathBuf {
    dir.join("LOCK")
}

pub(crate) fn current_file(dir: &Path) -> PathBuf {
    dir.join("CURRENT")
}

pub(crate) fn manifest_name(number: u64) -> String {
    format!("MANIFEST-{number:06}")
}

pub(crate) fn manifest_file(dir: &Path, number: u64) -> PathBuf {
    dir.join(manifest_name(number))
}

pub(crate) fn log_file(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.log"))
}

pub(crate) fn table_file(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.sst"))
}

pub(crate) fn temp_file(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:06}.dbtmp"))
}

/// The number of a name mylsm writes: exactly the `{:06}` spelling, so `1.log` or
/// `0000001.log` beside `000001.log` is a stranger, not a second copy of log 1.
fn number(digits: &str) -> Option<u64> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.parse().ok()?;
    (format!("{n:06}") == digits).then_some(n)
}

/// Recognizes a file name written by mylsm; `None` for anything else.
pub(crate) fn parse(name: &str) -> Option<FileKind> {
    match name {
        "LOCK" => return Some(FileKind::Lock),
        "CURRENT" => return Some(FileKind::Current),
        _ => {}
    }
    if let Some(n) = name.strip_prefix("MANIFEST-") {
        return number(n).map(FileKind::Manifest);
    }
    let (stem, ext) = name.split_once('.')?;
    let n = number(stem)?;
    match ext {
        "log" => Some(FileKind::Log(n)),
        "sst" => Some(FileKind::Table(n)),
        "dbtmp" => Some(FileKind::Temp(n)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let dir = Path::new("/d");
        assert_eq!(log_file(dir, 42), Path::new("/d/000042.log"));
        let cases = [
            (log_file(dir, 42), FileKind::Log(42)),
            (table_file(dir, 12_345_678), FileKind::Table(12_345_678)),
            (manifest_file(dir, 3), FileKind::Manifest(3)),
            (temp_file(dir, 9), FileKind::Temp(9)),
            (current_file(dir), FileKind::Current),
            (lock_file(dir), FileKind::Lock),
        ];
        for (path, kind) in cases {
            let name = path.file_name().unwrap().to_str().unwrap();
            assert_eq!(parse(name), Some(kind), "{name}");
        }
        for junk in [
            "x.log",
            ".log",
            "+1.log",
            "000001.sst.tmp",
            "LOCK2",
            "MANIFEST-",
            "MANIFEST-x1",
            "1.txt",
            // Found by review: a second spelling of a number made recovery replay
            // log 1 twice ("batch seqno does not follow").
            "1.log",
            "0000001.log",
            "MANIFEST-1",
            "00000000000000000000000000001.sst",
        ] {
            assert_eq!(parse(junk), None, "{junk}");
        }
    }
}
