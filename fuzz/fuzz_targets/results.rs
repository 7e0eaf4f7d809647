//! Fuzz target: see `results` in tests/fuzz_support/mod.rs (shared with the property tests).
#![no_main]

#[path = "../../tests/fuzz_support/mod.rs"]
mod fuzz_support;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_support::results(data));
