//! State shared by every transaction of one open database.

use super::Snapshot;
use super::group_commit::CommitQueue;
use super::readers::Readers;
use super::writer_slot::WriterSlot;
use crate::format::Meta;
use crate::io::{Mapping, Storage};
use crate::pager::wal::{WalIndex, WalLog};
use crate::pager::{FreeList, LogView, VerifiedPages};
use crate::{CommitProtocol, Durability, Mode};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

#[derive(Debug)]
pub(crate) struct Shared {
    pub storage: Arc<dyn Storage>,
    pub page_size: usize,
    pub verify: bool,
    /// Page versions this process has hashed (shared by every snapshot).
    pub verified: Arc<VerifiedPages>,
    pub durability: Durability,
    pub protocol: CommitProtocol,
    pub mode: Mode,
    /// Write-ahead-log mode: checkpoint once the log holds this many bytes.
    pub checkpoint_bytes: u64,
    /// Copy-on-write mode: bytes of dirty pages a write transaction keeps in memory.
    pub dirty_budget: usize,
    /// What the open's recovery replayed (write-ahead-log mode).
    pub recovery: Recovery,
    pub read_only: bool,
    /// The newest meta at open was not whole and the older one was used: why.
    pub fell_back: Option<crate::db::FallBack>,
    pub published: Mutex<Published>,
    /// Taken for the life of a write transaction: one writer at a time.
    pub writer: WriterSlot,
    /// Commits waiting for a sync ("Group commit").
    pub commits: CommitQueue,
    /// Signalled when a reader ends while a compaction waits (with `published`).
    pub reader_left: Condvar,
}

/// What readers see: the newest committed snapshot, and which snapshots are still read.
/// Held only for an instant by readers and by the writer.
#[derive(Debug)]
pub(crate) struct Published {
    pub snapshot: Arc<Snapshot>,
    /// The live readers.
    pub readers: Readers,
    /// The newest transaction known to be on disk whole.
    pub durable_txn: u64,
    /// A compaction waits on `Shared::reader_left` for older readers to finish.
    pub compaction_waiting: bool,
}

/// The writer's bookkeeping between transactions.
#[derive(Debug)]
pub(crate) struct WriterState {
    pub meta: Meta,
    /// `None` until first needed, and after a failed commit (reloaded from `meta`).
    pub freelist: Option<FreeList>,
    /// The highest transaction id ever seen in the file; new ids are larger.
    pub last_txn: u64,
    pub map: Arc<Mapping>,
    pub file_len: u64,
    /// The file's length changed (it grew, or its tail was given back) since it was last
    /// synced.
    pub length_unsynced: bool,
    pub poisoned: bool,
    /// Write-ahead-log mode: the log and its index.
    pub wal: Option<WalState>,
    /// Chained commits: the live chain and the pages withheld for chains (DESIGN.md,
    /// "Chained commits").
    pub chain: super::ChainState,
}

/// The log of a database in write-ahead-log mode.
#[derive(Debug)]
pub(crate) struct WalState {
    pub log: WalLog,
    pub index: Arc<RwLock<WalIndex>>,
    /// Versions up to this commit are in the main file: new snapshots read them there
    /// (DESIGN.md, "Reusing the log's space").
    pub floor: u64,
}

impl WalState {
    /// The log as a snapshot or a write transaction begun now reads it.
    pub(crate) fn view(&self) -> LogView {
        LogView {
            map: self.log.map().clone(),
            index: self.index.clone(),
            floor: self.floor,
        }
    }
}

/// What recovery at open did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Recovery {
    pub frames: u64,
    pub bytes: u64,
    pub time: std::time::Duration,
}

impl Shared {
    pub(crate) fn published(&self) -> MutexGuard<'_, Published> {
        // A panic while holding this lock cannot leave it inconsistent: every update is a
        // single assignment or counter change.
        self.published.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a reader of the newest snapshot; returns the snapshot and the reader's id.
    pub(crate) fn pin_newest(&self) -> (Arc<Snapshot>, u64) {
        let mut published = self.published();
        let snapshot = published.snapshot.clone();
        let id = published
            .readers
            .register(snapshot.meta.txn_id.0, snapshot.meta.high_water);
        (snapshot, id)
    }

    pub(crate) fn unpin(&self, reader: u64) {
        let mut published = self.published();
        published.readers.unregister(reader);
        if published.compaction_waiting {
            self.reader_left.notify_all();
        }
    }

    /// Pages freed by a transaction up to the first bound may be reused if no reader can reach
    /// them; up to the second, also if no power loss can bring back a state that does. Both
    /// are read at once, under the publication lock.
    pub(crate) fn reuse_thresholds(&self) -> (u64, u64) {
        if self.mode == Mode::Wal {
            // Old snapshots read a page's old version from the log or the main file, which a
            // checkpoint overwrites only once no such reader is left: reuse is immediate.
            return (u64::MAX, u64::MAX);
        }
        let published = self.published();
        // A reader may begin at any moment on the published snapshot, which lags the writer
        // while commits wait for a group's sync ("Group commit").
        let oldest_reader = published
            .readers
            .oldest()
            .unwrap_or(u64::MAX)
            .min(published.snapshot.meta.txn_id.0);
        (oldest_reader, published.durable_txn)
    }
}

impl Drop for Shared {
    /// The last handle or transaction is gone: the database closes. Copy-on-write mode seals
    /// the newest commit (`seal`); write-ahead-log mode copies the log into the file. If
    /// either fails, the file is as an unclean stop leaves it, and the next open recovers.
    fn drop(&mut self) {
        if self.read_only {
            return;
        }
        let Some(mut state) = self.writer.take_closing() else {
            return;
        };
        if state.poisoned || self.commits.failed() {
            // A failed sync: the kernel may have dropped unsynced writes. The next open
            // verifies (or replays) what the disk really holds.
            return;
        }
        let _ = match self.mode {
            Mode::CopyOnWrite => {
                state.length_unsynced |= self.commits.take_length_unsynced();
                super::seal::seal(self, &mut state)
            }
            Mode::Wal => match super::try_checkpoint(self, &mut state) {
                Ok(true) => Ok(()),
                // The copy could not run (no room on the disk): the log stays, sealed.
                _ if state.poisoned => Ok(()),
                _ => {
                    let newest = state.meta.txn_id.0;
                    let wal = state.wal.as_mut().expect("log mode has a log");
                    wal.log.seal(newest)
                }
            },
        };
    }
}
