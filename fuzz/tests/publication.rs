//! A shuttle model of snapshot publication and reader registration (DESIGN.md,
//! "Concurrency" and "Freelist and reader tracking"): readers pin the newest snapshot under
//! the publication mutex; the writer computes the reuse threshold under the same mutex,
//! reuses only pages freed by transactions at or below it, and publishes under it. The model
//! checks that no page a pinned snapshot reaches is ever rewritten while it is pinned, over
//! randomly explored interleavings, and that the check fails for a registration done outside
//! the mutex (the race the real code must not have).

use shuttle::sync::atomic::{AtomicU64, Ordering};
use shuttle::sync::{Arc, Mutex};
use shuttle::thread;
use std::collections::BTreeMap;

/// Pages per snapshot; each commit copies two of them.
const TREE: usize = 4;
const PAGES: usize = 32;
const COMMITS: u64 = 4;

#[derive(Clone, Debug)]
struct Snapshot {
    txn: u64,
    /// (page id, the version the page held when committed)
    pages: Vec<(usize, u64)>,
}

struct Published {
    snapshot: Arc<Snapshot>,
    readers: BTreeMap<u64, usize>,
    durable_txn: u64,
}

struct Db {
    published: Mutex<Published>,
    /// What each page holds: the transaction that last wrote it.
    disk: Vec<AtomicU64>,
}

impl Db {
    fn new() -> Self {
        let pages = (0..TREE).map(|p| (p, 0)).collect();
        Db {
            published: Mutex::new(Published {
                snapshot: Arc::new(Snapshot { txn: 0, pages }),
                readers: BTreeMap::new(),
                durable_txn: 0,
            }),
            disk: (0..PAGES).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// As `Shared::pin_newest`: read and register under one lock (or, for the planted race,
    /// under two).
    fn pin(&self, racy: bool) -> Arc<Snapshot> {
        if racy {
            let snapshot = self.published.lock().unwrap().snapshot.clone();
            thread::yield_now();
            *self
                .published
                .lock()
                .unwrap()
                .readers
                .entry(snapshot.txn)
                .or_default() += 1;
            return snapshot;
        }
        let mut published = self.published.lock().unwrap();
        let snapshot = published.snapshot.clone();
        *published.readers.entry(snapshot.txn).or_default() += 1;
        snapshot
    }

    fn unpin(&self, txn: u64) {
        let mut published = self.published.lock().unwrap();
        let count = published.readers.get_mut(&txn).unwrap();
        *count -= 1;
        if *count == 0 {
            published.readers.remove(&txn);
        }
    }

    /// As `Shared::reuse_threshold`.
    fn reuse_threshold(&self) -> u64 {
        let published = self.published.lock().unwrap();
        let oldest = published.readers.keys().next().copied().unwrap_or(u64::MAX);
        oldest.min(published.durable_txn)
    }
}

fn reader(db: &Db, racy: bool) {
    let snapshot = db.pin(racy);
    for _ in 0..2 {
        for &(page, version) in &snapshot.pages {
            let now = db.disk[page].load(Ordering::SeqCst);
            assert_eq!(
                now, version,
                "page {page} of pinned snapshot {} was rewritten",
                snapshot.txn
            );
            thread::yield_now();
        }
    }
    db.unpin(snapshot.txn);
}

fn writer(db: &Db) {
    let mut ready: Vec<usize> = (TREE..PAGES).rev().collect();
    let mut pending: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    let mut current = db.published.lock().unwrap().snapshot.clone();
    for txn in 1..=COMMITS {
        let threshold = db.reuse_threshold();
        let keep = pending.split_off(&(threshold + 1));
        for (_, pages) in std::mem::replace(&mut pending, keep) {
            ready.extend(pages);
        }
        let mut pages = current.pages.clone();
        for slot in [txn as usize % TREE, (txn as usize + 1) % TREE] {
            let fresh = ready.pop().expect("the model has enough pages");
            db.disk[fresh].store(txn, Ordering::SeqCst);
            thread::yield_now();
            pending.entry(txn).or_default().push(pages[slot].0);
            pages[slot] = (fresh, txn);
        }
        let snapshot = Arc::new(Snapshot { txn, pages });
        let mut published = db.published.lock().unwrap();
        published.snapshot = snapshot.clone();
        published.durable_txn = txn;
        drop(published);
        current = snapshot;
    }
}

fn scenario(racy: bool) {
    let db = Arc::new(Db::new());
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let db = db.clone();
            thread::spawn(move || reader(&db, racy))
        })
        .collect();
    writer(&db);
    for r in readers {
        r.join().unwrap();
    }
}

const ITERATIONS: usize = 20_000;

#[test]
fn readers_never_see_a_reused_page() {
    let start = std::time::Instant::now();
    shuttle::check_random(|| scenario(false), ITERATIONS);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "shuttle: {ITERATIONS} executions in {secs:.1} s ({:.0}/s)",
        ITERATIONS as f64 / secs
    );
}

#[test]
fn the_model_catches_registration_outside_the_lock() {
    let found = std::panic::catch_unwind(|| shuttle::check_random(|| scenario(true), ITERATIONS));
    assert!(found.is_err(), "the planted race was not found");
}
