//! The benchmark driver shared by `mylsm bench` and `bench/compare`: db_bench's
//! workloads, run against any store behind the [`Engine`] trait and measured the same
//! way for all of them.
//!
//! The principal items: [`Engine`], the operations a store offers the workloads;
//! [`EngineConfig`], the memory and format budget every store gets; [`Workload`] and
//! [`Settings`], what to run; [`execute`], which runs one workload on threads and
//! returns a [`WorkloadResult`] (throughput, latency percentiles from an HDR
//! histogram, and operations per interval for plots).
//!
//! This file is the root of the `mylsm_bench` library target of the `mylsm-cli`
//! package; the `mylsm` binary's `bench` module (`mod.rs` beside it) and the
//! `bench/compare` program both build on it, so that every engine runs literally the
//! same workload code.
#![forbid(unsafe_code)]

pub mod engine;
pub mod gen;
pub mod mem;
pub mod mylsm_engine;
pub mod plot;
pub mod report;
pub mod workload;
pub mod writer;
pub mod zipf;

pub use engine::{Engine, EngineConfig, Entry};
pub use mylsm_engine::{MylsmEngine, MylsmKeyspacesEngine};
pub use report::{OpKind, Recorder, WorkloadResult};
pub use workload::{execute, Settings, Workload, DEFAULT_WORKLOADS};
