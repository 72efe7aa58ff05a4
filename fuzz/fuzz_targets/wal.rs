//! Fuzz target `wal`: a thin wrapper around `mylsm::fuzzing::wal`, which holds the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mylsm::fuzzing::wal(data));
