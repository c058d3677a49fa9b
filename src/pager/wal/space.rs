//! Which bytes of the log hold frames someone may still need, and where the next commit's
//! frames go (DESIGN.md, "Reusing the log's space"). The log is written as a chain: a
//! commit's frames follow the previous commit's, or a jump frame sends the chain elsewhere,
//! to the start of the log once its first bytes are free again, or past every byte in use.

use crate::format::Meta;
use std::collections::VecDeque;

/// Where the frames of the log begin (after the two header slots).
pub(crate) const LOG_START: u64 = 8192;
/// Bytes of a frame's header, and of a jump frame.
pub(crate) const FRAME_HEADER: u64 = 32;

/// A commit in the log, not yet copied into the file.
#[derive(Debug, Clone)]
pub(crate) struct LoggedCommit {
    pub txn: u64,
    pub meta: Meta,
    /// The salt its first frame is checked with: a salt frame in it switches the salt only
    /// for the frames after that one (DESIGN.md, "Log format").
    pub salt: u64,
    /// The bytes it occupies, in chain order: a jump frame, then its frames; or its frames.
    pub ranges: Vec<(u64, u64)>,
}

impl LoggedCommit {
    fn bytes(&self) -> u64 {
        self.ranges.iter().map(|(start, end)| end - start).sum()
    }
}

/// Bytes of commits the file holds now, which no new lookup reaches but a reader that began
/// before they were copied may still read: free once every reader older than `epoch` is gone.
#[derive(Debug)]
struct Retired {
    ranges: Vec<(u64, u64)>,
    /// The newest commit among them.
    through: u64,
    /// The reader id the next reader got when they were retired.
    epoch: u64,
}

/// Where a commit's frames go: at `at`, after a jump frame at `jump_from` if the chain moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    pub jump_from: Option<u64>,
    pub at: u64,
}

/// The log's live bytes and the end of its chain.
#[derive(Debug)]
pub(crate) struct LogSpace {
    /// Commits recovery may still need, oldest first.
    commits: VecDeque<LoggedCommit>,
    retired: Vec<Retired>,
    /// Where the chain ends: the next frame goes here, or a jump frame does.
    head: u64,
    /// Bytes of `commits`, kept as they change: every log-mode commit asks.
    pending: u64,
    /// The end of the last byte in use, or of the chain: no byte past it is in use, so a
    /// chain that ends at the top appends without looking at any range.
    top: u64,
}

impl LogSpace {
    /// An empty log whose chain ends at `head`.
    pub(crate) fn new(head: u64) -> Self {
        LogSpace {
            commits: VecDeque::new(),
            retired: Vec::new(),
            head,
            pending: 0,
            top: head,
        }
    }

    /// A log found by a scan: `commits` in chain order, the chain ending at `head`.
    pub(crate) fn recovered(commits: Vec<LoggedCommit>, head: u64) -> Self {
        let mut space = LogSpace {
            pending: commits.iter().map(LoggedCommit::bytes).sum(),
            commits: commits.into(),
            retired: Vec::new(),
            head,
            top: head,
        };
        space.top = space.measure_top();
        space
    }

    pub(crate) fn head(&self) -> u64 {
        self.head
    }

    /// Bytes of commits not yet copied into the file.
    pub(crate) fn pending_bytes(&self) -> u64 {
        debug_assert_eq!(
            self.pending,
            self.commits.iter().map(LoggedCommit::bytes).sum::<u64>()
        );
        self.pending
    }

    pub(crate) fn has_commits(&self) -> bool {
        !self.commits.is_empty()
    }

    /// Whether any byte is still in use: a commit or a retired range a reader may read.
    pub(crate) fn in_use(&self) -> bool {
        !self.commits.is_empty() || !self.retired.is_empty()
    }

    /// Where recovery must begin once the commits up to `through` are in the file: the first
    /// byte of the oldest commit after them, or the chain's end.
    pub(crate) fn start_after(&self, through: u64) -> u64 {
        self.commits
            .iter()
            .find(|c| c.txn > through)
            .and_then(|c| c.ranges.first())
            .map_or(self.head, |&(start, _)| start)
    }

    /// The salt of the oldest commit after `through`, where recovery would begin.
    pub(crate) fn salt_after(&self, through: u64) -> Option<u64> {
        self.commits
            .iter()
            .find(|c| c.txn > through)
            .map(|c| c.salt)
    }

    /// The newest logged commit at or below `txn`.
    pub(crate) fn newest_through(&self, txn: u64) -> Option<&LoggedCommit> {
        self.commits.iter().rev().find(|c| c.txn <= txn)
    }

    /// Bytes of commits at or below `txn`.
    pub(crate) fn bytes_through(&self, txn: u64) -> u64 {
        self.commits
            .iter()
            .take_while(|c| c.txn <= txn)
            .map(LoggedCommit::bytes)
            .sum()
    }

    /// The commits up to `through` are in the file and no new lookup reaches them: their
    /// bytes wait only for the readers older than `epoch`.
    pub(crate) fn retire_through(&mut self, through: u64, epoch: u64) {
        let mut ranges = Vec::new();
        while self.commits.front().is_some_and(|c| c.txn <= through) {
            let commit = self.commits.pop_front().expect("checked");
            self.pending -= commit.bytes();
            ranges.extend(commit.ranges);
        }
        if !ranges.is_empty() {
            self.retired.push(Retired {
                ranges,
                through,
                epoch,
            });
        }
    }

    /// Frees the retired bytes no live reader can hold, given the oldest live reader's id
    /// (`None`: no reader). Returns the newest commit whose bytes were freed.
    pub(crate) fn release(&mut self, oldest_reader: Option<u64>) -> Option<u64> {
        let mut freed = None;
        self.retired.retain(|r| {
            let free = oldest_reader.is_none_or(|oldest| oldest >= r.epoch);
            if free {
                freed = freed.max(Some(r.through));
            }
            !free
        });
        if freed.is_some() {
            self.top = self.measure_top();
        }
        freed
    }

    fn overlaps_use(&self, start: u64, end: u64) -> bool {
        if start >= self.top {
            return false;
        }
        let hit = |&(a, b): &(u64, u64)| a < end && start < b;
        self.commits.iter().any(|c| c.ranges.iter().any(hit))
            || self.retired.iter().any(|r| r.ranges.iter().any(hit))
    }

    /// The end of the last byte in use, or of the chain, measured over every range.
    fn measure_top(&self) -> u64 {
        let ends = self
            .commits
            .iter()
            .flat_map(|c| c.ranges.iter())
            .chain(self.retired.iter().flat_map(|r| r.ranges.iter()))
            .map(|&(_, end)| end);
        ends.fold(self.head, u64::max)
    }

    /// Where `need` bytes of frames go. They always leave room for a jump frame after them,
    /// so the chain can move on from any head. Once the chain is `wrap_at` bytes long and the
    /// log's first bytes are free, it goes back to the start; else it goes on at its head if
    /// that is free, or past every byte in use.
    pub(crate) fn place(&self, need: u64, wrap_at: u64) -> Placement {
        let room = need + FRAME_HEADER;
        let jump = (self.head, self.head + FRAME_HEADER);
        let free_for_jump =
            |at: u64| !self.overlaps_use(at, at + room) && (at + room <= jump.0 || at >= jump.1);
        if self.head >= LOG_START + wrap_at.max(room) && free_for_jump(LOG_START) {
            return Placement {
                jump_from: Some(self.head),
                at: LOG_START,
            };
        }
        if !self.overlaps_use(self.head, self.head + room) {
            return Placement {
                jump_from: None,
                at: self.head,
            };
        }
        Placement {
            jump_from: Some(self.head),
            at: self.top.max(jump.1),
        }
    }

    /// Records a commit written where `place` said, `need` bytes at `placement.at`, its
    /// first frame checked with `salt`.
    pub(crate) fn record(
        &mut self,
        txn: u64,
        meta: Meta,
        salt: u64,
        placement: Placement,
        need: u64,
    ) {
        let mut ranges = Vec::with_capacity(2);
        if let Some(from) = placement.jump_from {
            ranges.push((from, from + FRAME_HEADER));
        }
        ranges.push((placement.at, placement.at + need));
        self.pending += ranges.iter().map(|(start, end)| end - start).sum::<u64>();
        self.top = ranges.iter().fold(self.top, |top, &(_, end)| top.max(end));
        self.commits.push_back(LoggedCommit {
            txn,
            meta,
            salt,
            ranges,
        });
        self.head = placement.at + need;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(txn: u64) -> Meta {
        Meta {
            page_size: 4096,
            txn_id: crate::ids::TxnId(txn),
            catalog: None,
            freelist: None,
            freelist_records: Vec::new(),
            high_water: 2,
            pages_synced_first: false,
            wal_mode: true,
            next_record: 0,
        }
    }

    fn commit(space: &mut LogSpace, txn: u64, need: u64, wrap_at: u64) -> Placement {
        let placement = space.place(need, wrap_at);
        space.record(txn, meta(txn), 1, placement, need);
        placement
    }

    #[test]
    fn the_chain_returns_to_the_start_once_its_bytes_are_free() {
        let mut space = LogSpace::new(LOG_START);
        for txn in 1..=10 {
            let placed = commit(&mut space, txn, 1000, 5000);
            assert_eq!(placed.jump_from, None, "appends while the log is short");
        }
        // Copied into the file, but a reader that began before (id 3) may still read them.
        space.retire_through(10, 4);
        assert_eq!(space.release(Some(3)), None);
        let placed = commit(&mut space, 11, 1000, 5000);
        assert_eq!(placed.jump_from, None, "goes on at its head");
        space.retire_through(11, 5);
        assert_eq!(space.release(Some(5)), Some(11));
        let placed = commit(&mut space, 12, 1000, 5000);
        assert_eq!(placed.at, LOG_START, "back to the start");
        assert_eq!(
            space.start_after(11),
            LOG_START + 11_000,
            "recovery begins at the jump frame that leads there"
        );
    }

    #[test]
    fn a_commit_never_overwrites_bytes_in_use() {
        let mut space = LogSpace::new(LOG_START);
        let mut txn = 0;
        for round in 0..50u64 {
            for _ in 0..7 {
                txn += 1;
                let need = 300 + (txn * 7919) % 2000;
                let placement = space.place(need, 4000);
                let target = (placement.at, placement.at + need + FRAME_HEADER);
                assert!(
                    !space.overlaps_use(target.0, target.1),
                    "commit {txn} lands on bytes in use"
                );
                space.record(txn, meta(txn), 1, placement, need);
                assert_eq!(space.top, space.measure_top(), "the top is kept exact");
            }
            // Copy all but the newest two; readers let go one round later.
            space.retire_through(txn - 2, round);
            space.release(Some(round.saturating_sub(1)));
        }
        assert_eq!(space.top, space.measure_top());
        assert!(space.top < LOG_START + 40_000, "the log stays bounded");
    }
}
