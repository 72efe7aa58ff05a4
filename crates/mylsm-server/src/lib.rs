//! `mylsm serve`: the mylsm engine behind the Redis protocol, so that redis-cli,
//! redis-benchmark and every language's Redis client can use it unchanged.
//!
//! The principal items: [`Config`], the settings; [`run`], which serves until SIGTERM
//! or SIGINT (what `mylsm serve` calls); [`Server`], a server started in this process
//! (tests, embedding). The RESP codec is [`resp`]; the command layer is private.
//!
//! The engine stays synchronous: the tokio reactor only moves bytes, and every batch
//! of pipelined commands of a connection runs, in order, on tokio's blocking pool. See
//! `docs/server.md` for the key layout, the commands and the limits.
#![forbid(unsafe_code)]

mod cluster;
mod cmd;
mod config;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod metrics;
pub mod resp;
mod server;
mod shared;
mod store;

pub use config::{AppendFsync, ClusterConfig, Config};
pub use server::{run, Server};
