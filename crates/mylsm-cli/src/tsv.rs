//! The `key<TAB>value` line format shared by scan, dump and load, with its backslash escapes.
//!
//! TAB, LF, CR and backslash are escaped as `\t`, `\n`, `\r` and `\\`, so that every
//! key and value fits on one line and splits unambiguously on its one raw TAB. CR is
//! escaped too so that a reader may strip the CR of CRLF line ends without losing data.

use std::io::{self, Write};

use crate::error::CliError;
use crate::hex;

/// An unescaped key and value.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Appends `bytes` to `out` with the format's escapes applied.
pub fn escape_into(out: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(b),
        }
    }
}

/// Undoes `escape_into`; an unknown or unfinished escape is an error.
pub fn unescape(field: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b't') => out.push(b'\t'),
            Some(b'n') => out.push(b'\n'),
            Some(b'r') => out.push(b'\r'),
            Some(b'\\') => out.push(b'\\'),
            Some(&other) => {
                return Err(format!("unknown escape `\\{}`", other.escape_ascii()));
            }
            None => return Err("backslash at the end of a field".to_string()),
        }
    }
    Ok(out)
}

/// Parses one line as read by `read_until(b'\n')`: `None` for an empty line, else the
/// unescaped (under `--hex`, decoded) key and value.
pub fn parse_line(line: &[u8]) -> Result<Option<Entry>, String> {
    parse_line_as(line, hex::on())
}

/// [`parse_line`] with the fields escaped text, or hex digits when `hex`.
fn parse_line_as(line: &[u8], hex: bool) -> Result<Option<Entry>, String> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return Ok(None);
    }
    let tab = line.iter().position(|&b| b == b'\t').ok_or("no TAB between key and value")?;
    let field = |f: &[u8]| if hex { hex::decode(f) } else { unescape(f) };
    let key = field(&line[..tab]).map_err(|e| format!("key: {e}"))?;
    let value = field(&line[tab + 1..]).map_err(|e| format!("value: {e}"))?;
    Ok(Some((key, value)))
}

/// Appends one entry as a line (without the LF): escaped text, or hex under `--hex`.
fn format_line(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let field = if hex::on() { hex::encode_into } else { escape_into };
    field(out, key);
    out.push(b'\t');
    field(out, value);
}

/// Writes each entry as one escaped line to stdout, stopping at the first error.
pub fn write_entries(
    entries: impl Iterator<Item = mylsm::Result<(mylsm::Key, mylsm::Value)>>,
) -> Result<(), CliError> {
    let mut out = io::BufWriter::with_capacity(64 << 10, io::stdout().lock());
    let mut line = Vec::new();
    for entry in entries {
        let (key, value) = entry?;
        line.clear();
        format_line(&mut line, &key, &value);
        line.push(b'\n');
        out.write_all(&line).map_err(CliError::Output)?;
    }
    out.flush().map_err(CliError::Output)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let raw = b"a\tb\nc\rd\\e\xff";
        let mut escaped = Vec::new();
        escape_into(&mut escaped, raw);
        assert_eq!(escaped, b"a\\tb\\nc\\rd\\\\e\xff");
        assert_eq!(unescape(&escaped).unwrap(), raw);
    }

    #[test]
    fn lines_split_on_the_first_tab() {
        assert_eq!(parse_line(b"k\tv\tw\r\n").unwrap(), Some((b"k".to_vec(), b"v\tw".to_vec())));
        assert_eq!(parse_line(b"\t\n").unwrap(), Some((Vec::new(), Vec::new())));
        assert_eq!(parse_line(b"\n").unwrap(), None);
        assert!(parse_line(b"novalue\n").is_err());
        assert!(parse_line(b"k\\x\tv").is_err());
        assert!(parse_line(b"k\tv\\").is_err());
    }

    #[test]
    fn hex_lines_decode_both_fields() {
        assert_eq!(parse_line_as(b"00ff\t\r\n", true).unwrap(), Some((vec![0, 0xff], Vec::new())));
        assert_eq!(parse_line_as(b"\n", true).unwrap(), None);
        assert!(parse_line_as(b"6b\tzz\n", true).unwrap_err().starts_with("value: "));
        assert!(parse_line_as(b"6\t00\n", true).unwrap_err().starts_with("key: "));
    }
}
