//! Fuzz target `block`: a thin wrapper around `mylsm::fuzzing::block`, which holds the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mylsm::fuzzing::block(data));
