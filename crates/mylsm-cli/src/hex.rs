//! The `--hex` switch: how key and value arguments are read, and how every command
//! prints keys and values, as text or as hex digits.
//!
//! The switch is process-wide and set once, before any command runs, because it
//! reaches every place that reads or prints a key: the arguments, the line format of
//! `load`/`dump`/`scan` (and `sst-write`, which reads that format through `load`), and
//! the reports of `inspect` and `lsm`. Threading a flag through each of them would
//! change every signature on the way for one bit that never changes during a run.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::CliError;

/// Whether `--hex` was given.
static HEX: AtomicBool = AtomicBool::new(false);

/// Turns hex mode on or off for the rest of the process.
pub fn set(on: bool) {
    HEX.store(on, Ordering::Relaxed);
}

/// True when keys and values are read and printed as hex digits.
pub fn on() -> bool {
    HEX.load(Ordering::Relaxed)
}

/// The bytes of a key or value argument: the text as given, or under `--hex` the
/// bytes its hex digits spell. `what` names the argument in the error (`KEY`,
/// `--from`, ...).
pub fn arg(what: &str, text: &str) -> Result<Vec<u8>, CliError> {
    if !on() {
        return Ok(text.as_bytes().to_vec());
    }
    decode(text.as_bytes())
        .map_err(|e| CliError::Input(format!("{what} {text:?} is not hex (with --hex): {e}")))
}

/// Like [`arg`] for an optional argument.
pub fn opt_arg(what: &str, text: Option<&str>) -> Result<Option<Vec<u8>>, CliError> {
    text.map(|t| arg(what, t)).transpose()
}

/// Decodes hex digits (either case, two per byte, nothing else) into bytes; the
/// error says what is wrong in a user's words.
pub fn decode(digits: &[u8]) -> Result<Vec<u8>, String> {
    if !digits.len().is_multiple_of(2) {
        return Err(format!("{} hex digits, an odd number (two make a byte)", digits.len()));
    }
    let nibble = |i: usize| -> Result<u8, String> {
        let c = digits[i];
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(format!(
                "{} at position {} is not a hex digit (0-9, a-f)",
                [c].escape_ascii(),
                i + 1
            )),
        }
    };
    (0..digits.len() / 2).map(|i| Ok((nibble(2 * i)? << 4) | nibble(2 * i + 1)?)).collect()
}

/// Appends the lowercase hex digits of `bytes` to `out`.
pub fn encode_into(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 0xf)]);
    }
}

/// The lowercase hex digits of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    encode_into(&mut out, bytes);
    // Hex digits are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// A key or value for a report (inspect, lsm, messages): hex digits under `--hex`,
/// else printable ASCII as is and every other byte escaped (`\xNN`).
pub fn show(bytes: &[u8]) -> String {
    if on() {
        encode(bytes)
    } else {
        bytes.escape_ascii().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = encode(&all);
        assert!(text.starts_with("000102") && text.ends_with("fdfeff"));
        assert_eq!(decode(text.as_bytes()).unwrap(), all);
        assert_eq!(decode(text.to_uppercase().as_bytes()).unwrap(), all);
        assert_eq!(decode(b"").unwrap(), b"");
    }

    #[test]
    fn bad_hex_says_what_is_wrong() {
        assert!(decode(b"abc").unwrap_err().contains("odd number"));
        let e = decode(b"0g").unwrap_err();
        assert!(e.contains("g at position 2"), "{e}");
        assert!(decode(b"0x00").is_err());
        assert!(decode(b" 00").is_err());
    }
}
