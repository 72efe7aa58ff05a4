//! `keyspace list`, `create` and `drop`: managing the keyspaces of a database by name.

use std::io::{self, Write};
use std::path::Path;

use clap::Subcommand;

use mylsm::Db;

use crate::error::CliError;
use crate::{with_db, Access};

/// What `keyspace` does.
#[derive(Debug, Subcommand)]
pub enum KeyspaceCommand {
    /// Prints the name of every keyspace, one a line, "default" first.
    ///
    /// Read-only: works while another process has the database open.
    List,
    /// Creates the keyspace NAME, with the default options (creating the database if
    /// needed); fails if it exists.
    Create {
        #[arg(allow_hyphen_values = true)]
        name: String,
        /// The keyspace's merge operator: `u64add` (counters: operands and values are
        /// numbers), or `append` / `append:SEP` (appends, SEP between parts).
        #[arg(long, value_name = "OPERATOR")]
        merge: Option<String>,
    },
    /// Drops the keyspace NAME and every key in it; fails if it does not exist, for
    /// "default", and if DIR holds no database.
    Drop {
        #[arg(allow_hyphen_values = true)]
        name: String,
    },
}

/// Runs `keyspace` on the database in `dir`.
pub fn run(cmd: KeyspaceCommand, dir: &Path) -> Result<(), CliError> {
    match cmd {
        KeyspaceCommand::List => with_db(dir, Access::Read, list),
        KeyspaceCommand::Create { name, merge } => {
            with_db(dir, Access::Create, |db| create(db, &name, merge.as_deref()))
        }
        KeyspaceCommand::Drop { name } => with_db(dir, Access::Write, |db| drop(db, &name)),
    }
}

/// The name of the keyspace every database has, which the commands use by default.
pub const DEFAULT: &str = "default";

/// Prints the name of every keyspace, one a line, the default one first.
pub fn list(db: &Db) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    for name in db.keyspaces() {
        writeln!(out, "{name}").map_err(CliError::Output)?;
    }
    out.flush().map_err(CliError::Output)
}

/// Creates the keyspace `name` with the options the command line opens every database
/// with, so that it behaves as the default keyspace does, and the merge operator
/// `merge` names (`u64add`, `append`, `append:SEP`).
pub fn create(db: &Db, name: &str, merge: Option<&str>) -> Result<(), CliError> {
    let merge_operator: Option<std::sync::Arc<dyn mylsm::merge::MergeOperator>> = match merge {
        None => None,
        Some("u64add") => Some(std::sync::Arc::new(mylsm::merge::U64Add)),
        Some("append") => Some(std::sync::Arc::new(mylsm::merge::Append::new(""))),
        Some(m) => match m.strip_prefix("append:") {
            Some(sep) => Some(std::sync::Arc::new(mylsm::merge::Append::new(sep))),
            None => {
                return Err(CliError::Input(format!(
                    "unknown merge operator {m:?}: use u64add, append or append:SEP"
                )))
            }
        },
    };
    // Checked here to say which database; the engine would refuse it too.
    if db.keyspace(name).is_ok() {
        return Err(CliError::Input(format!(
            "keyspace {name:?} already exists in {}",
            db.path().display()
        )));
    }
    let options = mylsm::KeyspaceOptions {
        merge_operator,
        ..mylsm::KeyspaceOptions::from(&mylsm::Options::default())
    };
    db.create_keyspace(name, options)?;
    Ok(())
}

/// Drops the keyspace `name` with all its keys; the default keyspace cannot go.
pub fn drop(db: &Db, name: &str) -> Result<(), CliError> {
    if name == DEFAULT {
        return Err(CliError::Input("the default keyspace cannot be dropped".to_string()));
    }
    let ks = match db.keyspace(name) {
        Err(mylsm::Error::NotFound(_)) => {
            return Err(CliError::Input(format!(
                "no keyspace {name:?} in {} to drop",
                db.path().display()
            )));
        }
        found => found?,
    };
    Ok(db.drop_keyspace(&ks)?)
}
