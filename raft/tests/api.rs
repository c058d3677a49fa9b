//! The client API's shapes and its answers to bad requests, on one real bough-kv process:
//! every bad request is a 4xx with a JSON `error`, and the node keeps serving.

mod common;

use std::path::Path;
use std::time::Duration;

use common::Cluster;
use serde_json::{Value, json};

struct Raw {
    http: reqwest::Client,
    base: String,
}

impl Raw {
    async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let reply = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("the node answers");
        let status = reply.status().as_u16();
        (status, reply.json().await.expect("a JSON answer"))
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let reply = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("the node answers");
        let status = reply.status().as_u16();
        (status, reply.json().await.expect("a JSON answer"))
    }
}

fn assert_error(answer: (u16, Value), status: u16, what: &str) {
    assert_eq!(answer.0, status, "{what}: {}", answer.1);
    assert!(answer.1["error"].is_string(), "{what}: {}", answer.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shapes_and_bad_requests_on_bough() {
    shapes_and_bad_requests("bough").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shapes_and_bad_requests_in_memory() {
    shapes_and_bad_requests("memory").await;
}

async fn shapes_and_bad_requests(store: &str) {
    let bin = Path::new(env!("CARGO_BIN_EXE_bough-kv"));
    let cluster = Cluster::start(bin, 1, &["--store", store]);
    let addr = cluster.nodes[0].addr.clone();
    let raw = Raw {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap(),
        base: format!("http://{addr}"),
    };

    // Before init there is no leader: 421 with nulls.
    let (status, body) = raw.post("/kv/put", r#"{"key": "a", "value": "1"}"#).await;
    assert_eq!(status, 421, "{body}");
    assert_eq!(body["leader_id"], Value::Null);
    assert_eq!(body["leader_addr"], Value::Null);
    let (status, body) = raw.get("/cluster/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], 1);
    assert_eq!(body["current_leader"], Value::Null);
    assert_eq!(body["last_applied"], Value::Null);

    assert_error(
        raw.post("/cluster/init", r#"{"members": {}}"#).await,
        400,
        "no members",
    );
    assert_error(
        raw.post("/cluster/init", r#"{"members": {"x": "a"}}"#)
            .await,
        400,
        "a bad id",
    );
    assert_error(raw.post("/cluster/init", "not json").await, 400, "not JSON");
    cluster.init().await;
    let leader = cluster.wait_leader(None, Duration::from_secs(20)).await;
    assert_eq!(leader, 0);
    let members = json!({ "members": { "1": addr } }).to_string();
    assert_error(
        raw.post("/cluster/init", &members).await,
        409,
        "a second init",
    );

    let (status, body) = raw.post("/kv/put", r#"{"key": "a", "value": "1"}"#).await;
    assert_eq!((status, &body["ok"]), (200, &json!(true)), "{body}");
    assert_eq!(
        raw.get("/kv/get?key=a").await,
        (200, json!({ "value": "1" }))
    );
    assert_eq!(
        raw.get("/kv/get?key=a&stale=true").await,
        (200, json!({ "value": "1" }))
    );
    assert_eq!(
        raw.get("/kv/get?key=b").await,
        (200, json!({ "value": null }))
    );
    let (status, body) = raw.post("/kv/delete", r#"{"key": "a"}"#).await;
    assert_eq!((status, &body["previous"]), (200, &json!("1")), "{body}");
    assert_eq!(
        raw.get("/kv/get?key=a").await,
        (200, json!({ "value": null }))
    );
    // Metrics are published after the apply, a moment later: wait a bounded while for them.
    let mut metrics = raw.get("/cluster/metrics").await;
    for _ in 0..200 {
        if metrics.1["last_applied"].as_u64().is_some_and(|n| n >= 3) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        metrics = raw.get("/cluster/metrics").await;
    }
    let (status, body) = metrics;
    assert_eq!(status, 200);
    assert_eq!(body["state"], "Leader");
    assert_eq!(body["store"], store);
    assert_eq!(body["current_leader"], 1);
    assert!(body["last_applied"].as_u64().unwrap() >= 3, "{body}");

    let long_key = "k".repeat(bough::MAX_KEY_LEN + 1);
    let cases = [
        (
            raw.post("/kv/put", r#"{"key": "a"}"#).await,
            422,
            "no value",
        ),
        (
            raw.post("/kv/put", r#"{"key": 1, "value": "1"}"#).await,
            422,
            "a number key",
        ),
        (
            raw.post("/kv/put", r#"{"key": "", "value": "1"}"#).await,
            400,
            "an empty key",
        ),
        (
            raw.post(
                "/kv/put",
                &json!({ "key": long_key, "value": "" }).to_string(),
            )
            .await,
            400,
            "a long key",
        ),
        (raw.post("/kv/put", "{").await, 400, "broken JSON"),
        (
            raw.post("/kv/delete", "{}").await,
            422,
            "delete without key",
        ),
        (raw.get("/kv/get").await, 400, "get without key"),
        (
            raw.get("/kv/get?key=a&stale=maybe").await,
            400,
            "a bad stale",
        ),
        (raw.get("/no/such/route").await, 404, "an unknown route"),
        (raw.post("/raft/append", "[]").await, 422, "a bad append"),
        (
            raw.post("/raft/snapshot", "{}").await,
            422,
            "a bad snapshot chunk",
        ),
    ];
    for (answer, status, what) in cases {
        assert_error(answer, status, what);
    }
    // Still serving.
    let (status, _) = raw.post("/kv/put", r#"{"key": "z", "value": "26"}"#).await;
    assert_eq!(status, 200);
}
