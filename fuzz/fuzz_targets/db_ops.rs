//! Fuzz target `db_ops`: a thin wrapper around `mylsm::fuzzing::db_ops`, which holds the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mylsm::fuzzing::db_ops(data));
