//! The CPU path of a small commit, to profile (issue 18, part 3): loads a table of random
//! entries in one transaction, then commits random inserts (one per transaction unless
//! `--batch`), without sync (the peers' workload 4) or durably, and prints commits per second
//! and the median and 90th percentile of one commit's time from begin to return (the median
//! shrugs off the disk's occasional slow sync, which the mean carries whole).
//!
//! Run: `cargo run --release --example commit_path -- [--entries N] [--commits N] [--batch N]
//! [--threads N] [--durable] [--chained] [--wal] [--path DIR]` (defaults: 200,000 entries, 20,000 commits
//! of one insert each by one thread, no sync, copy-on-write, a fresh directory under the system
//! temp dir, deleted afterwards). With several threads they commit at once, each its share
//! (durable ones share syncs: DESIGN.md, "Group commit"). `--path` keeps the database in DIR,
//! and a later run on it skips the load. `--chained` commits with `CommitProtocol::Chained`
//! (DESIGN.md, "Chained commits"). To profile: `perf record --call-graph dwarf
//! target/release/examples/commit_path` after a build.
//!
//! Data: 24-byte random keys and 150-byte values from a splitmix64, as the peer comparison's.

#[path = "../benches/support/splitmix64.rs"]
#[allow(dead_code)] // shared with the benchmarks, which use all of it
mod splitmix64;

use std::error::Error;
use std::time::Instant;

use bough::{CommitProtocol, Database, Durability, Mode};
use splitmix64::SplitMix64;

fn key(rng: &mut SplitMix64) -> [u8; 24] {
    let mut key = [0u8; 24];
    for chunk in key.chunks_mut(8) {
        chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
    }
    key
}

fn number_after(args: &[String], flag: &str, default: usize) -> Result<usize, Box<dyn Error>> {
    match args.iter().position(|a| a == flag) {
        Some(at) => Ok(args.get(at + 1).ok_or("a number must follow")?.parse()?),
        None => Ok(default),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let entries = number_after(&args, "--entries", 200_000)?;
    let commits = number_after(&args, "--commits", 20_000)?;
    let threads = number_after(&args, "--threads", 1)?.max(1);
    let batch = number_after(&args, "--batch", 1)?.max(1);
    let durability = match args.iter().any(|a| a == "--durable") {
        true => Durability::Immediate,
        false => Durability::None,
    };
    let mode = match args.iter().any(|a| a == "--wal") {
        true => Mode::Wal,
        false => Mode::CopyOnWrite,
    };
    let protocol = match args.iter().any(|a| a == "--chained") {
        true => CommitProtocol::Chained,
        false => CommitProtocol::OneSync,
    };
    let kept = args
        .iter()
        .position(|a| a == "--path")
        .and_then(|at| args.get(at + 1));
    let dir = match kept {
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::temp_dir().join(format!("bough-commit-path-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let fresh = !dir.join("db.bough").exists();
    let db = Database::builder()
        .mode(mode)
        .durability(durability)
        .commit_protocol(protocol)
        .open(dir.join("db.bough"))?;
    let mut rng = SplitMix64::new(1);
    let value = [0x5Au8; 150];
    if fresh {
        let load = Instant::now();
        let tx = db.begin_write()?;
        {
            let mut table = tx.open_table("t")?;
            for _ in 0..entries {
                table.insert(&key(&mut rng), &value)?;
            }
        }
        tx.commit()?;
        println!(
            "loaded {entries} entries in one transaction: {:.2} s",
            load.elapsed().as_secs_f64()
        );
    }
    let syncs_before = db.stats()?.commit_syncs;
    let start = Instant::now();
    let mut latencies = std::thread::scope(|scope| -> Result<Vec<f64>, bough::Error> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let db = &db;
                let mut rng = SplitMix64::new(1_000 + t as u64);
                scope.spawn(move || -> Result<Vec<f64>, bough::Error> {
                    let mut latencies = Vec::with_capacity(commits / threads);
                    for _ in 0..commits / threads {
                        let began = Instant::now();
                        let tx = db.begin_write()?;
                        {
                            let mut table = tx.open_table("t")?;
                            for _ in 0..batch {
                                table.insert(&key(&mut rng), &value)?;
                            }
                        }
                        tx.commit()?;
                        latencies.push(began.elapsed().as_secs_f64() * 1e6);
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.join().expect("a committing thread panicked")?);
        }
        Ok(all)
    })?;
    latencies.sort_by(f64::total_cmp);
    let elapsed = start.elapsed().as_secs_f64();
    let done = commits / threads * threads;
    println!(
        "{done} commits of {batch} insert(s) into {entries} entries by {threads} thread(s) \
         ({durability:?}, {mode:?}): {:.0} commits/s, {:.1} us each, {} syncs; one commit \
         (begin to return): median {:.1} us, 90th percentile {:.1} us",
        done as f64 / elapsed,
        elapsed * 1e6 / done as f64,
        db.stats()?.commit_syncs - syncs_before,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
    );
    drop(db);
    if kept.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}

/// The value below which `fraction` of the sorted `values` lie (0 for none).
fn percentile(values: &[f64], fraction: f64) -> f64 {
    match values.len() {
        0 => 0.0,
        n => values[((n - 1) as f64 * fraction).round() as usize],
    }
}
