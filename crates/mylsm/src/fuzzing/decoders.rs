//! The decoder targets: blocks, tables, logs, write batches and version edits, each fed
//! arbitrary bytes and checked against what its format promises.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

use mylsm_skiplist::Comparator;

use super::{fixup, Choices};
use crate::batch::WriteBatch;
use crate::cache::BlockCache;
use crate::coding::{fixed32, fixed64};
use crate::fs::{FileSystem, MemFs};
use crate::iter::InternalIterator;
use crate::key::{self, InternalKeyComparator, Kind, MAX_SEQNO};
use crate::sstable::{
    read_block, Block, BlockHandle, BlockLoc, Compression, FilterCounters, Table, TableBuilder,
    TableOptions,
};
use crate::version::VersionEdit;
use crate::wal::{mask_crc, LogReader, LogWriter, RecoveryMode};
use crate::{Error, Result};

/// Where the targets place the bytes they decode.
pub(super) const TABLE_PATH: &str = "/fuzz/000007.sst";
pub(super) const LOG_PATH: &str = "/fuzz/000003.log";

/// An empty `MemFs` with the directory the targets place files in.
pub(super) fn fresh_fs() -> MemFs {
    let fs = MemFs::new();
    fs.create_dir_all(Path::new("/fuzz")).expect("MemFs creates a directory");
    fs
}

/// The most seek and lookup targets tried per input, so one exec stays fast.
const MAX_TARGETS: usize = 48;
/// The most entries a round-trip table is built from.
const MAX_ENTRIES: usize = 2000;
/// The most records a round-trip log is written from.
const MAX_RECORDS: usize = 64;

type Entry = (Vec<u8>, Vec<u8>);

fn cmp(a: &[u8], b: &[u8]) -> Ordering {
    InternalKeyComparator.compare(a, b)
}

/// Damage must be reported as `Corruption` naming the file that holds it.
fn expect_corruption(e: &Error, path: &str) {
    match e {
        Error::Corruption { file, .. } if file == Path::new(path) => {}
        other => panic!("expected Corruption in {path}, got {other:?}"),
    }
}

fn expect_ok_or_corruption<T>(r: &Result<T>, path: &str) {
    if let Err(e) = r {
        expect_corruption(e, path);
    }
}

// ---------------------------------------------------------------------------------------
// Iterator checks shared by blocks and tables.

fn scan_forward(it: &mut impl InternalIterator) -> (Vec<Entry>, Result<()>) {
    let mut out = Vec::new();
    it.seek_to_first();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.next();
    }
    (out, it.status())
}

fn scan_backward(it: &mut impl InternalIterator) -> (Vec<Entry>, Result<()>) {
    let mut out = Vec::new();
    it.seek_to_last();
    while it.valid() {
        out.push((it.key().to_vec(), it.value().to_vec()));
        it.prev();
    }
    out.reverse();
    (out, it.status())
}

/// Scans with a fresh cursor each way. Both must fail, or both succeed with the same
/// entries: a direction that silently skipped damage would lose data. Returns the
/// entries when both succeed.
fn check_directions<I: InternalIterator>(
    mut new_iter: impl FnMut() -> I,
    path: &str,
) -> Option<Vec<Entry>> {
    let (fwd, fwd_status) = scan_forward(&mut new_iter());
    let (bwd, bwd_status) = scan_backward(&mut new_iter());
    expect_ok_or_corruption(&fwd_status, path);
    expect_ok_or_corruption(&bwd_status, path);
    assert_eq!(
        fwd_status.is_ok(),
        bwd_status.is_ok(),
        "forward scan: {fwd_status:?}; backward scan: {bwd_status:?}"
    );
    if fwd_status.is_err() {
        return None;
    }
    assert!(fwd == bwd, "forward ({}) and backward ({}) scans differ", fwd.len(), bwd.len());
    Some(fwd)
}

/// Seek targets: keys that are present, keys just around them, and bytes of the input.
fn targets(entries: &[Entry], input: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new(), key::lookup_key(b"", MAX_SEQNO)];
    let step = (entries.len() / (MAX_TARGETS / 3)).max(1);
    for (k, _) in entries.iter().step_by(step).take(MAX_TARGETS / 3) {
        out.push(k.clone());
        out.push(key::lookup_key(key::user_key(k), MAX_SEQNO));
        let mut after = key::user_key(k).to_vec();
        after.push(0);
        out.push(key::lookup_key(&after, 0));
    }
    for chunk in input.chunks(13).take(4) {
        out.push(chunk.to_vec());
    }
    out
}

/// Where a model of `entries` (sorted, without damage) says a cursor must be.
fn expect_at(it: &impl InternalIterator, entries: &[Entry], pos: Option<usize>, what: &str) {
    if let Err(e) = it.status() {
        panic!("{what}: a cursor over undamaged entries failed: {e}");
    }
    match pos {
        Some(i) => {
            assert!(it.valid(), "{what}: expected entry {i} of {}, cursor invalid", entries.len());
            assert!(
                it.key() == entries[i].0 && it.value() == entries[i].1,
                "{what}: expected entry {i} of {}",
                entries.len()
            );
        }
        None => assert!(!it.valid(), "{what}: expected an invalid cursor"),
    }
}

/// Seeks to every target, then steps once each way. With `model` (the entries of a
/// source known to be sorted and undamaged), every position is checked against it;
/// without, only that nothing panics.
fn check_seeks<I: InternalIterator>(
    mut new_iter: impl FnMut() -> I,
    model: Option<&[Entry]>,
    targets: &[Vec<u8>],
) {
    let mut it = new_iter();
    for t in targets {
        it.seek(t);
        let mut pos = model.map(|m| m.partition_point(|(k, _)| cmp(k, t).is_lt()));
        if let Some(m) = model {
            let p = pos.filter(|&i| i < m.len());
            expect_at(&it, m, p, "seek");
            pos = p;
        }
        if it.valid() {
            it.next();
            if let Some(m) = model {
                expect_at(&it, m, pos.map(|i| i + 1).filter(|&i| i < m.len()), "seek + next");
            }
        }
        it.seek_for_prev(t);
        let pos = model.map(|m| m.partition_point(|(k, _)| cmp(k, t).is_le()).checked_sub(1));
        if let (Some(m), Some(p)) = (model, pos) {
            expect_at(&it, m, p, "seek_for_prev");
        }
        if it.valid() {
            it.prev();
            if let (Some(m), Some(p)) = (model, pos) {
                expect_at(&it, m, p.and_then(|i| i.checked_sub(1)), "seek_for_prev + prev");
            }
        }
    }
}

fn is_sorted(entries: &[Entry]) -> bool {
    entries.windows(2).all(|w| cmp(&w[0].0, &w[1].0).is_lt())
}

// ---------------------------------------------------------------------------------------
// Blocks.

/// Decodes a block and exercises its cursor.
///
/// Input: `mode: u8` then the block. Mode 0 (mod 4) parses the bytes as uncompressed
/// block contents; modes 1, 2 and 3 treat them as the stored contents of a block
/// compressed with none, LZ4 or Zstd: a correct trailer is appended and the block goes
/// through the table reader's checksum and decompression first.
pub fn block(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    let contents: Arc<[u8]> = match mode % 4 {
        0 => Arc::from(body),
        m => match stored_block(body, m - 1) {
            Ok(c) => c,
            Err(e) => return expect_corruption(&e, TABLE_PATH),
        },
    };
    let loc = BlockLoc { file: Arc::from(Path::new(TABLE_PATH)), offset: 0 };
    let block = match Block::new(contents, loc) {
        Ok(b) => b,
        Err(e) => return expect_corruption(&e, TABLE_PATH),
    };
    let entries = check_directions(|| block.iter(), TABLE_PATH);
    let all = entries.as_deref().unwrap_or(&[]);
    let model = entries.as_deref().filter(|e| is_sorted(e));
    check_seeks(|| block.iter(), model, &targets(all, body));
}

/// `body` followed by a trailer of compression type `kind` and a correct checksum, read
/// back through `read_block`.
fn stored_block(body: &[u8], kind: u8) -> Result<Arc<[u8]>> {
    let path = Path::new(TABLE_PATH);
    let mut file = body.to_vec();
    file.push(kind);
    let crc = mask_crc(crc32c::crc32c_append(crc32c::crc32c(body), &[kind]));
    file.extend_from_slice(&crc.to_le_bytes());
    let fs = fresh_fs();
    fs.write_file(path, &file);
    let f = fs.open(path).expect("MemFs opens the file it just wrote");
    let handle = BlockHandle { offset: 0, size: body.len() as u64 };
    read_block(f.as_ref(), path, handle, file.len() as u64).map(|(contents, _)| contents)
}

// ---------------------------------------------------------------------------------------
// Tables.

/// Opens a table and exercises every way of reading it.
///
/// Input: `mode: u8` then the rest. Mode 0 (mod 3): the rest is a table file. Mode 1:
/// the same with every checksum the reader will check recomputed first. Mode 2: the rest
/// describes entries and table options; the table built from them must read back
/// exactly, and then a copy with one byte changed (checksums fixed) must not panic.
pub fn table(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    match mode % 3 {
        0 => read_table(body.to_vec()),
        1 => {
            let mut bytes = body.to_vec();
            fixup::table(&mut bytes);
            read_table(bytes);
        }
        _ => round_trip_table(body),
    }
}

fn open_table(fs: &MemFs, bytes: &[u8], cache_bytes: u64) -> Result<Arc<Table>> {
    let path = Path::new(TABLE_PATH);
    fs.write_file(path, bytes);
    let file = fs.open(path).expect("MemFs opens the file it just wrote");
    let cache = Arc::new(BlockCache::new(cache_bytes));
    Table::open(file, path.to_path_buf(), 7, bytes.len() as u64, cache).map(Arc::new)
}

/// Reads a table of unknown bytes: every failure must be `Corruption`, and the scans
/// must agree. Without a block cache, so that every read sees the bytes on disk (two
/// index entries may name one offset with different sizes; the cache would serve the
/// first to both).
fn read_table(bytes: Vec<u8>) {
    let fs = fresh_fs();
    let table = match open_table(&fs, &bytes, 0) {
        Ok(t) => t,
        Err(e) => return expect_corruption(&e, TABLE_PATH),
    };
    let entries = check_directions(|| table.iter(), TABLE_PATH);
    expect_ok_or_corruption(&table.verify(), TABLE_PATH);
    expect_ok_or_corruption(&table.blocks(), TABLE_PATH);
    let _ = (table.filter_info(), table.properties());
    let targets = targets(entries.as_deref().unwrap_or(&[]), &bytes);
    let counters = FilterCounters::default();
    for t in &targets {
        expect_ok_or_corruption(&table.get_counted(t, &counters), TABLE_PATH);
    }
    check_seeks(|| table.iter(), None, &targets);
    // Once more through a cache, read twice so the second scan is served from it.
    if let Ok(cached) = open_table(&fs, &bytes, 1 << 20) {
        for _ in 0..2 {
            let (_, status) = scan_forward(&mut cached.iter());
            expect_ok_or_corruption(&status, TABLE_PATH);
        }
    }
}

/// Entries and options described by `body`: sorted, without duplicate internal keys.
fn entries_from(c: &mut Choices<'_>) -> (TableOptions, Vec<Entry>) {
    let compression = match c.u8() % 3 {
        0 => Compression::None,
        1 => Compression::Lz4,
        _ => Compression::Zstd,
    };
    let opts = TableOptions {
        block_size: 32 + usize::from(c.u16() % 4096),
        restart_interval: 1 + usize::from(c.u8() % 16),
        bloom_bits_per_key: usize::from(c.u8() % 20),
        compression,
    };
    let mut entries = Vec::new();
    while !c.is_empty() && entries.len() < MAX_ENTRIES {
        let key_len = usize::from(c.u8() % 24);
        let user_key = c.bytes(key_len).to_vec();
        let seqno = u64::from(c.u16());
        let kind = if c.bool() { Kind::Put } else { Kind::Delete };
        let value_len = c.u8();
        // Long runs of one byte let compression kick in.
        let value = if value_len & 0x80 != 0 {
            vec![c.u8(); usize::from(value_len & 0x7f) * 8]
        } else {
            c.bytes(usize::from(value_len)).to_vec()
        };
        let mut ikey = Vec::new();
        key::append_internal_key(&mut ikey, &user_key, seqno, kind);
        entries.push((ikey, value));
    }
    entries.sort_by(|a, b| cmp(&a.0, &b.0));
    entries.dedup_by(|a, b| cmp(&a.0, &b.0).is_eq());
    (opts, entries)
}

fn round_trip_table(body: &[u8]) {
    let mut c = Choices::new(body);
    let (opts, entries) = entries_from(&mut c);
    let fs = fresh_fs();
    let path = Path::new(TABLE_PATH);
    let file = fs.create(path).expect("MemFs creates a file");
    let mut builder = TableBuilder::new(file, path.to_path_buf(), opts);
    for (k, v) in &entries {
        builder.add(k, v).expect("a sorted entry is accepted");
    }
    let props = builder.finish().expect("a table of sorted entries finishes");
    let bytes = fs.file_contents(path).expect("the table exists");
    assert_eq!(props.file_size, bytes.len() as u64);

    let table = open_table(&fresh_fs(), &bytes, 64 << 10).expect("a table just built opens");
    let p = table.properties();
    assert_eq!(p.num_entries, entries.len() as u64);
    assert_eq!(p.smallest_key, entries.first().map(|e| e.0.clone()).unwrap_or_default());
    assert_eq!(p.largest_key, entries.last().map(|e| e.0.clone()).unwrap_or_default());
    table.verify().expect("a table just built verifies");
    let scanned = check_directions(|| table.iter(), TABLE_PATH).expect("scans succeed");
    assert!(scanned == entries, "the table does not hold the entries it was built from");

    let targets = targets(&entries, body);
    check_seeks(|| table.iter(), Some(&entries), &targets);
    let counters = FilterCounters::default();
    for t in &targets {
        let got = table.get_counted(t, &counters).expect("get on an undamaged table");
        let i = entries.partition_point(|(k, _)| cmp(k, t).is_lt());
        let want = entries.get(i).filter(|(k, _)| key::user_key(k) == key::user_key(t));
        let got = got.map(|(k, v)| (k, v.to_vec()));
        assert_eq!(got.as_ref(), want, "get of a {}-byte key", t.len());
    }

    // One changed byte, checksums recomputed: damage the reader must catch or survive.
    if !bytes.is_empty() {
        let mut bad = bytes;
        let at = usize::from(c.u16()) % bad.len();
        bad[at] ^= c.u8() | 1;
        fixup::table(&mut bad);
        read_table(bad);
    }
}

// ---------------------------------------------------------------------------------------
// Logs.

/// Reads a log in both recovery modes, decoding every record as a write batch and as a
/// version edit (the two payloads logs carry).
///
/// Input: `mode: u8` then the rest. Mode 0 (mod 3): the rest is a log file. Mode 1: the
/// same with every fragment checksum recomputed. Mode 2: the rest describes records,
/// which `LogWriter` writes and both modes must read back exactly; then the log is cut
/// at a point the input picks, and must read back as a prefix of the records.
pub fn wal(data: &[u8]) {
    let Some((&mode, body)) = data.split_first() else { return };
    match mode % 3 {
        0 => read_both_modes(body),
        1 => {
            let mut bytes = body.to_vec();
            fixup::log(&mut bytes);
            read_both_modes(&bytes);
        }
        _ => round_trip_log(body),
    }
}

type Records = Vec<(u64, Vec<u8>)>;

/// Every record up to the end or the first error, and where replay stopped early.
fn read_log(bytes: &[u8], mode: RecoveryMode) -> (Records, Result<()>, Option<(u64, String)>) {
    let fs = fresh_fs();
    let path = Path::new(LOG_PATH);
    fs.write_file(path, bytes);
    let file = fs.open(path).expect("MemFs opens the file it just wrote");
    let mut reader = LogReader::new(file, path, mode).expect("MemFs knows the file's length");
    let mut records = Vec::new();
    let status = loop {
        match reader.next_record() {
            Ok(Some(r)) => records.push(r),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    (records, status, reader.dropped().cloned())
}

fn read_both_modes(bytes: &[u8]) {
    let (strict, strict_status, strict_dropped) = read_log(bytes, RecoveryMode::TolerateTornTail);
    let (pit, pit_status, pit_dropped) = read_log(bytes, RecoveryMode::PointInTime);
    expect_ok_or_corruption(&strict_status, LOG_PATH);
    assert!(strict_dropped.is_none(), "the strict mode reported dropping data");
    assert!(pit_status.is_ok(), "point-in-time recovery failed: {pit_status:?}");
    // The modes differ only in what they do at damage: one fails, the other stops.
    assert!(strict == pit, "the recovery modes read different records before any damage");
    assert_eq!(strict_status.is_err(), pit_dropped.is_some());
    let path = Path::new(LOG_PATH);
    for (offset, record) in &strict {
        let batch = WriteBatch::decode(record, path, *offset);
        expect_ok_or_corruption(&batch, LOG_PATH);
        expect_ok_or_corruption(&VersionEdit::decode(record, path, *offset), LOG_PATH);
    }
}

fn round_trip_log(body: &[u8]) {
    let mut c = Choices::new(body);
    let cut = c.u16();
    let mut records: Vec<Vec<u8>> = Vec::new();
    while !c.is_empty() && records.len() < MAX_RECORDS {
        let shape = c.u8();
        // One record in eight may be long enough to cross several 32 KiB blocks.
        let len = if shape % 8 == 7 {
            usize::from(c.u16()) + usize::from(shape)
        } else {
            usize::from(c.u8())
        };
        let pattern = c.bytes(16);
        let record = (0..len).map(|i| pattern.get(i % 16).copied().unwrap_or(i as u8)).collect();
        records.push(record);
    }
    let fs = fresh_fs();
    let path = Path::new(LOG_PATH);
    let mut writer = LogWriter::new(fs.create(path).expect("MemFs creates a file"));
    for r in &records {
        writer.add_record(r).expect("MemFs appends");
    }
    drop(writer);
    let bytes = fs.file_contents(path).expect("the log exists");
    for mode in [RecoveryMode::TolerateTornTail, RecoveryMode::PointInTime] {
        let (got, status, dropped) = read_log(&bytes, mode);
        assert!(status.is_ok() && dropped.is_none(), "{mode:?}: {status:?} {dropped:?}");
        let got: Vec<Vec<u8>> = got.into_iter().map(|(_, r)| r).collect();
        assert!(got == records, "{mode:?}: read {} records of {}", got.len(), records.len());
    }
    // A log cut anywhere, as by a crash during an append, ends cleanly after a prefix.
    let at = bytes.len() * usize::from(cut) / 65536;
    let (got, status, _) = read_log(&bytes[..at], RecoveryMode::TolerateTornTail);
    assert!(status.is_ok(), "a log cut at {at} of {}: {status:?}", bytes.len());
    assert!(got.len() <= records.len());
    for (i, (_, r)) in got.iter().enumerate() {
        assert!(*r == records[i], "a log cut at {at}: record {i} differs");
    }
}

// ---------------------------------------------------------------------------------------
// Write batches and version edits.

/// Decodes a write batch (a WAL record's payload). What decodes must re-encode to a
/// batch that decodes to the same records, and to the bytes a batch built afresh from
/// those records has.
pub fn batch(data: &[u8]) {
    let decoded = WriteBatch::decode(data, Path::new(LOG_PATH), 100);
    let mut batch = match decoded {
        Ok(b) => b,
        Err(e) => return expect_corruption(&e, LOG_PATH),
    };
    let records: Vec<(u32, Kind, Vec<u8>, Vec<u8>)> =
        batch.records().map(|r| (r.keyspace, r.kind, r.key.to_vec(), r.value.to_vec())).collect();
    assert_eq!(records.len(), batch.len());
    assert_eq!(records.len() as u64, u64::from(fixed32(&data[8..12])));
    assert_eq!(batch.seqno(), fixed64(data));
    let _ = batch.validate();
    let encoded = batch.encoded().to_vec();
    let again = WriteBatch::decode(&encoded, Path::new(LOG_PATH), 0).expect("re-encoded batch");
    assert!(again == batch, "a re-encoded batch decodes differently");
    let mut fresh = WriteBatch::new();
    for (keyspace, kind, k, v) in &records {
        let rec = crate::batch::Record { keyspace: *keyspace, kind: *kind, key: k, value: v };
        fresh.push_record(&rec);
    }
    fresh.set_seqno(batch.seqno());
    assert!(fresh.encoded() == encoded, "a batch built afresh encodes differently");
}

/// Decodes a version edit (a manifest record's payload); what decodes must survive
/// encode and decode unchanged.
pub fn version_edit(data: &[u8]) {
    let edit = match VersionEdit::decode(data, Path::new(LOG_PATH), 0) {
        Ok(e) => e,
        Err(e) => return expect_corruption(&e, LOG_PATH),
    };
    let encoded = edit.encode();
    let again = VersionEdit::decode(&encoded, Path::new(LOG_PATH), 0).expect("re-encoded edit");
    assert_eq!(again, edit);
    assert!(again.encode() == encoded, "encoding is not a function of the edit");
}
