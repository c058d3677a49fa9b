//! Engine benchmarks: point gets, range scans, batch inserts, durable single-insert commits, the
//! cost of checksum verification on reads, and one large transaction with and without spilling.
//!
//! The data set follows redb's published benchmark shape (24-byte random keys, 150-byte values), at
//! 100k keys so the whole run takes a few minutes. One template database is loaded once; every group
//! works on its own copy of that file, so groups don't see each other's writes.
//!
//! Run: `cargo bench --bench engine` (add `-- GROUP` to run one group, e.g. `-- checksum`).
//! Durable figures depend on the file system under the temp dir (`TMPDIR`).

#[path = "support/splitmix64.rs"]
mod splitmix64;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bough::{CommitProtocol, Database, Durability, Mode};
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use splitmix64::SplitMix64;
use tempfile::TempDir;

const ENTRIES: usize = 100_000;
const KEY_LEN: usize = 24;
const VALUE_LEN: usize = 150;
const TABLE: &str = "bench";
/// Inserts per commit in the batch-insert group.
const BATCH: usize = 1000;
/// The batch-insert group starts again from the template after this many inserts, so the table
/// stays between 100k and 200k entries however many iterations criterion asks for.
const REFILL_AFTER: usize = 100_000;
/// Entries read by one short range scan.
const SCAN_LEN: usize = 100;
/// Inserts per commit while loading the template.
const LOAD_CHUNK: usize = 10_000;

type Key = [u8; KEY_LEN];

/// The loaded template database and the keys in it.
struct Fixture {
    dir: TempDir,
    template: PathBuf,
    keys: Vec<Key>,
}

impl Fixture {
    fn build() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("bough-bench-")
            .tempdir()
            .expect("create temp dir");
        let template = dir.path().join("template.bough");
        let mut rng = SplitMix64::new(0x5EED);
        let keys: Vec<Key> = (0..ENTRIES)
            .map(|_| {
                let mut key = [0; KEY_LEN];
                rng.fill(&mut key);
                key
            })
            .collect();

        let db = Database::builder()
            .durability(Durability::None)
            .open(template.as_path())
            .expect("open template");
        let mut value = [0; VALUE_LEN];
        for (i, chunk) in keys.chunks(LOAD_CHUNK).enumerate() {
            let mut wtx = db.begin_write().expect("begin_write");
            if (i + 1) * LOAD_CHUNK >= ENTRIES {
                // The last load commit is durable, so the file is complete before it is copied.
                wtx.set_durability(Durability::Immediate);
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
        drop(db);
        Self {
            dir,
            template,
            keys,
        }
    }

    /// A fresh copy of the template under `name`.
    fn copy(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::copy(&self.template, &path).expect("copy template");
        path
    }

    /// Opens a fresh copy of the template under `name`.
    fn open_copy(&self, name: &str, durability: Durability, verify_checksums: bool) -> Database {
        open(&self.copy(name), durability, verify_checksums)
    }

    fn random_key(&self, rng: &mut SplitMix64) -> &Key {
        &self.keys[rng.below(self.keys.len())]
    }
}

fn open(path: &Path, durability: Durability, verify_checksums: bool) -> Database {
    let db = Database::builder()
        .durability(durability)
        .verify_checksums(verify_checksums)
        .open(path)
        .expect("open copy");
    let len = {
        let rtx = db.begin_read().expect("begin_read");
        rtx.open_table(TABLE)
            .expect("open_table")
            .len()
            .expect("len")
    };
    assert_eq!(len, ENTRIES as u64, "the copy holds the whole template");
    db
}

/// Looks up one random existing key in `table`, returning the value's length.
fn get_one(fx: &Fixture, table: &bough::ReadTable<'_>, rng: &mut SplitMix64) -> usize {
    let key = fx.random_key(rng);
    table.get(key).expect("get").expect("key present").len()
}

/// Iterates a whole table, returning the number of entries seen.
fn scan_all(table: &bough::ReadTable<'_>) -> usize {
    let mut entries = 0;
    for entry in table.iter().expect("iter") {
        let (key, value) = entry.expect("entry");
        black_box((key, value));
        entries += 1;
    }
    assert_eq!(entries, ENTRIES);
    entries
}

/// One write transaction inserting `count` fresh random keys, committed with `durability`.
fn commit_inserts(db: &Database, rng: &mut SplitMix64, count: usize, durability: Durability) {
    let mut key = [0; KEY_LEN];
    let mut value = [0; VALUE_LEN];
    let mut wtx = db.begin_write().expect("begin_write");
    wtx.set_durability(durability);
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

fn point_get(c: &mut Criterion, fx: &Fixture) {
    let db = fx.open_copy("get.bough", Durability::None, true);
    let mut group = c.benchmark_group("point_get");
    let mut rng = SplitMix64::new(1);

    let rtx = db.begin_read().expect("begin_read");
    let table = rtx.open_table(TABLE).expect("open_table");
    group.bench_function("random_existing_key", |b| {
        b.iter(|| get_one(fx, &table, &mut rng))
    });
    // The same lookup paying for a read transaction and a table open each time.
    group.bench_function("random_existing_key_new_txn", |b| {
        b.iter(|| {
            let rtx = db.begin_read().expect("begin_read");
            let table = rtx.open_table(TABLE).expect("open_table");
            get_one(fx, &table, &mut rng)
        })
    });
    group.finish();
}

fn range_scan(c: &mut Criterion, fx: &Fixture) {
    let db = fx.open_copy("range.bough", Durability::None, true);
    let mut group = c.benchmark_group("range_scan");
    let mut rng = SplitMix64::new(2);
    let rtx = db.begin_read().expect("begin_read");
    let table = rtx.open_table(TABLE).expect("open_table");

    group.throughput(Throughput::Elements(SCAN_LEN as u64));
    group.bench_function("100_from_random_key", |b| {
        b.iter(|| {
            let start = fx.random_key(&mut rng).as_slice();
            let mut bytes = 0;
            for entry in table.range(start..).expect("range").take(SCAN_LEN) {
                let (key, value) = entry.expect("entry");
                bytes += key.len() + value.len();
            }
            bytes
        })
    });
    group.throughput(Throughput::Elements(ENTRIES as u64));
    group.bench_function("full_scan", |b| b.iter(|| scan_all(&table)));
    group.finish();
}

fn batch_insert(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("batch_insert");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, durability) in [
        ("1000_per_commit_none", Durability::None),
        ("1000_per_commit_immediate", Durability::Immediate),
    ] {
        let path = fx.copy("batch.bough");
        let mut db = Some(open(&path, durability, true));
        let mut inserted = 0;
        let mut rng = SplitMix64::new(3);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for _ in 0..iters {
                    if inserted >= REFILL_AFTER {
                        // Untimed: close, restore the template, reopen.
                        drop(db.take());
                        fx.copy("batch.bough");
                        db = Some(open(&path, durability, true));
                        inserted = 0;
                    }
                    let db = db.as_ref().expect("database is open");
                    let start = Instant::now();
                    commit_inserts(db, &mut rng, BATCH, durability);
                    elapsed += start.elapsed();
                    inserted += BATCH;
                }
                elapsed
            })
        });
    }
    group.finish();
}

fn durable_commit(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("durable_commit");
    group.sampling_mode(SamplingMode::Flat);
    let mut rng = SplitMix64::new(4);
    // The floor: one 4 KiB write and one fdatasync on the same disk.
    let scratch = fx.dir.path().join("fdatasync.scratch");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&scratch)
        .expect("scratch file");
    let page = vec![0x5au8; 4096];
    group.bench_function("bare_write_4k_fdatasync", |b| {
        b.iter(|| {
            use std::os::unix::fs::FileExt;
            file.write_all_at(&page, 0).expect("write");
            file.sync_data().expect("fdatasync");
        })
    });
    for (name, protocol) in [
        ("insert_one_one_sync", CommitProtocol::OneSync),
        ("insert_one_two_sync", CommitProtocol::TwoSync),
        ("insert_one_chained", CommitProtocol::Chained),
    ] {
        let path = fx.copy(&format!("commit-{name}.bough"));
        let db = Database::builder()
            .commit_protocol(protocol)
            .open(&path)
            .expect("open copy");
        group.bench_function(name, |b| {
            b.iter(|| commit_inserts(&db, &mut rng, 1, Durability::Immediate))
        });
    }
    let wal_path = fx.dir.path().join("commit-wal.bough");
    let wal = Database::builder()
        .mode(Mode::Wal)
        .open(&wal_path)
        .expect("open log-mode database");
    commit_inserts(&wal, &mut rng, 10_000, Durability::Immediate);
    group.bench_function("insert_one_wal_mode", |b| {
        b.iter(|| commit_inserts(&wal, &mut rng, 1, Durability::Immediate))
    });
    // The same commit without the sync, to show what the sync costs.
    let db = fx.open_copy("commit.bough", Durability::Immediate, true);
    group.bench_function("insert_one_none", |b| {
        b.iter(|| commit_inserts(&db, &mut rng, 1, Durability::None))
    });
    group.finish();
}

/// Eight threads commit one durable insert each, at once, per iteration (`iter_custom`
/// times the whole round): group commit lets commits made during a sync share the next one.
/// Log mode commits one sync each, the baseline.
fn group_commit(c: &mut Criterion, fx: &Fixture) {
    const THREADS: u64 = 8;
    let mut group = c.benchmark_group("group_commit");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(criterion::Throughput::Elements(THREADS));
    for (name, mode) in [
        ("eight_threads_copy_on_write", Mode::CopyOnWrite),
        ("eight_threads_wal_mode", Mode::Wal),
    ] {
        let db = match mode {
            Mode::CopyOnWrite => fx.open_copy("group.bough", Durability::Immediate, true),
            Mode::Wal => {
                let path = fx.dir.path().join("group-wal.bough");
                let db = Database::builder()
                    .mode(Mode::Wal)
                    .open(&path)
                    .expect("open log-mode database");
                commit_inserts(&db, &mut SplitMix64::new(7), 10_000, Durability::Immediate);
                db
            }
        };
        let round = std::sync::atomic::AtomicU64::new(0);
        group.bench_function(name, |b| {
            b.iter_custom(|rounds| {
                let start = std::time::Instant::now();
                for _ in 0..rounds {
                    let seed = round.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    std::thread::scope(|scope| {
                        for thread in 0..THREADS {
                            let db = &db;
                            scope.spawn(move || {
                                let mut rng = SplitMix64::new(seed * THREADS + thread + 1_000);
                                commit_inserts(db, &mut rng, 1, Durability::Immediate);
                            });
                        }
                    });
                }
                start.elapsed()
            })
        });
    }
    group.finish();
}

fn checksum(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("checksum");
    for (label, verify) in [("verify_on", true), ("verify_off", false)] {
        // The same file each time, reopened with the setting under test.
        let db = fx.open_copy("checksum.bough", Durability::None, verify);
        let mut rng = SplitMix64::new(5);
        let rtx = db.begin_read().expect("begin_read");
        let table = rtx.open_table(TABLE).expect("open_table");
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new("get", label), |b| {
            b.iter(|| get_one(fx, &table, &mut rng))
        });
        group.throughput(Throughput::Elements(ENTRIES as u64));
        group.bench_function(BenchmarkId::new("full_scan", label), |b| {
            b.iter(|| scan_all(&table))
        });
    }
    group.finish();
}

/// One transaction loading every fixture key into an empty file, and one removing half of them
/// from a copy of the template, each with the dirty pages all in memory and with a 4 MiB budget
/// that makes the transaction spill most of its ~30 MiB of pages and hold its writes
/// (DESIGN.md, "Spilling dirty pages", "Held writes").
fn large_transaction(c: &mut Criterion, fx: &Fixture) {
    let mut group = c.benchmark_group("large_transaction");
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(10);
    group.throughput(Throughput::Elements(ENTRIES as u64));
    for (name, budget) in [("load_in_memory", 1 << 30), ("load_4mib_budget", 4 << 20)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for i in 0..iters {
                    let path = fx.dir.path().join(format!("large-{name}-{i}.bough"));
                    let db = Database::builder()
                        .durability(Durability::None)
                        .dirty_page_budget(budget)
                        .open(&path)
                        .expect("open");
                    let mut rng = SplitMix64::new(9);
                    let mut value = [0; VALUE_LEN];
                    let start = Instant::now();
                    let wtx = db.begin_write().expect("begin_write");
                    {
                        let mut table = wtx.open_table(TABLE).expect("open_table");
                        for key in &fx.keys {
                            rng.fill(&mut value);
                            table.insert(key, &value).expect("insert");
                        }
                    }
                    wtx.commit().expect("commit");
                    elapsed += start.elapsed();
                    drop(db);
                    std::fs::remove_file(&path).expect("remove");
                }
                elapsed
            })
        });
    }
    // Removing every other key, in the keys' random order, from a copy of the template.
    group.throughput(Throughput::Elements((ENTRIES / 2) as u64));
    for (name, budget) in [
        ("remove_half_in_memory", 1 << 30),
        ("remove_half_4mib_budget", 4 << 20),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                for i in 0..iters {
                    let path = fx.copy(&format!("large-{name}-{i}.bough"));
                    let db = Database::builder()
                        .durability(Durability::None)
                        .dirty_page_budget(budget)
                        .open(&path)
                        .expect("open copy");
                    let start = Instant::now();
                    let wtx = db.begin_write().expect("begin_write");
                    {
                        let mut table = wtx.open_table(TABLE).expect("open_table");
                        for key in fx.keys.iter().step_by(2) {
                            assert!(table.remove(key).expect("remove"));
                        }
                    }
                    wtx.commit().expect("commit");
                    elapsed += start.elapsed();
                    drop(db);
                    std::fs::remove_file(&path).expect("remove");
                }
                elapsed
            })
        });
    }
    group.finish();
}

fn main() {
    let fx = Fixture::build();
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    point_get(&mut c, &fx);
    range_scan(&mut c, &fx);
    batch_insert(&mut c, &fx);
    durable_commit(&mut c, &fx);
    group_commit(&mut c, &fx);
    checksum(&mut c, &fx);
    large_transaction(&mut c, &fx);
    c.final_summary();
}
