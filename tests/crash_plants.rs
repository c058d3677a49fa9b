//! Tests the crash simulation itself: each known protocol bug, planted alone, must make it
//! fail. Process crashes (kill tests) cannot catch most of these: the page cache survives them,
//! so a missing sync never shows. Workloads of threads committing at once record a
//! different interleaving each run; their plants are caught in every one. Needs `--features planted-bugs`; the plants are process-wide,
//! so the cases run one after another in a single test.

mod support;

use bough::CommitProtocol;
use bough::testing::{Bug, plant};
use support::crash::{Setup, Workload, check_all_crash_points, run_workload};

/// Runs `workload` with `bug` planted and returns what the simulation reported.
fn setup(protocol: CommitProtocol) -> Setup {
    Setup {
        protocol,
        mode: bough::Mode::CopyOnWrite,
        checkpoint_bytes: 64 << 20,
        dirty_budget: 64 << 20,
    }
}

fn caught(bug: Bug, workload: &Workload, protocol: CommitProtocol) -> Result<String, String> {
    plant(Some(bug));
    let outcome = std::panic::catch_unwind(|| {
        let run = run_workload(workload, setup(protocol));
        check_all_crash_points(&run, setup(protocol), 200, workload.name)
    });
    plant(None);
    match outcome {
        Ok(Err(report)) => Ok(report),
        Ok(Ok(states)) => Err(format!("{bug:?} went unnoticed over {states} crash states")),
        Err(_) => Err(format!(
            "{bug:?} broke the workload itself, before any crash"
        )),
    }
}

#[test]
fn every_planted_bug_is_caught() {
    let cases = [
        (
            Bug::NoSyncBeforeMeta,
            Workload::inserts_and_overwrites(),
            CommitProtocol::TwoSync,
        ),
        (
            Bug::SameMetaSlot,
            Workload::inserts_and_overwrites(),
            CommitProtocol::OneSync,
        ),
        (
            Bug::UpdateInPlace,
            Workload::deletes_with_merges(),
            CommitProtocol::OneSync,
        ),
        (
            Bug::ReuseBeforeDurable,
            Workload::churn_with_reader(),
            CommitProtocol::OneSync,
        ),
        (
            Bug::NoSyncAfterGrowth,
            Workload::large_values(),
            CommitProtocol::OneSync,
        ),
        (
            Bug::NoDirectorySync,
            Workload::inserts_and_overwrites(),
            CommitProtocol::OneSync,
        ),
        (
            Bug::GroupReturnsBeforeSync,
            Workload::concurrent_commits(),
            CommitProtocol::OneSync,
        ),
        (
            Bug::GroupPagesVolatile,
            Workload::commit_after_a_group(),
            CommitProtocol::OneSync,
        ),
        (
            Bug::StaleSlotAfterGroup,
            Workload::commit_after_a_group(),
            CommitProtocol::OneSync,
        ),
        (
            Bug::RecycleAfterGroupWritten,
            Workload::writers_across_groups(true),
            CommitProtocol::OneSync,
        ),
        (
            Bug::ChainRecordTrusted,
            Workload::inserts_and_overwrites(),
            CommitProtocol::Chained,
        ),
        (
            Bug::ChainPagesReleasedEarly,
            Workload::chain_then_non_durable(),
            CommitProtocol::Chained,
        ),
    ];
    let mut missed = Vec::new();
    for (bug, workload, protocol) in &cases {
        match caught(*bug, workload, *protocol) {
            Ok(report) => println!("{bug:?}: caught: {report}"),
            Err(miss) => missed.push(miss),
        }
    }
    // The same workloads without a plant pass, so what was caught is the plant.
    for (_, workload, protocol) in &cases {
        let run = run_workload(workload, setup(*protocol));
        check_all_crash_points(&run, setup(*protocol), 200, workload.name).unwrap();
    }
    assert!(missed.is_empty(), "missed: {missed:#?}");
}
