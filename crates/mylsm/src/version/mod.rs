//! Versions: which table files make up the tree, and the manifest that records every
//! change to that set.

pub(crate) mod edit;
pub(crate) mod set;
#[expect(clippy::module_inception, reason = "DESIGN.md names the file version/version.rs")]
pub(crate) mod version;

pub use edit::FileMeta;
pub(crate) use edit::{VersionEdit, NUM_LEVELS};
pub(crate) use set::VersionSet;
pub(crate) use version::Version;
