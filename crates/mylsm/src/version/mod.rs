//! Versions: which table files make up the tree, and the manifest that records every
//! change to that set.

pub(crate) mod edit;
pub(crate) mod level_iter;
pub(crate) mod set;
mod table_iter;
#[expect(clippy::module_inception, reason = "DESIGN.md names the file version/version.rs")]
pub(crate) mod version;

pub use edit::FileMeta;
pub(crate) use edit::{VersionEdit, NUM_LEVELS};
pub(crate) use level_iter::LevelIter;
pub(crate) use set::{VersionSet, DEFAULT_KEYSPACE};
pub(crate) use table_iter::LazyTableIter;
pub(crate) use version::Version;
