//! Round-trip, truncation and corruption tests of the WAL writer and reader.

use std::path::Path;

use super::*;
use crate::fs::{FileSystem, MemFs};
use crate::Error;

const PATH: &str = "/db/000001.log";

fn write_log(records: &[Vec<u8>]) -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    let mut w = LogWriter::new(fs.create(Path::new(PATH)).unwrap());
    for r in records {
        w.add_record(r).unwrap();
    }
    w.sync().unwrap();
    fs
}

fn read_log(fs: &MemFs, mode: RecoveryMode) -> crate::Result<Vec<Vec<u8>>> {
    let file = fs.open(Path::new(PATH))?;
    let mut r = LogReader::new(file, Path::new(PATH), mode)?;
    let mut out = Vec::new();
    while let Some((_, rec)) = r.next_record()? {
        out.push(rec);
    }
    Ok(out)
}

/// Records of awkward sizes: empty, tiny, exactly filling a block, spanning blocks.
fn sample_records() -> Vec<Vec<u8>> {
    let mut v = vec![Vec::new(), b"x".to_vec()];
    v.push(vec![1u8; BLOCK_SIZE - 2 * HEADER_SIZE - 1]);
    v.push(vec![2u8; 3]);
    v.push((0..3 * BLOCK_SIZE + 17).map(|i| i as u8).collect());
    v.push(vec![3u8; BLOCK_SIZE - HEADER_SIZE]);
    v.push(b"tail".to_vec());
    v
}

#[test]
fn records_round_trip_across_block_boundaries() {
    let recs = sample_records();
    let fs = write_log(&recs);
    assert_eq!(read_log(&fs, RecoveryMode::default()).unwrap(), recs);
}

#[test]
fn every_truncation_reads_a_prefix_without_error() {
    let recs = sample_records();
    let full = write_log(&recs).file_contents(Path::new(PATH)).unwrap();
    for cut in (0..full.len()).step_by(97).chain(full.len() - 8..full.len()) {
        let fs = MemFs::new();
        fs.write_file(Path::new(PATH), &full[..cut]);
        let got = read_log(&fs, RecoveryMode::default()).unwrap();
        assert_eq!(got[..], recs[..got.len()], "cut at {cut}");
    }
}

#[test]
fn a_zero_filled_tail_is_a_clean_end() {
    let recs = sample_records();
    let mut bytes = write_log(&recs).file_contents(Path::new(PATH)).unwrap();
    bytes.extend_from_slice(&[0u8; 5000]);
    let fs = MemFs::new();
    fs.write_file(Path::new(PATH), &bytes);
    assert_eq!(read_log(&fs, RecoveryMode::default()).unwrap(), recs);
}

#[test]
fn a_flipped_byte_is_corruption_or_a_clean_prefix_never_a_wrong_record() {
    let recs = sample_records();
    let full = write_log(&recs).file_contents(Path::new(PATH)).unwrap();
    let mut corruptions = 0;
    for at in (0..full.len()).step_by(61) {
        let mut bad = full.clone();
        bad[at] ^= 0x40;
        let fs = MemFs::new();
        fs.write_file(Path::new(PATH), &bad);
        match read_log(&fs, RecoveryMode::default()) {
            Ok(got) => assert_eq!(got[..], recs[..got.len()], "flip at {at}"),
            Err(Error::Corruption { file, offset, .. }) => {
                assert_eq!(file, Path::new(PATH));
                assert!(offset <= at as u64, "reported {offset} after the flip at {at}");
                corruptions += 1;
            }
            Err(e) => panic!("flip at {at}: unexpected {e}"),
        }
    }
    assert!(corruptions > 0);
}

#[test]
fn damage_in_the_middle_names_the_fragment_offset() {
    let recs = vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()];
    let mut bytes = write_log(&recs).file_contents(Path::new(PATH)).unwrap();
    let second = HEADER_SIZE + 5;
    bytes[second + HEADER_SIZE + 1] ^= 1;
    let fs = MemFs::new();
    fs.write_file(Path::new(PATH), &bytes);
    let err = read_log(&fs, RecoveryMode::TolerateTornTail).unwrap_err();
    assert!(matches!(err, Error::Corruption { offset, .. } if offset == second as u64), "{err}");
    // Point-in-time recovery keeps what precedes the damage and nothing after it.
    assert_eq!(read_log(&fs, RecoveryMode::PointInTime).unwrap(), vec![b"first".to_vec()]);
}

#[test]
fn zeros_followed_by_data_are_corruption() {
    let recs = vec![b"a".to_vec(), vec![9u8; 100], b"c".to_vec()];
    let mut bytes = write_log(&recs).file_contents(Path::new(PATH)).unwrap();
    let second = HEADER_SIZE + 1;
    bytes[second..second + HEADER_SIZE + 100].fill(0);
    let fs = MemFs::new();
    fs.write_file(Path::new(PATH), &bytes);
    assert!(read_log(&fs, RecoveryMode::TolerateTornTail).unwrap_err().is_corruption());
}

/// A log written with a sync after every record, so that records land on preallocated
/// zeros; returns the file system and the bytes of each record.
fn write_preallocated(records: &[Vec<u8>]) -> (MemFs, LogWriter) {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/db")).unwrap();
    let mut w = LogWriter::new(fs.create(Path::new(PATH)).unwrap());
    fs.sync_dir(Path::new("/db")).unwrap();
    for r in records {
        w.add_record(r).unwrap();
        w.sync_preallocating().unwrap();
    }
    (fs, w)
}

#[test]
fn a_preallocated_log_reads_its_records_and_ends_at_the_zeros() {
    let recs = sample_records();
    let (fs, w) = write_preallocated(&recs);
    let bytes = fs.file_contents(Path::new(PATH)).unwrap();
    assert!(bytes.len() as u64 >= w.len() + (BLOCK_SIZE / 2) as u64, "zeros lie ahead");
    assert_eq!(read_log(&fs, RecoveryMode::default()).unwrap(), recs);
}

#[test]
fn a_crash_during_an_append_over_zeros_leaves_a_clean_prefix() {
    let recs = sample_records();
    let (fs, mut w) = write_preallocated(&recs[..3]);
    // Unsynced appends over the zeros, then power loss at every kind of tear.
    for r in &recs[3..] {
        w.add_record(r).unwrap();
    }
    for seed in 0..40 {
        for mode in [crate::fs::CrashMode::DropUnsynced, crate::fs::CrashMode::KeepRandomPrefix] {
            let got = read_log(&fs.crash(mode, seed), RecoveryMode::TolerateTornTail).unwrap();
            assert!(got.len() >= 3, "synced records survive ({mode:?}, seed {seed})");
            assert_eq!(got[..], recs[..got.len()], "{mode:?}, seed {seed}");
        }
        let torn = fs.crash(crate::fs::CrashMode::TornPages, seed);
        let got = read_log(&torn, RecoveryMode::PointInTime).unwrap();
        assert_eq!(got[..], recs[..got.len()], "torn pages, seed {seed}");
    }
}

#[test]
fn a_record_cut_short_by_the_zero_tail_is_torn_but_damage_before_it_is_not() {
    let recs = vec![b"first".to_vec(), vec![5u8; 300], b"third".to_vec()];
    let (fs, _w) = write_preallocated(&recs);
    let bytes = fs.file_contents(Path::new(PATH)).unwrap();
    let third = 2 * HEADER_SIZE + 5 + 300;
    // The last record with its end still zeros: a torn append.
    let mut cut = bytes.clone();
    cut[third + HEADER_SIZE + 2..third + HEADER_SIZE + 5].fill(0);
    let fs = MemFs::new();
    fs.write_file(Path::new(PATH), &cut);
    assert_eq!(read_log(&fs, RecoveryMode::TolerateTornTail).unwrap(), recs[..2]);
    // A flipped byte in a record written whole stays corruption, zeros after it or not.
    for at in [third + 1, HEADER_SIZE + 5 + HEADER_SIZE + 10] {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        fs.write_file(Path::new(PATH), &bad);
        assert!(read_log(&fs, RecoveryMode::TolerateTornTail).unwrap_err().is_corruption());
    }
}
