//! One error type for the stores, and its mapping onto openraft's `StorageError`, which
//! names what was being done (reading logs, writing the vote...) beside the cause.

use std::fmt;
use std::path::PathBuf;

use openraft::{StorageError, StorageIOError};

use crate::NodeId;

/// What went wrong inside a store.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The Bough database refused or failed.
    Bough(bough::Error),
    /// A file operation failed.
    Io(std::io::Error),
    /// A stored record could not be encoded or decoded.
    Encoding(serde_json::Error),
    /// A snapshot file is not what its format promises: refused before any change.
    DamagedSnapshot {
        /// What is wrong with it.
        reason: String,
    },
    /// The current snapshot's file is missing.
    MissingSnapshot(PathBuf),
    /// A blocking task panicked or was cancelled.
    Task(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Bough(e) => write!(f, "bough: {e}"),
            StoreError::Io(e) => write!(f, "i/o: {e}"),
            StoreError::Encoding(e) => write!(f, "encoding: {e}"),
            StoreError::DamagedSnapshot { reason } => write!(f, "damaged snapshot: {reason}"),
            StoreError::MissingSnapshot(path) => {
                write!(f, "snapshot file {} is missing", path.display())
            }
            StoreError::Task(e) => write!(f, "blocking task failed: {e}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Bough(e) => Some(e),
            StoreError::Io(e) => Some(e),
            StoreError::Encoding(e) => Some(e),
            _ => None,
        }
    }
}

impl From<bough::Error> for StoreError {
    fn from(e: bough::Error) -> Self {
        StoreError::Bough(e)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Encoding(e)
    }
}

/// A damaged-snapshot error with its reason.
pub(crate) fn damaged(reason: impl Into<String>) -> StoreError {
    StoreError::DamagedSnapshot {
        reason: reason.into(),
    }
}

/// What a store was doing when it failed, for openraft's error subject and verb.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    ReadLogs,
    WriteLogs,
    ReadVote,
    WriteVote,
    ReadStateMachine,
    WriteStateMachine,
    ReadSnapshot,
    WriteSnapshot,
}

/// openraft's error for `op` failing with `e`.
pub(crate) fn storage_error(op: Op, e: StoreError) -> StorageError<NodeId> {
    let io = match op {
        Op::ReadLogs => StorageIOError::read_logs(&e),
        Op::WriteLogs => StorageIOError::write_logs(&e),
        Op::ReadVote => StorageIOError::read_vote(&e),
        Op::WriteVote => StorageIOError::write_vote(&e),
        Op::ReadStateMachine => StorageIOError::read_state_machine(&e),
        Op::WriteStateMachine => StorageIOError::write_state_machine(&e),
        Op::ReadSnapshot => StorageIOError::read_snapshot(None, &e),
        Op::WriteSnapshot => StorageIOError::write_snapshot(None, &e),
    };
    io.into()
}

/// Runs `f` on tokio's blocking pool (Bough calls sync and may wait for the writer), mapping
/// its failure to openraft's error for `op`.
pub(crate) async fn blocking<T, F>(op: Op, f: F) -> Result<T, StorageError<NodeId>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(|e| storage_error(op, e)),
        Err(join) => Err(storage_error(op, StoreError::Task(join.to_string()))),
    }
}
