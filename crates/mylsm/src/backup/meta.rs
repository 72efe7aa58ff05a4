//! The meta file of one backup: what it holds, and the only proof that it is complete.
//!
//! A text file, byte-exact in `docs/backup_format.md`; in short:
//!
//! ```text
//! meta      := header field* file* trailer
//! header    := "mylsm-backup " FORMAT "\n"           FORMAT = 1
//! field     := ("id" | "seqno" | "created_unix_ms" | "bytes_copied") " " u64 "\n"
//! file      := "file " name " " path " " size " " crc "\n"
//! trailer   := "crc32c " crc "\n"                    crc32c of every byte before it
//! name      := the file's name in a restored database (no '/')
//! path      := where the backup keeps it, relative to the backup directory
//! crc       := 8 lowercase hex digits
//! ```
//!
//! Every field appears exactly once and in that order. A format number above
//! [`FORMAT`] is refused rather than read: a newer build may have given a field a
//! meaning this one would miss.

use std::path::Path;

use crate::{Error, Result};

/// The format number this build writes and the highest it reads.
pub(crate) const FORMAT: u64 = 1;

/// The largest meta file read: far above any real backup (about 100 bytes a file),
/// so a damaged length cannot make a read allocate without bound.
pub(crate) const MAX_META_LEN: u64 = 64 << 20;

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MetaFile {
    /// The name in a restored database directory (`000012.sst`, `CURRENT`).
    pub name: String,
    /// Where the backup keeps it, relative to the backup directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub crc: u32,
}

/// What a meta file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Meta {
    pub id: u64,
    pub seqno: u64,
    pub created_unix_ms: u64,
    pub bytes_copied: u64,
    pub files: Vec<MetaFile>,
}

const FIELDS: [&str; 4] = ["id", "seqno", "created_unix_ms", "bytes_copied"];

impl Meta {
    /// The file's bytes, trailer included.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut s = format!("mylsm-backup {FORMAT}\n");
        let values = [self.id, self.seqno, self.created_unix_ms, self.bytes_copied];
        for (name, v) in FIELDS.iter().zip(values) {
            s.push_str(&format!("{name} {v}\n"));
        }
        for f in &self.files {
            s.push_str(&format!("file {} {} {} {:08x}\n", f.name, f.path, f.size, f.crc));
        }
        let crc = crc32c::crc32c(s.as_bytes());
        s.push_str(&format!("crc32c {crc:08x}\n"));
        s.into_bytes()
    }

    /// Parses the meta file `file` holding `data`; `Corruption` naming `file` for
    /// anything but what [`Meta::encode`] writes.
    pub(crate) fn decode(file: &Path, data: &[u8]) -> Result<Meta> {
        let bad = |offset: usize, detail: &str| Error::corruption(file, offset as u64, detail);
        let text = std::str::from_utf8(data).map_err(|e| bad(e.valid_up_to(), "not UTF-8"))?;
        // The trailer first: nothing is believed until the checksum matches.
        let body_len = match text.strip_suffix('\n').and_then(|t| t.rfind('\n')) {
            Some(i) => i + 1,
            None => return Err(bad(0, "too short to be a backup meta file")),
        };
        let (body, trailer) = text.split_at(body_len);
        let want = trailer
            .strip_prefix("crc32c ")
            .and_then(|t| t.strip_suffix('\n'))
            .and_then(parse_crc)
            .ok_or_else(|| bad(body_len, "no crc32c trailer"))?;
        if crc32c::crc32c(body.as_bytes()) != want {
            return Err(bad(body_len, "checksum mismatch"));
        }
        // Each line with its offset, for the errors.
        let mut lines = body.split_inclusive('\n').scan(0usize, |at, l| {
            let line = (*at, &l[..l.len() - 1]);
            *at += l.len();
            Some(line)
        });
        let (_, header) = lines.next().ok_or_else(|| bad(0, "missing header"))?;
        let format = header
            .strip_prefix("mylsm-backup ")
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| bad(0, "not a mylsm backup meta file"))?;
        if format == 0 || format > FORMAT {
            return Err(bad(
                0,
                &format!("backup format {format} is newer than this build reads ({FORMAT})"),
            ));
        }
        let mut values = [0u64; 4];
        for (name, v) in FIELDS.iter().zip(values.iter_mut()) {
            let (at, line) = lines.next().ok_or_else(|| bad(body_len, &format!("no {name}")))?;
            *v = line
                .strip_prefix(name)
                .and_then(|l| l.strip_prefix(' '))
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| bad(at, &format!("bad {name} line")))?;
        }
        let [id, seqno, created_unix_ms, bytes_copied] = values;
        let mut files = Vec::new();
        for (at, line) in lines {
            files.push(parse_file(line).ok_or_else(|| bad(at, "bad file line"))?);
        }
        Ok(Meta { id, seqno, created_unix_ms, bytes_copied, files })
    }
}

/// One `file` line, or `None` if it is not one [`Meta::encode`] writes.
fn parse_file(line: &str) -> Option<MetaFile> {
    let mut parts = line.strip_prefix("file ")?.split(' ');
    let (name, path, size, crc) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !is_plain_name(name) || !is_backup_path(path) {
        return None;
    }
    Some(MetaFile {
        name: name.to_string(),
        path: path.to_string(),
        size: size.parse().ok()?,
        crc: parse_crc(crc)?,
    })
}

fn parse_crc(s: &str) -> Option<u32> {
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    (s.len() == 8 && s.bytes().all(lower_hex)).then(|| u32::from_str_radix(s, 16).ok())?
}

/// A file name with no directory part, so a restore cannot write outside its target.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\'])
}

/// A path under `shared/` or `private/` made of plain names, so a damaged or forged
/// meta file cannot send a read outside the backup directory.
fn is_backup_path(path: &str) -> bool {
    let mut parts = path.split('/');
    matches!(parts.next(), Some("shared" | "private")) && parts.all(is_plain_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Meta {
        Meta {
            id: 3,
            seqno: 1234,
            created_unix_ms: 1_700_000_000_000,
            bytes_copied: 99,
            files: vec![
                MetaFile {
                    name: "000012.sst".into(),
                    path: "shared/000012_4096_0a0b0c0d.sst".into(),
                    size: 4096,
                    crc: 0x0a0b_0c0d,
                },
                MetaFile {
                    name: "CURRENT".into(),
                    path: "private/3/CURRENT".into(),
                    size: 16,
                    crc: 0xffff_ffff,
                },
            ],
        }
    }

    #[test]
    fn a_meta_file_reads_back_as_written() {
        let m = sample();
        let bytes = m.encode();
        assert!(bytes.starts_with(b"mylsm-backup 1\nid 3\nseqno 1234\n"));
        assert_eq!(Meta::decode(Path::new("m"), &bytes).unwrap(), m);
    }

    #[test]
    fn every_flipped_byte_and_every_cut_is_corruption() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let e = Meta::decode(Path::new("m"), &b).unwrap_err();
            assert!(e.is_corruption(), "flip at {i}: {e}");
            let e = Meta::decode(Path::new("m"), &bytes[..i]).unwrap_err();
            assert!(e.is_corruption(), "cut at {i}: {e}");
        }
    }

    #[test]
    fn a_newer_format_is_refused_even_with_a_good_checksum() {
        let text = String::from_utf8(sample().encode()).unwrap();
        let body =
            text[..text.rfind("crc32c ").unwrap()].replace("mylsm-backup 1", "mylsm-backup 2");
        let forged = format!("{body}crc32c {:08x}\n", crc32c::crc32c(body.as_bytes()));
        let e = Meta::decode(Path::new("m"), forged.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("newer than this build"), "{e}");
    }

    #[test]
    fn paths_that_leave_the_backup_or_the_target_are_refused() {
        for (name, path) in [
            ("../x", "shared/a.sst"),
            ("a/b", "shared/a.sst"),
            ("x", "../etc/passwd"),
            ("x", "shared/../../x"),
            ("x", "/abs"),
            ("x", "meta/1"),
        ] {
            assert_eq!(
                parse_file(&format!("file {name} {path} 1 00000000")),
                None,
                "{name} {path}"
            );
        }
    }
}
