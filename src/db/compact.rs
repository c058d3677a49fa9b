//! Online compaction (DESIGN.md, "Giving space back"): small commits that pack underfull
//! leaves and move live pages from the file's tail into free pages lower down, then the
//! commits that let the tail go.

use super::Database;
use crate::error::Result;
use crate::{Durability, Mode};
use std::time::{Duration, Instant};

/// Leaves one packing step reads (so a writer waits at most about this many pages' work).
const PACK_STEP_LEAVES: usize = 1024;
/// Packing passes over a table at most, while a pass packs at least this many leaves.
const PACK_PASSES: usize = 3;
const PACK_PASSES_UNTIL: u64 = 16;
/// Pages one moving step moves at most.
const MOVE_STEP_PAGES: u64 = 2048;
/// Moving steps in a row that may find no room before compaction stops waiting for readers.
const MAX_STEPS: u64 = 1 << 20;
/// Compaction waits at most this long in all for readers of older snapshots: a reader
/// begun on another thread may have moved to the calling thread, which then cannot end it.
const MAX_READER_WAIT: Duration = Duration::from_secs(60);
/// Commits that may be needed after the moves: one to release the pages they freed and
/// lower the high-water mark, one more so that both metas name the lower mark.
const TAIL_COMMITS: usize = 3;

/// What [`Database::compact`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactionReport {
    /// Bytes on disk before: the file's size, plus the log's in log mode.
    pub size_before: u64,
    /// Bytes on disk after.
    pub size_after: u64,
    /// Underfull leaves packed together with their neighbours.
    pub leaves_packed: u64,
    /// Pages moved from past the packing limit to free pages below it.
    pub pages_moved: u64,
    /// The small commits compaction made (each one a writer waits for at most).
    pub commits: u64,
    /// Time spent waiting for readers of older snapshots (on other threads) to finish.
    pub waited_for_readers: Duration,
    /// Time the whole compaction took.
    pub elapsed: Duration,
}

impl Database {
    /// Compacts the file online (DESIGN.md, "Giving space back"): packs underfull leaves,
    /// moves live pages out of the file's tail into free pages lower down and cuts the file
    /// after its last live page. The work is done in small commits, each a bounded step, so
    /// other writers wait at most one step and readers keep reading their snapshots
    /// throughout. Pages that readers of older snapshots hold back cannot be reused while
    /// they live: compaction waits for such readers on other threads to finish, a minute at
    /// most in all (a reader on the calling thread cannot finish meanwhile, so it is not
    /// waited for: the file then shrinks by what could be done without its pages). In log mode the log is copied into
    /// the file first and after. Read-only handles give [`Error::ReadOnly`](crate::Error::ReadOnly).
    pub fn compact(&self) -> Result<CompactionReport> {
        let started = Instant::now();
        let size_before = self.disk_size()?;
        let mut report = CompactionReport {
            size_before,
            size_after: size_before,
            leaves_packed: 0,
            pages_moved: 0,
            commits: 0,
            waited_for_readers: Duration::ZERO,
            elapsed: Duration::ZERO,
        };
        if self.shared.read_only {
            return Err(crate::Error::ReadOnly);
        }
        self.checkpoint_if_logged()?;
        // Readers of older snapshots hold back the pages the work needs.
        self.wait_for_older_readers(self.newest_txn(), &mut report);
        let names = self.begin_read()?.list_tables()?;
        for name in &names {
            // A pass packs spans of neighbouring leaves, sharing each span's entries evenly:
            // the next pass packs the spans' last, partly filled leaves together.
            for _ in 0..PACK_PASSES {
                if self.pack_table(name, &mut report)? < PACK_PASSES_UNTIL {
                    break;
                }
            }
        }
        self.move_pages(&names, &mut report)?;
        self.give_back(&mut report)?;
        if self.shared.mode == Mode::Wal {
            let mut state = crate::txn::WriterGuard::acquire(&self.shared, true)?
                .expect("a waiting acquire returns the writer's state");
            crate::txn::checkpoint_and_shrink_log(&self.shared, &mut state)?;
        }
        report.size_after = self.disk_size()?;
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Bytes of the file, and of the log in log mode.
    fn disk_size(&self) -> Result<u64> {
        let state = crate::txn::WriterGuard::acquire(&self.shared, true)?
            .expect("a waiting acquire returns the writer's state");
        let log = state.wal.as_ref().map_or(0, |wal| wal.log.file_len());
        Ok(self.shared.storage.len()? + log)
    }

    fn checkpoint_if_logged(&self) -> Result<()> {
        if self.shared.mode == Mode::Wal {
            self.checkpoint()?;
        }
        Ok(())
    }

    /// Packs the underfull leaves of table `name`, a bounded span per commit; returns how
    /// many it packed.
    fn pack_table(&self, name: &str, report: &mut CompactionReport) -> Result<u64> {
        let mut from: Option<Vec<u8>> = None;
        let mut packed_here = 0;
        loop {
            let mut wtx = self.begin_write()?;
            wtx.set_durability(Durability::Immediate);
            wtx.start_compaction();
            if !wtx.compaction_room() {
                // Packed leaves would only land past the limit (readers on this thread hold
                // the free pages back).
                return Ok(packed_here);
            }
            let (packed, next) = wtx.pack_leaves(name, from.as_deref(), PACK_STEP_LEAVES)?;
            wtx.commit()?;
            report.commits += 1;
            report.leaves_packed += packed;
            packed_here += packed;
            match next {
                Some(key) => from = Some(key),
                None => return Ok(packed_here),
            }
        }
    }

    /// Moves live pages from past the packing limit, a bounded number per commit, until
    /// none is left there or no room is left below it.
    fn move_pages(&self, names: &[String], report: &mut CompactionReport) -> Result<()> {
        for _ in 0..MAX_STEPS {
            let mut wtx = self.begin_write()?;
            wtx.set_durability(Durability::Immediate);
            let limit = wtx.start_compaction();
            if limit >= wtx.high_water() {
                return Ok(());
            }
            let (mut moved, mut left) = (0, false);
            for name in names {
                if moved >= MOVE_STEP_PAGES {
                    left = true;
                    break;
                }
                let step = wtx.relocate_table(name, MOVE_STEP_PAGES - moved)?;
                moved += step.moved;
                left |= step.left;
            }
            let txn = wtx.id();
            wtx.commit()?;
            report.commits += 1;
            report.pages_moved += moved;
            if !left {
                return Ok(());
            }
            if moved == 0 && !self.wait_for_older_readers(txn, report) {
                // No room below the limit, and no reader to wait for: as packed as it gets.
                return Ok(());
            }
        }
        Ok(())
    }

    /// Commits until the pages freed by the moves are reusable and both metas name the
    /// lowered high-water mark, so the tail past it can go.
    fn give_back(&self, report: &mut CompactionReport) -> Result<()> {
        for _ in 0..TAIL_COMMITS {
            // Readers of older snapshots hold back the pages the moves freed, and the pages
            // past the lowered mark must stay in the file while they live.
            self.wait_for_older_readers(self.newest_txn(), report);
            let mut wtx = self.begin_write()?;
            wtx.set_durability(Durability::Immediate);
            wtx.start_compaction();
            wtx.commit()?;
            report.commits += 1;
            self.checkpoint_if_logged()?;
        }
        Ok(())
    }

    /// The id of the newest commit readers see.
    fn newest_txn(&self) -> u64 {
        self.shared.published().snapshot.meta.txn_id.0
    }

    /// Waits until no reader of a snapshot older than `txn` lives on another thread (within
    /// what is left of `MAX_READER_WAIT`); returns whether there was one to wait for.
    fn wait_for_older_readers(&self, txn: u64, report: &mut CompactionReport) -> bool {
        let started = Instant::now();
        let mut published = self.shared.published();
        if !published.readers.older_elsewhere(txn) {
            return false;
        }
        published.compaction_waiting = true;
        while published.readers.older_elsewhere(txn)
            && report.waited_for_readers + started.elapsed() < MAX_READER_WAIT
        {
            published = match self
                .shared
                .reader_left
                .wait_timeout(published, Duration::from_millis(100))
            {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        published.compaction_waiting = false;
        report.waited_for_readers += started.elapsed();
        true
    }
}
