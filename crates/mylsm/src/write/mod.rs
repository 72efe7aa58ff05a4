//! The write path: group commit (`group.rs`) and keeping the memtable within bounds
//! before each group (`stall.rs`: write stalls and memtable/WAL rotation).

mod group;
mod stall;

pub(crate) use group::{Check, WritePath};
pub(crate) use stall::rotate;
