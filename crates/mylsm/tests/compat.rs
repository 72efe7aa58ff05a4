//! Databases written by earlier builds keep opening and reading correctly: the
//! checked-in fixture `tests/fixtures/format-v1` (tables of format 1, a manifest from
//! before WAL tracking, several live logs) is opened read-only and read-write, and
//! every entry is compared with the dump taken by the build that wrote it.

use std::path::{Path, PathBuf};

use mylsm::{Db, Error, Options};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-v1")
}

/// The fixture's `expected.tsv`, unescaped (`\t`, `\n`, `\r`, `\\`).
fn expected() -> Vec<(Vec<u8>, Vec<u8>)> {
    let text = std::fs::read(fixture().join("expected.tsv")).unwrap();
    let unescape = |field: &[u8]| {
        let mut out = Vec::new();
        let mut it = field.iter();
        while let Some(&b) = it.next() {
            out.push(match (b, b == b'\\') {
                (_, true) => match it.next() {
                    Some(b't') => b'\t',
                    Some(b'n') => b'\n',
                    Some(b'r') => b'\r',
                    Some(&c) => c,
                    None => panic!("dangling escape"),
                },
                (b, false) => b,
            });
        }
        out
    };
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let tab = l.iter().position(|&b| b == b'\t').unwrap();
            (unescape(&l[..tab]), unescape(&l[tab + 1..]))
        })
        .collect()
}

fn contents(db: &Db) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect::<Result<_, _>>().unwrap()
}

/// A copy of the fixture's database in a temporary directory.
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture().join("db")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// Every file of `dir` with its contents.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_format_1_fixture_reads_read_only_without_changing_a_byte() {
    let dir = copy();
    let before = files(dir.path());
    let db = Db::open_read_only(dir.path(), Options::default()).unwrap();
    let want = expected();
    assert_eq!(want.len(), 2998, "the fixture's dump");
    assert_eq!(contents(&db), want);
    assert_eq!(db.get("key00010").unwrap().as_deref(), Some(&b"wal-overwrite"[..]));
    assert_eq!(db.get("key00003").unwrap(), None, "deleted in a live log");
    let report = db.verify().unwrap();
    assert_eq!(report.tables, 2);
    assert!(matches!(db.put("x", "y"), Err(Error::InvalidArgument(_))));
    db.close().unwrap();
    assert_eq!(files(dir.path()), before, "a read-only open changed the directory");
}

#[test]
fn the_format_1_fixture_opens_for_writing_and_keeps_its_data_across_reopens() {
    let dir = copy();
    let want = expected();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(contents(&db), want);
    db.put("new-key", "new-value").unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    db.close().unwrap();
    // Reopened in the current format: the old logs are folded into a table and gone.
    let logs = files(dir.path()).iter().filter(|(n, _)| n.ends_with(".log")).count();
    assert_eq!(logs, 1, "{:?}", files(dir.path()).iter().map(|f| &f.0).collect::<Vec<_>>());
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut want = want;
    want.push((b"new-key".to_vec(), b"new-value".to_vec()));
    want.sort();
    assert_eq!(contents(&db), want);
}
