//! Fuzz target `resp`: a thin wrapper around `mylsm_server::fuzzing::resp`, which holds the checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mylsm_server::fuzzing::resp(data));
