//! Entry points for fuzzers: one function per decoder of on-disk bytes, plus a whole-database
//! program interpreter, each taking arbitrary bytes and panicking only on a broken property.
//!
//! Test scaffolding behind the `fuzzing` feature, with no stability promise: the
//! cargo-fuzz targets in `fuzz/` and the stable-Rust replay test
//! `crates/mylsm/tests/fuzz_replay.rs` are its only callers.
//!
//! Each function checks more than "does not panic" where the format allows an oracle:
//!
//! - [`block`]: a block read forwards and backwards yields the same entries (or fails
//!   both ways); when its keys are sorted, every seek lands where a model says.
//! - [`table`]: the same for a whole table; a table built from the input round-trips
//!   exactly through open, scans, seeks, `get` and `verify`.
//! - [`wal`]: both recovery modes agree up to the first damage; records written by
//!   `LogWriter` read back exactly, and a log cut anywhere reads back as a prefix.
//! - [`batch`], [`version_edit`]: whatever decodes re-encodes to the same value.
//! - `db_ops`: a program of puts, deletes, reads, flushes, compactions, snapshots,
//!   reopens, crashes and injected I/O failures, checked against a `BTreeMap` model.
//!
//! The first input byte of [`block`], [`table`] and [`wal`] picks a mode; the modes
//! that recompute checksums let a fuzzer change structure without having to forge a
//! CRC32C first. `seeds` builds seed inputs with the engine's own encoders.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a fuzz target reports a broken property, or an unexpected error, by panicking"
)]

mod db_ops;
mod decoders;
mod fixup;
mod seeds;

pub use db_ops::db_ops;
pub use decoders::{batch, block, table, version_edit, wal};
pub use seeds::seeds;

/// The names of the fuzz targets, which are also the names of the functions above and
/// of the corpus directories under `fuzz/corpus/`.
pub const TARGETS: [&str; 6] = ["block", "table", "wal", "batch", "version_edit", "db_ops"];

/// Runs the function of target `name` on `data`; false if no target has that name.
pub fn run(name: &str, data: &[u8]) -> bool {
    match name {
        "block" => block(data),
        "table" => table(data),
        "wal" => wal(data),
        "batch" => batch(data),
        "version_edit" => version_edit(data),
        "db_ops" => db_ops(data),
        _ => return false,
    }
    true
}

/// A cursor that reads input bytes as choices, yielding zeros once the input runs out,
/// so every input, however short, is a complete choice sequence.
#[derive(Debug)]
struct Choices<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Choices<'a> {
    fn new(data: &'a [u8]) -> Self {
        Choices { data, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// Up to `n` bytes of the input (fewer at its end).
    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = start.saturating_add(n).min(self.data.len());
        self.pos = start.saturating_add(n);
        &self.data[start..end]
    }
}
