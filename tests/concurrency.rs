//! Concurrency: readers see consistent, stable snapshots while a writer commits, and writers
//! are serialized.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use bough::{Database, Error, ReadTable, ReadTransaction, Table};
use common::{Rng, TestDb, write};

// Compile-time: the handles cross threads (a failure here is a build error).
const _: fn() = || {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<Database>();
    sync::<Database>();
    send::<ReadTransaction>();
    send::<Error>();
    sync::<Error>();
};

const ACCOUNTS: u64 = 24;
const INITIAL_BALANCE: u64 = 1_000;
const TOTAL: u64 = ACCOUNTS * INITIAL_BALANCE;
const COMMITS: usize = 400;
const READERS: usize = 3;

/// Sets the flag when dropped, so reader loops end even if the writer panics (instead of
/// the scope waiting for them forever).
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

fn account(i: u64) -> Vec<u8> {
    format!("account-{i:03}").into_bytes()
}

fn balance(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("a balance is 8 bytes"))
}

/// Every balance in the table, by account key.
fn balances(t: &ReadTable<'_>) -> BTreeMap<Vec<u8>, u64> {
    t.iter()
        .expect("iter")
        .map(|item| {
            let (k, v) = item.expect("range item");
            (k.to_vec(), balance(v))
        })
        .collect()
}

/// Makes one to four random transfers between accounts, recording them in `expected`.
fn transfer(t: &mut Table<'_>, rng: &mut Rng, expected: &mut [u64]) {
    for _ in 0..1 + rng.below(4) {
        let (from, to) = (rng.below(ACCOUNTS), rng.below(ACCOUNTS));
        let from_balance = balance(t.get(&account(from)).unwrap().unwrap());
        if from == to || from_balance == 0 {
            continue;
        }
        let amount = 1 + rng.below(from_balance);
        let to_balance = balance(t.get(&account(to)).unwrap().unwrap());
        t.insert(&account(from), &(from_balance - amount).to_le_bytes())
            .unwrap();
        t.insert(&account(to), &(to_balance + amount).to_le_bytes())
            .unwrap();
        expected[from as usize] -= amount;
        expected[to as usize] += amount;
    }
}

/// Money moves between accounts in random committed transfers (and in aborted transactions
/// that withdraw without depositing). Every snapshot any reader takes has all accounts and the
/// same total, a reader begun before the transfers sees the initial balances throughout, and
/// the final state is exactly what the committed transfers produce.
#[test]
fn transfers_keep_every_snapshot_consistent() {
    let test_db = TestDb::new();
    let db = test_db.db();
    write(db, |w| {
        let mut t = w.open_table("bank").unwrap();
        for i in 0..ACCOUNTS {
            t.insert(&account(i), &INITIAL_BALANCE.to_le_bytes())
                .unwrap();
        }
    });
    let initial: BTreeMap<Vec<u8>, u64> = (0..ACCOUNTS)
        .map(|i| (account(i), INITIAL_BALANCE))
        .collect();

    let long_lived = db.begin_read().unwrap();
    let writer_done = AtomicBool::new(false);
    let mut expected = vec![INITIAL_BALANCE; ACCOUNTS as usize];

    thread::scope(|s| {
        // The long-lived transaction is moved into its thread: ReadTransaction is Send.
        let (initial, writer_done) = (&initial, &writer_done);
        let stable = s.spawn(move || {
            let t = long_lived.open_table("bank").unwrap();
            let mut views = 0;
            loop {
                let finished = writer_done.load(Ordering::Acquire);
                assert_eq!(&balances(&t), initial, "a long-lived reader's view changed");
                views += 1;
                if finished {
                    return views;
                }
            }
        });
        let readers: Vec<_> = (0..READERS)
            .map(|_| {
                s.spawn(move || {
                    let mut snapshots = 0;
                    loop {
                        let finished = writer_done.load(Ordering::Acquire);
                        let rtx = db.begin_read().unwrap();
                        let seen = balances(&rtx.open_table("bank").unwrap());
                        assert_eq!(seen.len() as u64, ACCOUNTS, "a snapshot lost accounts");
                        assert_eq!(
                            seen.values().sum::<u64>(),
                            TOTAL,
                            "a snapshot's total changed"
                        );
                        snapshots += 1;
                        if finished {
                            return snapshots;
                        }
                    }
                })
            })
            .collect();

        let done_guard = SetOnDrop(writer_done);
        let mut rng = Rng::new(42);
        for commit in 0..COMMITS {
            let wtx = db.begin_write().unwrap();
            if commit % 5 == 4 {
                // Withdraw without depositing, then abort by dropping: no reader may see it.
                let from = account(rng.below(ACCOUNTS));
                let mut t = wtx.open_table("bank").unwrap();
                t.insert(&from, &0u64.to_le_bytes()).unwrap();
                continue;
            }
            transfer(
                &mut wtx.open_table("bank").unwrap(),
                &mut rng,
                &mut expected,
            );
            wtx.commit().unwrap();
        }
        drop(done_guard);

        assert!(stable.join().unwrap() >= 1);
        for reader in readers {
            assert!(reader.join().unwrap() >= 1);
        }
    });

    let rtx = db.begin_read().unwrap();
    let last = balances(&rtx.open_table("bank").unwrap());
    let want: BTreeMap<Vec<u8>, u64> = (0..ACCOUNTS)
        .map(|i| (account(i), expected[i as usize]))
        .collect();
    assert_eq!(
        last, want,
        "the final balances are not what the committed transfers produce"
    );
    assert_ne!(
        &last, &initial,
        "the writer changed nothing, so the test proved nothing"
    );
}

/// A second `begin_write` waits until the first writer commits, then sees its write.
#[test]
fn second_writer_waits_for_the_first() {
    let test_db = TestDb::new();
    let db = test_db.db();
    let (holds_lock, first_holds_lock) = mpsc::channel::<()>();
    let committing = AtomicBool::new(false);
    let first_is_committing = &committing;

    thread::scope(|s| {
        // Moves the sender, so a panic in this thread disconnects the channel.
        s.spawn(move || {
            let wtx = db.begin_write().unwrap();
            holds_lock.send(()).unwrap();
            wtx.open_table("t").unwrap().insert(b"first", b"1").unwrap();
            // Give the second writer time to reach begin_write (not asserted: it only widens
            // the window in which a missing lock would let it through).
            thread::sleep(Duration::from_millis(100));
            first_is_committing.store(true, Ordering::SeqCst);
            wtx.commit().unwrap();
        });
        s.spawn(move || {
            if first_holds_lock.recv().is_err() {
                return; // the first writer failed; its panic fails the test
            }
            let wtx = db.begin_write().unwrap();
            assert!(
                first_is_committing.load(Ordering::SeqCst),
                "begin_write returned while another write transaction was live"
            );
            {
                let mut t = wtx.open_table("t").unwrap();
                assert_eq!(
                    t.get(b"first").unwrap(),
                    Some(&b"1"[..]),
                    "the second writer missed the first's commit"
                );
                t.insert(b"second", b"2").unwrap();
            }
            wtx.commit().unwrap();
        });
    });

    let got = common::read_all(db, "t");
    assert_eq!(
        got,
        vec![
            (b"first".to_vec(), b"1".to_vec()),
            (b"second".to_vec(), b"2".to_vec())
        ]
    );
}

/// Writers on several threads doing read-modify-write increments lose no update.
#[test]
fn concurrent_increments_lose_no_update() {
    const THREADS: u64 = 3;
    const INCREMENTS: u64 = 150;
    let test_db = TestDb::new();
    let db = test_db.db();

    thread::scope(|s| {
        for _ in 0..THREADS {
            s.spawn(|| {
                for _ in 0..INCREMENTS {
                    let wtx = db.begin_write().unwrap();
                    {
                        let mut t = wtx.open_table("counter").unwrap();
                        let n = t.get(b"n").unwrap().map_or(0, balance);
                        t.insert(b"n", &(n + 1).to_le_bytes()).unwrap();
                    }
                    wtx.commit().unwrap();
                }
            });
        }
    });

    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("counter").unwrap();
    assert_eq!(
        t.get(b"n").unwrap().map(balance),
        Some(THREADS * INCREMENTS)
    );
}

/// Readers on other threads keep working while a write transaction is open and uncommitted,
/// and do not see its writes.
#[test]
fn readers_do_not_wait_for_an_open_writer() {
    let test_db = TestDb::new();
    let db = test_db.db();
    write(db, |w| {
        w.open_table("t").unwrap().insert(b"k", b"old").unwrap()
    });

    let wtx = db.begin_write().unwrap();
    wtx.open_table("t").unwrap().insert(b"k", b"new").unwrap();
    thread::scope(|s| {
        s.spawn(|| {
            let rtx = db.begin_read().unwrap();
            let t = rtx.open_table("t").unwrap();
            assert_eq!(t.get(b"k").unwrap(), Some(&b"old"[..]));
        });
    });
    wtx.commit().unwrap();
    assert_eq!(
        common::read_all(db, "t"),
        vec![(b"k".to_vec(), b"new".to_vec())]
    );
}
