//! Raft RPCs between nodes over HTTP with JSON bodies: `POST /raft/append`, `/raft/vote` and
//! `/raft/snapshot` on the target node's address. A reply body is the JSON of the handler's
//! `Result`, so a remote Raft error arrives as itself; snapshot chunks carry their bytes in
//! base64 ([`SnapshotChunk`]).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use openraft::error::{
    InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Vote};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::snapshot::Meta;
use crate::{NodeId, TypeConfig};

/// The route of AppendEntries.
pub const APPEND_ROUTE: &str = "/raft/append";
/// The route of RequestVote.
pub const VOTE_ROUTE: &str = "/raft/vote";
/// The route of InstallSnapshot chunks.
pub const SNAPSHOT_ROUTE: &str = "/raft/snapshot";

/// One InstallSnapshot chunk on the wire: openraft's request with the bytes in base64
/// rather than as a JSON array of numbers.
#[derive(Debug, Serialize, Deserialize)]
pub struct SnapshotChunk {
    /// The leader's vote.
    pub vote: Vote<NodeId>,
    /// The snapshot's meta.
    pub meta: Meta,
    /// Where the chunk starts in the snapshot stream.
    pub offset: u64,
    /// The chunk's bytes, base64.
    pub data: String,
    /// Whether this is the last chunk.
    pub done: bool,
}

impl SnapshotChunk {
    /// The wire form of `req`.
    pub fn from_request(req: InstallSnapshotRequest<TypeConfig>) -> Self {
        SnapshotChunk {
            vote: req.vote,
            meta: req.meta,
            offset: req.offset,
            data: BASE64.encode(&req.data),
            done: req.done,
        }
    }

    /// Back to openraft's request; `None` if the data is not base64.
    pub fn into_request(self) -> Option<InstallSnapshotRequest<TypeConfig>> {
        Some(InstallSnapshotRequest {
            vote: self.vote,
            meta: self.meta,
            offset: self.offset,
            data: BASE64.decode(self.data).ok()?,
            done: self.done,
        })
    }
}

/// Makes a [`Connection`] per target node, sharing one HTTP client (and its connection pool).
#[derive(Clone, Debug)]
pub struct Network {
    client: reqwest::Client,
}

impl Network {
    /// A network with a fresh HTTP client.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Network { client }
    }
}

impl Default for Network {
    fn default() -> Self {
        Self::new()
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection {
        Connection {
            client: self.client.clone(),
            target,
            base: format!("http://{}", node.addr),
        }
    }
}

/// RPCs to one node.
#[derive(Debug)]
pub struct Connection {
    client: reqwest::Client,
    target: NodeId,
    base: String,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

impl Connection {
    async fn post<Req, Resp, E>(
        &self,
        route: &str,
        body: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let url = format!("{}{route}", self.base);
        let reply = self
            .client
            .post(url)
            .json(body)
            .timeout(option.hard_ttl())
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        let result: Result<Resp, RaftError<NodeId, E>> = reply
            .json()
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.post(APPEND_ROUTE, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.post(SNAPSHOT_ROUTE, &SnapshotChunk::from_request(rpc), &option)
            .await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.post(VOTE_ROUTE, &rpc, &option).await
    }
}
