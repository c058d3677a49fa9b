//! cargo-fuzz entry point; the logic lives in src/raw_bytes.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bough_fuzz::raw_bytes::run(data));
