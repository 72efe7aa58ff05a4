//! Seed inputs for every target, made by the engine's own encoders and by a real
//! database on `MemFs`, so fuzzing starts from valid files and mutates from there.

use std::path::Path;
use std::sync::Arc;

use super::decoders::{fresh_fs, LOG_PATH, TABLE_PATH};
use crate::fs::FileSystem;
use crate::key::{self, Kind};
use crate::sstable::{BlockBuilder, TableBuilder, TableOptions};
use crate::version::{FileMeta, VersionEdit};
use crate::wal::LogWriter;
use crate::{Compression, Db, Options, WriteBatch, WriteOptions};

/// `(target, input)` pairs: a few valid inputs for each target.
pub fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..60u32)
        .map(|i| {
            let mut k = Vec::new();
            let kind = if i % 7 == 3 { Kind::Delete } else { Kind::Put };
            key::append_internal_key(
                &mut k,
                format!("key{:03}", i / 2).as_bytes(),
                100 - u64::from(i % 2),
                kind,
            );
            (k, format!("value-{i}-{}", "x".repeat(i as usize % 20)).into_bytes())
        })
        .collect();

    for restart_interval in [1, 4, 16] {
        let mut b = BlockBuilder::new(restart_interval);
        for (k, v) in &entries {
            b.add(k, v);
        }
        let raw = b.finish().to_vec();
        out.push(("block", [&[0u8][..], &raw].concat()));
        out.push(("block", [&[1u8][..], &raw].concat()));
        out.push(("block", [&[2u8][..], &lz4_flex::compress_prepend_size(&raw)].concat()));
        let mut z = (raw.len() as u32).to_le_bytes().to_vec();
        z.extend_from_slice(&zstd::bulk::compress(&raw, 3).expect("zstd compresses"));
        out.push(("block", [&[3u8][..], &z].concat()));
    }

    for (compression, bloom) in
        [(Compression::None, 10), (Compression::Lz4, 0), (Compression::Zstd, 10)]
    {
        let opts = TableOptions {
            block_size: 256,
            restart_interval: 4,
            bloom_bits_per_key: bloom,
            compression,
        };
        let fs = fresh_fs();
        let path = Path::new(TABLE_PATH);
        let mut t = TableBuilder::new(fs.create(path).expect("create"), path.to_path_buf(), opts);
        for (k, v) in &entries {
            t.add(k, v).expect("add");
        }
        t.finish().expect("finish");
        let bytes = fs.file_contents(path).expect("table");
        out.push(("table", [&[0u8][..], &bytes].concat()));
        out.push(("table", [&[1u8][..], &bytes].concat()));
    }
    // Round-trip descriptions: options, then (key length, key, seqno, kind, value) runs.
    let mut desc = vec![2u8, 1, 0, 1, 4, 10];
    for i in 0..40u8 {
        desc.extend_from_slice(&[4, b'k', b'e', b'y', i, i, 0, 1, 0x84, b'v']);
    }
    out.push(("table", desc));

    let fs = fresh_fs();
    let path = Path::new(LOG_PATH);
    let mut w = LogWriter::new(fs.create(path).expect("create"));
    let mut batch = WriteBatch::new();
    for (i, (k, v)) in entries.iter().enumerate() {
        batch.put(key::user_key(k), v);
        if i % 5 == 4 {
            batch.delete(key::user_key(k));
            batch.set_seqno(i as u64);
            w.add_record(batch.encoded()).expect("append");
            out.push(("batch", batch.encoded().to_vec()));
            batch.clear();
        }
    }
    let mut big = WriteBatch::new();
    big.put(b"big", vec![7u8; 40_000]);
    w.add_record(big.encoded()).expect("append");
    drop(w);
    let log = fs.file_contents(path).expect("log");
    out.push(("wal", [&[0u8][..], &log].concat()));
    out.push(("wal", [&[1u8][..], &log].concat()));
    out.push(("wal", vec![2, 0x80, 0x80, 3, b'a', b'b', 7, 0x10, 0x90, b'x', 1, 5, b'y']));

    let edit = VersionEdit {
        log_number: Some(7),
        next_file_number: Some(12),
        last_seqno: Some(999),
        deleted: vec![(0, 3), (1, 4)],
        added: vec![(
            1,
            FileMeta {
                number: 11,
                size: 4096,
                smallest: entries[0].0.clone(),
                largest: entries[59].0.clone(),
                smallest_seqno: 1,
                largest_seqno: 99,
                has_range_dels: false,
                expires_by: 0,
                global_seqno: 0,
                num_entries: 0,
                num_deletes: 0,
            },
        )],
        new_wals: vec![8, 13],
        db_format: Some(2),
        ..VersionEdit::default()
    };
    out.push(("version_edit", edit.encode()));

    // Files of a real database: its tables, log and manifest.
    let fs = fresh_fs();
    let opts = Options {
        fs: Arc::new(fs.clone()),
        write_buffer_size: 4 << 10,
        block_size: 256,
        ..Options::default()
    };
    let db = Db::open("/db", opts).expect("open");
    for i in 0..120u32 {
        let sync = WriteOptions::default().with_sync(i % 10 == 0);
        db.write_opt(single_put(i), &sync).expect("put");
    }
    db.flush().expect("flush");
    db.put(b"after", b"flush").expect("put");
    db.close().expect("close");
    for p in fs.paths() {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = fs.file_contents(&p).unwrap_or_default();
        if name.ends_with(".sst") && out.iter().filter(|(t, _)| *t == "table").count() < 10 {
            out.push(("table", [&[0u8][..], &bytes].concat()));
        } else if name.ends_with(".log") || name.starts_with("MANIFEST") {
            out.push(("wal", [&[0u8][..], &bytes].concat()));
        }
    }

    // Programs: puts and reads; a flush and a crash; a fault then a reopen.
    out.push(("db_ops", vec![1, 0, 1, 10, 1, 0, 0, 2, 20, 2, 1, 5, 1, 6, 0, 40, 0]));
    out.push(("db_ops", vec![2, 0, 3, 30, 7, 1, 0, 4, 255, 9, 1, 7, 9, 11, 13, 0, 1, 0, 5, 3]));
    out.push(("db_ops", vec![0, 4, 3, 1, 1, 5, 6, 0, 2, 7, 14, 2, 0, 0, 9, 8, 0, 12, 6, 0, 47, 0]));
    out.push(("db_ops", vec![1, 9, 0, 5, 10, 1, 0, 10, 0, 5, 8, 0, 47, 1, 10, 0, 5, 13, 2, 9, 0]));

    // Regression: a Zstd block whose length prefix claims 96 MiB for 3 KiB of stream,
    // which the reader used to allocate before decoding (see `sstable/compression.rs`).
    let mut bomb = (96u32 << 20).to_le_bytes().to_vec();
    bomb.extend_from_slice(&zstd::bulk::compress(&[9u8; 3 << 10], 3).expect("zstd compresses"));
    bomb.resize(3 << 10, 0);
    out.push(("block", [&[3u8][..], &bomb].concat()));
    new_kinds(&mut out, &entries);
    out
}

/// Seeds with range tombstones, merge operands and expiring values: a table with a
/// range-deletion block, a batch and an edit of every new kind, and the files of a
/// database that wrote them.
fn new_kinds(out: &mut Vec<(&'static str, Vec<u8>)>, entries: &[(Vec<u8>, Vec<u8>)]) {
    let fs = fresh_fs();
    let path = Path::new(TABLE_PATH);
    let opts = TableOptions { block_size: 256, ..TableOptions::default() };
    let mut t = TableBuilder::new(fs.create(path).expect("create"), path.to_path_buf(), opts);
    let tombstones = (0..4u8).map(|i| crate::range_del::Tombstone {
        start: vec![b'k', b'e', b'y', b'0' + i],
        end: Some(vec![b'k', b'e', b'y', b'0' + i, b'5']),
        seqno: 200 + u64::from(i),
    });
    t.set_range_tombstones(crate::range_del::Fragments::new(tombstones));
    for (i, (k, v)) in entries.iter().enumerate() {
        let kind = [Kind::Put, Kind::Merge, Kind::PutExpiring][i % 3];
        let p = key::parse_internal_key(k).expect("seed key");
        let mut ik = Vec::new();
        key::append_internal_key(&mut ik, p.user_key, p.seqno, kind);
        let v = if kind == Kind::PutExpiring { crate::expiry::encode(5_000, v) } else { v.clone() };
        t.add(&ik, &v).expect("add");
    }
    t.finish().expect("finish");
    out.push(("table", [&[0u8][..], &fs.file_contents(path).expect("table")].concat()));

    let mut batch = WriteBatch::new();
    batch.merge(b"counter", 1u64.to_le_bytes());
    batch.delete_range(b"a".as_slice()..b"m".as_slice()).expect("ordered");
    batch.delete_prefix(b"");
    batch.put_with_expiry(b"session", b"token", 1 << 40);
    batch.set_seqno(77);
    out.push(("batch", batch.encoded().to_vec()));

    let added = FileMeta {
        number: 21,
        size: 999,
        smallest: entries[0].0.clone(),
        largest: crate::range_del::end_sentinel(Some(b"zz")),
        smallest_seqno: 3,
        largest_seqno: 40,
        has_range_dels: true,
        expires_by: 123_456,
        global_seqno: 0,
        num_entries: 0,
        num_deletes: 0,
    };
    let edit = VersionEdit {
        added: vec![(2, added)],
        default_merge_operator: Some("mylsm.u64add".into()),
        ..VersionEdit::default()
    };
    out.push(("version_edit", edit.encode()));

    let fs = fresh_fs();
    let opts = Options {
        fs: Arc::new(fs.clone()),
        write_buffer_size: 4 << 10,
        block_size: 256,
        merge_operator: Some(Arc::new(crate::merge::Append::new(","))),
        ..Options::default()
    };
    let db = Db::open("/db", opts).expect("open");
    for i in 0..60u32 {
        db.put(format!("user{i:05}"), b"v").expect("put");
        db.merge(format!("user{:05}", i / 3), format!("m{i}")).expect("merge");
        if i % 10 == 9 {
            let lo = format!("user{:05}", i - 5);
            db.delete_range(lo.as_bytes()..format!("user{i:05}").as_bytes()).expect("range");
        }
    }
    db.flush().expect("flush");
    db.close().expect("close");
    for p in fs.paths() {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let bytes = fs.file_contents(&p).unwrap_or_default();
        if name.ends_with(".sst") {
            out.push(("table", [&[0u8][..], &bytes].concat()));
        } else if name.ends_with(".log") {
            out.push(("wal", [&[0u8][..], &bytes].concat()));
        }
    }
}

fn single_put(i: u32) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(format!("user{i:05}"), format!("value {i} {}", "y".repeat(i as usize % 30)));
    b
}
