//! A bough-kv node: the Raft instance on its stores, and the HTTP server that carries both
//! Raft's RPCs ([`crate::network`]'s routes) and the client API ([`crate::api`]).

use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, VoteRequest, VoteResponse};
use openraft::{Config, SnapshotPolicy};

use crate::api::{self, ApiError, Json};
use crate::errors::StoreError;
use crate::log_store::BoughLogStore;
use crate::memory::{MemLogStore, MemStateMachine};
use crate::network::{APPEND_ROUTE, Network, SNAPSHOT_ROUTE, SnapshotChunk, VOTE_ROUTE};
use crate::state_machine::BoughStateMachine;
use crate::{NodeId, Raft, TypeConfig};

/// Largest request body: a snapshot chunk (3 MiB by default) in base64, with room to spare.
const BODY_LIMIT: usize = 16 << 20;

/// Which storage a node runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    /// Bough files in the node's directory (durable).
    Bough,
    /// In memory, for comparison (nothing survives the process).
    Memory,
}

/// Everything a node is started with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// This node's id.
    pub id: NodeId,
    /// The directory of its files (log.bough, sm.bough, snapshots/).
    pub dir: PathBuf,
    /// The address it serves on, for Raft and clients.
    pub addr: SocketAddr,
    /// Its storage.
    pub store: StoreKind,
    /// Build a snapshot once this many entries were applied since the last one.
    pub snapshot_logs: u64,
    /// Entries kept in the log behind a snapshot (a follower further behind gets the snapshot).
    pub keep_logs: u64,
    /// Leader heartbeat interval, milliseconds.
    pub heartbeat_ms: u64,
    /// Election timeout, lower bound in milliseconds (the upper bound is twice it).
    pub election_ms: u64,
}

impl Settings {
    /// openraft's configuration for these settings, validated.
    pub fn raft_config(&self) -> Result<Config, ServerError> {
        let config = Config {
            cluster_name: "bough-kv".to_owned(),
            heartbeat_interval: self.heartbeat_ms,
            election_timeout_min: self.election_ms,
            election_timeout_max: self.election_ms * 2,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(self.snapshot_logs),
            max_in_snapshot_log_to_keep: self.keep_logs,
            install_snapshot_timeout: 10_000,
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| ServerError::Config(e.to_string()))
    }
}

/// The state machine as this node reads it locally: stale reads and metrics.
#[derive(Clone, Debug)]
pub enum LocalState {
    /// The Bough state machine.
    Bough(BoughStateMachine),
    /// The in-memory one.
    Memory(MemStateMachine),
}

impl LocalState {
    /// The value of `key` in this node's state machine.
    pub fn get(&self, key: &str) -> Result<Option<String>, StoreError> {
        match self {
            LocalState::Bough(sm) => sm.get(key),
            LocalState::Memory(sm) => Ok(sm.get(key)),
        }
    }

    /// How many snapshots this process installed from a leader.
    pub fn snapshots_installed(&self) -> u64 {
        match self {
            LocalState::Bough(sm) => sm.snapshots_installed(),
            LocalState::Memory(sm) => sm.snapshots_installed(),
        }
    }

    /// The store's name, as metrics report it.
    pub fn kind(&self) -> &'static str {
        match self {
            LocalState::Bough(_) => "bough",
            LocalState::Memory(_) => "memory",
        }
    }
}

/// A running node: its Raft handle and its local state machine.
#[derive(Clone)]
pub struct Node {
    /// This node's id.
    pub id: NodeId,
    /// The Raft instance.
    pub raft: Raft,
    /// The local state machine.
    pub local: LocalState,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// Why a node could not start or serve.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerError {
    /// A setting openraft refuses.
    Config(String),
    /// The stores could not be opened.
    Store(StoreError),
    /// Raft could not start.
    Raft(String),
    /// The address could not be served.
    Io(std::io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Config(e) => write!(f, "bad raft settings: {e}"),
            ServerError::Store(e) => write!(f, "cannot open the stores: {e}"),
            ServerError::Raft(e) => write!(f, "raft did not start: {e}"),
            ServerError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ServerError {}

impl From<StoreError> for ServerError {
    fn from(e: StoreError) -> Self {
        ServerError::Store(e)
    }
}

impl From<std::io::Error> for ServerError {
    fn from(e: std::io::Error) -> Self {
        ServerError::Io(e)
    }
}

/// Opens the stores and starts Raft on them.
pub async fn start(settings: &Settings) -> Result<Node, ServerError> {
    let config = Arc::new(settings.raft_config()?);
    let network = Network::new();
    let raft_error = |e: openraft::error::Fatal<NodeId>| ServerError::Raft(e.to_string());
    let (raft, local) = match settings.store {
        StoreKind::Bough => {
            std::fs::create_dir_all(&settings.dir)?;
            let log = BoughLogStore::open(settings.dir.join("log.bough"))?;
            let sm = BoughStateMachine::open(&settings.dir)?;
            let raft = Raft::new(settings.id, config, network, log, sm.clone()).await;
            (raft.map_err(raft_error)?, LocalState::Bough(sm))
        }
        StoreKind::Memory => {
            let sm = MemStateMachine::default();
            let raft = Raft::new(
                settings.id,
                config,
                network,
                MemLogStore::default(),
                sm.clone(),
            )
            .await;
            (raft.map_err(raft_error)?, LocalState::Memory(sm))
        }
    };
    Ok(Node {
        id: settings.id,
        raft,
        local,
    })
}

/// Every route of a node.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route(APPEND_ROUTE, post(append))
        .route(VOTE_ROUTE, post(vote))
        .route(SNAPSHOT_ROUTE, post(snapshot))
        .merge(api::routes())
        .fallback(api::not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(node)
}

/// Starts the node, serves until Ctrl-C or SIGTERM, then shuts Raft down. Prints
/// `listening on ADDR` (flushed) once the address is bound.
pub async fn serve(settings: Settings) -> Result<(), ServerError> {
    let node = Arc::new(start(&settings).await?);
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    let addr = listener.local_addr()?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "listening on {addr}")?;
    stdout.flush()?;
    axum::serve(listener, router(node.clone()))
        .with_graceful_shutdown(stop_signal())
        .await?;
    node.raft
        .shutdown()
        .await
        .map_err(|e| ServerError::Raft(e.to_string()))
}

async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

type RaftReply<T> = axum::Json<Result<T, openraft::error::RaftError<NodeId>>>;

async fn append(
    State(node): State<Arc<Node>>,
    Json(req): Json<AppendEntriesRequest<TypeConfig>>,
) -> RaftReply<AppendEntriesResponse<NodeId>> {
    axum::Json(node.raft.append_entries(req).await)
}

async fn vote(
    State(node): State<Arc<Node>>,
    Json(req): Json<VoteRequest<NodeId>>,
) -> RaftReply<VoteResponse<NodeId>> {
    axum::Json(node.raft.vote(req).await)
}

async fn snapshot(State(node): State<Arc<Node>>, Json(chunk): Json<SnapshotChunk>) -> Response {
    match chunk.into_request() {
        Some(req) => axum::Json(node.raft.install_snapshot(req).await).into_response(),
        None => ApiError::bad_request("snapshot data is not base64").into_response(),
    }
}
