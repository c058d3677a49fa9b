//! The client API of a node, JSON in and out:
//!
//! - `POST /cluster/init` `{"members": {"1": "127.0.0.1:P1", ...}}`: those nodes become the
//!   voters (call it on one node, once).
//! - `POST /kv/put` `{"key", "value"}` and `POST /kv/delete` `{"key"}`: 200 once committed by
//!   a quorum and applied.
//! - `GET /kv/get?key=k`: `{"value": v|null}` after a linearizable read check on the leader;
//!   `&stale=true` answers from this node's state machine, on any node.
//! - `GET /cluster/metrics`: id, state, current leader, last applied index and more.
//!
//! A node that is not the leader does not forward: it answers 421 Misdirected Request with
//! `{"error", "leader_id", "leader_addr"}` (null when unknown) and the client retries there.
//! Every bad request gets a 4xx with `{"error": "..."}`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openraft::error::{
    CheckIsLeaderError, ClientWriteError, ForwardToLeader, InitializeError, RaftError,
};
use openraft::{BasicNode, ServerState};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::server::Node;
use crate::{NodeId, Request as Command};

/// How long a write or a linearizable read may wait for a quorum before a 503.
const QUORUM_WAIT: Duration = Duration::from_secs(10);
/// Longest value accepted (keys are bounded by Bough's key limit).
const MAX_VALUE_LEN: usize = 1 << 20;

/// The client routes.
pub fn routes() -> Router<Arc<Node>> {
    Router::new()
        .route("/cluster/init", post(init))
        .route("/cluster/metrics", get(metrics))
        .route("/kv/put", post(put))
        .route("/kv/delete", post(delete))
        .route("/kv/get", get(read))
}

/// An error answer: a status and a JSON body with at least `error`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: Value,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: json!({ "error": message.into() }),
        }
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }

    /// 421: this node is not the leader; where the leader is, if known.
    fn not_leader(node: &Node, forward: &ForwardToLeader<NodeId, BasicNode>) -> Self {
        let leader_addr = match (&forward.leader_node, forward.leader_id) {
            (Some(n), _) => Some(n.addr.clone()),
            (None, Some(id)) => node_addr(node, id),
            (None, None) => None,
        };
        ApiError {
            status: StatusCode::MISDIRECTED_REQUEST,
            body: json!({
                "error": "not the leader",
                "leader_id": forward.leader_id,
                "leader_addr": leader_addr,
            }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

/// A JSON body whose rejection (bad JSON, wrong type, missing content type) is a JSON error.
#[derive(Debug)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// A query string whose rejection is a JSON error.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(ApiError::new(rejection.status(), rejection.body_text())),
        }
    }
}

/// 404 for any other route.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

fn node_addr(node: &Node, id: NodeId) -> Option<String> {
    let metrics = node.raft.metrics().borrow().clone();
    metrics
        .membership_config
        .nodes()
        .find(|(nid, _)| **nid == id)
        .map(|(_, n)| n.addr.clone())
}

#[derive(Deserialize)]
struct InitBody {
    members: BTreeMap<NodeId, String>,
}

async fn init(
    State(node): State<Arc<Node>>,
    Json(body): Json<InitBody>,
) -> Result<axum::Json<Value>, ApiError> {
    if body.members.is_empty() {
        return Err(ApiError::bad_request("members is empty"));
    }
    if let Some((id, _)) = body.members.iter().find(|(_, addr)| addr.trim().is_empty()) {
        return Err(ApiError::bad_request(format!("member {id} has no address")));
    }
    let members: BTreeMap<NodeId, BasicNode> = body
        .members
        .into_iter()
        .map(|(id, addr)| (id, BasicNode { addr }))
        .collect();
    match node.raft.initialize(members).await {
        Ok(()) => Ok(axum::Json(json!({ "ok": true }))),
        Err(RaftError::APIError(InitializeError::NotAllowed(e))) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("already initialized: {e}"),
        )),
        Err(RaftError::APIError(InitializeError::NotInMembers(e))) => {
            Err(ApiError::bad_request(e.to_string()))
        }
        Err(e) => Err(ApiError::unavailable(e.to_string())),
    }
}

#[derive(Deserialize)]
struct PutBody {
    key: String,
    value: String,
}

#[derive(Deserialize)]
struct DeleteBody {
    key: String,
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::bad_request("key is empty"));
    }
    if key.len() > bough::MAX_KEY_LEN {
        return Err(ApiError::bad_request(format!(
            "key of {} bytes, at most {} allowed",
            key.len(),
            bough::MAX_KEY_LEN
        )));
    }
    Ok(())
}

async fn put(
    State(node): State<Arc<Node>>,
    Json(body): Json<PutBody>,
) -> Result<axum::Json<Value>, ApiError> {
    check_key(&body.key)?;
    if body.value.len() > MAX_VALUE_LEN {
        return Err(ApiError::bad_request(format!(
            "value longer than {MAX_VALUE_LEN} bytes"
        )));
    }
    write(
        &node,
        Command::Put {
            key: body.key,
            value: body.value,
        },
    )
    .await
}

async fn delete(
    State(node): State<Arc<Node>>,
    Json(body): Json<DeleteBody>,
) -> Result<axum::Json<Value>, ApiError> {
    check_key(&body.key)?;
    write(&node, Command::Delete { key: body.key }).await
}

/// Proposes `command` and answers once it is committed and applied.
async fn write(node: &Node, command: Command) -> Result<axum::Json<Value>, ApiError> {
    let result = tokio::time::timeout(QUORUM_WAIT, node.raft.client_write(command))
        .await
        .map_err(|_| ApiError::unavailable("no quorum in time"))?;
    match result {
        Ok(reply) => Ok(axum::Json(json!({
            "ok": true,
            "log_index": reply.log_id.index,
            "previous": reply.data.previous,
        }))),
        Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
            Err(ApiError::not_leader(node, &f))
        }
        Err(e) => Err(ApiError::unavailable(e.to_string())),
    }
}

#[derive(Deserialize)]
struct GetParams {
    key: Option<String>,
    stale: Option<String>,
}

async fn read(
    State(node): State<Arc<Node>>,
    Query(params): Query<GetParams>,
) -> Result<axum::Json<Value>, ApiError> {
    let key = params
        .key
        .ok_or_else(|| ApiError::bad_request("missing query parameter key"))?;
    check_key(&key)?;
    let stale = match params.stale.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") | Some("") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "stale must be true or false, not {other:?}"
            )));
        }
    };
    if !stale {
        let check = tokio::time::timeout(QUORUM_WAIT, node.raft.ensure_linearizable())
            .await
            .map_err(|_| ApiError::unavailable("no quorum in time"))?;
        match check {
            Ok(_) => {}
            Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                return Err(ApiError::not_leader(&node, &f));
            }
            Err(e) => return Err(ApiError::unavailable(e.to_string())),
        }
    }
    let value = node
        .local
        .get(&key)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(axum::Json(json!({ "value": value })))
}

fn state_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "Leader",
        ServerState::Follower => "Follower",
        ServerState::Candidate => "Candidate",
        ServerState::Learner => "Learner",
        ServerState::Shutdown => "Shutdown",
    }
}

async fn metrics(State(node): State<Arc<Node>>) -> axum::Json<Value> {
    let m = node.raft.metrics().borrow().clone();
    let members: BTreeMap<String, String> = m
        .membership_config
        .nodes()
        .map(|(id, n)| (id.to_string(), n.addr.clone()))
        .collect();
    axum::Json(json!({
        "id": m.id,
        "state": state_name(m.state),
        "current_leader": m.current_leader,
        "current_term": m.current_term,
        "last_log_index": m.last_log_index,
        "last_applied": m.last_applied.map(|id| id.index),
        "snapshot": m.snapshot.map(|id| id.index),
        "purged": m.purged.map(|id| id.index),
        "snapshots_installed": node.local.snapshots_installed(),
        "members": members,
        "store": node.local.kind(),
    }))
}
