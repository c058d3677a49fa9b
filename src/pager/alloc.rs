//! Page allocation for one write transaction, shared by both storage modes: loose pages first,
//! then the freelist, then the end of the file; and the freelist records the commit appends
//! (DESIGN.md, "Freelist and reader tracking").

use super::freelist::{FreeList, pages_needed};
use super::freelist_log::SavedFreelist;
use super::placement::ChainPlacement;
use super::stream::{STREAMS, Stream};
use crate::error::{Error, Result};
use crate::format::freelist_page::{Record, RecordKind};
use crate::ids::PageId;
use crate::ids::PageSet;
use crate::plant::{Bug, planted};
use std::collections::BTreeSet;

/// Who may still need a page of an earlier transaction that this one frees, which decides
/// when it may be reused (DESIGN.md, "Freelist and reader tracking").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freed {
    /// A state on disk a power loss can bring back may reach it.
    Durable,
    /// Written after the newest durable commit: only readers may need it.
    Volatile,
    /// Written by a commit waiting in a group, whose meta this one's replaces: nothing will
    /// need it once this commit joins that group (DESIGN.md, "Recycling within a group").
    Superseded,
}

#[derive(Debug, Clone)]
pub(crate) struct Allocator {
    page_size: usize,
    txn: u64,
    /// The newest transaction known to be on disk whole.
    durable_txn: u64,
    high_water: u64,
    freelist: FreeList,
    /// Pages allocated by this transaction.
    fresh: PageSet,
    /// Ids taken from `freelist.ready`, given back if the transaction aborts.
    taken: Vec<u64>,
    /// Fresh pages freed again: reusable at once, lowest first.
    loose: BTreeSet<u64>,
    /// While a savepoint may be restored: fresh pages freed again, reusable only after the
    /// commit (a savepoint's trees may still reach them; DESIGN.md, "Savepoints").
    quarantine: Option<Vec<u64>>,
    /// Pages of earlier transactions freed by this one.
    freed: Vec<u64>,
    /// The same, for pages written after the newest durable commit (see
    /// `FreeList::pending_volatile`).
    freed_volatile: Vec<u64>,
    /// The part of `freed` written by commits waiting in a group ("Recycling within a
    /// group").
    freed_superseded: Vec<u64>,
    saved: bool,
    /// Per stream, the id after its last page: taken next if still free.
    cursor: [u64; STREAMS],
    /// Pages allocated so far, per stream.
    allocated: [u64; STREAMS],
    /// Bytes of freelist records the meta page holds (0: every record goes to a page).
    records_capacity: usize,
    /// Compacting (DESIGN.md, "Giving space back"): every page comes from the lowest free
    /// ids, and live pages at or past this id are to move below it.
    compact_limit: Option<u64>,
    /// Chained commits (DESIGN.md, "Chained commits"): where this commit's pages go, and
    /// the pages free in the log that no allocation may take.
    pub(super) chain: ChainPlacement,
}

/// The run a stream looks for first when no earlier transaction of this process allocated.
const FIRST_RUN_HINT: u64 = 4;

/// Short-lived streams start a new run at the end of the file, rather than scatter over
/// holes, while fewer than one page in this many is free: a bounded slack.
const SLACK_DIVISOR: u64 = 64;

/// The free pages at the top of the file leave it once they are this many, and at least one
/// in `TRIM_DIVISOR` of the file's pages (so that a file does not shrink and grow again by a
/// few pages on every commit).
const TRIM_MIN_PAGES: u64 = 64;
const TRIM_DIVISOR: u64 = 32;

/// A page recycled within a group for a hot page, if one is still free ("Recycling within
/// a group").
fn take_recycled(freelist: &mut FreeList, stream: Stream) -> Option<u64> {
    if stream != Stream::Hot {
        return None;
    }
    while let Some(id) = freelist.recycled.pop() {
        if freelist.ready.remove(id) {
            return Some(id);
        }
    }
    None
}

/// Pending groups kept apart; past this, a commit's group absorbs the newest one before it.
const MAX_PENDING_GROUPS: usize = 64;

/// Adds the pages `txn` freed to `pending`. To keep the number of groups (and the cost of
/// sizing the freelist, which walks them) bounded, once there are many the newest group is
/// merged into this one: its pages then wait for `txn`, later than they need to, never
/// earlier.
fn add_group(pending: &mut std::collections::BTreeMap<u64, Vec<u64>>, txn: u64, ids: &[u64]) {
    if ids.is_empty() {
        return;
    }
    // The absorbed group is moved, not copied: it can hold every page freed since the last
    // durable commit.
    let mut group = match pending.len() >= MAX_PENDING_GROUPS {
        true => pending
            .pop_last()
            .map(|(_, newest)| newest)
            .unwrap_or_default(),
        false => Vec::new(),
    };
    group.extend_from_slice(ids);
    match pending.entry(txn) {
        std::collections::btree_map::Entry::Vacant(slot) => {
            slot.insert(group);
        }
        std::collections::btree_map::Entry::Occupied(slot) => slot.into_mut().extend(group),
    }
}

impl Allocator {
    pub(crate) fn new(
        page_size: usize,
        txn: u64,
        durable_txn: u64,
        high_water: u64,
        freelist: FreeList,
        records_capacity: usize,
    ) -> Self {
        Allocator {
            page_size,
            txn,
            durable_txn,
            high_water,
            freelist,
            fresh: PageSet::default(),
            taken: Vec::new(),
            loose: BTreeSet::new(),
            quarantine: None,
            freed: Vec::new(),
            freed_volatile: Vec::new(),
            freed_superseded: Vec::new(),
            saved: false,
            cursor: [0; STREAMS],
            allocated: [0; STREAMS],
            records_capacity,
            compact_limit: None,
            chain: ChainPlacement::default(),
        }
    }

    /// Where a compaction step should pack the file: the pages in use (every page not free
    /// for reuse now, so pages readers hold back count as used) plus a little room for the
    /// branches a move copies.
    pub(crate) fn compaction_limit(&self) -> u64 {
        let in_use = self.high_water - self.freelist.ready.len();
        in_use + (in_use / 128).max(8)
    }

    /// From now on every page comes from the lowest free ids (DESIGN.md, "Giving space
    /// back"), and the commit rewrites the freelist's pages if any lies at or past `limit`.
    pub(crate) fn start_compaction(&mut self, limit: u64) {
        self.compact_limit = Some(limit);
    }

    pub(crate) fn compacting(&self) -> Option<u64> {
        self.compact_limit
    }

    /// Whether a page moved now lands below the compaction limit.
    pub(crate) fn room_below_limit(&self) -> bool {
        let first = self.freelist.ready.first();
        self.compact_limit
            .is_some_and(|limit| first.is_some_and(|id| id < limit))
    }

    pub(crate) fn high_water(&self) -> u64 {
        self.high_water
    }

    /// Allocates one page of `stream`: a loose page, then the freelist (`take_ready`), then
    /// the end of the file (the caller makes sure the file is long enough).
    pub(crate) fn alloc_page(&mut self, stream: Stream) -> u64 {
        if stream == Stream::Hot
            && let Some(id) = self.take_placed()
        {
            return id;
        }
        // A compaction packs toward the start of the file: loose pages wait for the commit.
        if self.compact_limit.is_none()
            && let Some(id) = self.loose.pop_first()
        {
            self.fresh.insert(id);
            return id;
        }
        let id = match self.take_ready(stream) {
            Some(id) => {
                self.taken.push(id);
                id
            }
            None => {
                let id = self.high_water;
                self.high_water += 1;
                self.cursor[stream as usize] = id + 1;
                self.allocated[stream as usize] += 1;
                id
            }
        };
        self.fresh.insert(id);
        if stream == Stream::Hot && self.chain.track_hot {
            self.chain.hot.insert(id);
        }
        id
    }

    /// Allocates `count` consecutive pages: one as a cold page, more from the shortest free
    /// run that holds them, else at the end of the file.
    pub(crate) fn alloc_run(&mut self, count: u64) -> u64 {
        if count == 1 {
            return self.alloc_page(Stream::Cold);
        }
        let ready = &mut self.freelist.ready;
        let taken = match self.compact_limit {
            Some(_) => ready.take_lowest_run(count),
            None => ready.take_run(count),
        };
        let start = match taken {
            Some(start) => {
                self.taken.extend(start..start + count);
                start
            }
            None => {
                let start = self.high_water;
                self.high_water += count;
                start
            }
        };
        self.allocated[Stream::Cold as usize] += count;
        self.fresh.extend(start..start + count);
        start
    }

    /// Takes a free page for `stream`, or `None` for the end of the file: the page after the
    /// stream's last one if free; else, for a cold page, the start of the smallest hole; for
    /// the others, the start of the shortest run as long as the stream is expected to still
    /// need (what it took in the last transaction), unless the free set holds none and is
    /// small, when a new run at the end of the file is better.
    fn take_ready(&mut self, stream: Stream) -> Option<u64> {
        let s = stream as usize;
        let ready = &mut self.freelist.ready;
        if self.compact_limit.is_some() {
            let id = ready.first()?;
            ready.remove(id);
            return Some(id);
        }
        let cursor = self.cursor[s];
        let id = if ready.remove(cursor) {
            cursor
        } else if let Some(id) = take_recycled(&mut self.freelist, stream) {
            id
        } else {
            let ready = &mut self.freelist.ready;
            let may_grow = ready.len() < self.high_water / SLACK_DIVISOR;
            let want = match (stream, self.freelist.run_hint[s]) {
                (Stream::Cold, _) => 1,
                (_, 0) => FIRST_RUN_HINT,
                (_, hint) => hint.saturating_sub(self.allocated[s]).max(1),
            };
            if stream != Stream::Cold && cursor == self.high_water && may_grow {
                return None;
            }
            let (start, len) = ready.best_fit(want)?;
            if stream != Stream::Cold && len < want && may_grow {
                return None;
            }
            ready.remove(start);
            start
        };
        self.cursor[s] = id + 1;
        self.allocated[s] += 1;
        Some(id)
    }

    /// Releases a page: reusable at once if this transaction allocated it, else once nothing
    /// of `class` can need it. Returns whether it was this transaction's.
    pub(crate) fn free(&mut self, id: PageId, class: Freed) -> Result<bool> {
        if id.0 < 2 || id.0 >= self.high_water {
            return Err(Error::corruption(
                id,
                "freeing a page outside the data pages",
            ));
        }
        let fresh = self.fresh.remove(&id.0);
        if self.chain.track_hot {
            self.chain.hot.remove(&id.0);
        }
        if fresh && let Some(held) = &mut self.quarantine {
            held.push(id.0);
        } else if fresh || planted(Bug::ReuseBeforeDurable) {
            self.loose.insert(id.0);
        } else if class == Freed::Volatile {
            self.freed_volatile.push(id.0);
        } else {
            if class == Freed::Superseded {
                self.freed_superseded.push(id.0);
            }
            self.freed.push(id.0);
        }
        Ok(fresh)
    }

    /// From now until the commit, fresh pages freed again are not reused: a savepoint was
    /// taken, and its trees may reach them.
    pub(crate) fn hold_fresh_frees(&mut self) {
        self.quarantine.get_or_insert_with(Vec::new);
    }

    /// Whether this transaction freed so many of the pages it allocated that moving its pages
    /// down into them may free a run at the top of the file large enough to leave it
    /// (`trim_tail`; DESIGN.md, "Packing changed leaves").
    pub(crate) fn worth_lowering(&self) -> bool {
        self.placing()
            || self.compact_limit.is_none()
                && self.loose.len() as u64 >= TRIM_MIN_PAGES.max(self.high_water / TRIM_DIVISOR)
    }

    /// Where page `id`, in memory, moves at commit: into the chained commit's run while one
    /// is being placed, if it is a copy of a page a recent commit wrote (one the next commits
    /// copy again: the run then comes free soon) and not there already; else onto the lowest
    /// fresh page freed again below it.
    pub(crate) fn move_target(&mut self, id: u64) -> Option<u64> {
        if self.placing() {
            if self.is_placed(id) {
                return None;
            }
            if self.chain.hot.contains(&id) {
                return self.take_placed();
            }
        }
        self.take_loose_below(id)
    }

    /// Takes the lowest fresh page freed again if it lies below `id`.
    fn take_loose_below(&mut self, id: u64) -> Option<u64> {
        let lowest = *self.loose.first()?;
        if lowest >= id {
            return None;
        }
        self.loose.pop_first();
        self.fresh.insert(lowest);
        Some(lowest)
    }

    /// Whether this transaction allocated page `id` (and has not freed it again).
    pub(crate) fn is_fresh(&self, id: PageId) -> bool {
        self.fresh.contains(&id.0)
    }

    /// Marks a page as written in place by this transaction (write-ahead-log mode): freeing
    /// it again makes it reusable at once.
    pub(crate) fn adopt(&mut self, id: PageId) {
        self.fresh.insert(id.0);
    }

    /// Moves every fresh page freed again back to where it came from and returns the
    /// records this commit appends to the freelist log.
    fn settle_frees(&mut self) -> Vec<Record> {
        // No savepoint outlives the commit.
        let held = self.quarantine.take().unwrap_or_default();
        self.loose.extend(held);
        let taken: PageSet = self.taken.iter().copied().collect();
        let mut new_free = Vec::new();
        let mut given_back = PageSet::default();
        for id in std::mem::take(&mut self.loose) {
            if taken.contains(&id) {
                // Taken from the freelist and freed again: not taken after all.
                given_back.insert(id);
            } else {
                new_free.push(id);
            }
            self.freelist.ready.insert(id);
        }
        self.taken.retain(|t| !given_back.contains(t));
        let mut freed = std::mem::take(&mut self.freed);
        add_group(&mut self.freelist.pending, self.txn, &freed);
        self.freelist.superseded = (self.txn, std::mem::take(&mut self.freed_superseded));
        // What the commit before recycled and this one did not take is free like any page.
        self.freelist.recycled.clear();
        let volatile = std::mem::take(&mut self.freed_volatile);
        add_group(&mut self.freelist.pending_volatile, self.txn, &volatile);
        freed.extend(volatile);
        vec![
            Record::new(RecordKind::Consumed, 0, self.taken.clone()),
            Record::new(RecordKind::Freed, 0, new_free),
            Record::new(RecordKind::Freed, self.txn, freed),
        ]
    }

    /// Lowers the high-water mark below the free pages at the top of the file, when they
    /// are many (any number while compacting). Returns whether it did: the freelist must then
    /// be saved as a snapshot, since earlier records name the pages cut off.
    fn trim_tail(&mut self) -> bool {
        let hw = self.high_water;
        let top = self.freelist.ready.run_len_ending_at(hw);
        let worth = match self.compact_limit {
            Some(_) => top > 0,
            None => top >= TRIM_MIN_PAGES.max(hw / TRIM_DIVISOR),
        };
        if !worth {
            return false;
        }
        let start = self
            .freelist
            .ready
            .take_run_ending_at(hw)
            .expect("the run was measured above");
        self.high_water = start.max(2);
        true
    }

    /// Whether the freelist's own pages are all that keeps many free pages at the top of the
    /// file from leaving it: rewriting the log lower down lets them go at a later commit.
    fn chain_holds_tail(&self) -> bool {
        let ready = &self.freelist.ready;
        let mut end = self.high_water;
        let mut behind_chain = false;
        loop {
            end -= ready.run_len_ending_at(end);
            if end > 2 && self.freelist.log.pages().contains(&(end - 1)) {
                end -= 1;
                behind_chain = true;
            } else {
                break;
            }
        }
        behind_chain && self.high_water - end >= TRIM_MIN_PAGES.max(self.high_water / TRIM_DIVISOR)
    }

    /// Builds this transaction's freelist records (or a snapshot of the whole freelist) and
    /// returns where the log now ends. Call once, after every tree change.
    pub(crate) fn save_freelist(&mut self) -> SavedFreelist {
        self.saved = true;
        let mut own = self.settle_frees();
        self.carve_reserve(&mut own[1].ids);
        // A compaction rewrites the freelist's own pages too once any lies past its limit.
        let chain_too_high = self
            .compact_limit
            .is_some_and(|limit| self.freelist.log.pages().iter().any(|&id| id >= limit));
        let chain_holds_tail = self.chain_holds_tail();
        let rewrite = self.trim_tail() || chain_too_high || chain_holds_tail;
        let own = match rewrite {
            true => own,
            false => match self.save_in_meta(own) {
                Ok(saved) => return saved,
                Err(own) => own,
            },
        };
        // Rewritten to let the tail go: its new pages go as low as they can.
        let lowest_first = self.compact_limit.is_none() && chain_holds_tail;
        if lowest_first {
            self.compact_limit = Some(self.high_water);
        }
        // The meta's records go to pages with this commit's own, which start at `own_at`.
        let mut records = self.freelist.log.take_meta_records();
        let own_at = records.len();
        records.extend(own);
        // Rewrite the log as a snapshot once it is more than twice the snapshot's size (plus a
        // little, so small freelists are not rewritten every commit).
        let snapshot_pages = self
            .freelist
            .snapshot_pages(self.page_size, self.chain.withheld.len());
        let chain_after = self.freelist.log.pages().len() + pages_needed(&records, self.page_size);
        let snapshot = rewrite || chain_after > 2 * snapshot_pages + 2;
        let pages = match snapshot {
            true => {
                let pages = self.pages_for_snapshot();
                records = self.freelist.snapshot_records(&self.chain.withheld);
                pages
            }
            false => self.pages_for_records(&mut records, own_at),
        };
        let saved = self.write_chain(pages, &records, snapshot);
        if lowest_first {
            self.compact_limit = None;
        }
        saved
    }

    /// Adds `own` to the records the meta page holds if they all fit there (no freelist page
    /// is written: DESIGN.md, "Freelist and reader tracking"); else hands `own` back.
    fn save_in_meta(&mut self, own: Vec<Record>) -> Result<SavedFreelist, Vec<Record>> {
        let saved = self
            .freelist
            .log
            .append_in_meta(own, self.records_capacity)?;
        self.taken.clear();
        Ok(saved)
    }

    /// Frees the old chain under this transaction's id and takes the pages a snapshot of the
    /// whole freelist needs.
    fn pages_for_snapshot(&mut self) -> Vec<u64> {
        for (id, written) in self.freelist.log.take_chain() {
            let pending = if written > self.durable_txn {
                &mut self.freelist.pending_volatile
            } else {
                &mut self.freelist.pending
            };
            pending.entry(self.txn).or_default().push(id);
        }
        let mut pages = Vec::new();
        let withheld = self.chain.withheld.len();
        while pages.len() < self.freelist.snapshot_pages(self.page_size, withheld) {
            // Taken straight from the state being written: no consumed record needed.
            let id = match self.take_ready(Stream::Freelist) {
                Some(id) => {
                    self.fresh.insert(id);
                    id
                }
                None => self.alloc_page(Stream::Freelist),
            };
            pages.push(id);
        }
        pages
    }

    /// Takes the pages `records` need, recording each one taken from the free set in them:
    /// either a page this commit is about to record as free (then it simply is not), or one
    /// recorded free earlier (then it is recorded as consumed). This commit's records start
    /// at `own_at`: consumed first, then its newly free pages.
    fn pages_for_records(&mut self, records: &mut [Record], own_at: usize) -> Vec<u64> {
        let mut pages = Vec::new();
        while pages.len() < pages_needed(records, self.page_size) {
            let taken_before = self.taken.len();
            let id = self.alloc_page(Stream::Freelist);
            if self.taken.len() > taken_before {
                let newly_free = &mut records[own_at + 1].ids;
                match newly_free.iter().position(|&f| f == id) {
                    Some(at) => {
                        newly_free.swap_remove(at);
                    }
                    None => records[own_at].ids.push(id),
                }
            }
            pages.push(id);
        }
        pages
    }

    /// Writes `records` onto `pages` as the new head of the chain (the whole chain if
    /// `snapshot`) and returns where the log now ends.
    fn write_chain(
        &mut self,
        pages: Vec<u64>,
        records: &[Record],
        snapshot: bool,
    ) -> SavedFreelist {
        let saved = self
            .freelist
            .log
            .write(pages, records, snapshot, self.txn, self.page_size);
        self.taken.clear();
        saved
    }

    pub(super) fn high_water_mut(&mut self) -> &mut u64 {
        &mut self.high_water
    }

    pub(super) fn ready_mut(&mut self) -> &mut super::free_set::FreeSet {
        &mut self.freelist.ready
    }

    pub(super) fn note_taken(&mut self, id: u64) {
        self.taken.push(id);
        self.fresh.insert(id);
    }

    /// Ends an aborted transaction: every page it took from the freelist goes back.
    pub(crate) fn rollback(mut self) -> FreeList {
        debug_assert!(!self.saved, "a saved freelist cannot be rolled back");
        self.freelist.ready.extend(self.taken.drain(..));
        self.freelist
    }

    /// Ends a committed transaction, handing back the freelist it saved.
    pub(crate) fn into_freelist(mut self) -> FreeList {
        // A stream that took nothing keeps its hint: the freelist stream takes pages only
        // when the records outgrow the meta page, every few dozen small commits.
        for (hint, &allocated) in self.freelist.run_hint.iter_mut().zip(&self.allocated) {
            if allocated > 0 {
                *hint = allocated;
            }
        }
        self.freelist
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocator(high_water: u64, free: impl IntoIterator<Item = u64>) -> Allocator {
        let mut freelist = FreeList::default();
        freelist.ready.extend(free);
        Allocator::new(4096, 10, 9, high_water, freelist, 1024)
    }

    #[test]
    fn many_free_pages_at_the_top_lower_the_mark_and_rewrite_the_log() {
        // 100 free pages end the file: at least 64 and a thirty-second of it.
        let mut alloc = allocator(1000, 900..1000);
        let saved = alloc.save_freelist();
        assert_eq!(alloc.high_water(), 900);
        assert!(
            saved.records_in_meta.is_empty(),
            "a snapshot, not appended records"
        );
        let freelist = alloc.into_freelist();
        assert!(freelist.free_ids().all(|id| id < 900));
    }

    #[test]
    fn a_few_free_pages_at_the_top_stay() {
        let mut alloc = allocator(1000, (500..510).chain(960..1000));
        alloc.save_freelist();
        assert_eq!(alloc.high_water(), 1000, "40 pages are not worth a rewrite");
    }

    #[test]
    fn a_compaction_takes_the_lowest_pages_and_trims_any_top_run() {
        let mut alloc = allocator(1000, [7, 300, 301, 302, 998, 999]);
        let limit = alloc.compaction_limit();
        assert_eq!(limit, 1000 - 6 + 8, "pages in use plus the slack");
        alloc.start_compaction(600);
        assert!(alloc.room_below_limit());
        assert_eq!(alloc.alloc_page(Stream::Hot), 7);
        assert_eq!(alloc.alloc_run(2), 300);
        assert_eq!(alloc.alloc_page(Stream::Cold), 302);
        assert!(
            !alloc.room_below_limit(),
            "only pages past the limit are left"
        );
        alloc.save_freelist();
        assert_eq!(alloc.high_water(), 998);
    }
}
