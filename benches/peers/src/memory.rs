//! Peak anonymous memory of this process. Linux keeps a high-water mark only for the whole RSS
//! (VmHWM, which counts mapped file pages too), so a thread samples RssAnon every few milliseconds
//! and keeps the maximum: overall, and since the current workload began.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static PEAK_KIB: AtomicU64 = AtomicU64::new(0);
static PHASE_PEAK_KIB: AtomicU64 = AtomicU64::new(0);
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// A field of /proc/self/status in KiB (`RssAnon`, `VmHWM`, ...), or 0 where there is none.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn sample() -> u64 {
    let now = status_kib("RssAnon");
    PEAK_KIB.fetch_max(now, Ordering::Relaxed);
    PHASE_PEAK_KIB.fetch_max(now, Ordering::Relaxed);
    now
}

/// Starts the sampling thread (it runs until the process exits).
pub fn start_sampler() {
    sample();
    std::thread::Builder::new()
        .name("rss-sampler".into())
        .spawn(|| {
            loop {
                sample();
                std::thread::sleep(SAMPLE_EVERY);
            }
        })
        .expect("spawn the memory sampler");
}

/// Starts a new phase: its peak begins at the current RssAnon.
pub fn phase_start() {
    PHASE_PEAK_KIB.store(sample(), Ordering::Relaxed);
}

/// Peak RssAnon since `phase_start`, in MiB.
pub fn phase_peak_mib() -> f64 {
    sample();
    PHASE_PEAK_KIB.load(Ordering::Relaxed) as f64 / 1024.0
}

/// Peak RssAnon since the sampler started, in MiB.
pub fn peak_mib() -> f64 {
    sample();
    PEAK_KIB.load(Ordering::Relaxed) as f64 / 1024.0
}

pub fn current_anon_mib() -> f64 {
    status_kib("RssAnon") as f64 / 1024.0
}

/// VmHWM: the peak of the whole resident set, file-backed map pages included, in MiB.
pub fn hwm_mib() -> f64 {
    status_kib("VmHWM") as f64 / 1024.0
}
