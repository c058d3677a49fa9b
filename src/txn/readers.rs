//! The live read transactions: which snapshots they pin (for page reuse and checkpoints) and,
//! for `Database::readers`, since when and how many freed pages wait on each.

use std::collections::BTreeMap;
use std::thread::ThreadId;
use std::time::{Duration, Instant};

/// A live read transaction, as `Database::readers` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReaderInfo {
    /// The transaction whose state the reader sees.
    pub snapshot_id: u64,
    /// How long ago it began.
    pub age: Duration,
    /// Freed pages that cannot be reused while it lives: those freed by commits after its
    /// snapshot (copy-on-write mode; log mode reuses pages at once).
    pub pinned_pages: u64,
}

/// The registry, kept under the publication lock.
#[derive(Debug, Default)]
pub(crate) struct Readers {
    /// Live readers per snapshot transaction id, and that snapshot's high-water mark (no
    /// page at or past it may leave the file while they live).
    by_snapshot: BTreeMap<u64, (usize, u64)>,
    /// Each live reader by its id: its snapshot, when it began and on which thread.
    live: BTreeMap<u64, (u64, Instant, ThreadId)>,
    next_id: u64,
    /// Pages waiting for reuse, per freeing transaction, as of the newest commit.
    pending: Vec<(u64, u64)>,
}

impl Readers {
    /// Registers a reader of `snapshot`, whose high-water mark is `high_water`; returns its
    /// id.
    pub(crate) fn register(&mut self, snapshot: u64, high_water: u64) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.by_snapshot
            .entry(snapshot)
            .or_insert((0, high_water))
            .0 += 1;
        let thread = std::thread::current().id();
        self.live.insert(id, (snapshot, Instant::now(), thread));
        id
    }

    pub(crate) fn unregister(&mut self, id: u64) {
        let Some((snapshot, _, _)) = self.live.remove(&id) else {
            return;
        };
        if let Some((count, _)) = self.by_snapshot.get_mut(&snapshot) {
            *count -= 1;
            if *count == 0 {
                self.by_snapshot.remove(&snapshot);
            }
        }
    }

    /// The highest high-water mark of a live reader's snapshot: the file must keep its pages.
    pub(crate) fn highest_high_water(&self) -> Option<u64> {
        self.by_snapshot.values().map(|&(_, hw)| hw).max()
    }

    /// Whether a reader of a snapshot older than `txn` lives on a thread other than this
    /// one (one on this thread cannot end while this thread waits for it).
    pub(crate) fn older_elsewhere(&self, txn: u64) -> bool {
        let me = std::thread::current().id();
        self.live
            .values()
            .any(|&(snapshot, _, thread)| snapshot < txn && thread != me)
    }

    /// The id of the oldest live reader.
    pub(crate) fn oldest_id(&self) -> Option<u64> {
        self.live.keys().next().copied()
    }

    /// The id the next reader will get: every live reader's is lower.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// The oldest snapshot a live reader sees.
    pub(crate) fn oldest(&self) -> Option<u64> {
        self.by_snapshot.keys().next().copied()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_snapshot.is_empty()
    }

    /// Records the pages the freelist holds back after a commit, per freeing transaction.
    pub(crate) fn set_pending(&mut self, pending: Vec<(u64, u64)>) {
        self.pending = pending;
    }

    /// Freed pages a reader of `snapshot` holds back: those freed after it.
    fn pinned_by(&self, snapshot: u64) -> u64 {
        let first_after = self.pending.partition_point(|&(txn, _)| txn <= snapshot);
        self.pending[first_after..].iter().map(|&(_, n)| n).sum()
    }

    /// Every live reader, oldest snapshot first.
    pub(crate) fn list(&self) -> Vec<ReaderInfo> {
        let now = Instant::now();
        let mut list: Vec<ReaderInfo> = self
            .live
            .values()
            .map(|&(snapshot, since, _)| ReaderInfo {
                snapshot_id: snapshot,
                age: now.saturating_duration_since(since),
                pinned_pages: self.pinned_by(snapshot),
            })
            .collect();
        list.sort_by(|a, b| (a.snapshot_id, b.age).cmp(&(b.snapshot_id, a.age)));
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pages_freed_after_each_snapshot() {
        let mut readers = Readers::default();
        let old = readers.register(4, 100);
        let _new = readers.register(9, 80);
        readers.set_pending(vec![(3, 100), (6, 10), (10, 1)]);
        let list = readers.list();
        assert_eq!(list[0].snapshot_id, 4);
        assert_eq!(list[0].pinned_pages, 11);
        assert_eq!(list[1].pinned_pages, 1);
        assert_eq!(readers.oldest(), Some(4));
        assert_eq!(readers.highest_high_water(), Some(100));
        assert!(!readers.older_elsewhere(10), "both live on this thread");
        readers.unregister(old);
        readers.unregister(old);
        assert_eq!(readers.oldest(), Some(9));
        assert_eq!(readers.highest_high_water(), Some(80));
        assert!(!readers.is_empty());
    }
}
