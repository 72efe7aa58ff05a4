//! mylsm: an embeddable, crash-safe LSM-tree key-value storage engine.
#![forbid(unsafe_code)]

mod error;
pub mod fs;

pub use error::{Error, Result};
