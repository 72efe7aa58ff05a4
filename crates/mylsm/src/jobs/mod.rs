//! Background jobs: the worker pool (`pool.rs`), flushing immutable memtables to L0
//! tables (`flush.rs`), and running compactions (`compact.rs`).
//!
//! Jobs work on a `Shared` and a `Tree` and never on the `Db` handle; requests reach
//! them through the `Shared`'s job queue (`engine::queue`).

pub(crate) mod compact;
pub(crate) mod flush;
pub(crate) mod pool;
