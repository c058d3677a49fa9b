//! The log's chain across salt frames (DESIGN.md, "Log format"), on a simulated disk.

use super::*;
use crate::ids::TxnId;
use crate::io::sim::SimDisk;

const PAGE: usize = 4096;

fn meta(txn: u64) -> Meta {
    Meta {
        page_size: PAGE as u32,
        txn_id: TxnId(txn),
        catalog: None,
        freelist: None,
        freelist_records: Vec::new(),
        high_water: 10,
        pages_synced_first: false,
        wal_mode: true,
        next_record: 0,
    }
}

/// Appends commit `txn` (one page, 2, filled with its id) and syncs; returns its bytes.
fn commit(log: &mut WalLog, txn: u64) -> (u64, u64) {
    let page = vec![txn as u8; PAGE];
    let before = log.space.head();
    let placed = log.append(txn, &[(2, &page)], &meta(txn), 1 << 30).unwrap();
    log.sync().unwrap();
    assert_eq!(placed.len(), 1);
    (before, log.space.head())
}

fn reopen(disk: &SimDisk) -> (WalLog, Recovered) {
    WalLog::open(Box::new(disk.sibling(0)), PAGE).unwrap()
}

fn newest(recovered: &Recovered) -> u64 {
    recovered.meta.as_ref().map_or(0, |m| m.txn_id.0)
}

#[test]
fn frames_past_the_end_under_an_old_salt_never_follow_a_new_one() {
    let disk = SimDisk::new();
    let (mut log, _) = reopen(&disk);
    commit(&mut log, 1);
    commit(&mut log, 2);
    // A crash's leftovers: commits 3 and 4 were written, then 3 was torn.
    let (torn_at, _) = commit(&mut log, 3);
    let (stale_at, stale_end) = commit(&mut log, 4);
    drop(log);
    let mut image = disk.contents();
    let stale = image[stale_at as usize..stale_end as usize].to_vec();
    image[torn_at as usize + 100] ^= 1;
    let disk = SimDisk::from_image(image);
    let (mut log, recovered) = reopen(&disk);
    assert_eq!(newest(&recovered), 2);
    // An open that keeps the log's commits (it could not copy them) renews the salt; the
    // next commit reuses id 3, and the stale commit 4 lies exactly after it.
    log.renew_salt();
    let (_, end) = commit(&mut log, 3);
    drop(log);
    let mut image = disk.contents();
    image[end as usize..end as usize + stale.len()].copy_from_slice(&stale);
    let disk = SimDisk::from_image(image);
    let (_, recovered) = reopen(&disk);
    assert_eq!(
        newest(&recovered),
        3,
        "the stale commit 4 was taken for a new one"
    );
    assert_eq!(
        recovered.unfinished,
        Some(4),
        "a frame a writer wrote ends the scan"
    );
}

#[test]
fn the_chain_runs_through_every_salt_and_the_header_names_the_right_one() {
    let disk = SimDisk::new();
    let (mut log, _) = reopen(&disk);
    commit(&mut log, 1);
    commit(&mut log, 2);
    for txn in [3, 5] {
        log.renew_salt();
        commit(&mut log, txn);
        commit(&mut log, txn + 1);
    }
    drop(log);
    let (mut log, recovered) = reopen(&disk);
    assert_eq!(newest(&recovered), 6);
    assert_eq!(recovered.frames, 12, "a page frame and a commit frame each");
    // The writer goes on with the newest salt.
    commit(&mut log, 7);
    // Recovery now begins at commit 3, whose first frame (a salt frame) is checked with the
    // first salt: the header must name that one.
    log.forget_through(2, 1).unwrap();
    drop(log);
    let (mut log, recovered) = reopen(&disk);
    assert_eq!(newest(&recovered), 7);
    assert_eq!(recovered.frames, 10);
    // Beginning at commit 4, after the first salt frame, the header names the second salt.
    log.forget_through(3, 1).unwrap();
    log.seal(7).unwrap();
    drop(log);
    let (_, recovered) = reopen(&disk);
    assert_eq!((newest(&recovered), recovered.sealed), (7, 7));
    assert_eq!(recovered.frames, 8);
}

#[test]
fn a_failed_commit_keeps_the_salt_switch_for_the_next_one() {
    let disk = SimDisk::new();
    let (mut log, _) = reopen(&disk);
    commit(&mut log, 1);
    log.renew_salt();
    let before = log.salt;
    disk.set_faults(crate::io::sim::FaultPlan {
        crash_at_op: Some(disk.ops()),
        ..Default::default()
    });
    let page = vec![2u8; PAGE];
    assert!(log.append(2, &[(2, &page)], &meta(2), 1 << 30).is_err());
    assert_eq!((log.salt, log.next_salt.is_some()), (before, true));
    disk.set_faults(Default::default());
    commit(&mut log, 2);
    assert!(log.next_salt.is_none() && log.salt != before);
    drop(log);
    let (_, recovered) = reopen(&disk);
    assert_eq!(newest(&recovered), 2);
}
