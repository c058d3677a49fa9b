//! `bough-kv`: a replicated key-value server, openraft on Bough.
//!
//! `bough-kv --id N --dir DIR --addr 127.0.0.1:PORT` serves Raft and clients on one address
//! and prints `listening on ADDR` once it does. README.md, "Replication", shows a cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use bough_raft::server::{self, Settings, StoreKind};
use clap::Parser;

/// A replicated key-value server: openraft on Bough.
#[derive(Parser, Debug)]
#[command(name = "bough-kv", version)]
struct Args {
    /// This node's id in the cluster.
    #[arg(long)]
    id: u64,
    /// Directory of this node's files (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// Address to serve Raft and clients on.
    #[arg(long)]
    addr: SocketAddr,
    /// Storage: bough (durable files in --dir) or memory (for comparison; nothing survives).
    #[arg(long, value_enum, default_value = "bough", env = "BOUGH_KV_STORE")]
    store: StoreKind,
    /// Build a snapshot once this many entries were applied since the last one.
    #[arg(long, default_value_t = 10_000, env = "BOUGH_KV_SNAPSHOT_LOGS")]
    snapshot_logs: u64,
    /// Log entries kept behind a snapshot; a follower further behind receives the snapshot.
    #[arg(long, default_value_t = 1_000, env = "BOUGH_KV_KEEP_LOGS")]
    keep_logs: u64,
    /// Leader heartbeat interval in milliseconds.
    #[arg(long, default_value_t = 100, env = "BOUGH_KV_HEARTBEAT_MS")]
    heartbeat_ms: u64,
    /// Election timeout in milliseconds (lower bound; the upper bound is twice it).
    #[arg(long, default_value_t = 500, env = "BOUGH_KV_ELECTION_MS")]
    election_ms: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let settings = Settings {
        id: args.id,
        dir: args.dir,
        addr: args.addr,
        store: args.store,
        snapshot_logs: args.snapshot_logs,
        keep_logs: args.keep_logs,
        heartbeat_ms: args.heartbeat_ms,
        election_ms: args.election_ms,
    };
    match server::serve(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bough-kv: {e}");
            ExitCode::FAILURE
        }
    }
}
