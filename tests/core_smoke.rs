//! Quick end-to-end checks of the engine's main paths, each ending in `check()`.

use bough::{Database, Durability};
use std::collections::BTreeMap;

fn key(i: u64) -> Vec<u8> {
    format!("key{:08}", i.wrapping_mul(2654435761) % 1_000_000).into_bytes()
}

#[test]
fn insert_get_remove_many_with_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    let mut model = BTreeMap::new();
    {
        let db = Database::open(&path).unwrap();
        for round in 0..5u64 {
            let tx = db.begin_write().unwrap();
            {
                let mut t = tx.open_table("t").unwrap();
                for i in 0..2000u64 {
                    let k = key(round * 2000 + i);
                    let v = vec![(i % 251) as u8; (i % 300) as usize];
                    t.insert(&k, &v).unwrap();
                    model.insert(k, v);
                }
                for i in 0..700u64 {
                    let k = key(round * 1500 + i);
                    let removed = t.remove(&k).unwrap();
                    assert_eq!(removed, model.remove(&k).is_some());
                }
                assert_eq!(t.len().unwrap(), model.len() as u64);
            }
            tx.commit().unwrap();
            db.check().unwrap();
        }
    }
    let db = Database::open(&path).unwrap();
    db.check().unwrap();
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), model.len() as u64);
    let all: Vec<(Vec<u8>, Vec<u8>)> = t
        .iter()
        .unwrap()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
    assert_eq!(all, expected);
    let back: Vec<Vec<u8>> = t
        .iter()
        .unwrap()
        .rev()
        .map(|e| e.unwrap().0.to_vec())
        .collect();
    let mut keys: Vec<Vec<u8>> = model.keys().cloned().collect();
    keys.reverse();
    assert_eq!(back, keys);
}

#[test]
fn large_values_and_deleting_everything() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table("big").unwrap();
        t.insert(b"a", &big).unwrap();
        t.insert(b"b", &big[..5000]).unwrap();
        assert_eq!(t.get(b"a").unwrap().unwrap(), &big[..]);
    }
    tx.commit().unwrap();
    db.check().unwrap();
    let rtx = db.begin_read().unwrap();
    assert_eq!(
        rtx.open_table("big").unwrap().get(b"a").unwrap().unwrap(),
        &big[..]
    );
    drop(rtx);
    let mut tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table("big").unwrap();
        assert!(t.remove(b"a").unwrap());
        assert!(t.remove(b"b").unwrap());
        assert!(t.is_empty().unwrap());
    }
    tx.set_durability(Durability::None);
    tx.commit().unwrap();
    db.check().unwrap();
    let tx = db.begin_write().unwrap();
    assert!(tx.delete_table("big").unwrap());
    tx.commit().unwrap();
    let report = db.check().unwrap();
    assert_eq!(report.tables, 0);
}

#[test]
fn long_reader_with_repeated_rewrites_keeps_the_freelist_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table("t").unwrap();
        for i in 0..300u32 {
            t.insert(&i.to_be_bytes(), b"old").unwrap();
        }
    }
    tx.commit().unwrap();
    let old = db.begin_read().unwrap();
    for round in 0..6u32 {
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table("t").unwrap();
            for i in 0..300u32 {
                if i % 3 == 0 {
                    t.remove(&i.to_be_bytes()).unwrap();
                } else {
                    t.insert(&i.to_be_bytes(), format!("new {round}").as_bytes())
                        .unwrap();
                }
            }
        }
        tx.commit().unwrap();
        db.check().unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    drop(old);
}

#[test]
fn wal_mode_round_trip_checkpoint_and_recovery() {
    use bough::Mode;
    use bough::testing::SimDisk;
    let builder = || Database::builder().mode(Mode::Wal);
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let disk = SimDisk::new();
    let db = builder().open_simulated(disk.clone()).unwrap();
    for round in 0..5u32 {
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table("t").unwrap();
            for i in 0..500u32 {
                t.insert(
                    &(round * 500 + i).to_be_bytes(),
                    &big[..(i as usize * 7) % 3000],
                )
                .unwrap();
            }
            t.insert(b"big", &big).unwrap();
        }
        tx.commit().unwrap();
        db.check().unwrap();
    }
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), 2501);
    assert_eq!(t.get(b"big").unwrap().unwrap(), &big[..]);
    drop(rtx);
    // The files as a crash now would leave them (everything was synced): the log is not
    // checkpointed yet.
    let images = vec![disk.contents(), disk.sibling(1).contents()];
    assert!(images[1].len() > 100_000);
    let db = builder()
        .open_simulated(SimDisk::from_images(images))
        .unwrap();
    let stats = db.stats().unwrap();
    assert!(stats.recovered_frames > 0, "{stats:?}");
    db.check().unwrap();
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("t").unwrap();
    assert_eq!(t.len().unwrap(), 2501);
    assert_eq!(t.get(b"big").unwrap().unwrap(), &big[..]);
    drop(rtx);
    assert!(db.checkpoint().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db");
    drop(builder().open(&path).unwrap());
    assert!(matches!(
        Database::open(&path),
        Err(bough::Error::ModeMismatch { .. })
    ));
}

/// Non-durable commits reuse the pages they wrote themselves once no reader needs them, so a
/// churning workload without a single sync stays flat too. Warm-up: the freelist log reaches
/// its steady length after a few dozen commits (their records move from the meta page to
/// freelist pages every few commits), so the footprint is compared from round 50 on.
#[test]
fn non_durable_churn_stays_flat() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::builder()
        .durability(Durability::None)
        .open(dir.path().join("db"))
        .unwrap();
    let mut high_water = Vec::new();
    for round in 0..200u32 {
        let tx = db.begin_write().unwrap();
        {
            let mut t = tx.open_table("t").unwrap();
            for i in 0..50u32 {
                t.insert(&(i * 7 + round % 3).to_be_bytes(), &[round as u8; 200])
                    .unwrap();
            }
            for i in 0..25u32 {
                t.remove(&(i * 14 + round % 3).to_be_bytes()).unwrap();
            }
        }
        tx.commit().unwrap();
        high_water.push(db.stats().unwrap().high_water);
    }
    db.check().unwrap();
    assert_eq!(
        high_water[199], high_water[50],
        "high-water mark by round: {high_water:?}"
    );
}

/// A random-order load in one transaction that fits its budget leaves its leaves over nine
/// tenths full (a split alone leaves about two-thirds, sharing with copied neighbours about
/// four-fifths): the commit packs the leaves it changed (DESIGN.md, "Packing changed leaves").
#[test]
fn random_load_fills_leaves_well() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    let mut x: u64 = 7;
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table("t").unwrap();
        for _ in 0..40_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            t.insert(&x.to_be_bytes(), &[1u8; 150]).unwrap();
        }
    }
    tx.commit().unwrap();
    let stats = db.stats().unwrap();
    // A leaf cell: 7-byte header, 8-byte key, 150-byte value, 2-byte slot.
    let fill = (40_000.0 * 167.0) / (stats.leaf_pages as f64 * (4096.0 - 32.0));
    assert!(
        fill > 0.9,
        "leaves are {fill:.2} full on average ({stats:?})"
    );
    db.check().unwrap();
}

/// Leaf sharing with cells of very different sizes (some near the largest inline size): every
/// entry survives, in order, and the tree passes the integrity check.
#[test]
fn random_load_of_mixed_sizes_shares_and_splits_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path().join("db")).unwrap();
    let mut model = BTreeMap::new();
    let mut x: u64 = 11;
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table("t").unwrap();
        for i in 0..6_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = [10usize, 150, 600, 1200][(x >> 60) as usize % 4] + (x >> 40) as usize % 7;
            let key = (x >> 16).to_be_bytes();
            let value = vec![(i % 251) as u8; len];
            t.insert(&key, &value).unwrap();
            model.insert(key.to_vec(), value);
        }
    }
    tx.commit().unwrap();
    db.check().unwrap();
    let rx = db.begin_read().unwrap();
    let t = rx.open_table("t").unwrap();
    let got: Vec<(Vec<u8>, Vec<u8>)> = t
        .iter()
        .unwrap()
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
        .collect();
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
    assert!(
        got == want,
        "{} entries read, {} written",
        got.len(),
        want.len()
    );
}
