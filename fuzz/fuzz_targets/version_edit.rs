//! Fuzz target `version_edit`: a thin wrapper around `mylsm::fuzzing::version_edit`, which holds the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mylsm::fuzzing::version_edit(data));
