//! Decoding a batch from the WAL, and its records one by one, with the checks a record
//! must pass.

use std::path::Path;

use super::{Record, WriteBatch, HEADER_LEN, INGEST_TAG};
use crate::coding::{put_length_prefixed, Reader};
use crate::key::Kind;
use crate::{Error, Result};

impl WriteBatch {
    /// Decodes a batch read from `file` at `offset`, checking every length against the
    /// bytes that remain.
    pub(crate) fn decode(data: &[u8], file: &Path, offset: u64) -> Result<WriteBatch> {
        let corrupt = |at: usize, what: &str| {
            Error::corruption(file, offset + at as u64, format!("write batch: {what}"))
        };
        if data.len() < HEADER_LEN {
            return Err(corrupt(0, "shorter than its 12-byte header"));
        }
        let declared = crate::coding::fixed32(&data[8..12]);
        let mut batch = WriteBatch { rep: Vec::with_capacity(data.len()), ..WriteBatch::new() };
        batch.rep.clear();
        batch.rep.extend_from_slice(&data[..HEADER_LEN]);
        let mut r = Reader::new(&data[HEADER_LEN..]);
        let marker = data.get(HEADER_LEN) == Some(&INGEST_TAG);
        while !r.is_empty() {
            if marker {
                let at = HEADER_LEN + r.offset();
                if r.u8("marker tag").map_err(|m| corrupt(HEADER_LEN + m.offset, m.what))?
                    != INGEST_TAG
                {
                    return Err(corrupt(at, "an ingest marker batch holds a record"));
                }
                let table =
                    r.varint64("table").map_err(|m| corrupt(HEADER_LEN + m.offset, m.what))?;
                batch.rep.push(INGEST_TAG);
                crate::coding::put_varint64(&mut batch.rep, table);
                batch.count += 1;
                continue;
            }
            let rec = read_record(&mut r).map_err(|m| corrupt(HEADER_LEN + m.offset, m.what))?;
            batch.push_record(&rec);
        }
        if batch.count != declared {
            return Err(corrupt(
                8,
                &format!("header says {declared} records, found {}", batch.count),
            ));
        }
        // Logged batches are never empty, and their seqnos fit in an internal key.
        let seqno = batch.seqno();
        let last = seqno.checked_add(u64::from(batch.count)).and_then(|end| end.checked_sub(1));
        if batch.count == 0 || seqno == 0 || last.is_none_or(|l| l > crate::key::MAX_SEQNO) {
            let detail = format!("seqnos {seqno}+{} out of range", batch.count);
            return Err(corrupt(0, &detail));
        }
        Ok(batch)
    }

    /// Appends `rec` as it was encoded (keyspace tag included).
    pub(crate) fn push_record(&mut self, rec: &Record<'_>) {
        let tag = rec.kind as u8;
        if rec.keyspace == 0 {
            self.rep.push(tag);
        } else {
            self.rep.push(KEYSPACE_BIT | tag);
            crate::coding::put_varint32(&mut self.rep, rec.keyspace);
            if !self.keyspaces.contains(&rec.keyspace) {
                self.keyspaces.push(rec.keyspace);
            }
        }
        put_length_prefixed(&mut self.rep, rec.key);
        if rec.kind != Kind::Delete {
            put_length_prefixed(&mut self.rep, rec.value);
        }
        if rec.kind == Kind::Merge && !self.merges_in.contains(&rec.keyspace) {
            self.merges_in.push(rec.keyspace);
        }
        self.note(rec.key.len(), rec.value.len());
    }

    /// The records in order. Only for batches built or decoded by this module, whose
    /// encoding is known to be well formed.
    pub(crate) fn records(&self) -> impl Iterator<Item = Record<'_>> {
        let body = if self.is_ingest_marker() { &[][..] } else { &self.rep[HEADER_LEN..] };
        let mut r = Reader::new(body);
        std::iter::from_fn(move || if r.is_empty() { None } else { read_record(&mut r).ok() })
    }
}

/// Set in a record's tag when a keyspace id follows it.
pub(super) const KEYSPACE_BIT: u8 = 0x80;

pub(super) fn read_record<'a>(r: &mut Reader<'a>) -> Result<Record<'a>, crate::coding::Malformed> {
    let start = r.offset();
    let tag = r.u8("record kind")?;
    let keyspace = if tag & KEYSPACE_BIT != 0 { r.varint32("keyspace id")? } else { 0 };
    let kind = Kind::from_u8(tag & !KEYSPACE_BIT)
        .ok_or(crate::coding::Malformed { offset: start, what: "unknown record kind" })?;
    let key = r.length_prefixed("key")?;
    let value = match kind {
        Kind::Delete => &[],
        _ => r.length_prefixed("value")?,
    };
    let malformed = |what| crate::coding::Malformed { offset: start, what };
    match kind {
        Kind::PutExpiring if value.len() < crate::expiry::EXPIRY_LEN => {
            return Err(malformed("expiring value shorter than its expiry"))
        }
        Kind::RangeDelete if !value.is_empty() && value <= key => {
            return Err(malformed("empty or reversed deleted range"))
        }
        _ => {}
    }
    Ok(Record { keyspace, kind, key, value })
}
