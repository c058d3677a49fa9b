//! The two storage modes under criterion: one group per mode (`copy_on_write`, `write_ahead_log`)
//! with the same three benchmarks, so their figures can be read side by side. The fuller report
//! (bulk load, scans, reads beside a writer, recovery, write amplification, file sizes) is
//! `cargo run --release --example compare_modes`.
//!
//! Each mode gets its own database, loaded with the same 100k entries (24-byte random keys,
//! 150-byte values) and checkpointed before the group runs. The write benchmarks then add to that
//! table; log mode checkpoints at its default threshold, inside the commits that cross it.
//!
//! Run: `cargo bench --bench modes` (add `-- write_ahead_log` to run one group). Durable figures
//! depend on the file system under the temp dir (`TMPDIR`).

#[path = "support/splitmix64.rs"]
mod splitmix64;

use std::path::Path;
use std::time::{Duration, Instant};

use bough::{Database, Durability, Mode};
use criterion::{Criterion, SamplingMode, Throughput};
use splitmix64::SplitMix64;

const ENTRIES: usize = 100_000;
const KEY_LEN: usize = 24;
const VALUE_LEN: usize = 150;
const TABLE: &str = "bench";
const BATCH: usize = 1000;
const LOAD_CHUNK: usize = 10_000;

type Key = [u8; KEY_LEN];

/// Opens a new database in `mode` at `path` and loads `keys` (only the last commit syncs).
fn load(path: &Path, mode: Mode, keys: &[Key]) -> Database {
    let db = Database::builder()
        .mode(mode)
        .open(path)
        .expect("open database");
    let mut rng = SplitMix64::new(0x5EED);
    let mut value = [0; VALUE_LEN];
    for (i, chunk) in keys.chunks(LOAD_CHUNK).enumerate() {
        let mut wtx = db.begin_write().expect("begin_write");
        if (i + 1) * LOAD_CHUNK < keys.len() {
            wtx.set_durability(Durability::None);
        }
        {
            let mut table = wtx.open_table(TABLE).expect("open_table");
            for key in chunk {
                rng.fill(&mut value);
                table.insert(key, &value).expect("insert");
            }
        }
        wtx.commit().expect("commit");
    }
    assert!(db.checkpoint().expect("checkpoint"), "no reader is open");
    db
}

/// One durable write transaction inserting `count` fresh random entries.
fn commit_inserts(db: &Database, rng: &mut SplitMix64, count: usize) {
    let (mut key, mut value) = ([0; KEY_LEN], [0; VALUE_LEN]);
    let wtx = db.begin_write().expect("begin_write");
    {
        let mut table = wtx.open_table(TABLE).expect("open_table");
        for _ in 0..count {
            rng.fill(&mut key);
            rng.fill(&mut value);
            table.insert(&key, &value).expect("insert");
        }
    }
    wtx.commit().expect("commit");
}

fn mode_group(c: &mut Criterion, dir: &Path, mode: Mode, name: &str, keys: &[Key]) {
    let db = load(&dir.join(format!("{name}.bough")), mode, keys);
    let mut group = c.benchmark_group(name);

    {
        let rtx = db.begin_read().expect("begin_read");
        let table = rtx.open_table(TABLE).expect("open_table");
        let mut rng = SplitMix64::new(1);
        group.throughput(Throughput::Elements(1));
        group.bench_function("random_get", |b| {
            b.iter(|| {
                let key = &keys[rng.below(keys.len())];
                table.get(key).expect("get").expect("key present").len()
            })
        });
    }

    group.sampling_mode(SamplingMode::Flat);
    let mut rng = SplitMix64::new(2);
    group.bench_function("durable_insert_one", |b| {
        b.iter(|| commit_inserts(&db, &mut rng, 1))
    });

    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("durable_batch_1000", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                commit_inserts(&db, &mut rng, BATCH);
            }
            start.elapsed()
        })
    });
    group.finish();
}

fn main() {
    let dir = tempfile::Builder::new()
        .prefix("bough-bench-modes-")
        .tempdir()
        .expect("create temp dir");
    let mut rng = SplitMix64::new(0x4B1D);
    let keys: Vec<Key> = (0..ENTRIES)
        .map(|_| {
            let mut key = [0; KEY_LEN];
            rng.fill(&mut key);
            key
        })
        .collect();
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    mode_group(
        &mut c,
        dir.path(),
        Mode::CopyOnWrite,
        "copy_on_write",
        &keys,
    );
    mode_group(&mut c, dir.path(), Mode::Wal, "write_ahead_log", &keys);
    c.final_summary();
}
