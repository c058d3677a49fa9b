//! Where a chained commit's pages go (DESIGN.md, "Chained commits"): one run of pages
//! withheld from allocation holds the commit record and, after it, the commit's copies of
//! pages recent commits wrote (root, upper branches, catalog), so that they and the record
//! are one write; its other pages go where any commit's go.

use super::alloc::Allocator;
use std::collections::BTreeSet;

/// A chain's run is at most this many pages: taken from the free pages where a run this
/// long or at least `MIN_RUN` exists, else, while fewer than one page in `SLACK_DIVISOR` (and
/// fewer than `GROWTH` pages) are free, `GROWTH` pages from the end of the file; else no
/// chain starts (the file keeps a bounded slack, as the allocation streams do).
pub(crate) const MAX_RUN: u64 = 256;
const MIN_RUN: u64 = 12;
const GROWTH: u64 = 64;
const SLACK_DIVISOR: u64 = 64;

/// The run being filled by the commit being placed.
#[derive(Debug, Clone, Copy)]
struct Placing {
    /// The first page after the commit record.
    first: u64,
    /// The next page to hand out.
    next: u64,
    end: u64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ChainPlacement {
    /// Free in the freelist's log, handed out by no allocation: the run of the live chain
    /// and the commit records whose chain no durable meta covers yet.
    pub(super) withheld: BTreeSet<u64>,
    placing: Option<Placing>,
    /// Set for a commit that starts a chain: take a run when saving the freelist.
    want_run: bool,
    /// The run taken, `(start, pages)`.
    carved: Option<(u64, u64)>,
    /// Fresh pages of the hot stream (copies of pages a recent commit wrote), kept only
    /// while a chain is live (`track_hot`): the pages a chained commit places.
    pub(super) hot: crate::ids::PageSet,
    pub(super) track_hot: bool,
}

impl Allocator {
    /// Starts handing out pages `first..end` (withheld, after the commit record) to every
    /// allocation and every page moved at commit.
    pub(crate) fn start_placing(&mut self, first: u64, end: u64) {
        self.chain.placing = Some(Placing {
            first,
            next: first,
            end,
        });
    }

    pub(crate) fn placing(&self) -> bool {
        self.chain.placing.is_some()
    }

    pub(super) fn is_placed(&self, id: u64) -> bool {
        self.chain
            .placing
            .is_some_and(|p| (p.first..p.next).contains(&id))
    }

    /// The next page of the run being placed, if any is left; recorded as taken from the
    /// free pages (the log holds it as free).
    pub(super) fn take_placed(&mut self) -> Option<u64> {
        let placing = self.chain.placing.as_mut()?;
        if placing.next >= placing.end {
            return None;
        }
        let id = placing.next;
        placing.next += 1;
        self.chain.withheld.remove(&id);
        self.note_taken(id);
        Some(id)
    }

    /// Stops placing; returns the pages handed out.
    pub(crate) fn stop_placing(&mut self) -> Option<std::ops::Range<u64>> {
        let placing = self.chain.placing.take()?;
        Some(placing.first..placing.next)
    }

    /// Asks the freelist's save to take a run for a chain that starts with this commit.
    pub(crate) fn want_run(&mut self) {
        self.chain.want_run = true;
    }

    /// The run taken for a new chain, `(start, pages)`.
    pub(crate) fn carved(&self) -> Option<(u64, u64)> {
        self.chain.carved
    }

    pub(crate) fn withheld(&self) -> &BTreeSet<u64> {
        &self.chain.withheld
    }

    /// Sets the pages withheld when the transaction begins, and whether a chain is live
    /// (its commit may be placed, so hot pages are noted).
    pub(crate) fn set_chain(&mut self, withheld: BTreeSet<u64>, live: bool) {
        self.chain.withheld = withheld;
        self.chain.track_hot = live;
    }

    /// Takes the run a new chain fills, if asked: free pages, or pages past the end of the
    /// file, recorded as free in `newly_free` (this commit's record of pages freed for any
    /// reader), so that the log holds every page of the run as free. Runs lie below page
    /// 2^32 (a meta names the first record in 32 bits).
    pub(super) fn carve_reserve(&mut self, newly_free: &mut Vec<u64>) {
        if !std::mem::take(&mut self.chain.want_run) {
            return;
        }
        let high_water = self.high_water();
        if high_water + GROWTH > u64::from(u32::MAX) {
            return;
        }
        let ready = self.ready_mut();
        let (start, pages) = match ready.best_fit(MAX_RUN) {
            Some((_, len)) if len >= MIN_RUN => {
                let pages = len.min(MAX_RUN);
                let start = ready.take_run(pages).expect("a run this long exists");
                (start, pages)
            }
            _ if ready.len() < (high_water / SLACK_DIVISOR).max(GROWTH) => {
                *self.high_water_mut() += GROWTH;
                newly_free.extend(high_water..high_water + GROWTH);
                (high_water, GROWTH)
            }
            _ => return,
        };
        self.chain.withheld.extend(start..start + pages);
        self.chain.carved = Some((start, pages));
    }
}
