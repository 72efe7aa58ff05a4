//! Fuzz target `batch`: a thin wrapper around `mylsm::fuzzing::batch`, which holds the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mylsm::fuzzing::batch(data));
