//! Chained commits (DESIGN.md, "Chained commits"): a small durable commit is one write and
//! one sync, and an open after an unclean stop follows the chain to the newest commit.

mod common;

use bough::testing::{Op, SimDisk, SplitMix};
use bough::{Builder, CommitProtocol, Database, Mode};
use std::collections::BTreeMap;

fn chained() -> Builder {
    Database::builder()
        .commit_protocol(CommitProtocol::Chained)
        .mode(common::test_mode())
}

fn random_key(rng: &mut SplitMix) -> [u8; 16] {
    let mut key = [0u8; 16];
    for chunk in key.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    key
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn insert_one(db: &Database, model: &mut Model, rng: &mut SplitMix) {
    let key = random_key(rng).to_vec();
    let value = rng.next_u64().to_le_bytes().repeat(12);
    let tx = db.begin_write().unwrap();
    tx.open_table("t").unwrap().insert(&key, &value).unwrap();
    tx.commit().unwrap();
    model.insert(key, value);
}

fn load(db: &Database, model: &mut Model, rng: &mut SplitMix, entries: usize) {
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table("t").unwrap();
        for _ in 0..entries {
            let key = random_key(rng).to_vec();
            let value = rng.next_u64().to_le_bytes().repeat(12);
            t.insert(&key, &value).unwrap();
            model.insert(key, value);
        }
    }
    tx.commit().unwrap();
}

fn assert_holds(db: &Database, model: &Model, what: &str) {
    let rx = db.begin_read().unwrap();
    let t = rx.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), model.len() as u64, "{what}");
    for (key, value) in model {
        assert_eq!(t.get(key).unwrap(), Some(&value[..]), "{what}");
    }
    drop(rx);
    if let Err(e) = db.check() {
        panic!("{what}: {e}");
    }
}

#[test]
fn a_small_durable_commit_writes_its_record_with_its_hot_pages_and_syncs_once() {
    if common::test_mode() == Mode::Wal {
        return; // Chains are a copy-on-write protocol; log mode appends frames.
    }
    let disk = SimDisk::new();
    let db = chained().open_simulated(disk.clone()).unwrap();
    let (mut model, mut rng) = (Model::new(), SplitMix(3));
    load(&db, &mut model, &mut rng, 20_000);
    // The first chains take runs at the end of the file; later ones find the runs of
    // earlier chains free again.
    for _ in 0..300 {
        insert_one(&db, &mut model, &mut rng);
    }
    disk.record();
    let commits = 300;
    for _ in 0..commits {
        insert_one(&db, &mut model, &mut rng);
    }
    // Writes to the file between one sync and the next, one entry per commit.
    let mut per_commit = Vec::new();
    let mut writes = 0;
    for event in disk.events() {
        match event.op {
            Op::Write { .. } if event.file == 0 => writes += 1,
            Op::Sync { .. } => per_commit.push(std::mem::replace(&mut writes, 0)),
            _ => {}
        }
    }
    assert_eq!(per_commit.len(), commits, "one sync per commit");
    // The record, the root and the catalog are one write; the leaf and a branch not copied
    // lately are one or two more; a commit that cannot chain (every 64 records, or when the
    // run is used up, or no free run is long enough) writes a meta. 3.20 writes per commit
    // (2026-12-07); one-sync commits wrote 3.69 here.
    let total: usize = per_commit.iter().sum();
    let per = total as f64 / commits as f64;
    assert!(per <= 3.45, "{per:.2} writes per commit: {per_commit:?}");
    // Runs are taken from free pages (the chain's pages come free again as later commits
    // copy them), and from the end of the file only within a bounded slack: free pages stay
    // within that slack plus what is left of one run (at most 256 pages).
    let stats = db.stats().unwrap();
    let free = stats.free_pages + stats.pending_pages;
    assert!(free <= stats.high_water / 64 + 256, "{stats:?}");
    assert_holds(&db, &model, "after the commits");
}

#[test]
fn an_unclean_stop_after_any_commit_keeps_every_commit() {
    if common::test_mode() == Mode::Wal {
        return; // Chains are a copy-on-write protocol; an image of the file alone is no log.
    }
    let disk = SimDisk::new();
    let db = chained().open_simulated(disk.clone()).unwrap();
    let (mut model, mut rng) = (Model::new(), SplitMix(11));
    load(&db, &mut model, &mut rng, 3_000);
    for i in 0..150 {
        insert_one(&db, &mut model, &mut rng);
        if i % 7 != 0 {
            continue;
        }
        // The process stops here: no close, so no seal covers the chain.
        let reopened = chained()
            .open_simulated(SimDisk::from_image(disk.contents()))
            .unwrap();
        assert!(reopened.recovery().is_none(), "commit {i}: fell back");
        assert_holds(&reopened, &model, &format!("reopened after commit {i}"));
    }
}

#[test]
fn commits_after_an_unclean_stop_start_a_new_chain() {
    if common::test_mode() == Mode::Wal {
        return; // Chains are a copy-on-write protocol; an image of the file alone is no log.
    }
    let disk = SimDisk::new();
    let db = chained().open_simulated(disk.clone()).unwrap();
    let (mut model, mut rng) = (Model::new(), SplitMix(5));
    load(&db, &mut model, &mut rng, 2_000);
    for _ in 0..20 {
        insert_one(&db, &mut model, &mut rng);
    }
    let mut image = disk.contents();
    drop(db);
    // Three lives, each stopped uncleanly in the middle of a chain.
    for life in 0..3 {
        let disk = SimDisk::from_image(image);
        let db = chained().open_simulated(disk.clone()).unwrap();
        assert_holds(&db, &model, &format!("life {life} at open"));
        for _ in 0..(13 + life * 9) {
            insert_one(&db, &mut model, &mut rng);
        }
        image = disk.contents();
        drop(db);
    }
    let db = chained()
        .open_simulated(SimDisk::from_image(image))
        .unwrap();
    assert!(db.recovery().is_none());
    assert_holds(&db, &model, "after three lives");
}
