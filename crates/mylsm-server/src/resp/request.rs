//! Decoding client requests: RESP multibulk arrays and inline command lines, with
//! limits on every length a client declares.
//!
//! Grammar (what Redis accepts from clients; `src/networking.c` is the model):
//!
//! ```text
//! request   = multibulk | inline
//! multibulk = "*" count CRLF { "$" len CRLF <len bytes> CRLF }   ; count times
//! inline    = <bytes without LF> [CR] LF                         ; split like sdssplitargs
//! ```
//!
//! Invariants:
//! 1. The decoder never allocates for a length it has not checked against a limit, and
//!    never reserves more than `PREALLOC_ARGS` argument slots ahead of the bytes that
//!    fill them: memory grows with the bytes received, not the counts declared.
//! 2. Each complete bulk is split off the buffer as it arrives, so a large request
//!    received in many reads is scanned once, not once per read.
//! 3. Bad input is a [`ProtocolError`], never a panic; the connection then answers with
//!    the error and closes, as Redis does.

use bytes::{Buf, Bytes, BytesMut};

/// The most argument slots reserved before their bytes have arrived.
const PREALLOC_ARGS: usize = 1024;

/// The longest `*N` or `$N` header line accepted, in bytes.
const MAX_HEADER_LINE: usize = 64;

/// The lengths a client may declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest bulk string (one argument), in bytes. Redis: `proto-max-bulk-len`,
    /// 512 MiB. Default: 512 MiB.
    pub max_bulk_len: usize,
    /// The most arguments in one multibulk request. Default: 1,048,576.
    pub max_array_len: usize,
    /// The longest inline command line, in bytes. Redis: `PROTO_INLINE_MAX_SIZE`,
    /// 64 KiB. Default: 64 KiB.
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bulk_len: 512 << 20, max_array_len: 1 << 20, max_inline_len: 64 << 10 }
    }
}

/// A request the decoder refuses; the text is Redis's, without the `ERR ` code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(detail: &str) -> Self {
        ProtocolError(format!("Protocol error: {detail}"))
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A multibulk request whose header has been read but not all of its arguments.
#[derive(Debug)]
struct Partial {
    remaining: usize,
    args: Vec<Bytes>,
}

/// The per-connection request decoder; it keeps a partly received multibulk request
/// between reads.
#[derive(Debug)]
pub struct RequestDecoder {
    limits: Limits,
    partial: Option<Partial>,
}

impl RequestDecoder {
    pub fn new(limits: Limits) -> Self {
        RequestDecoder { limits, partial: None }
    }

    /// Takes the next complete request off the front of `buf`. `Ok(None)`: more bytes
    /// are needed (what has been read so far is kept). An empty request (`*0`, an empty
    /// inline line) comes back as an empty vector, which the caller skips.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        if self.partial.is_none() {
            let Some(&first) = buf.first() else { return Ok(None) };
            if first != b'*' {
                return self.decode_inline(buf);
            }
            let Some(line_end) = find_crlf(buf, MAX_HEADER_LINE)? else {
                return Ok(None);
            };
            let count = parse_int(&buf[1..line_end])
                .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
            if count > self.limits.max_array_len as i64 {
                return Err(ProtocolError::new("invalid multibulk length"));
            }
            buf.advance(line_end + 2);
            if count <= 0 {
                return Ok(Some(Vec::new()));
            }
            let count = count as usize;
            self.partial = Some(Partial {
                remaining: count,
                args: Vec::with_capacity(count.min(PREALLOC_ARGS)),
            });
        }
        while let Some(partial) = self.partial.as_mut() {
            if partial.remaining == 0 {
                let done = self.partial.take().map(|p| p.args);
                return Ok(done);
            }
            let Some(&first) = buf.first() else { return Ok(None) };
            if first != b'$' {
                return Err(ProtocolError(format!(
                    "Protocol error: expected '$', got '{}'",
                    char::from(first)
                )));
            }
            let Some(line_end) = find_crlf(buf, MAX_HEADER_LINE)? else {
                return Ok(None);
            };
            let len = parse_int(&buf[1..line_end])
                .filter(|&n| n >= 0 && n <= self.limits.max_bulk_len as i64)
                .ok_or_else(|| ProtocolError::new("invalid bulk length"))?
                as usize;
            let header = line_end + 2;
            // Checked above: len <= max_bulk_len, so this cannot overflow.
            let total = header + len + 2;
            if buf.len() < total {
                // Make room for the whole argument at once rather than by doubling,
                // but only up to a step, so a declared length costs nothing unsent.
                buf.reserve((total - buf.len()).min(1 << 20));
                return Ok(None);
            }
            if &buf[header + len..total] != b"\r\n" {
                return Err(ProtocolError::new("expected CRLF after bulk string"));
            }
            buf.advance(header);
            let arg = buf.split_to(len).freeze();
            buf.advance(2);
            partial.args.push(arg);
            partial.remaining -= 1;
        }
        Ok(None)
    }

    fn decode_inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let window = buf.len().min(self.limits.max_inline_len.saturating_add(1));
        let Some(nl) = buf[..window].iter().position(|&b| b == b'\n') else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(None);
        };
        let line = buf.split_to(nl + 1);
        let mut text = &line[..nl];
        if let [rest @ .., b'\r'] = text {
            text = rest;
        }
        split_args(text).map(Some).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))
    }
}

/// The index of the CR of the first CRLF in `buf`, if it lies within `max` bytes.
fn find_crlf(buf: &[u8], max: usize) -> Result<Option<usize>, ProtocolError> {
    let window = &buf[..buf.len().min(max)];
    match window.iter().position(|&b| b == b'\r') {
        Some(i) if i + 1 < buf.len() => {
            if buf[i + 1] == b'\n' {
                Ok(Some(i))
            } else {
                Err(ProtocolError::new("expected LF after CR"))
            }
        }
        Some(_) => Ok(None),
        None if buf.len() >= max => Err(ProtocolError::new("too big count string")),
        None => Ok(None),
    }
}

/// A decimal integer as Redis's `string2ll` reads it: an optional `-`, digits, no
/// spaces, no `+`, no overflow.
pub fn parse_int(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        v = if neg {
            v.checked_mul(10)?.checked_sub(d)?
        } else {
            v.checked_mul(10)?.checked_add(d)?
        };
    }
    if neg && v == 0 {
        return None;
    }
    Some(v)
}

/// Splits an inline line into arguments the way Redis's `sdssplitargs` does: spaces
/// separate, `"..."` takes `\n \r \t \b \a \\ \" \xHH` escapes, `'...'` takes `\'`, and
/// a closing quote must be followed by a space or the end. `None`: unbalanced quotes.
fn split_args(line: &[u8]) -> Option<Vec<Bytes>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Some(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let c = line.get(i).copied();
            if in_dq {
                match c {
                    None => return None,
                    Some(b'\\')
                        if line.get(i + 1) == Some(&b'x') && hex_pair(line, i + 2).is_some() =>
                    {
                        cur.push(hex_pair(line, i + 2)?);
                        i += 3;
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        cur.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        in_dq = false;
                        i += 1;
                        break;
                    }
                    Some(b) => cur.push(b),
                }
            } else if in_sq {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        cur.push(b'\'');
                    }
                    Some(b'\'') => {
                        if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                            return None;
                        }
                        in_sq = false;
                        i += 1;
                        break;
                    }
                    Some(b) => cur.push(b),
                }
            } else {
                match c {
                    None => break,
                    Some(b) if b.is_ascii_whitespace() => break,
                    Some(b'"') => in_dq = true,
                    Some(b'\'') => in_sq = true,
                    Some(b) => cur.push(b),
                }
            }
            i += 1;
        }
        debug_assert!(!in_dq && !in_sq);
        args.push(Bytes::from(cur));
    }
}

fn hex_pair(line: &[u8], at: usize) -> Option<u8> {
    let hi = (*line.get(at)? as char).to_digit(16)?;
    let lo = (*line.get(at + 1)? as char).to_digit(16)?;
    Some((hi * 16 + lo) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut d = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        while let Some(req) = d.decode(&mut buf)? {
            out.push(req.iter().map(|b| b.to_vec()).collect());
        }
        Ok(out)
    }

    fn args(v: &[&str]) -> Vec<Vec<u8>> {
        v.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_requests_decode_in_order() {
        let got =
            decode_all(b"*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n").unwrap();
        assert_eq!(got, vec![args(&["PING"]), args(&["SET", "k", ""])]);
    }

    #[test]
    fn inline_requests_split_like_redis() {
        let got =
            decode_all(b"PING\r\nset  a \"b c\\n\"\nGET 'it\\'s'\r\necho \"\\x41\"\r\n").unwrap();
        assert_eq!(
            got,
            vec![
                args(&["PING"]),
                args(&["set", "a", "b c\n"]),
                args(&["GET", "it's"]),
                args(&["echo", "A"])
            ]
        );
    }

    #[test]
    fn unbalanced_quotes_are_a_protocol_error() {
        let err = decode_all(b"SET \"a b\r\n").unwrap_err();
        assert_eq!(err.0, "Protocol error: unbalanced quotes in request");
        assert!(decode_all(b"SET \"a\"b\r\n").is_err());
    }

    #[test]
    fn a_request_split_at_every_byte_decodes_the_same() {
        let input = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\nPING\r\n";
        for cut in 0..input.len() {
            let mut d = RequestDecoder::new(Limits::default());
            let mut buf = BytesMut::from(&input[..cut]);
            let mut got = Vec::new();
            while let Some(r) = d.decode(&mut buf).unwrap() {
                got.push(r);
            }
            buf.extend_from_slice(&input[cut..]);
            while let Some(r) = d.decode(&mut buf).unwrap() {
                got.push(r);
            }
            assert_eq!(got.len(), 2, "cut at {cut}");
            assert_eq!(&got[0][1][..], b"hello world");
        }
    }

    #[test]
    fn declared_lengths_over_the_limits_are_refused() {
        let limits = Limits { max_bulk_len: 10, max_array_len: 4, max_inline_len: 16 };
        let mut d = RequestDecoder::new(limits);
        let err = d.decode(&mut BytesMut::from(&b"*5\r\n"[..])).unwrap_err();
        assert_eq!(err.0, "Protocol error: invalid multibulk length");
        let mut d = RequestDecoder::new(limits);
        let err = d.decode(&mut BytesMut::from(&b"*1\r\n$11\r\n"[..])).unwrap_err();
        assert_eq!(err.0, "Protocol error: invalid bulk length");
        let mut d = RequestDecoder::new(limits);
        let err = d.decode(&mut BytesMut::from(&b"aaaaaaaaaaaaaaaaaaaaa"[..])).unwrap_err();
        assert_eq!(err.0, "Protocol error: too big inline request");
        let mut d = RequestDecoder::new(Limits::default());
        let err = d.decode(&mut BytesMut::from(&b"*99999999999999999999999\r\n"[..])).unwrap_err();
        assert_eq!(err.0, "Protocol error: invalid multibulk length");
        let mut d = RequestDecoder::new(Limits::default());
        let err = d.decode(&mut BytesMut::from(&b"*1\r\n:1\r\n"[..])).unwrap_err();
        assert_eq!(err.0, "Protocol error: expected '$', got ':'");
    }

    #[test]
    fn a_huge_declared_count_reserves_little() {
        let mut d = RequestDecoder::new(Limits::default());
        let mut buf = BytesMut::from(&b"*1000000\r\n$1\r\na\r\n"[..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        let cap = d.partial.as_ref().map(|p| p.args.capacity()).unwrap_or(0);
        assert!(cap <= PREALLOC_ARGS, "reserved {cap} slots");
    }

    #[test]
    fn parse_int_follows_string2ll() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-12"), Some(-12));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [&b""[..], b"-", b"01", b"+1", b" 1", b"1a", b"-0", b"9223372036854775808"] {
            assert_eq!(parse_int(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
