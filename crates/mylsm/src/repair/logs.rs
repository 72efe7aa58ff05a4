//! Reading the write-ahead logs for repair: each keyspace's records that its tables do
//! not already hold go into a memtable (written out as a table by the caller), and the
//! ingest markers say which global seqno each ingested table had.
//!
//! LevelDB's repairer replays every log record into a table, even those its tables
//! already hold, which is harmless when every write is a put or a delete (the copy has
//! the same seqno and value). A merge operand replayed twice is added twice, so here a
//! record of keyspace `k` is taken only if its seqno is above the largest seqno of `k`'s
//! tables: a keyspace's memtables are flushed in seqno order, so everything at or below
//! that seqno is in its tables already (or was dropped by a compaction as shadowed,
//! and what shadowed it is in the tables too).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use crate::batch::WriteBatch;
use crate::coding::Reader;
use crate::filename;
use crate::fs::FileSystem;
use crate::memtable::MemTable;
use crate::wal::{LogReader, RecoveryMode};
use crate::Result;

/// What the logs held beyond the tables.
#[derive(Debug, Default)]
pub(super) struct Replayed {
    /// A memtable per keyspace id that has records to add (ids repair knows no name for
    /// included).
    pub mems: BTreeMap<u32, Arc<MemTable>>,
    /// Ingested table number → the global seqno its ingest's marker gave it.
    pub ingested: BTreeMap<u64, u64>,
    /// The largest seqno any intact record took.
    pub max_seqno: u64,
    /// Records put into the memtables.
    pub records: u64,
    /// Where reading stopped at damage, described; nothing from there on was used.
    pub damage: Option<String>,
}

/// Reads logs `logs` of `dir` in order, up to the first damage (point in time: what is
/// used is a prefix of the history). A record of keyspace `k` is taken if its seqno is
/// above `covered[k]` (0 if absent) and `k` is not in `skip`.
pub(super) fn replay(
    fs: &dyn FileSystem,
    dir: &Path,
    logs: &[u64],
    covered: &BTreeMap<u32, u64>,
    skip: &BTreeSet<u32>,
) -> Result<Replayed> {
    let mut out = Replayed::default();
    let mut scratch = Vec::new();
    for &number in logs {
        let path = filename::log_file(dir, number);
        let mut reader = LogReader::new(fs.open(&path)?, &path, RecoveryMode::PointInTime)?;
        while let Some((offset, record)) = reader.next_record()? {
            let batch = match WriteBatch::decode(&record, &path, offset) {
                Ok(b) => b,
                Err(e) => {
                    out.damage = Some(e.to_string());
                    return Ok(out);
                }
            };
            let seqno = batch.seqno();
            out.max_seqno = out.max_seqno.max(seqno + batch.len() as u64 - 1);
            if batch.is_ingest_marker() {
                for (i, table) in marker_tables(&record).into_iter().enumerate() {
                    out.ingested.insert(table, seqno + i as u64);
                }
                continue;
            }
            for (i, rec) in batch.records().enumerate() {
                let s = seqno + i as u64;
                if skip.contains(&rec.keyspace)
                    || s <= covered.get(&rec.keyspace).copied().unwrap_or(0)
                {
                    continue;
                }
                let mem = out.mems.entry(rec.keyspace).or_insert_with(|| Arc::new(MemTable::new()));
                mem.add(&mut scratch, s, rec.kind, rec.key, rec.value);
                out.records += 1;
            }
        }
        if let Some((offset, detail)) = reader.dropped() {
            out.damage = Some(format!("{} at offset {offset}: {detail}", path.display()));
            return Ok(out);
        }
    }
    Ok(out)
}

/// The table numbers of an ingest's marker batch (`batch/`: a 12-byte header, then
/// `0x30 table: varint64` per table), already checked by `WriteBatch::decode`.
fn marker_tables(record: &[u8]) -> Vec<u64> {
    let mut r = Reader::new(record.get(12..).unwrap_or_default());
    let mut tables = Vec::new();
    while !r.is_empty() {
        match (r.u8("marker tag"), r.varint64("table")) {
            (Ok(_), Ok(t)) => tables.push(t),
            _ => break,
        }
    }
    tables
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Record;
    use crate::fs::MemFs;
    use crate::key::Kind;
    use crate::wal::LogWriter;

    /// A log of merges to keyspace 1 at seqnos 1..=10 (one per batch), then an ingest
    /// marker for tables 20 and 21 at seqnos 11 and 12.
    fn log(fs: &MemFs, dir: &Path) {
        fs.create_dir_all(dir).unwrap();
        let mut w = LogWriter::new(fs.create(&filename::log_file(dir, 3)).unwrap());
        for s in 1..=10u64 {
            let mut b = WriteBatch::new();
            let value = 1u64.to_le_bytes();
            b.push_record(&Record { keyspace: 1, kind: Kind::Merge, key: b"c", value: &value });
            b.set_seqno(s);
            w.add_record(b.encoded()).unwrap();
        }
        w.add_record(WriteBatch::ingest_marker(11, &[20, 21]).encoded()).unwrap();
        w.sync().unwrap();
    }

    /// Merge operands the tables already hold would be added twice if replayed again.
    #[test]
    fn only_records_above_what_the_keyspace_tables_hold_are_taken() {
        let (fs, dir) = (MemFs::new(), Path::new("/db"));
        log(&fs, dir);
        let covered = BTreeMap::from([(1, 6)]);
        let r = replay(&fs, dir, &[3], &covered, &BTreeSet::new()).unwrap();
        assert_eq!((r.records, r.max_seqno), (4, 12));
        assert_eq!(r.ingested, BTreeMap::from([(20, 11), (21, 12)]));
        assert_eq!(r.damage, None);
        let skipped = replay(&fs, dir, &[3], &BTreeMap::new(), &BTreeSet::from([1])).unwrap();
        assert_eq!((skipped.records, skipped.mems.len()), (0, 0), "a dropped keyspace");
    }

    #[test]
    fn reading_stops_at_damage_and_says_where() {
        let (fs, dir) = (MemFs::new(), Path::new("/db"));
        log(&fs, dir);
        let path = filename::log_file(dir, 3);
        let mut bytes = fs.file_contents(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        fs.write_file(&path, &bytes);
        let r = replay(&fs, dir, &[3], &BTreeMap::new(), &BTreeSet::new()).unwrap();
        assert!(r.records > 0 && r.records < 10, "{}", r.records);
        assert!(r.damage.is_some_and(|d| d.contains("000003.log")));
    }
}
