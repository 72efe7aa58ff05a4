//! Entry point for fuzzers of the RESP request decoder: arbitrary bytes in, a panic
//! only on a broken property.
//!
//! Test scaffolding behind the `fuzzing` feature, with no stability promise: the
//! cargo-fuzz target `fuzz/fuzz_targets/resp.rs` and the stable-Rust replay test
//! `tests/fuzz_replay.rs` are its only callers.
//!
//! Input layout: byte 0 picks the limits (the default ones, or small ones that the
//! fuzzer can reach), byte 1 seeds how the rest is cut into reads, and the rest is the
//! byte stream a client sends. [`resp`] checks, beyond "does not panic":
//!
//! - every request respects the limits (arguments per request, bytes per argument);
//! - memory follows the bytes sent, not the lengths declared: the decoder never keeps
//!   more bytes than it was given, and its buffer's capacity stays within twice what
//!   was sent plus the one step (1 MiB) it may reserve ahead of a declared bulk;
//! - cutting the stream into reads anywhere changes nothing: the requests and the
//!   final error are those of decoding the whole stream at once;
//! - each request, re-encoded as a multibulk array, decodes back to itself.

use bytes::{Bytes, BytesMut};

use crate::resp::{Limits, ProtocolError, RequestDecoder};

/// The most bytes the decoder may reserve ahead of a declared bulk (see `request.rs`).
const RESERVE_STEP: usize = 1 << 20;

/// What decoding a stream produced: its requests, then the error that ended it, if any.
type Outcome = (Vec<Vec<Bytes>>, Option<ProtocolError>);

/// Decodes `data` as a client's byte stream (see the module docs for the layout).
pub fn resp(data: &[u8]) {
    let &[mode, split, ref stream @ ..] = data else { return };
    let limits = if mode & 3 == 0 {
        Limits::default()
    } else {
        // Small enough that the fuzzer hits every limit with short inputs.
        Limits {
            max_bulk_len: usize::from(mode >> 2) * 4,
            max_array_len: usize::from(mode >> 2) + 1,
            max_inline_len: usize::from(mode) * 2,
        }
    };
    let whole = decode(limits, stream, &mut std::iter::once(stream.len()));
    let mut state = u32::from(split) | 1;
    let mut cuts = std::iter::from_fn(|| {
        // xorshift32: a deterministic sequence of read sizes from 1 to 16.
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        Some(state as usize % 16 + 1)
    });
    let pieces = decode(limits, stream, &mut cuts);
    assert_eq!(whole, pieces, "decoding depends on how the stream is cut into reads");
    for args in whole.0.iter().filter(|a| !a.is_empty()) {
        let mut wire = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            wire.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            wire.extend_from_slice(a);
            wire.extend_from_slice(b"\r\n");
        }
        // Under the default limits: an inline request may hold more (or longer)
        // arguments than the small limits allow a multibulk one.
        let again = decode(Limits::default(), &wire, &mut std::iter::once(wire.len()));
        assert_eq!(again, (vec![args.clone()], None), "a request does not round-trip");
    }
}

/// Feeds `stream` to a new decoder in reads of the sizes `cuts` yields, decoding every
/// complete request after each read, as a connection does.
fn decode(limits: Limits, stream: &[u8], cuts: &mut dyn Iterator<Item = usize>) -> Outcome {
    let mut decoder = RequestDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut requests = Vec::new();
    let mut fed = 0;
    while fed < stream.len() {
        let n = cuts.next().unwrap_or(usize::MAX).min(stream.len() - fed);
        buf.extend_from_slice(&stream[fed..fed + n]);
        fed += n;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(args)) => {
                    check_limits(&limits, &args);
                    requests.push(args);
                }
                Ok(None) => break,
                Err(e) => return (requests, Some(e)),
            }
        }
        assert!(buf.len() <= fed, "the decoder keeps {} bytes of {fed} sent", buf.len());
        assert!(
            buf.capacity() <= 2 * (fed + RESERVE_STEP),
            "a buffer of {} bytes after {fed} sent",
            buf.capacity()
        );
    }
    (requests, None)
}

fn check_limits(limits: &Limits, args: &[Bytes]) {
    let longest = limits.max_bulk_len.max(limits.max_inline_len);
    assert!(args.len() <= limits.max_array_len.max(longest), "{} arguments", args.len());
    assert!(args.iter().all(|a| a.len() <= longest), "an argument over the limits");
}
