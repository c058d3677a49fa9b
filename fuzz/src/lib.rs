//! The fuzz targets' logic, shared by the cargo-fuzz binaries in fuzz_targets/ and by the
//! ordinary tests in tests/ that replay the seed corpus and every past crash input.

pub mod crash_ops;
pub mod model_ops;
pub mod raw_bytes;

#[path = "../../tests/support/crash.rs"]
#[allow(dead_code)]
mod crash;
#[path = "../../tests/support/workloads.rs"]
#[allow(dead_code)]
mod workloads;

/// `BOUGH_TEST_MODE=wal` runs the model target in write-ahead-log mode.
pub fn test_mode() -> bough::Mode {
    match std::env::var("BOUGH_TEST_MODE").as_deref() {
        Ok("wal") => bough::Mode::Wal,
        _ => bough::Mode::CopyOnWrite,
    }
}
