//! The Raft log on Bough: `RaftLogStorage` and `RaftLogReader`.
//!
//! One file, two tables: `entries` maps the big-endian log index (so byte order is index
//! order) to the entry in JSON; `state` holds the vote, the committed log id and the purge
//! point. Every commit of this file is durable (append, truncate, purge, vote), and reported
//! only once it is on disk. The committed id is a hint (entries to apply again at start):
//! `save_committed` keeps it in memory and it rides along in the next of those commits, so
//! it costs no sync of its own and the file never ends in an unsynced commit, which an open
//! that refuses a fall-back would have to refuse after a power cut.

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bough::{Database, Durability, ReadTransaction, WriteTransaction};
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{Entry, LogId, OptionalSend, RaftLogId, StorageError, Vote};
use serde::de::DeserializeOwned;

use crate::errors::{Op, StoreError, blocking, storage_error};
use crate::{NodeId, TypeConfig};

/// Log entries by big-endian index.
const ENTRIES: &str = "entries";
/// The vote, committed log id and purge point.
const STATE: &str = "state";
const VOTE: &[u8] = b"vote";
const COMMITTED: &[u8] = b"committed";
const PURGED: &[u8] = b"purged";

/// The Raft log, vote and purge point in one Bough file. Cloning shares the database: the
/// clone serves as the log reader of replication tasks (readers never wait for the writer).
#[derive(Clone, Debug)]
pub struct BoughLogStore {
    db: Arc<Database>,
    /// The newest committed id openraft reported; written with the next commit.
    committed: Arc<Mutex<Option<LogId<NodeId>>>>,
}

type StorageResult<T> = Result<T, StorageError<NodeId>>;

impl BoughLogStore {
    /// Opens (or creates) the log file at `path`. A file whose newest commit did not reach the
    /// disk whole is refused rather than opened at an older commit: falling back would forget
    /// entries or a vote already acknowledged to other nodes.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let db = Database::builder().refuse_fallback(true).open(path)?;
        ensure_tables(&db, &[ENTRIES, STATE])?;
        Ok(BoughLogStore {
            db: Arc::new(db),
            committed: Arc::new(Mutex::new(None)),
        })
    }

    /// The entries whose index lies in `range`, in order.
    pub fn entries(
        &self,
        range: impl RangeBounds<u64>,
    ) -> Result<Vec<Entry<TypeConfig>>, StoreError> {
        let Some((start, end)) = index_bounds(range) else {
            return Ok(Vec::new());
        };
        let rtx = self.db.begin_read()?;
        let table = rtx.open_table(ENTRIES)?;
        let iter = match end {
            Some(end) => table.range(start.to_be_bytes()..end.to_be_bytes())?,
            None => table.range(start.to_be_bytes()..)?,
        };
        let mut out = Vec::new();
        for item in iter {
            let (_, value) = item?;
            out.push(serde_json::from_slice(value)?);
        }
        Ok(out)
    }

    fn log_state(&self) -> Result<LogState<TypeConfig>, StoreError> {
        let rtx = self.db.begin_read()?;
        let last_purged_log_id: Option<LogId<NodeId>> = read_json(&rtx, STATE, PURGED)?;
        let last = match rtx.open_table(ENTRIES)?.last()? {
            Some((_, value)) => {
                let entry: Entry<TypeConfig> = serde_json::from_slice(value)?;
                Some(*entry.get_log_id())
            }
            None => None,
        };
        Ok(LogState {
            last_purged_log_id,
            last_log_id: last.or(last_purged_log_id),
        })
    }

    fn read_state<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        read_json(&self.db.begin_read()?, STATE, key)
    }

    fn pending_committed(&self) -> Option<LogId<NodeId>> {
        *self.committed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `change` in one durable commit, with the pending committed id.
    fn commit_durably(
        &self,
        change: impl FnOnce(&WriteTransaction) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        change(&tx)?;
        if let Some(committed) = self.pending_committed() {
            let bytes = serde_json::to_vec(&committed)?;
            tx.open_table(STATE)?.insert(COMMITTED, &bytes)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// [`Self::commit_durably`] on the blocking pool.
    async fn write<F>(&self, op: Op, change: F) -> StorageResult<()>
    where
        F: FnOnce(&WriteTransaction) -> Result<(), StoreError> + Send + 'static,
    {
        let store = self.clone();
        blocking(op, move || store.commit_durably(change)).await
    }

    /// Appends `entries` in one durable commit (what `append` runs before its callback).
    pub fn append_now(&self, entries: &[Entry<TypeConfig>]) -> Result<(), StoreError> {
        self.commit_durably(|tx| {
            let mut table = tx.open_table(ENTRIES)?;
            for entry in entries {
                let value = serde_json::to_vec(entry)?;
                table.insert(&entry.get_log_id().index.to_be_bytes(), &value)?;
            }
            Ok(())
        })
    }
}

/// Creates the tables `names` if the file lacks any of them.
pub(crate) fn ensure_tables(db: &Database, names: &[&str]) -> Result<(), StoreError> {
    let existing = db.begin_read()?.list_tables()?;
    if names.iter().all(|name| existing.iter().any(|e| e == name)) {
        return Ok(());
    }
    let tx = db.begin_write()?;
    for name in names {
        tx.open_table(*name)?;
    }
    tx.commit()?;
    Ok(())
}

/// Reads and decodes one JSON record of `table`.
pub(crate) fn read_json<T: DeserializeOwned>(
    rtx: &ReadTransaction,
    table: &str,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match rtx.open_table(table)?.get(key)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(bytes)?)),
        None => Ok(None),
    }
}

/// `range` as a first index and an exclusive end (`None`: no end); `None` if it is empty.
fn index_bounds(range: impl RangeBounds<u64>) -> Option<(u64, Option<u64>)> {
    let start = match range.start_bound() {
        Bound::Included(&i) => i,
        Bound::Excluded(&i) => i.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&i) => i.checked_add(1),
        Bound::Excluded(&i) => Some(i),
        Bound::Unbounded => None,
    };
    match end {
        Some(end) if end <= start => None,
        _ => Some((start, end)),
    }
}

impl RaftLogReader<TypeConfig> for BoughLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        self.entries(range)
            .map_err(|e| storage_error(Op::ReadLogs, e))
    }
}

impl RaftLogStorage<TypeConfig> for BoughLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        self.log_state().map_err(|e| storage_error(Op::ReadLogs, e))
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        let bytes = serde_json::to_vec(vote).map_err(|e| storage_error(Op::WriteVote, e.into()))?;
        self.write(Op::WriteVote, move |tx| {
            tx.open_table(STATE)?.insert(VOTE, &bytes)?;
            Ok(())
        })
        .await
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        self.read_state(VOTE)
            .map_err(|e| storage_error(Op::ReadVote, e))
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        let mut pending = self.committed.lock().unwrap_or_else(|p| p.into_inner());
        // Only forward: a committed id never moves back.
        if committed > *pending {
            *pending = committed;
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        let stored: Option<LogId<NodeId>> = self
            .read_state(COMMITTED)
            .map_err(|e| storage_error(Op::ReadLogs, e))?;
        Ok(stored.max(self.pending_committed()))
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let store = self.clone();
        let result = blocking(Op::WriteLogs, move || store.append_now(&entries)).await;
        // Reported only now: the commit above is on disk.
        match &result {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.write(Op::WriteLogs, move |tx| {
            let mut entries = tx.open_table(ENTRIES)?;
            entries.delete_range(log_id.index.to_be_bytes()..)?;
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let bytes =
            serde_json::to_vec(&log_id).map_err(|e| storage_error(Op::WriteLogs, e.into()))?;
        // The purge point and the deletion in one commit: never a gap between them.
        self.write(Op::WriteLogs, move |tx| {
            tx.open_table(STATE)?.insert(PURGED, &bytes)?;
            let mut entries = tx.open_table(ENTRIES)?;
            entries.delete_range(..=log_id.index.to_be_bytes())?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::index_bounds;

    #[test]
    fn index_bounds_cover_every_range_shape() {
        assert_eq!(index_bounds(3..7), Some((3, Some(7))));
        assert_eq!(index_bounds(3..=7), Some((3, Some(8))));
        assert_eq!(index_bounds(3..), Some((3, None)));
        assert_eq!(index_bounds(..), Some((0, None)));
        assert_eq!(index_bounds(5..5), None);
        assert_eq!(index_bounds(0..=u64::MAX), Some((0, None)));
    }
}
