//! The state machine on Bough: `RaftStateMachine` and `RaftSnapshotBuilder`.
//!
//! One file (`sm.bough`): the application's table [`KV_TABLE`] and the
//! table `raft_sm` with the last applied log id, the last membership and the current
//! snapshot's meta. An apply batch writes its data and the last applied id in one commit, so
//! a restart resumes exactly after the last batch that committed. Applies commit without a
//! sync (a process crash loses nothing; a power cut loses only entries the log still holds,
//! re-applied at start), while a snapshot's meta commits durably, which makes every earlier
//! apply durable too: the log is purged only behind a durable snapshot.
//!
//! Snapshot files live in `snapshots/` beside the file, named by snapshot id; the current one
//! is the one `raft_sm` names. [`crate::snapshot`] has the format.

use std::fs;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bough::{Database, Durability, ReadTransaction, WriteTransaction};
use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, StorageError, StoredMembership,
};

use crate::errors::{Op, StoreError, blocking, damaged, storage_error};
use crate::log_store::{ensure_tables, read_json};
use crate::snapshot::{Meta, Record, SnapshotData, SnapshotReader, SnapshotWriter};
use crate::{KV_TABLE, NodeId, Request, Response, TypeConfig};

/// The Raft bookkeeping of the state machine; never part of a snapshot's records.
const SM_META: &str = "raft_sm";
const LAST_APPLIED: &[u8] = b"last_applied";
const MEMBERSHIP: &[u8] = b"membership";
const CURRENT_SNAPSHOT: &[u8] = b"snapshot";

type StorageResult<T> = Result<T, StorageError<NodeId>>;
type Membership = StoredMembership<NodeId, openraft::BasicNode>;

/// The state machine in a Bough file, with its snapshots beside it. Cloning shares it: a
/// clone is the snapshot builder, which reads from its own read transaction while applies go on.
#[derive(Clone, Debug)]
pub struct BoughStateMachine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    db: Database,
    snapshots: PathBuf,
    /// Held while snapshot files are renamed, named current or removed, so a build and an
    /// install never remove each other's file.
    files: Mutex<()>,
    installed: AtomicU64,
}

impl BoughStateMachine {
    /// Opens (or creates) the state machine in `dir` (`dir/sm.bough`, `dir/snapshots/`),
    /// removing snapshot files a crash left behind.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        let snapshots = dir.join("snapshots");
        fs::create_dir_all(&snapshots)?;
        let db = Database::open(dir.join("sm.bough"))?;
        ensure_tables(&db, &[KV_TABLE, SM_META])?;
        let sm = BoughStateMachine {
            inner: Arc::new(Inner {
                db,
                snapshots,
                files: Mutex::new(()),
                installed: AtomicU64::new(0),
            }),
        };
        let current = sm.current_meta()?;
        sm.remove_files_except(current.as_ref().map(|m| m.snapshot_id.as_str()), true)?;
        Ok(sm)
    }

    /// The value of `key` in this node's state machine (a stale read).
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let rtx = self.inner.db.begin_read()?;
        let table = rtx.open_table(KV_TABLE)?;
        let value = table.get(key.as_bytes())?;
        Ok(value.map(|v| String::from_utf8_lossy(v).into_owned()))
    }

    /// How many snapshots this process installed from a leader.
    pub fn snapshots_installed(&self) -> u64 {
        self.inner.installed.load(Ordering::Relaxed)
    }

    /// The meta of the current snapshot, if any.
    pub fn current_meta(&self) -> Result<Option<Meta>, StoreError> {
        read_json(&self.inner.db.begin_read()?, SM_META, CURRENT_SNAPSHOT)
    }

    fn snapshot_path(&self, id: &str) -> PathBuf {
        self.inner.snapshots.join(format!("{id}.snap"))
    }

    /// A fresh path for a snapshot being written or received.
    fn temp_path(&self) -> PathBuf {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        self.inner
            .snapshots
            .join(format!("incoming-{}-{seq}.tmp", unix_nanos()))
    }

    /// Removes every snapshot file but `keep`'s; temporary files too if `temps`.
    fn remove_files_except(&self, keep: Option<&str>, temps: bool) -> Result<(), StoreError> {
        let keep = keep.map(|id| format!("{id}.snap"));
        for entry in fs::read_dir(&self.inner.snapshots)? {
            let name = entry?.file_name().to_string_lossy().into_owned();
            let stale = (name.ends_with(".snap") && Some(&name) != keep.as_ref())
                || (temps && name.ends_with(".tmp"));
            if stale {
                fs::remove_file(self.inner.snapshots.join(&name))?;
            }
        }
        Ok(())
    }

    /// Applies `entries` in one commit, with the last applied id and membership.
    fn apply_now(&self, entries: Vec<Entry<TypeConfig>>) -> Result<Vec<Response>, StoreError> {
        let mut tx = self.inner.db.begin_write()?;
        tx.set_durability(Durability::None);
        let mut responses = Vec::with_capacity(entries.len());
        let mut last = None;
        {
            let mut kv = tx.open_table(KV_TABLE)?;
            let mut meta = tx.open_table(SM_META)?;
            for entry in entries {
                last = Some(entry.log_id);
                let previous = match entry.payload {
                    EntryPayload::Blank => None,
                    EntryPayload::Normal(Request::Put { key, value }) => {
                        kv.replace(key.as_bytes(), value.as_bytes())?
                    }
                    EntryPayload::Normal(Request::Delete { key }) => kv.take(key.as_bytes())?,
                    EntryPayload::Membership(m) => {
                        let stored = Membership::new(Some(entry.log_id), m);
                        meta.insert(MEMBERSHIP, &serde_json::to_vec(&stored)?)?;
                        None
                    }
                };
                let previous = previous.map(|v| String::from_utf8_lossy(&v).into_owned());
                responses.push(Response { previous });
            }
            if let Some(last) = last {
                meta.insert(LAST_APPLIED, &serde_json::to_vec(&last)?)?;
            }
        }
        tx.commit()?;
        Ok(responses)
    }

    /// Streams one read transaction to a snapshot file and makes it current unless a newer
    /// one already is. Applies go on meanwhile: they commit after the read began, and the
    /// read transaction never sees them.
    fn build_now(&self) -> Result<(Meta, PathBuf, fs::File), StoreError> {
        let rtx = self.inner.db.begin_read()?;
        let meta = snapshot_meta(&rtx)?;
        let temp = self.temp_path();
        let written = write_snapshot_file(&rtx, &meta, &temp);
        drop(rtx);
        if let Err(e) = written {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        let path = self.snapshot_path(&meta.snapshot_id);
        let _files = self.lock_files();
        fs::rename(&temp, &path)?;
        sync_dir(&self.inner.snapshots)?;
        let mut tx = self.inner.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        let current: Option<Meta> = read_json_tx(&tx, CURRENT_SNAPSHOT)?;
        let newer = current
            .as_ref()
            .is_none_or(|c| c.last_log_id < meta.last_log_id);
        if newer {
            tx.open_table(SM_META)?
                .insert(CURRENT_SNAPSHOT, &serde_json::to_vec(&meta)?)?;
        }
        // Durable even if not newer: every apply before it becomes durable with it.
        tx.commit()?;
        let keep = if newer {
            &meta
        } else {
            current.as_ref().unwrap_or(&meta)
        };
        // The returned handle opens before the file can go (when a newer snapshot is
        // current): an open file stays readable after its name is removed.
        let file = fs::File::open(&path)?;
        self.remove_files_except(Some(&keep.snapshot_id), false)?;
        Ok((meta, path, file))
    }

    /// Verifies the snapshot at `temp` while loading it in one write transaction that
    /// replaces every table, then renames it into place and commits. A damaged file leaves
    /// the state machine as it was.
    fn install_now(&self, meta: &Meta, temp: &Path) -> Result<(), StoreError> {
        let _files = self.lock_files();
        let mut tx = self.inner.db.begin_write()?;
        tx.set_durability(Durability::Immediate);
        let loaded = load_snapshot(&tx, meta, temp);
        let path = self.snapshot_path(&meta.snapshot_id);
        let placed = loaded.and_then(|()| {
            fs::rename(temp, &path)?;
            sync_dir(&self.inner.snapshots)
        });
        if let Err(e) = placed {
            let _ = fs::remove_file(temp);
            return Err(e);
        }
        tx.commit()?;
        self.remove_files_except(Some(&meta.snapshot_id), false)?;
        self.inner.installed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn lock_files(&self) -> std::sync::MutexGuard<'_, ()> {
        // The guard protects no data, so a panic while it was held leaves nothing broken.
        self.inner.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current snapshot, opened.
    async fn current_snapshot(&self) -> Result<Option<Snapshot<TypeConfig>>, StoreError> {
        let (meta, file) = {
            let _files = self.lock_files();
            let Some(meta) = self.current_meta()? else {
                return Ok(None);
            };
            let path = self.snapshot_path(&meta.snapshot_id);
            match fs::File::open(&path) {
                Ok(file) => ((meta, path), file),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StoreError::MissingSnapshot(path));
                }
                Err(e) => return Err(e.into()),
            }
        };
        let (meta, path) = meta;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(SnapshotData::File {
                file: tokio::fs::File::from_std(file),
                path,
            }),
        }))
    }

    /// Puts received snapshot data in a file of our own snapshot directory, without a copy
    /// when it already is one (what `begin_receiving_snapshot` hands out).
    async fn receive_into_file(&self, data: SnapshotData) -> Result<PathBuf, StoreError> {
        use tokio::io::AsyncWriteExt;
        match data {
            SnapshotData::File { mut file, path } => {
                file.flush().await?;
                file.sync_all().await?;
                drop(file);
                let ours = path.parent() == Some(self.inner.snapshots.as_path())
                    && path.extension().is_some_and(|e| e == "tmp");
                if ours {
                    return Ok(path);
                }
                let temp = self.temp_path();
                tokio::fs::copy(&path, &temp).await?;
                tokio::fs::File::open(&temp).await?.sync_all().await?;
                Ok(temp)
            }
            SnapshotData::Memory(bytes) => {
                let temp = self.temp_path();
                let mut file = tokio::fs::File::create(&temp).await?;
                file.write_all(bytes.get_ref()).await?;
                file.sync_all().await?;
                Ok(temp)
            }
        }
    }
}

/// The meta of a snapshot of `rtx`: its last applied id and membership, read from the very
/// snapshot the records come from.
fn snapshot_meta(rtx: &ReadTransaction) -> Result<Meta, StoreError> {
    let last_log_id: Option<LogId<NodeId>> = read_json(rtx, SM_META, LAST_APPLIED)?;
    let last_membership: Membership = read_json(rtx, SM_META, MEMBERSHIP)?.unwrap_or_default();
    let snapshot_id = match last_log_id {
        Some(id) => format!(
            "{}-{}-{}-{}",
            id.leader_id.term,
            id.leader_id.node_id,
            id.index,
            unix_nanos()
        ),
        None => format!("empty-{}", unix_nanos()),
    };
    Ok(Meta {
        last_log_id,
        last_membership,
        snapshot_id,
    })
}

/// Every table of `rtx` but the bookkeeping one, streamed to a synced file at `path`.
fn write_snapshot_file(rtx: &ReadTransaction, meta: &Meta, path: &Path) -> Result<(), StoreError> {
    let file = fs::File::create(path)?;
    let mut out = SnapshotWriter::new(BufWriter::with_capacity(1 << 20, file), meta)?;
    for name in rtx.list_tables()? {
        if name == SM_META {
            continue;
        }
        out.table(&name)?;
        for item in rtx.open_table(&name)?.iter()? {
            let (key, value) = item?;
            out.entry(key, value)?;
        }
    }
    let file = out.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

/// Replaces every table in `tx` with the records of the snapshot file at `path`, and sets the
/// bookkeeping from `meta`. An error at any record (the checksum comes last) means `tx` must
/// not commit.
fn load_snapshot(tx: &WriteTransaction, meta: &Meta, path: &Path) -> Result<(), StoreError> {
    let (file_meta, mut reader) =
        SnapshotReader::open(BufReader::with_capacity(1 << 20, fs::File::open(path)?))?;
    if file_meta.snapshot_id != meta.snapshot_id || file_meta.last_log_id != meta.last_log_id {
        return Err(damaged(format!(
            "file holds snapshot {} but {} was announced",
            file_meta.snapshot_id, meta.snapshot_id
        )));
    }
    for name in tx.list_tables()? {
        if name != SM_META {
            tx.delete_table(&name)?;
        }
    }
    let mut table = None;
    while let Some(record) = reader.next_record()? {
        match record {
            Record::Table(name) if name == SM_META => {
                return Err(damaged("the snapshot carries the bookkeeping table"));
            }
            Record::Table(name) => {
                drop(table.take());
                table = Some(tx.open_table(&name)?);
            }
            Record::Entry(key, value) => table
                .as_mut()
                .ok_or_else(|| damaged("an entry before any table"))?
                .insert(&key, &value)?,
        }
    }
    drop(table);
    tx.open_table(KV_TABLE)?;
    let mut bookkeeping = tx.open_table(SM_META)?;
    bookkeeping.insert(LAST_APPLIED, &serde_json::to_vec(&meta.last_log_id)?)?;
    bookkeeping.insert(MEMBERSHIP, &serde_json::to_vec(&meta.last_membership)?)?;
    bookkeeping.insert(CURRENT_SNAPSHOT, &serde_json::to_vec(meta)?)?;
    Ok(())
}

fn read_json_tx<T: serde::de::DeserializeOwned>(
    tx: &WriteTransaction,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match tx.open_table(SM_META)?.get(key)? {
        Some(bytes) => Ok(Some(serde_json::from_slice(bytes)?)),
        None => Ok(None),
    }
}

/// A snapshot id names a file: only ids of letters, digits, `-`, `_` and `.` are accepted.
pub(crate) fn check_snapshot_id(id: &str) -> Result<(), StoreError> {
    let fine = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if fine {
        Ok(())
    } else {
        Err(damaged(format!("snapshot id {id:?} cannot name a file")))
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

pub(crate) fn unix_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

impl RaftSnapshotBuilder<TypeConfig> for BoughStateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let sm = self.clone();
        let (meta, path, file) = blocking(Op::WriteSnapshot, move || sm.build_now()).await?;
        let file = tokio::fs::File::from_std(file);
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotData::File { file, path }),
        })
    }
}

impl RaftStateMachine<TypeConfig> for BoughStateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> StorageResult<(Option<LogId<NodeId>>, Membership)> {
        let read = || -> Result<_, StoreError> {
            let rtx = self.inner.db.begin_read()?;
            let last = read_json(&rtx, SM_META, LAST_APPLIED)?;
            let membership = read_json(&rtx, SM_META, MEMBERSHIP)?.unwrap_or_default();
            Ok((last, membership))
        };
        read().map_err(|e| storage_error(Op::ReadStateMachine, e))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Response>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let sm = self.clone();
        blocking(Op::WriteStateMachine, move || sm.apply_now(entries)).await
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<SnapshotData>> {
        let path = self.temp_path();
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| storage_error(Op::WriteSnapshot, e.into()))?;
        Ok(Box::new(SnapshotData::File { file, path }))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<SnapshotData>,
    ) -> StorageResult<()> {
        check_snapshot_id(&meta.snapshot_id).map_err(|e| storage_error(Op::WriteSnapshot, e))?;
        let temp = self
            .receive_into_file(*snapshot)
            .await
            .map_err(|e| storage_error(Op::WriteSnapshot, e))?;
        let sm = self.clone();
        let meta = meta.clone();
        blocking(Op::WriteSnapshot, move || sm.install_now(&meta, &temp)).await
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        self.current_snapshot()
            .await
            .map_err(|e| storage_error(Op::ReadSnapshot, e))
    }
}
