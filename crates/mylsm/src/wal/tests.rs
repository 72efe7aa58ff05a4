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
