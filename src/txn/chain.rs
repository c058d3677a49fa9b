//! Chained commits (DESIGN.md, "Chained commits"): a small durable commit writes a commit
//! record and its pages as one run of a chain's pages, with one write and one sync, instead
//! of pages in several places and a meta. Which commits chain, and the chain's state
//! between commits.

use super::{Shared, WriterState};
use crate::error::Result;
use crate::format::{Meta, commit_record};
use crate::pager::{CowPager, DirtyPages};
use crate::plant::{Bug, planted};
use crate::{CommitProtocol, Mode};
use std::collections::BTreeSet;

/// A chain holds at most this many records: the open follows at most this many, and the
/// commit after the last writes a meta.
pub(crate) const MAX_CHAIN_RECORDS: u64 = 64;

/// A chain goes on while its run has room for a record and this many pages after it (the
/// root, an upper branch and the catalog of one commit: more go where any commit's go).
const ROOM_AFTER_RECORD: u64 = 3;

#[derive(Debug, Default)]
pub(crate) struct ChainState {
    /// Pages free in the freelist's log that no allocation may take: the live chain's run
    /// and the records of chains no durable meta written since covers. They return to the
    /// free pages once a durable meta is written directly.
    pub withheld: BTreeSet<u64>,
    pub live: Option<LiveChain>,
}

/// The chain the next chained commit continues.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LiveChain {
    /// Where the next record goes; the commit's pages follow it.
    pub next: u64,
    /// The end of the chain's run.
    pub end: u64,
    /// The link of the newest state (the meta, or the last record).
    pub link: u32,
    /// Records written so far.
    pub records: u64,
}

/// How the commit being made relates to chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChainStep {
    /// Place its pages after a record at `at`, up to `end`; the chain holds `records`.
    Continue { at: u64, end: u64, records: u64 },
    /// A meta that starts a chain: take a run for it.
    Start,
    /// A meta and no chain.
    None,
}

/// What a commit written directly, durable or not, does with chains; `durable_direct`: the
/// commit is durable and written directly (not queued in a group).
pub(crate) fn step(shared: &Shared, state: &WriterState, durable_direct: bool) -> ChainStep {
    if shared.protocol != CommitProtocol::Chained
        || shared.mode != Mode::CopyOnWrite
        || !durable_direct
    {
        return ChainStep::None;
    }
    let Some(live) = state.chain.live else {
        return ChainStep::Start;
    };
    let room = live.end.saturating_sub(live.next + 1);
    match live.records < MAX_CHAIN_RECORDS && room >= ROOM_AFTER_RECORD {
        true => ChainStep::Continue {
            at: live.next,
            end: live.end,
            records: live.records,
        },
        false => ChainStep::Start,
    }
}

/// Where the record after `placed` (the pages a chained commit wrote) goes, or 0 when the
/// chain ends with it: its run has too little room left, or it is as long as a chain may be.
pub(crate) fn next_record(placed_end: u64, end: u64, records_after: u64) -> u64 {
    let room_after = end.saturating_sub(placed_end + 1);
    match records_after < MAX_CHAIN_RECORDS && room_after >= ROOM_AFTER_RECORD {
        true => placed_end,
        false => 0,
    }
}

/// Writes a chained commit, unsynced: its record at `at` (`state`, after the state whose
/// link is `prev_link`), then its pages, as one write. Returns the record's link.
pub(crate) fn write_chained(
    pager: &CowPager,
    dirty: &DirtyPages,
    at: u64,
    state: &Meta,
    prev_link: u32,
) -> Result<u32> {
    let (record, link) = commit_record::encode(state, prev_link);
    pager.write_chained(at, &record, dirty)?;
    Ok(link)
}

/// After a chained commit: the pages it placed are in use now; the chain goes on from the
/// record after it, if the record names one.
pub(crate) fn after_record(
    chain: &mut ChainState,
    now_withheld: BTreeSet<u64>,
    state: &Meta,
    link: u32,
) {
    chain.withheld = now_withheld;
    chain.live = match (chain.live, state.next_record) {
        (Some(live), next) if next != 0 => Some(LiveChain {
            next,
            link,
            records: live.records + 1,
            ..live
        }),
        _ => None,
    };
}

/// After a commit that was not chained: the chain ends; if the commit was durable and
/// written directly, the pages withheld before it are free again (`release`), and the run
/// it took, if any, starts the next chain, whose first record follows `meta`.
pub(crate) fn after_meta(
    chain: &mut ChainState,
    now_withheld: &BTreeSet<u64>,
    carved: Option<(u64, u64)>,
    meta: &Meta,
    durable_direct: bool,
) -> Vec<u64> {
    chain.live = None;
    if !durable_direct && !planted(Bug::ChainPagesReleasedEarly) {
        chain.withheld = now_withheld.clone();
        return Vec::new();
    }
    let before = std::mem::take(&mut chain.withheld);
    let (release, keep): (Vec<u64>, Vec<u64>) =
        now_withheld.iter().partition(|id| before.contains(id));
    chain.withheld = keep.into_iter().collect();
    if let Some((start, pages)) = carved
        && meta.next_record == start
    {
        chain.live = Some(LiveChain {
            next: start,
            end: start + pages,
            link: meta.link(),
            records: 0,
        });
    }
    release
}
