//! The same storage traits in memory (`bough-kv --store memory`): the baseline that shows
//! what Bough's durable commits cost. Nothing survives the process. Snapshots use the same
//! stream format as the Bough store, held as bytes.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{
    LogFlushed, LogState, RaftLogReader, RaftLogStorage, RaftStateMachine, Snapshot,
};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, StorageError, StoredMembership,
    Vote,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::errors::{Op, StoreError, damaged, storage_error};
use crate::snapshot::{Meta, Record, SnapshotData, SnapshotReader, SnapshotWriter};
use crate::state_machine::unix_nanos;
use crate::{KV_TABLE, NodeId, Request, Response, TypeConfig};

type StorageResult<T> = Result<T, StorageError<NodeId>>;
type Membership = StoredMembership<NodeId, openraft::BasicNode>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the data whole, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The Raft log in memory.
#[derive(Clone, Debug, Default)]
pub struct MemLogStore {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug, Default)]
struct LogInner {
    entries: BTreeMap<u64, Entry<TypeConfig>>,
    vote: Option<Vote<NodeId>>,
    committed: Option<LogId<NodeId>>,
    purged: Option<LogId<NodeId>>,
}

impl RaftLogReader<TypeConfig> for MemLogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        Ok(lock(&self.inner)
            .entries
            .range(range)
            .map(|(_, e)| e.clone())
            .collect())
    }
}

impl RaftLogStorage<TypeConfig> for MemLogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let inner = lock(&self.inner);
        let last = inner.entries.values().next_back().map(|e| e.log_id);
        Ok(LogState {
            last_purged_log_id: inner.purged,
            last_log_id: last.or(inner.purged),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        lock(&self.inner).vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        Ok(lock(&self.inner).vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> StorageResult<()> {
        lock(&self.inner).committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId<NodeId>>> {
        Ok(lock(&self.inner).committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        {
            let mut inner = lock(&self.inner);
            for entry in entries {
                inner.entries.insert(entry.log_id.index, entry);
            }
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        lock(&self.inner).entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        let mut inner = lock(&self.inner);
        inner.purged = Some(log_id);
        inner.entries = match log_id.index.checked_add(1) {
            Some(first_kept) => inner.entries.split_off(&first_kept),
            None => BTreeMap::new(),
        };
        Ok(())
    }
}

/// The state machine in memory: a map, its bookkeeping, and the current snapshot's bytes.
#[derive(Clone, Debug, Default)]
pub struct MemStateMachine {
    inner: Arc<Mutex<SmInner>>,
    installed: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct SmInner {
    kv: BTreeMap<String, String>,
    last_applied: Option<LogId<NodeId>>,
    membership: Membership,
    current: Option<(Meta, Vec<u8>)>,
}

impl MemStateMachine {
    /// The value of `key` here (a stale read).
    pub fn get(&self, key: &str) -> Option<String> {
        lock(&self.inner).kv.get(key).cloned()
    }

    /// How many snapshots this process installed from a leader.
    pub fn snapshots_installed(&self) -> u64 {
        self.installed.load(Ordering::Relaxed)
    }
}

/// The map and meta a snapshot stream holds, checked to its checksum.
fn decode(bytes: &[u8]) -> Result<(Meta, BTreeMap<String, String>), StoreError> {
    let (meta, mut reader) = SnapshotReader::open(bytes)?;
    let mut kv = BTreeMap::new();
    let mut in_kv = false;
    while let Some(record) = reader.next_record()? {
        match record {
            Record::Table(name) => in_kv = name == KV_TABLE,
            Record::Entry(key, value) if in_kv => {
                let key = String::from_utf8(key).map_err(|_| damaged("a key is not UTF-8"))?;
                let value =
                    String::from_utf8(value).map_err(|_| damaged("a value is not UTF-8"))?;
                kv.insert(key, value);
            }
            Record::Entry(..) => return Err(damaged("an entry outside the kv table")),
        }
    }
    Ok((meta, kv))
}

fn encode(meta: &Meta, kv: &BTreeMap<String, String>) -> Result<Vec<u8>, StoreError> {
    let mut out = SnapshotWriter::new(Vec::new(), meta)?;
    out.table(KV_TABLE)?;
    for (key, value) in kv {
        out.entry(key.as_bytes(), value.as_bytes())?;
    }
    out.finish()
}

async fn snapshot_bytes(data: SnapshotData) -> Result<Vec<u8>, StoreError> {
    match data {
        SnapshotData::Memory(bytes) => Ok(bytes.into_inner()),
        SnapshotData::File { mut file, .. } => {
            let mut bytes = Vec::new();
            file.seek(std::io::SeekFrom::Start(0)).await?;
            file.read_to_end(&mut bytes).await?;
            Ok(bytes)
        }
    }
}

impl RaftSnapshotBuilder<TypeConfig> for MemStateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let (last_log_id, last_membership, kv) = {
            let inner = lock(&self.inner);
            (
                inner.last_applied,
                inner.membership.clone(),
                inner.kv.clone(),
            )
        };
        let snapshot_id = match last_log_id {
            Some(id) => format!("{}-{}-{}", id.leader_id.term, id.index, unix_nanos()),
            None => format!("empty-{}", unix_nanos()),
        };
        let meta = Meta {
            last_log_id,
            last_membership,
            snapshot_id,
        };
        let bytes = encode(&meta, &kv).map_err(|e| storage_error(Op::WriteSnapshot, e))?;
        lock(&self.inner).current = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotData::Memory(Cursor::new(bytes))),
        })
    }
}

impl RaftStateMachine<TypeConfig> for MemStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> StorageResult<(Option<LogId<NodeId>>, Membership)> {
        let inner = lock(&self.inner);
        Ok((inner.last_applied, inner.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Response>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut inner = lock(&self.inner);
        let mut out = Vec::new();
        for entry in entries {
            inner.last_applied = Some(entry.log_id);
            let previous = match entry.payload {
                EntryPayload::Blank => None,
                EntryPayload::Normal(Request::Put { key, value }) => inner.kv.insert(key, value),
                EntryPayload::Normal(Request::Delete { key }) => inner.kv.remove(&key),
                EntryPayload::Membership(m) => {
                    inner.membership = Membership::new(Some(entry.log_id), m);
                    None
                }
            };
            out.push(Response { previous });
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<SnapshotData>> {
        Ok(Box::new(SnapshotData::Memory(Cursor::new(Vec::new()))))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<SnapshotData>,
    ) -> StorageResult<()> {
        let bytes = snapshot_bytes(*snapshot)
            .await
            .map_err(|e| storage_error(Op::ReadSnapshot, e))?;
        let (file_meta, kv) = decode(&bytes).map_err(|e| storage_error(Op::ReadSnapshot, e))?;
        if file_meta.snapshot_id != meta.snapshot_id || file_meta.last_log_id != meta.last_log_id {
            let e = damaged("the data holds another snapshot than announced");
            return Err(storage_error(Op::ReadSnapshot, e));
        }
        let mut inner = lock(&self.inner);
        inner.kv = kv;
        inner.last_applied = meta.last_log_id;
        inner.membership = meta.last_membership.clone();
        inner.current = Some((meta.clone(), bytes));
        self.installed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        Ok(lock(&self.inner)
            .current
            .as_ref()
            .map(|(meta, bytes)| Snapshot {
                meta: meta.clone(),
                snapshot: Box::new(SnapshotData::Memory(Cursor::new(bytes.clone()))),
            }))
    }
}
