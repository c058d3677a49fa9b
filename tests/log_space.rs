//! Space stays bounded while readers keep opening transactions beside a writer (DESIGN.md,
//! "Reusing the log's space"): in log mode every checkpoint copies up to the oldest live
//! reader, and the log's bytes are reused once the readers that could read them are gone; in
//! copy-on-write mode freed pages are reused the same way. Every reader checks that it sees
//! exactly its snapshot, while the space under it is being reused.

mod common;

use bough::{Database, Mode, ReadTransaction};
use common::{check_ok, read_all, test_mode};
use std::collections::{BTreeMap, VecDeque};
use std::path::Path;

const CHECKPOINT_BYTES: u64 = 2 << 20;
const KEYS: u64 = 400;

fn open(path: &Path) -> Database {
    Database::builder()
        .mode(test_mode())
        .checkpoint_bytes(CHECKPOINT_BYTES)
        .open(path)
        .unwrap()
}

fn log_len(path: &Path) -> u64 {
    let mut log = path.as_os_str().to_owned();
    log.push("-wal");
    std::fs::metadata(log).map_or(0, |m| m.len())
}

fn main_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

fn key(i: u64) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

fn value(i: u64, round: u64) -> Vec<u8> {
    let mut v = format!("{i}:{round}:").into_bytes();
    v.resize(300, b'x');
    v
}

/// One commit of round `round`: 30 keys overwritten, and the round written under "round".
fn commit_round(db: &Database, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, round: u64) {
    let tx = db.begin_write().unwrap();
    {
        let mut t = tx.open_table("t").unwrap();
        for j in 0..30 {
            let i = (round * 31 + j * 13) % KEYS;
            t.insert(&key(i), &value(i, round)).unwrap();
            model.insert(key(i), value(i, round));
        }
        t.insert(b"round", &round.to_le_bytes()).unwrap();
        model.insert(b"round".to_vec(), round.to_le_bytes().to_vec());
    }
    tx.commit().unwrap();
}

/// A reader and the state it must see.
struct Reader {
    txn: ReadTransaction,
    expected: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Reader {
    fn begin(db: &Database, model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Self {
        Reader {
            txn: db.begin_read().unwrap(),
            expected: model.clone(),
        }
    }

    /// Reads a sample of keys, and all of them when `everything`.
    fn verify(&self, everything: bool, seed: u64) {
        let t = self.txn.open_table("t").unwrap();
        for (n, (k, v)) in self.expected.iter().enumerate() {
            if everything || (n as u64 + seed) % 17 == 0 {
                assert_eq!(
                    t.get(k).unwrap(),
                    Some(&v[..]),
                    "a reader lost its snapshot"
                );
            }
        }
    }
}

/// Runs `rounds` commits, each followed by a new reader, with the oldest reader ended once
/// more than two live; returns the largest log seen.
fn churn_with_overlapping_readers(
    db: &Database,
    model: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    rounds: std::ops::Range<u64>,
) -> u64 {
    let mut readers: VecDeque<Reader> = VecDeque::new();
    let mut largest = 0;
    for round in rounds {
        commit_round(db, model, round);
        readers.push_back(Reader::begin(db, model));
        for reader in &readers {
            reader.verify(false, round);
        }
        if readers.len() > 2 {
            readers.pop_front().unwrap().verify(true, round);
        }
        largest = largest.max(log_len(db.path()));
    }
    largest
}

#[test]
fn overlapping_readers_do_not_stop_the_reuse_of_space() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.bough");
    let db = open(&path);
    let mut model = BTreeMap::new();
    churn_with_overlapping_readers(&db, &mut model, 0..200);
    let main_after_warm_up = main_len(&path);
    // About 2,000 commits of some 40 KiB of log each: 80 MiB if nothing were reused.
    let largest = churn_with_overlapping_readers(&db, &mut model, 200..2200);
    if test_mode() == Mode::Wal {
        // Twice the threshold, plus one growth step of the log file (it grows by at least
        // 1 MiB at a time).
        let bound = 2 * CHECKPOINT_BYTES + (1 << 20);
        assert!(
            largest <= bound,
            "the log reached {largest} bytes, past {bound}, with readers that keep overlapping"
        );
    }
    let main = main_len(&path);
    assert!(
        main <= main_after_warm_up * 2 + (1 << 20),
        "the file grew from {main_after_warm_up} to {main} bytes"
    );
    assert_eq!(
        read_all(&db, "t"),
        model.clone().into_iter().collect::<Vec<_>>()
    );
    check_ok(&db);
    drop(db);
    let db = open(&path);
    assert_eq!(read_all(&db, "t"), model.into_iter().collect::<Vec<_>>());
    check_ok(&db);
}

#[test]
fn a_long_reader_pins_the_log_until_it_ends_then_its_space_is_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.bough");
    let db = open(&path);
    let mut model = BTreeMap::new();
    churn_with_overlapping_readers(&db, &mut model, 0..100);
    let long = Reader::begin(&db, &model);
    let pinned = churn_with_overlapping_readers(&db, &mut model, 100..400);
    long.verify(true, 0);
    drop(long);
    let after = churn_with_overlapping_readers(&db, &mut model, 400..2400);
    if test_mode() == Mode::Wal {
        // While the long reader lived the log held every commit after its snapshot (some 12
        // MiB); once it is gone, those bytes are reused and the log grows no further.
        assert!(
            pinned > 2 * CHECKPOINT_BYTES + (1 << 20),
            "the long reader pinned only {pinned} bytes of log"
        );
        assert!(
            after <= pinned,
            "the log grew from {pinned} to {after} bytes after the long reader ended"
        );
    }
    assert_eq!(read_all(&db, "t"), model.into_iter().collect::<Vec<_>>());
    check_ok(&db);
}
