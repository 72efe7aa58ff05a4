//! Encodings shared by the stores: log-index keys, serde values, and the mapping of
//! engine and decoding errors onto openraft's storage errors.

use openraft::{AnyError, StorageIOError};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::types::{NodeId, StorageError};

/// The key of log entry `index`: 8 bytes big-endian, so key order is index order.
pub(crate) fn index_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Encodes `value` with postcard (compact, length-prefixed bytes; serde_json would
/// write `Vec<u8>` as an array of numbers).
pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing openraft's and our own types into a `Vec` cannot fail: they hold no
    // maps with non-string keys or sequences of unknown length that postcard refuses.
    postcard::to_stdvec(value).unwrap_or_default()
}

/// Decodes a postcard value written by [`encode`], or describes why it could not.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, AnyError> {
    postcard::from_bytes(bytes).map_err(|e| AnyError::error(format!("undecodable {what}: {e}")))
}

/// Wraps an engine error for openraft.
pub(crate) fn any(e: mylsm::Error) -> AnyError {
    AnyError::new(&e)
}

/// Builds a storage error from an I/O-error constructor such as
/// [`StorageIOError::write_logs`] and its cause.
pub(crate) fn sto(
    make: impl FnOnce(AnyError) -> StorageIOError<NodeId>,
    cause: impl Into<AnyError>,
) -> StorageError {
    StorageError::from(make(cause.into()))
}

/// Runs the synchronous engine call `f` on tokio's blocking pool, so an fsync or a
/// table read does not stall a runtime worker (and with it openraft's timers and the
/// transport). Engine handles are cheap clones, so callers move clones into `f`.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(sto(
            StorageIOError::write,
            AnyError::error(format!("engine call did not finish: {e}")),
        )),
    }
}
