//! The freelist in memory and its log on disk (DESIGN.md, "Freelist and reader tracking").
//!
//! In memory: page ids free for reuse now (`ready`) and ids freed by a transaction that a
//! live reader or a not-yet-durable commit may still need (`pending`, by freeing txn).
//! On disk: a chain of freelist pages, newest first, each one record ("ids freed by txn T",
//! or "ids taken into use"), and the newest records in the meta page itself. A commit adds
//! only its own records, so saving is proportional to the change; they go into the meta
//! while they fit there, else to pages; when the chain holds more than about twice the live state,
//! one commit rewrites it as a snapshot. Records are written after every tree change of the
//! commit, from pages whose allocation is itself recorded, so saving never loops.

use super::ReadPages;
use super::free_set::FreeSet;
use super::freelist_log::FreelistLog;
use super::stream::STREAMS;
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::format::freelist_page::{self, Record, RecordKind};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Default, Clone)]
pub(crate) struct FreeList {
    /// Free and reusable by the current writer.
    pub(super) ready: FreeSet,
    /// Freed by the transaction of the key; reusable once no reader or power loss can need
    /// them.
    pub(super) pending: BTreeMap<u64, Vec<u64>>,
    /// Freed by the transaction of the key, and written after the newest durable commit, so no
    /// state a power loss can bring back reaches them: reusable once no reader needs them.
    pub(super) pending_volatile: BTreeMap<u64, Vec<u64>>,
    /// The log on disk these sets were read from or last saved to.
    pub(super) log: FreelistLog,
    /// Pages the last committed transaction took, per `Stream`: how long a run each stream
    /// of the next one looks for.
    pub(super) run_hint: [u64; STREAMS],
    /// The last commit's id and the pages of its `pending` group that commits waiting in a
    /// group wrote (DESIGN.md, "Recycling within a group"); set by every commit's save,
    /// read only by that commit's queueing.
    pub(super) superseded: (u64, Vec<u64>),
    /// Pages made ready by `recycle_superseded`, highest first: the hot stream takes them
    /// before any other free page, so that they are written over before the group's sync
    /// and the sync writes each of them once.
    pub(super) recycled: Vec<u64>,
}

impl FreeList {
    /// Replays the log `meta` ends: the chain from its head, then the records it holds.
    pub(crate) fn load(pages: &ReadPages, meta: &Meta) -> Result<FreeList> {
        let (log, records) = FreelistLog::load(pages, meta)?;
        let mut tag_of: HashMap<u64, u64> = HashMap::new();
        for (page, Record { kind, tag, ids }) in records {
            for id in ids {
                if id < 2 || id >= pages.high_water {
                    return Err(Error::corruption(
                        page,
                        format!("freelist names page {id}, outside 2..{}", pages.high_water),
                    ));
                }
                match kind {
                    RecordKind::Freed => {
                        tag_of.insert(id, tag);
                    }
                    RecordKind::Consumed => {
                        tag_of.remove(&id);
                    }
                }
            }
        }
        let mut pending: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for (id, tag) in tag_of {
            pending.entry(tag).or_default().push(id);
        }
        Ok(FreeList {
            ready: FreeSet::default(),
            pending,
            pending_volatile: BTreeMap::new(),
            log,
            run_hint: [0; STREAMS],
            superseded: (0, Vec::new()),
            recycled: Vec::new(),
        })
    }

    /// Makes reusable every page freed by a transaction `<= durable_bound`, and every page
    /// written after the newest durable commit and freed by a transaction `<= reader_bound`.
    pub(crate) fn release(&mut self, reader_bound: u64, durable_bound: u64) {
        fn split(map: &mut BTreeMap<u64, Vec<u64>>, up_to: u64) -> Vec<u64> {
            let keep = match up_to.checked_add(1) {
                Some(first_kept) => map.split_off(&first_kept),
                None => BTreeMap::new(),
            };
            std::mem::replace(map, keep)
                .into_values()
                .flatten()
                .collect()
        }
        let released = split(&mut self.pending, reader_bound.min(durable_bound));
        self.ready.extend(released);
        let released = split(&mut self.pending_volatile, reader_bound);
        self.ready.extend(released);
    }

    /// Makes the last commit's superseded pages reusable at once: it has just replaced, in
    /// the waiting group, the meta of the commits that wrote them, which is now never
    /// written, and no reader ever saw those commits (DESIGN.md, "Recycling within a
    /// group"). The freelist log keeps them as freed by that commit, which is conservative.
    pub(crate) fn recycle_superseded(&mut self) {
        let (txn, mut ids) = std::mem::take(&mut self.superseded);
        if ids.is_empty() {
            return;
        }
        ids.sort_unstable();
        if let Some(group) = self.pending.get_mut(&txn) {
            group.retain(|id| ids.binary_search(id).is_err());
            if group.is_empty() {
                self.pending.remove(&txn);
            }
        }
        self.ready.extend(ids.iter().copied());
        ids.reverse();
        self.recycled = ids;
    }

    /// Takes `ids` out of reach of allocation, wherever the log put them (a freelist just
    /// loaded): pages free in the log that the writer withholds (DESIGN.md, "Chained
    /// commits").
    pub(crate) fn withhold(&mut self, ids: &BTreeSet<u64>) {
        if ids.is_empty() {
            return;
        }
        for &id in ids {
            self.ready.remove(id);
        }
        for group in self
            .pending
            .values_mut()
            .chain(self.pending_volatile.values_mut())
        {
            group.retain(|id| !ids.contains(id));
        }
    }

    /// Makes withheld pages reusable at once: the durable meta that needed them kept is
    /// written.
    pub(crate) fn release_withheld(&mut self, ids: impl IntoIterator<Item = u64>) {
        self.ready.extend(ids);
    }

    pub(crate) fn ready_count(&self) -> u64 {
        self.ready.len()
    }

    /// Pages waiting for reuse per freeing transaction, oldest first. Built at every commit
    /// (reader statistics) from at most a few dozen groups, so a sorted list, not a map.
    pub(crate) fn pending_by_txn(&self) -> Vec<(u64, u64)> {
        let mut counts: Vec<(u64, u64)> = self
            .pending
            .iter()
            .chain(&self.pending_volatile)
            .map(|(&txn, ids)| (txn, ids.len() as u64))
            .collect();
        counts.sort_unstable_by_key(|&(txn, _)| txn);
        counts.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 += later.1;
            }
            same
        });
        counts
    }

    pub(crate) fn pending_count(&self) -> u64 {
        self.pending
            .values()
            .chain(self.pending_volatile.values())
            .map(|ids| ids.len() as u64)
            .sum()
    }

    /// Every free page id, ready or pending.
    pub(crate) fn free_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.ready
            .iter()
            .chain(self.pending.values().flatten().copied())
            .chain(self.pending_volatile.values().flatten().copied())
    }

    /// The freelist's own pages.
    pub(crate) fn chain_pages(&self) -> &[u64] {
        self.log.pages()
    }

    /// Freelist pages a snapshot of the whole state needs, counted without building it.
    /// `withheld`: how many pages the writer keeps out of `ready` though they are free in
    /// the log (DESIGN.md, "Chained commits").
    pub(super) fn snapshot_pages(&self, page_size: usize, withheld: usize) -> usize {
        let counts = std::iter::once(self.ready.len() as usize + withheld)
            .chain(self.pending.values().map(Vec::len))
            .chain(self.pending_volatile.values().map(Vec::len));
        freelist_page::pages_for(counts, page_size)
    }

    /// The records a snapshot of the whole state consists of.
    /// `withheld`: pages free in the log that the writer keeps out of `ready`; they stay
    /// free in the snapshot.
    pub(super) fn snapshot_records(&self, withheld: &BTreeSet<u64>) -> Vec<Record> {
        let mut free: Vec<u64> = self.ready.iter().chain(withheld.iter().copied()).collect();
        free.sort_unstable();
        let mut records = vec![Record::new(RecordKind::Freed, 0, free)];
        for (&tag, ids) in self.pending.iter().chain(&self.pending_volatile) {
            records.push(Record::new(RecordKind::Freed, tag, ids.clone()));
        }
        records
    }
}

/// Freelist pages needed for `records` (records without ids need none).
pub(super) fn pages_needed(records: &[Record], page_size: usize) -> usize {
    freelist_page::pages_for(records.iter().map(|r| r.ids.len()), page_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_counts_add_both_kinds_per_freeing_transaction() {
        let mut list = FreeList::default();
        list.pending.insert(3, vec![10, 11]);
        list.pending.insert(7, vec![12]);
        list.pending_volatile.insert(5, vec![13]);
        list.pending_volatile.insert(7, vec![14, 15, 16]);
        assert_eq!(list.pending_by_txn(), vec![(3, 2), (5, 1), (7, 4)]);
        assert_eq!(FreeList::default().pending_by_txn(), vec![]);
    }

    #[test]
    fn release_moves_only_old_enough_pages() {
        let mut list = FreeList::default();
        list.pending.insert(3, vec![10, 11]);
        list.pending.insert(5, vec![12]);
        list.release(4, 9);
        assert_eq!(list.ready.iter().collect::<Vec<_>>(), vec![10, 11]);
        assert_eq!(list.pending_count(), 1);
        list.release(5, 9);
        assert_eq!(list.ready_count(), 3);
        list.pending.insert(9, vec![13]);
        list.pending_volatile.insert(9, vec![14]);
        list.release(9, 8);
        assert_eq!((list.ready_count(), list.pending_count()), (4, 1));
        list.release(u64::MAX, u64::MAX);
        assert_eq!((list.ready_count(), list.pending_count()), (5, 0));
    }
}
