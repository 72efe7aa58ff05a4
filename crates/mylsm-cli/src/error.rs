//! `CliError`, every failure a command reports, and how it reads after `mylsm: `.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// A failure of a command; `main` prints it to stderr and exits with status 2.
#[derive(Debug)]
pub enum CliError {
    /// The directory holds no database and the command does not create one.
    NoDatabase(PathBuf),
    /// The keyspace a command names does not exist (or the database does not).
    NoKeyspace { name: String, path: PathBuf },
    /// The database could not be opened.
    Open { path: PathBuf, source: mylsm::Error },
    /// The engine failed a read or a write.
    Db(mylsm::Error),
    /// Reading an input or preparing a directory failed; `context` names what.
    Io { context: String, source: io::Error },
    /// Writing to stdout failed. Kept apart so that a closed pipe can end quietly.
    Output(io::Error),
    /// The user's input (a load line, a bench directory) is unusable.
    Input(String),
}

impl CliError {
    /// The failure to open the database in `path`. A directory without a database
    /// (`Error::is_no_database`) gets its own variant, so that it reads as advice
    /// rather than as a failed open.
    pub fn open(path: &Path, source: mylsm::Error) -> CliError {
        if source.is_no_database() {
            return CliError::NoDatabase(path.to_path_buf());
        }
        CliError::Open { path: path.to_path_buf(), source }
    }

    /// Wraps an I/O error with the operation or path it came from.
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::NoDatabase(path) => {
                write!(f, "no database at {} (put or load creates one)", path.display())
            }
            CliError::NoKeyspace { name, path } => write!(
                f,
                "no keyspace {name:?} in {} (mylsm keyspace create {name} makes one)",
                path.display()
            ),
            // The engine's lock error names the LOCK file; the directory is what the
            // user typed, and that the read commands still work is what they can do.
            CliError::Open { path, source: mylsm::Error::Locked(_) } => write!(
                f,
                "database {} is locked: another process has it open for writing \
                 (read commands still work)",
                path.display()
            ),
            CliError::Open { path, source: mylsm::Error::Io(_) } if path.is_file() => {
                write!(f, "cannot open database {}: it is a file, not a directory", path.display())
            }
            CliError::Open { path, source: mylsm::Error::Io(e) } => {
                write!(f, "cannot open database {}: {}", path.display(), words(e))
            }
            CliError::Open { path, source } => {
                write!(f, "cannot open database {}: {source}", path.display())
            }
            // The engine's I/O errors name the operation and file ("open x.sst: ..."),
            // which is what the user needs; its "I/O error:" and "invalid argument:"
            // prefixes and the OS error number are for programmers.
            CliError::Db(mylsm::Error::Io(e)) => f.write_str(&without_os_error(e.to_string())),
            CliError::Db(mylsm::Error::InvalidArgument(m)) => f.write_str(m),
            CliError::Db(e) => e.fmt(f),
            CliError::Io { context, source } => write!(f, "{context}: {}", words(source)),
            CliError::Output(e) => write!(f, "writing output: {}", words(e)),
            CliError::Input(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CliError {}

/// An I/O error in a user's words: the common kinds as a short phrase, the others
/// as the system says them, without the `(os error N)` that only a programmer reads.
pub fn words(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_string(),
        io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        io::ErrorKind::AlreadyExists => "it already exists".to_string(),
        io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        io::ErrorKind::NotADirectory => "a part of the path is not a directory".to_string(),
        io::ErrorKind::StorageFull => "the disk is full".to_string(),
        _ => without_os_error(e.to_string()),
    }
}

/// `text` without a trailing ` (os error N)`.
fn without_os_error(text: String) -> String {
    match text.rfind(" (os error ") {
        Some(cut) if text.ends_with(')') => text[..cut].to_string(),
        _ => text,
    }
}

impl From<mylsm::Error> for CliError {
    fn from(e: mylsm::Error) -> Self {
        CliError::Db(e)
    }
}
