//! cargo-fuzz entry point; the logic lives in src/crash_ops.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bough_fuzz::crash_ops::run(data));
