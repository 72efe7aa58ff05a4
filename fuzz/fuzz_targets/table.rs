//! Fuzz target `table`: a thin wrapper around `mylsm::fuzzing::table`, which holds the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mylsm::fuzzing::table(data));
