//! Opening a damaged directory never deletes what a correct database needed: every
//! file of a populated database is removed, truncated to half or replaced by garbage in
//! turn, and stray newer files are added; each time the open either fails (with
//! `Corruption`, leaving every file as it was) or succeeds and reads exactly the
//! acknowledged history (a prefix of it when a log lost its tail).
//!
//! Found by a black-box suite: without `CURRENT` the open took the directory for a new
//! database and deleted every table; a manifest truncated to half installed an older
//! version and deleted the newer tables; a file named like a newer log holding garbage
//! was taken for a torn tail and deleted; a missing live log went unnoticed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use mylsm::fs::{FileSystem, MemFs};
use mylsm::{Db, Error, Options};

type Files = BTreeMap<PathBuf, Vec<u8>>;

fn files(fs: &MemFs) -> Files {
    fs.paths().into_iter().filter_map(|p| fs.file_contents(&p).map(|c| (p, c))).collect()
}

fn fs_with(files: &Files) -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new(DIR)).unwrap();
    for (p, c) in files {
        fs.write_file(p, c);
    }
    fs
}

fn small(fs: &MemFs) -> Options {
    Options { write_buffer_size: 8 << 10, ..options(fs) }
}

/// Deterministic bytes that decode as nothing in particular.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len.max(64))
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

/// A database with tables in L0 and below, several manifest edits since its last open,
/// and writes only in its live logs; with the model after each write.
fn populated() -> (Files, Vec<Model>) {
    let fs = MemFs::new();
    let db = Db::open(DIR, small(&fs)).unwrap();
    let mut model = Model::new();
    let mut history = vec![model.clone()];
    let mut put = |db: &Db, i: usize, v: &str| {
        let key = format!("key{i:04}");
        db.put(&key, v).unwrap();
        model.insert(key.into_bytes(), v.as_bytes().to_vec());
        history.push(model.clone());
    };
    for i in 0..300 {
        put(&db, i, &format!("first-{i}-{}", "x".repeat(i % 40)));
    }
    db.flush().unwrap();
    db.compact_range::<&[u8], _>(..).unwrap();
    for i in (0..300).step_by(3) {
        put(&db, i, "second");
    }
    db.flush().unwrap();
    // These stay in the live logs (and rotate through at least one).
    for i in 300..420 {
        put(&db, i, &format!("in-the-log-{i}-{}", "y".repeat(60)));
    }
    db.wait_for_compactions().unwrap();
    db.close().unwrap();
    let files = files(&fs);
    let tables = files.keys().filter(|p| p.extension().is_some_and(|e| e == "sst")).count();
    assert!(tables >= 2, "{:?}", files.keys());
    (files, history)
}

fn contents_of(db: &Db) -> Result<Model, Error> {
    db.iter().map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec()))).collect()
}

/// The highest file number in `files`, for naming stray newer files.
fn max_number(files: &Files) -> u64 {
    files
        .keys()
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let digits: String = name.chars().filter(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .max()
        .unwrap_or(0)
}

/// Opens the damaged directory and checks the rule; returns what happened, for the
/// summary.
fn check(name: &str, damaged: Files, history: &[Model], lossy: bool) -> &'static str {
    let fs = fs_with(&damaged);
    match Db::open(DIR, options(&fs)) {
        Err(e) => {
            assert!(e.is_corruption(), "{name}: expected Corruption, got {e}");
            let mut after = files(&fs);
            // LOCK is the one file a refused open may leave (it was there already).
            after.retain(|p, _| !p.ends_with("LOCK"));
            let mut before = damaged;
            before.retain(|p, _| !p.ends_with("LOCK"));
            assert_eq!(
                before.keys().collect::<Vec<_>>(),
                after.keys().collect::<Vec<_>>(),
                "{name}: a refused open changed the directory"
            );
            assert!(before == after, "{name}: a refused open changed a file");
            "refused"
        }
        Ok(db) => {
            let got = match contents_of(&db) {
                // The damage is reported when read: nothing was hidden.
                Err(e) if e.is_corruption() => return "opened, damage reported on read",
                Err(e) => panic!("{name}: read failed with {e}"),
                Ok(got) => got,
            };
            let full = history.last().unwrap();
            if lossy {
                assert!(history.contains(&got), "{name}: not a prefix of the history");
            } else {
                assert!(&got == full, "{name}: opened with {} keys of {}", got.len(), full.len());
            }
            db.close().unwrap();
            // What the open kept, it keeps.
            let again = contents_of(&Db::open(DIR, options(&fs)).unwrap()).unwrap();
            assert!(again == got, "{name}: a second open read something else");
            if &got == full {
                "opened intact"
            } else {
                "opened at a prefix"
            }
        }
    }
}

#[test]
fn no_open_of_a_damaged_directory_deletes_what_the_database_needed() {
    let (files, history) = populated();
    let mut outcomes: BTreeMap<String, &str> = BTreeMap::new();
    for (i, (path, bytes)) in files.iter().enumerate() {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file == "LOCK" {
            continue;
        }
        // Only a log may lose its tail legitimately (a torn write).
        let is_log = file.ends_with(".log");
        let damages: [(&str, Option<Vec<u8>>); 3] = [
            ("removed", None),
            ("truncated to half", Some(bytes[..bytes.len() / 2].to_vec())),
            ("replaced by garbage", Some(garbage(bytes.len(), i as u64))),
        ];
        for (how, replacement) in damages {
            let mut damaged = files.clone();
            match replacement {
                Some(b) => damaged.insert(path.clone(), b),
                None => damaged.remove(path),
            };
            let name = format!("{file} {how}");
            let lossy = is_log && how == "truncated to half";
            outcomes.insert(name.clone(), check(&name, damaged, &history, lossy));
        }
    }
    let next = max_number(&files) + 1;
    for (stray, contents) in [
        (format!("{next:06}.log"), garbage(500, 1)),
        (format!("{next:06}.log"), Vec::new()),
        (format!("{next:06}.sst"), garbage(500, 2)),
        (format!("MANIFEST-{next:06}"), garbage(500, 3)),
        (format!("{next:06}.dbtmp"), garbage(10, 4)),
    ] {
        let mut damaged = files.clone();
        let len = contents.len();
        damaged.insert(Path::new(DIR).join(&stray), contents);
        let name = format!("stray {stray} ({len} bytes)");
        outcomes.insert(name.clone(), check(&name, damaged, &history, false));
    }
    // The cases the bugs were found by must be refused, not "repaired".
    for must in ["CURRENT removed", "CURRENT replaced by garbage"] {
        assert_eq!(outcomes[must], "refused", "{outcomes:#?}");
    }
    let manifest = outcomes.keys().find(|k| k.starts_with("MANIFEST") && k.ends_with("half"));
    assert_eq!(outcomes[manifest.unwrap()], "refused", "{outcomes:#?}");
    let garbage_log = outcomes.keys().find(|k| k.starts_with("stray") && k.contains(".log (500"));
    assert_eq!(outcomes[garbage_log.unwrap()], "refused", "{outcomes:#?}");
    for (case, outcome) in outcomes.iter().filter(|(k, _)| k.ends_with(".log removed")) {
        assert_eq!(*outcome, "refused", "a missing live log must be noticed: {case}");
    }
    println!("{outcomes:#?}");
}

/// The open that refuses must not have written LOCK into a directory that lost its
/// `CURRENT` either; it writes nothing at all.
#[test]
fn a_directory_that_lost_current_is_refused_before_anything_is_written() {
    let (mut files, _) = populated();
    files.retain(|p, _| !p.ends_with("CURRENT") && !p.ends_with("LOCK"));
    let fs = fs_with(&files);
    let e = Db::open(DIR, options(&fs)).unwrap_err();
    assert!(e.is_corruption(), "{e}");
    assert!(e.to_string().contains("CURRENT"), "{e}");
    assert_eq!(self::files(&fs), files);
}
