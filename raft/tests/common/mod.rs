//! A cluster of real `bough-kv` processes on loopback, and a client that follows 421s to
//! the leader. Shared by the cluster test and the benchmark (`examples/cluster_bench.rs`).
//! Every wait is bounded in attempts and time; dropping a [`Cluster`] kills its processes.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One node: where it serves and keeps its files, and its process while it runs.
#[derive(Debug)]
pub struct NodeProc {
    pub id: u64,
    pub addr: String,
    pub dir: PathBuf,
    child: Option<Child>,
}

/// Nodes 1..=n of one cluster in a temporary directory.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<NodeProc>,
    bin: PathBuf,
    args: Vec<String>,
    root: tempfile::TempDir,
    client: Client,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

impl Cluster {
    /// Starts `n` nodes of `bin` with the extra arguments `args`, each on a free port.
    pub fn start(bin: &Path, n: u64, args: &[&str]) -> Cluster {
        let root = tempfile::tempdir().expect("a temporary directory");
        let nodes: Vec<NodeProc> = (1..=n)
            .map(|id| NodeProc {
                id,
                addr: format!("127.0.0.1:{}", free_port()),
                dir: root.path().join(format!("n{id}")),
                child: None,
            })
            .collect();
        let client = Client::new(nodes.iter().map(|n| n.addr.clone()).collect());
        let mut cluster = Cluster {
            nodes,
            bin: bin.to_owned(),
            args: args.iter().map(|a| a.to_string()).collect(),
            root,
            client,
        };
        for i in 0..cluster.nodes.len() {
            cluster.spawn(i);
        }
        cluster
    }

    /// A client of this cluster (cheap to clone).
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Starts node `i` (index into `nodes`) on its directory and address; returns once it
    /// printed `listening on`.
    pub fn spawn(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        assert!(node.child.is_none(), "node {} already runs", node.id);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.path().join(format!("n{}.log", node.id)))
            .expect("a log file");
        let mut child = Command::new(&self.bin)
            .arg("--id")
            .arg(node.id.to_string())
            .arg("--dir")
            .arg(&node.dir)
            .arg("--addr")
            .arg(&node.addr)
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn bough-kv");
        let stdout = child.stdout.take().expect("piped stdout");
        node.child = Some(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("listening on ") {
                    let _ = tx.send(line.clone());
                }
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("node {} did not say listening", node.id));
        assert_eq!(line, format!("listening on {}", node.addr));
    }

    /// SIGKILLs node `i` and reaps it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// `POST /cluster/init` on the first node with every node as a voter.
    pub async fn init(&self) {
        let members: serde_json::Map<String, Value> = self
            .nodes
            .iter()
            .map(|n| (n.id.to_string(), Value::String(n.addr.clone())))
            .collect();
        let url = format!("http://{}/cluster/init", self.nodes[0].addr);
        let reply = self
            .client
            .http
            .post(url)
            .json(&json!({ "members": members }))
            .send()
            .await
            .expect("init");
        assert_eq!(reply.status(), 200, "init: {:?}", reply.text().await);
    }

    /// `GET /cluster/metrics` of node `i`, if it answers.
    pub async fn metrics(&self, i: usize) -> Option<Value> {
        let url = format!("http://{}/cluster/metrics", self.nodes[i].addr);
        let reply = self.client.http.get(url).send().await.ok()?;
        reply.json().await.ok()
    }

    /// The index of the leader (not `except`) that a majority of the nodes follows in its
    /// term, within `limit`. A restarted node may call itself leader of an old term for a
    /// moment; a majority cannot.
    pub async fn wait_leader(&self, except: Option<usize>, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        let majority = self.nodes.len() / 2 + 1;
        while Instant::now() < deadline {
            let mut all = Vec::new();
            for i in 0..self.nodes.len() {
                if self.nodes[i].child.is_some() {
                    if let Some(m) = self.metrics(i).await {
                        all.push((i, m));
                    }
                }
            }
            for (i, m) in &all {
                if Some(*i) == except || m["state"] != "Leader" {
                    continue;
                }
                let followers = all
                    .iter()
                    .filter(|(_, o)| {
                        o["current_leader"] == m["id"] && o["current_term"] == m["current_term"]
                    })
                    .count();
                if followers >= majority {
                    return *i;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no leader within {limit:?}");
    }

    /// Waits until node `i` applied as far as node `leader`, within `limit`.
    pub async fn wait_caught_up(&self, i: usize, leader: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            let target = self
                .metrics(leader)
                .await
                .map(|m| m["last_applied"].clone());
            let at = self.metrics(i).await.map(|m| m["last_applied"].clone());
            if target.is_some() && target == at {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "node {} did not catch up within {limit:?}",
            self.nodes[i].id
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

/// A client that remembers the leader and follows 421 answers to it.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    addrs: Vec<String>,
    leader: Arc<Mutex<Option<String>>>,
}

/// Attempts and time a request gets before it is reported failed.
const ATTEMPTS: usize = 400;
const REQUEST_LIMIT: Duration = Duration::from_secs(30);

impl Client {
    fn new(addrs: Vec<String>) -> Client {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .connect_timeout(Duration::from_secs(1))
            .build()
            .expect("an HTTP client");
        Client {
            http,
            addrs,
            leader: Arc::new(Mutex::new(None)),
        }
    }

    fn leader_guess(&self) -> Option<String> {
        self.leader.lock().unwrap().clone()
    }

    fn set_leader(&self, addr: Option<String>) {
        *self.leader.lock().unwrap() = addr;
    }

    /// Sends `POST path body` (or `GET path` if `body` is `None`) to the leader, following
    /// 421s and retrying unavailable nodes; the JSON answer of a 200.
    pub async fn call(&self, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let deadline = Instant::now() + REQUEST_LIMIT;
        let mut last = String::from("no attempt");
        for attempt in 0..ATTEMPTS {
            if Instant::now() > deadline {
                break;
            }
            let addr = self
                .leader_guess()
                .unwrap_or_else(|| self.addrs[attempt % self.addrs.len()].clone());
            let url = format!("http://{addr}{path}");
            let request = match body {
                Some(body) => self.http.post(url).json(body),
                None => self.http.get(url),
            };
            match request.send().await {
                Ok(reply) if reply.status() == 200 => {
                    self.set_leader(Some(addr));
                    return reply.json().await.map_err(|e| e.to_string());
                }
                Ok(reply) if reply.status() == 421 => {
                    let answer: Value = reply.json().await.unwrap_or_default();
                    let leader = answer["leader_addr"].as_str().map(str::to_owned);
                    if leader.is_none() {
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                    self.set_leader(leader);
                    last = format!("421 {answer}");
                }
                Ok(reply) if reply.status().is_client_error() => {
                    return Err(format!(
                        "{}: {}",
                        reply.status(),
                        reply.text().await.unwrap_or_default()
                    ));
                }
                Ok(reply) => {
                    last = format!("{}", reply.status());
                    self.set_leader(None);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
                Err(e) => {
                    last = e.to_string();
                    self.set_leader(None);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                }
            }
        }
        Err(format!("{path}: gave up, last answer {last}"))
    }

    /// Puts `key` = `value` through the leader.
    pub async fn put(&self, key: &str, value: &str) -> Result<(), String> {
        self.call("/kv/put", Some(&json!({ "key": key, "value": value })))
            .await
            .map(drop)
    }

    /// A linearizable read through the leader.
    pub async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let answer = self.call(&format!("/kv/get?key={key}"), None).await?;
        Ok(answer["value"].as_str().map(str::to_owned))
    }

    /// A stale read on the node at `addr`.
    pub async fn get_stale(&self, addr: &str, key: &str) -> Result<Option<String>, String> {
        let url = format!("http://{addr}/kv/get?key={key}&stale=true");
        let reply = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if reply.status() != 200 {
            return Err(format!("stale read of {key}: {}", reply.status()));
        }
        let answer: Value = reply.json().await.map_err(|e| e.to_string())?;
        Ok(answer["value"].as_str().map(str::to_owned))
    }
}

/// The key and value of write number `i`.
pub fn key_value(i: u64) -> (String, String) {
    (format!("key{i:07}"), format!("value-{i}"))
}

/// Puts keys `range` with `clients` concurrent writers.
pub async fn write_keys(client: &Client, range: std::ops::Range<u64>, clients: u64) {
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let range = range.clone();
        tasks.push(tokio::spawn(async move {
            for i in range.filter(|i| i % clients == c) {
                let (key, value) = key_value(i);
                client
                    .put(&key, &value)
                    .await
                    .unwrap_or_else(|e| panic!("put {key}: {e}"));
            }
        }));
    }
    for task in tasks {
        task.await.expect("a writer task");
    }
}
