//! `VersionEdit`: one change to the set of live tables, as logged in the manifest.
//!
//! ```text
//! edit  := field*
//! field := tag: varint32  len: varint32  payload[len]
//!   tag 1  log_number        varint64   WALs below this number are obsolete
//!   tag 2  next_file_number  varint64
//!   tag 3  last_seqno        varint64
//!   tag 4  deleted file      level: varint32  number: varint64
//!   tag 5  new file          level: varint32  number: varint64  size: varint64
//!                            smallest: varstring  largest: varstring   (internal keys)
//!                            smallest_seqno: varint64  largest_seqno: varint64
//!   tag 6  keyspace          varint32   the keyspace tags 1, 4 and 5 of this edit belong to
//!   tag 7  keyspace added    id: varint32  name: varstring  log_number: varint64
//!                            options: varstring
//!   tag 8  keyspace dropped  id: varint32
//!   tag 9  max keyspace id   varint32   no keyspace id at or below it is ever reused
//!   tag 10 new file v2       the fields of tag 5, then flags: varint64 (bit 0: the table
//!                            holds range tombstones) and expires_by: varint64 (every
//!                            entry expires by then; 0: not so). Written only when a
//!                            flag or expiry is set, so older builds refuse only
//!                            manifests that need it.
//!   tag 11..12               reserved (blob files); refused by this build
//!   tag 13 keyspace log      id: varint32  log_number: varint64   (another keyspace's)
//!   tag 14 new WAL           number: varint64   a WAL that is live until log_number passes it
//!   tag 15 db format         varint64   2: the manifest tracks live WALs (tag 14)
//!   tag 16 default merge op  bytes      the default keyspace's merge operator's name
//!   tag 100 file stats       number: varint64  entries: varint64  deletes: varint64
//!                            a hint for the new file `number` of the same edit (after
//!                            it): compaction scoring weighs deletes. Ignorable: older
//!                            builds skip it.
//!   tag 17 new file v3       the fields of tag 10, then global_seqno: varint64 (> 0):
//!                            an ingested table, whose entries are stored at seqno 0
//!                            and read at this one. Written only for ingested tables.
//! ```
//!
//! Every field carries its length, so a reader can check it before decoding; tags at
//! or above [`IGNORABLE_TAGS`] are skipped by readers that do not know them, and any
//! other unknown tag is corruption. (LevelDB's `version_edit.cc` has the same fields,
//! without lengths.)

use std::path::Path;

use crate::coding::{put_length_prefixed, put_varint64, Malformed, Reader};
pub use crate::sstable::FileMeta;
use crate::{Error, Result};

/// Number of levels: L0 (overlapping tables) and L1..L6 (sorted runs).
pub(crate) const NUM_LEVELS: usize = 7;

/// Tags from here on may be skipped by readers that do not know them.
pub(crate) const IGNORABLE_TAGS: u64 = 100;

const TAG_LOG_NUMBER: u64 = 1;
const TAG_NEXT_FILE: u64 = 2;
const TAG_LAST_SEQNO: u64 = 3;
const TAG_DELETED_FILE: u64 = 4;
const TAG_NEW_FILE: u64 = 5;
const TAG_NEW_FILE_V2: u64 = 10;
const TAG_KEYSPACE: u64 = 6;
const TAG_KEYSPACE_ADDED: u64 = 7;
const TAG_KEYSPACE_DROPPED: u64 = 8;
const TAG_MAX_KEYSPACE_ID: u64 = 9;
const TAG_KEYSPACE_LOG: u64 = 13;
const TAG_NEW_WAL: u64 = 14;
const TAG_DB_FORMAT: u64 = 15;
const TAG_DEFAULT_MERGE: u64 = 16;
const TAG_NEW_FILE_V3: u64 = 17;
const TAG_FILE_STATS: u64 = IGNORABLE_TAGS;

/// The database format this build writes and the newest it reads: 2 tracks live WALs in
/// the manifest. A manifest without the field is format 1 (before WAL tracking).
pub(crate) const DB_FORMAT: u64 = 2;

/// A keyspace as the manifest records its creation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyspaceDef {
    pub id: u32,
    pub name: String,
    /// The oldest WAL that may hold its data when it is created: the live one.
    pub log_number: u64,
    /// Its options, as `KeyspaceOptions::encode` wrote them.
    pub options: Vec<u8>,
}

/// A change to the version: files added and removed per level, plus counters.
///
/// The file fields and `log_number` belong to keyspace `keyspace`; keyspaces are added
/// before, and dropped after, those fields are applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VersionEdit {
    pub keyspace: u32,
    pub log_number: Option<u64>,
    pub next_file_number: Option<u64>,
    pub last_seqno: Option<u64>,
    pub deleted: Vec<(usize, u64)>,
    pub added: Vec<(usize, FileMeta)>,
    /// WALs created since the last edit: each must exist until `log_number` passes it.
    pub new_wals: Vec<u64>,
    /// Set in the snapshot edit that starts a manifest (see [`DB_FORMAT`]).
    pub db_format: Option<u64>,
    pub keyspaces_added: Vec<KeyspaceDef>,
    pub keyspaces_dropped: Vec<u32>,
    pub max_keyspace_id: Option<u32>,
    /// Log numbers of keyspaces other than `keyspace` (a WAL switch moves those of
    /// keyspaces with nothing left to flush).
    pub keyspace_logs: Vec<(u32, u64)>,
    /// The name of the default keyspace's merge operator, in the snapshot edit that
    /// starts a manifest (other keyspaces store theirs with their options).
    pub default_merge_operator: Option<String>,
}

fn field(dst: &mut Vec<u8>, tag: u64, payload: &[u8]) {
    put_varint64(dst, tag);
    put_length_prefixed(dst, payload);
}

impl VersionEdit {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut p = Vec::new();
        let mut num = |out: &mut Vec<u8>, tag, v: Option<u64>| {
            if let Some(v) = v {
                p.clear();
                put_varint64(&mut p, v);
                field(out, tag, &p);
            }
        };
        num(&mut out, TAG_KEYSPACE, (self.keyspace != 0).then_some(u64::from(self.keyspace)));
        num(&mut out, TAG_LOG_NUMBER, self.log_number);
        num(&mut out, TAG_NEXT_FILE, self.next_file_number);
        num(&mut out, TAG_LAST_SEQNO, self.last_seqno);
        num(&mut out, TAG_DB_FORMAT, self.db_format);
        if let Some(name) = &self.default_merge_operator {
            field(&mut out, TAG_DEFAULT_MERGE, name.as_bytes());
        }
        for &wal in &self.new_wals {
            num(&mut out, TAG_NEW_WAL, Some(wal));
        }
        num(&mut out, TAG_MAX_KEYSPACE_ID, self.max_keyspace_id.map(u64::from));
        for &id in &self.keyspaces_dropped {
            num(&mut out, TAG_KEYSPACE_DROPPED, Some(u64::from(id)));
        }
        for def in &self.keyspaces_added {
            p.clear();
            put_varint64(&mut p, u64::from(def.id));
            put_length_prefixed(&mut p, def.name.as_bytes());
            put_varint64(&mut p, def.log_number);
            put_length_prefixed(&mut p, &def.options);
            field(&mut out, TAG_KEYSPACE_ADDED, &p);
        }
        for &(id, log) in &self.keyspace_logs {
            p.clear();
            put_varint64(&mut p, u64::from(id));
            put_varint64(&mut p, log);
            field(&mut out, TAG_KEYSPACE_LOG, &p);
        }
        for &(level, number) in &self.deleted {
            p.clear();
            put_varint64(&mut p, level as u64);
            put_varint64(&mut p, number);
            field(&mut out, TAG_DELETED_FILE, &p);
        }
        for (level, f) in &self.added {
            p.clear();
            put_varint64(&mut p, *level as u64);
            put_varint64(&mut p, f.number);
            put_varint64(&mut p, f.size);
            put_length_prefixed(&mut p, &f.smallest);
            put_length_prefixed(&mut p, &f.largest);
            put_varint64(&mut p, f.smallest_seqno);
            put_varint64(&mut p, f.largest_seqno);
            if f.global_seqno != 0 {
                put_varint64(&mut p, u64::from(f.has_range_dels));
                put_varint64(&mut p, f.expires_by);
                put_varint64(&mut p, f.global_seqno);
                field(&mut out, TAG_NEW_FILE_V3, &p);
            } else if f.has_range_dels || f.expires_by != 0 {
                put_varint64(&mut p, u64::from(f.has_range_dels));
                put_varint64(&mut p, f.expires_by);
                field(&mut out, TAG_NEW_FILE_V2, &p);
            } else {
                field(&mut out, TAG_NEW_FILE, &p);
            }
            if f.num_entries > 0 {
                p.clear();
                put_varint64(&mut p, f.number);
                put_varint64(&mut p, f.num_entries);
                put_varint64(&mut p, f.num_deletes);
                field(&mut out, TAG_FILE_STATS, &p);
            }
        }
        out
    }

    /// Decodes an edit read from `file` at `offset`.
    pub fn decode(data: &[u8], file: &Path, offset: u64) -> Result<VersionEdit> {
        let corrupt = |base: usize, m: Malformed| {
            let at = offset + (base + m.offset) as u64;
            Error::corruption(file, at, format!("version edit: {}", m.what))
        };
        let mut r = Reader::new(data);
        let mut edit = VersionEdit::default();
        while !r.is_empty() {
            let tag = r.varint64("field tag").map_err(|m| corrupt(0, m))?;
            let body = r.length_prefixed("field payload").map_err(|m| corrupt(0, m))?;
            let base = r.offset() - body.len();
            edit.decode_field(tag, body).map_err(|m| corrupt(base, m))?;
        }
        Ok(edit)
    }

    fn decode_field(&mut self, tag: u64, body: &[u8]) -> Result<(), Malformed> {
        let mut p = Reader::new(body);
        match tag {
            TAG_LOG_NUMBER => self.log_number = Some(p.varint64("log number")?),
            TAG_NEXT_FILE => self.next_file_number = Some(p.varint64("next file number")?),
            TAG_LAST_SEQNO => self.last_seqno = Some(p.varint64("last seqno")?),
            TAG_DELETED_FILE => {
                let level = level(&mut p)?;
                self.deleted.push((level, p.varint64("file number")?));
            }
            TAG_NEW_FILE | TAG_NEW_FILE_V2 | TAG_NEW_FILE_V3 => {
                let level = level(&mut p)?;
                let mut meta = FileMeta {
                    number: p.varint64("file number")?,
                    size: p.varint64("file size")?,
                    smallest: p.length_prefixed("smallest key")?.to_vec(),
                    largest: p.length_prefixed("largest key")?.to_vec(),
                    smallest_seqno: p.varint64("smallest seqno")?,
                    largest_seqno: p.varint64("largest seqno")?,
                    has_range_dels: false,
                    expires_by: 0,
                    global_seqno: 0,
                    num_entries: 0,
                    num_deletes: 0,
                };
                if tag != TAG_NEW_FILE {
                    let flags = p.varint64("file flags")?;
                    if flags > 1 {
                        return Err(Malformed { offset: p.offset(), what: "unknown file flags" });
                    }
                    meta.has_range_dels = flags & 1 != 0;
                    meta.expires_by = p.varint64("file expiry")?;
                }
                if tag == TAG_NEW_FILE_V3 {
                    let at = p.offset();
                    meta.global_seqno = p.varint64("global seqno")?;
                    if meta.global_seqno == 0 || meta.global_seqno > crate::key::MAX_SEQNO {
                        return Err(Malformed { offset: at, what: "global seqno out of range" });
                    }
                }
                self.added.push((level, meta));
            }
            TAG_NEW_WAL => self.new_wals.push(p.varint64("WAL number")?),
            TAG_KEYSPACE => self.keyspace = keyspace_id(&mut p)?,
            TAG_KEYSPACE_DROPPED => self.keyspaces_dropped.push(keyspace_id(&mut p)?),
            TAG_MAX_KEYSPACE_ID => self.max_keyspace_id = Some(keyspace_id(&mut p)?),
            TAG_KEYSPACE_ADDED => {
                let id = keyspace_id(&mut p)?;
                let at = p.offset();
                let name = std::str::from_utf8(p.length_prefixed("keyspace name")?)
                    .map_err(|_| Malformed { offset: at, what: "keyspace name is not UTF-8" })?
                    .to_string();
                let log_number = p.varint64("keyspace log number")?;
                let options = p.length_prefixed("keyspace options")?.to_vec();
                self.keyspaces_added.push(KeyspaceDef { id, name, log_number, options });
            }
            TAG_KEYSPACE_LOG => {
                let id = keyspace_id(&mut p)?;
                self.keyspace_logs.push((id, p.varint64("keyspace log number")?));
            }
            TAG_DEFAULT_MERGE => {
                let name = String::from_utf8(body.to_vec());
                let name =
                    name.map_err(|_| Malformed { offset: 0, what: "merge operator name" })?;
                self.default_merge_operator = Some(name);
                return Ok(());
            }
            TAG_DB_FORMAT => {
                let format = p.varint64("db format")?;
                if format == 0 || format > DB_FORMAT {
                    return Err(Malformed {
                        offset: 0,
                        what: "database format newer than this build",
                    });
                }
                self.db_format = Some(format);
            }
            TAG_FILE_STATS => {
                let number = p.varint64("file number")?;
                let (entries, deletes) = (p.varint64("entries")?, p.varint64("deletes")?);
                // A hint: one for a file this edit does not add is ignored.
                if let Some((_, f)) = self.added.iter_mut().find(|(_, f)| f.number == number) {
                    (f.num_entries, f.num_deletes) = (entries, deletes.min(entries));
                }
            }
            t if t >= IGNORABLE_TAGS => return Ok(()),
            _ => return Err(Malformed { offset: 0, what: "unknown field tag" }),
        }
        if !p.is_empty() {
            return Err(Malformed { offset: p.offset(), what: "trailing bytes in field" });
        }
        Ok(())
    }
}

fn keyspace_id(p: &mut Reader<'_>) -> Result<u32, Malformed> {
    let at = p.offset();
    u32::try_from(p.varint64("keyspace id")?)
        .map_err(|_| Malformed { offset: at, what: "keyspace id out of range" })
}

fn level(p: &mut Reader<'_>) -> Result<usize, Malformed> {
    let at = p.offset();
    let level = p.varint64("level")?;
    if level >= NUM_LEVELS as u64 {
        return Err(Malformed { offset: at, what: "level out of range" });
    }
    Ok(level as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> VersionEdit {
        VersionEdit {
            log_number: Some(7),
            next_file_number: Some(12),
            last_seqno: Some(1 << 40),
            deleted: vec![(0, 3), (2, 9)],
            added: vec![
                (
                    1,
                    FileMeta {
                        number: 11,
                        size: 4096,
                        smallest: b"a\x01\0\0\0\0\0\0\0".to_vec(),
                        largest: b"z\x01\0\0\0\0\0\0\0".to_vec(),
                        smallest_seqno: 1,
                        largest_seqno: 99,
                        has_range_dels: true,
                        expires_by: 5,
                        global_seqno: 0,
                        num_entries: 0,
                        num_deletes: 0,
                    },
                ),
                (
                    0,
                    FileMeta {
                        number: 14,
                        size: 512,
                        smallest: b"b\x01\0\0\0\0\0\0\0".to_vec(),
                        largest: b"c\x01\0\0\0\0\0\0\0".to_vec(),
                        smallest_seqno: 100,
                        largest_seqno: 100,
                        has_range_dels: false,
                        expires_by: 0,
                        global_seqno: 100,
                        num_entries: 0,
                        num_deletes: 0,
                    },
                ),
            ],
            new_wals: vec![12, 13],
            db_format: Some(DB_FORMAT),
            keyspace: 3,
            keyspaces_added: vec![KeyspaceDef {
                id: 3,
                name: "users".into(),
                log_number: 12,
                options: vec![1, 2, 3],
            }],
            keyspaces_dropped: vec![2],
            max_keyspace_id: Some(3),
            keyspace_logs: vec![(1, 13)],
            default_merge_operator: Some("mylsm.u64add".into()),
        }
    }

    #[test]
    fn edits_round_trip() {
        let e = sample();
        assert_eq!(VersionEdit::decode(&e.encode(), Path::new("M"), 0).unwrap(), e);
        assert_eq!(VersionEdit::decode(&[], Path::new("M"), 0).unwrap(), VersionEdit::default());
    }

    #[test]
    fn truncations_and_bad_fields_are_corruption_never_panics() {
        let enc = sample().encode();
        for cut in 1..enc.len() {
            if let Ok(e) = VersionEdit::decode(&enc[..cut], Path::new("M"), 0) {
                // A cut exactly between fields is a shorter valid edit.
                assert_ne!(e, sample(), "cut {cut}");
            }
        }
        for at in 0..enc.len() {
            for bit in [1u8, 0x80] {
                let mut bad = enc.clone();
                bad[at] ^= bit;
                let _ = VersionEdit::decode(&bad, Path::new("M"), 0);
            }
        }
        let mut unknown = Vec::new();
        field(&mut unknown, 42, b"x");
        assert!(VersionEdit::decode(&unknown, Path::new("M"), 5).unwrap_err().is_corruption());
        let mut ignorable = Vec::new();
        field(&mut ignorable, IGNORABLE_TAGS + 1, b"future");
        assert_eq!(
            VersionEdit::decode(&ignorable, Path::new("M"), 0).unwrap(),
            VersionEdit::default()
        );
        let mut newer = Vec::new();
        field(&mut newer, TAG_DB_FORMAT, &[DB_FORMAT as u8 + 1]);
        assert!(VersionEdit::decode(&newer, Path::new("M"), 0).unwrap_err().is_corruption());
        for reserved in 11..13 {
            let mut r = Vec::new();
            field(&mut r, reserved, &[0]);
            assert!(VersionEdit::decode(&r, Path::new("M"), 0).is_err(), "tag {reserved}");
        }
        let mut bad_level = Vec::new();
        field(&mut bad_level, TAG_DELETED_FILE, &[9, 1]);
        assert!(VersionEdit::decode(&bad_level, Path::new("M"), 0).is_err());
    }
}
