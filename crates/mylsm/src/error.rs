//! The one error type of the engine and the `Result` alias every fallible call returns.

use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong in mylsm.
///
/// The library never panics on bad bytes or bad arguments: a damaged file is a
/// [`Error::Corruption`] naming the file and the byte offset, a bad argument is an
/// [`Error::InvalidArgument`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system (or the simulated file system) failed an I/O call.
    #[error("I/O error: {0}")]
    Io(#[source] Arc<std::io::Error>),
    /// Bytes on disk do not decode or do not match their checksum.
    #[error("corruption in {} at offset {offset}: {detail}", file.display())]
    Corruption {
        /// The damaged file.
        file: PathBuf,
        /// Byte offset in `file` where the damage was found.
        offset: u64,
        /// What was wrong there.
        detail: String,
    },
    /// The caller passed something the engine cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Another `Db` (in this or another process) holds the directory's `LOCK` (the
    /// path is that file). [`crate::Db::open_read_only`] still works.
    #[error("{} is held by another process or handle: the database is open elsewhere", .0.display())]
    Locked(PathBuf),
    /// What was asked for does not exist (a keyspace, by name).
    #[error("not found: {0}")]
    NotFound(String),
    /// A merge operator failed to combine a key's operands (the read that needed them
    /// fails; the operands stay as they are).
    #[error("merge failed: {0}")]
    MergeFailed(String),
    /// A transaction's commit found that another write changed a key (or a key in a
    /// range) it read, or with snapshot isolation one it wrote, after its snapshot;
    /// nothing was written. Retry the transaction (`Db::run_transaction` does).
    #[error(
        "transaction conflict on key {:?} in keyspace {keyspace:?}",
        String::from_utf8_lossy(key)
    )]
    Conflict {
        /// The keyspace of the key.
        keyspace: String,
        /// The first conflicting key found (for a range, a key in it that changed).
        key: Vec<u8>,
    },
    /// The `Db` was closed.
    #[error("database is closed")]
    Closed,
    /// A background worker panicked; the database latched it as its failure (it is
    /// reported inside [`Error::Background`]).
    #[error("a background worker panicked: {0}")]
    Panicked(String),
    /// An earlier background or WAL failure latched the database read-only; reopen to
    /// recover. The inner error is the original failure.
    #[error("database refuses writes after an earlier failure: {0}")]
    Background(#[source] Box<Error>),
    /// Every sequence number has been used (2^56 - 1 writes): the database accepts no
    /// more writes. Copy its contents into a new database.
    #[error("sequence numbers exhausted: the database accepts no more writes")]
    SeqnoExhausted,
    /// A write with [`WriteOptions::no_slowdown`](crate::WriteOptions::no_slowdown)
    /// would have waited in a write stall (the reason is given); nothing was written.
    /// Retry later, or shed the load.
    #[error("write would stall: {0}")]
    WouldStall(String),
}

/// What kind of failure an [`Error`] is, for callers that branch on it (a retry on
/// `Conflict`, a fail-fast on `Busy`-like states, an alert on `Corruption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// [`Error::Io`].
    Io,
    /// [`Error::Corruption`].
    Corruption,
    /// [`Error::InvalidArgument`].
    InvalidArgument,
    /// [`Error::Locked`].
    Locked,
    /// [`Error::NotFound`].
    NotFound,
    /// [`Error::MergeFailed`].
    MergeFailed,
    /// [`Error::Conflict`].
    Conflict,
    /// [`Error::Closed`].
    Closed,
    /// [`Error::Panicked`].
    Panicked,
    /// [`Error::Background`].
    Background,
    /// [`Error::SeqnoExhausted`].
    SeqnoExhausted,
    /// [`Error::WouldStall`].
    WouldStall,
}

impl Error {
    /// A corruption error for `file` at `offset`.
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, detail: impl Into<String>) -> Self {
        Error::Corruption { file: file.into(), offset, detail: detail.into() }
    }

    /// True for [`Error::Corruption`].
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }

    /// What kind of failure this is.
    ///
    /// ```
    /// let e = mylsm::Error::InvalidArgument("bad".into());
    /// assert_eq!(e.kind(), mylsm::ErrorKind::InvalidArgument);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io(_) => ErrorKind::Io,
            Error::Corruption { .. } => ErrorKind::Corruption,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Locked(_) => ErrorKind::Locked,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::MergeFailed(_) => ErrorKind::MergeFailed,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Closed => ErrorKind::Closed,
            Error::Panicked(_) => ErrorKind::Panicked,
            Error::Background(_) => ErrorKind::Background,
            Error::SeqnoExhausted => ErrorKind::SeqnoExhausted,
            Error::WouldStall(_) => ErrorKind::WouldStall,
        }
    }

    /// True for [`Error::WouldStall`]: a `no_slowdown` write found the database
    /// stalled and wrote nothing.
    pub fn would_stall(&self) -> bool {
        matches!(self, Error::WouldStall(_))
    }

    /// True for [`Error::Conflict`]: the transaction may succeed if retried.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict { .. })
    }

    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound(_))
    }

    /// True for [`Error::InvalidArgument`].
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self, Error::InvalidArgument(_))
    }

    /// True when the directory holds no database (an open with `create_if_missing:
    /// false`, or a read-only open, of an empty or foreign directory).
    pub fn is_no_database(&self) -> bool {
        matches!(self, Error::InvalidArgument(m) if m.starts_with("no database at "))
    }

    /// True for [`Error::Io`], and for a background failure caused by one.
    pub fn is_io(&self) -> bool {
        match self {
            Error::Io(_) => true,
            Error::Background(inner) => inner.is_io(),
            _ => false,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

/// The result type of every fallible mylsm call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
