//! Bough as the storage of an openraft cluster.
//!
//! - [`log_store::BoughLogStore`]: the Raft log, vote, committed id and purge point in one
//!   Bough file (`log.bough`).
//! - [`state_machine::BoughStateMachine`]: the application's key-value table with the last
//!   applied log id and membership in another file (`sm.bough`), written in the same
//!   transaction as the data; snapshots streamed from a Bough read transaction.
//! - [`snapshot`]: the checksummed snapshot file format and the snapshot handle openraft moves.
//! - [`memory`]: the same traits in memory, to measure what Bough costs.
//! - [`network`], [`server`], [`api`]: the `bough-kv` server, one HTTP address per node for
//!   Raft RPCs and clients.
//!
//! DESIGN.md, "Replication", says what lives in which file and why a snapshot is consistent.

pub mod api;
pub mod errors;
pub mod log_store;
pub mod memory;
pub mod network;
pub mod server;
pub mod snapshot;
pub mod state_machine;

use std::fmt;

use serde::{Deserialize, Serialize};

/// A node's id in the cluster.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The openraft type configuration of bough-kv.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = snapshot::SnapshotData,
        Responder = openraft::impls::OneshotResponder<TypeConfig>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// The Raft handle of a bough-kv node.
pub type Raft = openraft::Raft<TypeConfig>;

/// A state-machine command, the payload of a normal log entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Set `key` to `value`.
    Put {
        /// The key.
        key: String,
        /// The new value.
        value: String,
    },
    /// Remove `key` (no error if absent).
    Delete {
        /// The key.
        key: String,
    },
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Put { key, .. } => write!(f, "put {key}"),
            Request::Delete { key } => write!(f, "delete {key}"),
        }
    }
}

/// What applying one entry returns: the key's previous value, if any.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    /// The value the key held before this entry (`None` for blank and membership entries).
    pub previous: Option<String>,
}

/// The name of the application's key-value table in the state machine file.
pub const KV_TABLE: &str = "kv";
