//! `CliError`, every failure a command reports, and how it reads after `mylsm: `.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A failure of a command; `main` prints it to stderr and exits with status 2.
#[derive(Debug)]
pub enum CliError {
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
    /// Wraps an I/O error with the operation or path it came from.
    pub fn io(context: impl Into<String>) -> impl FnOnce(io::Error) -> CliError {
        let context = context.into();
        move |source| CliError::Io { context, source }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Open { path, source } => {
                write!(f, "cannot open database {}: {source}", path.display())
            }
            CliError::Db(e) => e.fmt(f),
            CliError::Io { context, source } => write!(f, "{context}: {source}"),
            CliError::Output(e) => write!(f, "writing output: {e}"),
            CliError::Input(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for CliError {}

impl From<mylsm::Error> for CliError {
    fn from(e: mylsm::Error) -> Self {
        CliError::Db(e)
    }
}
