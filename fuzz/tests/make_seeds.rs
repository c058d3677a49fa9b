//! Regenerates the seed inputs of `crash_ops` and `raw_bytes`:
//! `cargo test --release --test make_seeds -- --ignored` (model_ops has its own generator,
//! seeds/make_model_ops.py).

use bough::testing::{SimDisk, SplitMix};
use bough::{Database, Mode};
use std::path::Path;

/// The bytes up to the last page holding anything (files grow in preallocated steps).
fn trimmed(mut bytes: Vec<u8>) -> Vec<u8> {
    let used = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    bytes.truncate(used.next_multiple_of(4096).min(bytes.len()));
    bytes
}

fn small_database(disk: &SimDisk, mode: Mode, big: bool) -> Database {
    let db = Database::builder()
        .mode(mode)
        .open_simulated(disk.clone())
        .unwrap();
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table("t").unwrap();
        for i in 0..150u32 {
            t.insert(&i.to_be_bytes(), &[i as u8; 40]).unwrap();
        }
        if big {
            t.insert(b"big", &vec![7u8; 9000]).unwrap();
        }
        tx.open_table("other").unwrap().insert(b"k", b"v").unwrap();
    }
    tx.commit().unwrap();
    let tx = db.begin_write().unwrap();
    tx.open_table("t")
        .unwrap()
        .remove(&3u32.to_be_bytes())
        .unwrap();
    tx.commit().unwrap();
    db
}

#[test]
#[ignore = "writes the seed corpus"]
fn make_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let raw = root.join("raw_bytes");
    std::fs::create_dir_all(&raw).unwrap();
    for (name, big) in [("cow_small", false), ("cow_overflow", true)] {
        let disk = SimDisk::new();
        drop(small_database(&disk, Mode::CopyOnWrite, big));
        std::fs::write(raw.join(name), trimmed(disk.contents())).unwrap();
    }
    let disk = SimDisk::new();
    let db = small_database(&disk, Mode::Wal, true);
    let (main, log) = (
        trimmed(disk.contents()),
        trimmed(disk.sibling(1).contents()),
    );
    std::mem::forget(db); // keep the log un-checkpointed
    let split = u16::try_from(main.len()).unwrap();
    let mut pair = split.to_le_bytes().to_vec();
    pair.extend(main);
    pair.extend(log);
    std::fs::write(raw.join("wal_pair"), pair).unwrap();
    let crash = root.join("crash_ops");
    std::fs::create_dir_all(&crash).unwrap();
    for seed in 0..4u64 {
        let mut rng = SplitMix(seed);
        let bytes: Vec<u8> = (0..600).map(|_| rng.next_u64() as u8).collect();
        std::fs::write(crash.join(format!("random_{seed}")), bytes).unwrap();
    }
}
