//! Little-endian fixed-width integers and LEB128 varints, the primitives of every format.
//!
//! Encoders append to a `Vec<u8>`. Decoders read from a [`Reader`], a cursor over a
//! byte slice that never reads past its end: every shortfall is an `Err(Truncated)`
//! which the caller turns into an [`crate::Error::Corruption`] naming its file.

/// A decoder ran out of bytes or met a malformed varint at `offset` within its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed {
    /// Offset in the decoded slice where the problem was found.
    pub offset: usize,
    /// What was expected there.
    pub what: &'static str,
}

pub(crate) fn put_varint64(dst: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        dst.push((v as u8) | 0x80);
        v >>= 7;
    }
    dst.push(v as u8);
}

/// Appends `v` as a LEB128 varint; a u32 encodes exactly as the same u64 would.
pub(crate) fn put_varint32(dst: &mut Vec<u8>, v: u32) {
    put_varint64(dst, u64::from(v));
}

pub(crate) fn put_fixed32(dst: &mut Vec<u8>, v: u32) {
    dst.extend_from_slice(&v.to_le_bytes());
}

pub(crate) fn put_fixed64(dst: &mut Vec<u8>, v: u64) {
    dst.extend_from_slice(&v.to_le_bytes());
}

/// Appends `data` preceded by its length as a varint.
pub(crate) fn put_length_prefixed(dst: &mut Vec<u8>, data: &[u8]) {
    put_varint64(dst, data.len() as u64);
    dst.extend_from_slice(data);
}

/// Reads a little-endian u32 from the first four bytes of `b` (caller checked length).
pub(crate) fn fixed32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// Reads a little-endian u64 from the first eight bytes of `b` (caller checked length).
pub(crate) fn fixed64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// A bounds-checked cursor over encoded bytes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Offset of the next unread byte.
    pub fn offset(&self) -> usize {
        self.pos
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn err(&self, what: &'static str) -> Malformed {
        Malformed { offset: self.pos, what }
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Malformed> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.err(what))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Malformed> {
        if n > self.remaining() {
            return Err(self.err(what));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn varint64(&mut self, what: &'static str) -> Result<u64, Malformed> {
        let start = self.pos;
        // Most varints in blocks and handles are one byte.
        if let Some(&b) = self.buf.get(start) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        let mut result: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what).map_err(|_| Malformed { offset: start, what })?;
            result |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                // The tenth byte may only carry the top bit of a u64.
                if shift == 63 && b > 1 {
                    break;
                }
                return Ok(result);
            }
        }
        Err(Malformed { offset: start, what })
    }

    /// Reads a varint that must fit in a u32 (a longer or larger one is malformed).
    pub fn varint32(&mut self, what: &'static str) -> Result<u32, Malformed> {
        let start = self.pos;
        let v = self.varint64(what)?;
        u32::try_from(v).map_err(|_| Malformed { offset: start, what })
    }

    /// Reads a varint length and then that many bytes, checking the length against
    /// what remains before touching anything.
    pub fn length_prefixed(&mut self, what: &'static str) -> Result<&'a [u8], Malformed> {
        let start = self.pos;
        let n = self.varint64(what)?;
        let n = usize::try_from(n).map_err(|_| Malformed { offset: start, what })?;
        if n > self.remaining() {
            return Err(Malformed { offset: start, what });
        }
        self.bytes(n, what)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width() {
        let mut values = vec![0u64, 1, 127, 128, 255, 300, 16383, 16384, u64::MAX];
        values.extend((0..64).map(|s| 1u64 << s));
        values.extend((1..64).map(|s| (1u64 << s) - 1));
        let mut buf = Vec::new();
        for &v in &values {
            put_varint64(&mut buf, v);
        }
        let mut r = Reader::new(&buf);
        for &v in &values {
            assert_eq!(r.varint64("v").unwrap(), v);
        }
        assert!(r.is_empty());
    }

    #[test]
    fn truncated_and_overlong_varints_are_errors() {
        let mut buf = Vec::new();
        put_varint64(&mut buf, u64::MAX);
        for cut in 0..buf.len() {
            assert!(Reader::new(&buf[..cut]).varint64("v").is_err());
        }
        assert!(Reader::new(&[0xff; 11]).varint64("v").is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02])
            .varint64("v")
            .is_err());
    }

    #[test]
    fn fixed_and_varint32_round_trip_and_reject_overflow() {
        let mut buf = Vec::new();
        put_fixed32(&mut buf, 0xdead_beef);
        put_fixed64(&mut buf, u64::MAX - 1);
        put_varint32(&mut buf, u32::MAX);
        put_varint64(&mut buf, u64::from(u32::MAX) + 1);
        assert_eq!(fixed32(&buf), 0xdead_beef);
        assert_eq!(fixed64(&buf[4..]), u64::MAX - 1);
        let mut r = Reader::new(&buf[12..]);
        assert_eq!(r.varint32("c").unwrap(), u32::MAX);
        assert!(r.varint32("d").is_err());
    }

    #[test]
    fn length_prefixed_checks_length_before_reading() {
        let mut buf = Vec::new();
        put_varint64(&mut buf, 1 << 40);
        buf.extend_from_slice(b"abc");
        let e = Reader::new(&buf).length_prefixed("val").unwrap_err();
        assert_eq!(e.offset, 0);
        let mut ok = Vec::new();
        put_length_prefixed(&mut ok, b"hello");
        assert_eq!(Reader::new(&ok).length_prefixed("val").unwrap(), b"hello");
    }
}
