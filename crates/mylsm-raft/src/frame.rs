//! The framing of the node-to-node protocol: every message is one frame, a request
//! answered by exactly one reply frame on the same connection.
//!
//! ```text
//! frame   := len:u32 BE  kind:u8  payload[len]      len counts the payload only
//! payload := postcard(the request or reply type of `kind`)
//! ```
//!
//! A request's kind is one of [`Kind`]; its reply carries the same kind with the high
//! bit set ([`REPLY`]). A declared length over [`MAX_FRAME`], an unknown kind or an
//! undecodable payload is a protocol error: the receiver closes the connection. The
//! reader never allocates what a peer merely declares: it reads at most `len` bytes
//! into a buffer that grows with what actually arrives.

use std::io;

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest payload a frame may declare (64 MiB). Snapshots travel in chunks of
/// `openraft::Config::snapshot_max_chunk_size` (3 MiB by default), and append batches
/// are bounded by `max_payload_entries`, so no legitimate frame comes near it.
pub const MAX_FRAME: usize = 64 << 20;

/// The bit set in the kind of a reply frame.
pub const REPLY: u8 = 0x80;

/// What a request frame asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// openraft `AppendEntriesRequest` → `Result<AppendEntriesResponse, RaftError>`.
    AppendEntries = 1,
    /// openraft `VoteRequest` → `Result<VoteResponse, RaftError>`.
    Vote = 2,
    /// One chunk of a snapshot, openraft `InstallSnapshotRequest` →
    /// `Result<InstallSnapshotResponse, RaftError<InstallSnapshotError>>`.
    InstallSnapshot = 3,
    /// A client write forwarded to the leader: `Request` → `Result<Response, WireError>`.
    ClientWrite = 4,
    /// A linearizable read forwarded to the leader: `Vec<key>` →
    /// `Result<Vec<Option<value>>, WireError>`.
    Read = 5,
    /// `add_learner` forwarded to the leader: `(NodeId, addr)` → `Result<(), WireError>`.
    AddLearner = 6,
    /// `change_membership` forwarded to the leader: `BTreeSet<NodeId>` →
    /// `Result<(), WireError>`.
    ChangeMembership = 7,
}

impl Kind {
    /// The kind a request frame's byte names, if any.
    pub fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::AppendEntries,
            2 => Kind::Vote,
            3 => Kind::InstallSnapshot,
            4 => Kind::ClientWrite,
            5 => Kind::Read,
            6 => Kind::AddLearner,
            7 => Kind::ChangeMembership,
            _ => return None,
        })
    }
}

/// Writes one frame: header and payload in a single write, so a frame is one segment
/// when it fits.
///
/// # Errors
/// The socket's errors; `InvalidInput` for a payload over [`MAX_FRAME`] (nothing sent).
pub async fn write_frame<W: AsyncWrite + Unpin>(
    w: &mut W,
    kind: u8,
    payload: &[u8],
) -> io::Result<()> {
    if payload.len() > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "frame over the 64 MiB cap"));
    }
    let mut buf = Vec::with_capacity(5 + payload.len());
    buf.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    buf.push(kind);
    buf.extend_from_slice(payload);
    w.write_all(&buf).await?;
    w.flush().await
}

/// Reads one frame, returning its kind byte and payload.
///
/// # Errors
/// The socket's errors (`UnexpectedEof` for a connection closed mid-frame or before
/// one); `InvalidData` for a declared length over [`MAX_FRAME`].
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> io::Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    r.read_exact(&mut header).await?;
    let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "frame over the 64 MiB cap"));
    }
    let mut payload = Vec::with_capacity(len.min(64 << 10));
    let got = r.take(len as u64).read_to_end(&mut payload).await?;
    if got != len {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-frame"));
    }
    Ok((header[4], payload))
}

/// Encodes a payload with postcard.
///
/// # Errors
/// `InvalidInput` if serde refuses the value (our types never make it).
pub fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
}

/// Decodes a payload with postcard.
///
/// # Errors
/// `InvalidData` for bytes that are not a `T`.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn a_frame_round_trips() {
        let mut buf = Vec::new();
        write_frame(&mut buf, Kind::Vote as u8, b"hello").await.unwrap();
        let (kind, payload) = read_frame(&mut buf.as_slice()).await.unwrap();
        assert_eq!((kind, payload.as_slice()), (Kind::Vote as u8, b"hello".as_slice()));
    }

    #[tokio::test]
    async fn an_oversized_declared_length_is_refused_without_allocating() {
        let mut buf = u32::MAX.to_be_bytes().to_vec();
        buf.push(1);
        let err = read_frame(&mut buf.as_slice()).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn a_truncated_frame_is_an_error() {
        let mut buf = Vec::new();
        write_frame(&mut buf, 4, &[7; 100]).await.unwrap();
        for cut in 0..buf.len() {
            assert!(read_frame(&mut &buf[..cut]).await.is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn garbage_does_not_decode_as_a_request() {
        assert!(decode::<crate::Request>(&[0xff, 0xff, 0xff]).is_err());
    }
}
