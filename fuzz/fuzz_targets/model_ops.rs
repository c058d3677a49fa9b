//! cargo-fuzz entry point; the logic lives in src/model_ops.rs.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bough_fuzz::model_ops::run(data));
