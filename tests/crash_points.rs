//! Crash at every write and sync boundary of a set of workloads, under every kind of fault the
//! simulated disk models (lost, kept, torn and reordered unsynced writes; lost growth), for
//! both commit protocols. Each crash image must open, pass `check()` (so nothing leaks), and
//! hold exactly one committed state: the last one whose durable commit returned, or a later
//! one (the commit in flight, or a non-durable one) that reached the disk whole. Both
//! storage modes: in write-ahead-log mode the log and the file crash together.

mod support;

use support::crash::{Setup, Workload, check_all_crash_points, run_workload};

/// Fault choices tried at each crash point with unsynced writes (identical images are
/// checked once). `BOUGH_CRASH_SAMPLES` overrides it.
fn samples() -> u64 {
    std::env::var("BOUGH_CRASH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2500)
}

fn check(workload: &Workload) -> u64 {
    check_sampling(workload, samples())
}

fn check_sampling(workload: &Workload, samples: u64) -> u64 {
    let mut states = 0;
    for setup in Setup::ALL {
        let run = run_workload(workload, setup);
        let checked = check_all_crash_points(&run, setup, samples, workload.name)
            .unwrap_or_else(|e| panic!("{e}"));
        println!("{}, {setup:?}: {checked} crash states", workload.name);
        states += checked;
    }
    println!("{}: {states} crash states checked", workload.name);
    // CI adds these up (`BOUGH_CRASH_REPORT=<file>`).
    if let Ok(path) = std::env::var("BOUGH_CRASH_REPORT") {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        writeln!(file, "{} {states}", workload.name).unwrap();
    }
    states
}

#[test]
fn inserts_and_overwrites() {
    assert!(check(&Workload::inserts_and_overwrites()) > 0);
}

#[test]
fn deletes_with_merges() {
    assert!(check(&Workload::deletes_with_merges()) > 0);
}

#[test]
fn large_values() {
    assert!(check(&Workload::large_values()) > 0);
}

#[test]
fn table_creation_and_deletion() {
    assert!(check(&Workload::tables()) > 0);
}

#[test]
fn freelist_churn_with_a_long_lived_reader() {
    assert!(check(&Workload::churn_with_reader()) > 0);
}

#[test]
fn commits_through_several_tables_with_savepoints() {
    assert!(check(&Workload::tables_and_savepoints()) > 0);
}

#[test]
fn compactions_and_truncations() {
    // Three compactions make many crash points (each several commits, and truncations):
    // fewer fault choices per point keep the run within CI's time.
    assert!(check_sampling(&Workload::compaction(), samples() / 5) > 0);
}

#[test]
fn non_durable_commits_then_a_durable_one() {
    assert!(check(&Workload::non_durable_then_durable()) > 0);
}

#[test]
fn chained_commits_then_non_durable_ones() {
    assert!(check(&Workload::chain_then_non_durable()) > 0);
}

#[test]
fn concurrent_durable_commits_sharing_syncs() {
    assert!(check(&Workload::concurrent_commits()) > 0);
}

#[test]
fn commits_beside_overlapping_readers() {
    assert!(check(&Workload::overlapping_readers()) > 0);
}

#[test]
fn a_commit_begun_during_a_group_sync() {
    assert!(check(&Workload::commit_after_a_group()) > 0);
}

#[test]
fn pages_recycled_within_a_group() {
    assert!(check(&Workload::writers_across_groups(false)) > 0);
    assert!(check(&Workload::writers_across_groups(true)) > 0);
}
