//! The child process: runs workloads 1-11 on one engine and reports each figure as a line
//! `M <tab> id <tab> value` on stdout, each failure as `E <tab> workload <tab> message`.
//! Progress goes to stderr. Workload 10, the bare disk, is measured inside every engine's process
//! just before workload 2, so a commit and the floor it is compared with see the same moment of a
//! shared disk.

use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Instant;

use crate::data::{self, KEY_LEN, Key, SplitMix64, VALUE_LEN};
use crate::engine::{self, Engine, Res};
use crate::memory;

/// Workload 2: durable transactions of one insert each.
const SINGLE_COMMITS: usize = 1_000;
/// Workload 3: durable transactions of `BATCH_SIZE` inserts each.
const BATCHES: usize = 100;
const BATCH_SIZE: usize = 1_000;
/// Workload 11: threads committing durable transactions of one insert each at once.
const COMMIT_THREADS: usize = 8;
const COMMITS_PER_THREAD: usize = 125;
/// Workload 4: transactions of one insert without sync.
const NON_DURABLE_COMMITS: usize = 10_000;
/// Workload 5: gets per thread, at least this many (more with a larger --count).
const MIN_GETS: usize = 100_000;
/// Workload 6: short scans and their length.
const SHORT_SCANS: usize = 10_000;
const SHORT_SCAN_LEN: usize = 100;
/// Workload 8: the size of each large value.
const LARGE_VALUE_LEN: usize = 1 << 20;
/// Workload 10: timed pwrite + fdatasync pairs, after a few untimed ones.
const FLOOR_SYNCS: usize = 1_000;
const FLOOR_WARMUP: usize = 20;
/// Entries checked against `value_for` after loading and after removing.
const VERIFY_SAMPLE: usize = 1_000;

const MIB: f64 = 1024.0 * 1024.0;

pub struct Params {
    pub engine: String,
    pub dir: PathBuf,
    pub count: usize,
    pub large_values: usize,
    pub run: usize,
}

/// Runs everything for `p.engine` and reports; failures are reported, not fatal, so one broken
/// workload does not hide the others.
pub fn run_child(p: &Params) {
    memory::start_sampler();
    let keys = data::keys(data::LOAD_SEED, p.count);
    emit("mem_base_anon_mib", memory::current_anon_mib());

    let random_load_s = group(p, "1-7 main database", || main_database(p, &keys));
    group(p, "8 large values", || large_values(p));
    group(p, "9 sorted bulk load", || {
        sorted_load(p, &keys, random_load_s.flatten())
    });

    emit("mem_peak_anon_mib", memory::peak_mib());
    emit("mem_hwm_mib", memory::hwm_mib());
}

/// Runs one group of workloads, turning an error or a panic into an `E` line.
fn group<T>(p: &Params, what: &str, f: impl FnOnce() -> Res<T>) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Some(value),
        Ok(Err(err)) => {
            report_error(p, what, &format!("error: {err} ({err:?})"));
            None
        }
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("(non-string payload)");
            report_error(p, what, &format!("panic: {msg}"));
            None
        }
    }
}

fn report_error(p: &Params, what: &str, msg: &str) {
    let msg = msg.replace(['\n', '\t'], " ");
    eprintln!("[{} run {}] FAILED {what}: {msg}", p.engine, p.run + 1);
    println!("E\t{what}\t{msg}");
    std::io::stdout().flush().ok();
}

fn emit(id: &str, value: f64) {
    debug_assert!(crate::metrics::find(id).is_some(), "unknown metric {id}");
    println!("M\t{id}\t{value}");
    std::io::stdout().flush().ok();
}

fn progress(p: &Params, msg: &str) {
    eprintln!("[{} run {}] {msg}", p.engine, p.run + 1);
}

fn fresh_dir(p: &Params, name: &str) -> Res<PathBuf> {
    let dir = p.dir.join(name);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Bytes of all files under `dir` (an engine's data, lock and log files together).
fn dir_bytes(dir: &Path) -> Res<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            dir_bytes(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

fn mib(dir: &Path) -> Res<f64> {
    Ok(dir_bytes(dir)? as f64 / MIB)
}

/// Checks `VERIFY_SAMPLE` spread-out keys: `present` ones must hold `value_for(key)`, the others
/// must be absent.
fn verify(db: &dyn Engine, keys: &[Key], present: impl Fn(usize) -> bool) -> Res<()> {
    let step = (keys.len() / VERIFY_SAMPLE).max(1);
    db.read(&mut |r| {
        for (i, key) in keys.iter().enumerate().step_by(step) {
            let expected = data::value_for(key);
            let mut same = false;
            let found = r.get(key, &mut |v| same = v == expected)?;
            match (present(i), found, same) {
                (true, true, true) | (false, false, _) => {}
                (true, false, _) => return Err(format!("key #{i} is missing").into()),
                (true, true, false) => return Err(format!("key #{i} has a wrong value").into()),
                (false, true, _) => return Err(format!("removed key #{i} is still there").into()),
            }
        }
        Ok(())
    })
}

/// Workloads 1-7 (and 10) on one database; returns the random-order load time for workload 9.
fn main_database(p: &Params, keys: &[Key]) -> Res<Option<f64>> {
    let dir = fresh_dir(p, "main")?;
    let owned = engine::open(&p.engine, &dir)?;
    let db = owned.as_ref();

    // 1. Bulk load in one durable transaction.
    memory::phase_start();
    let start = Instant::now();
    db.write(true, &mut |w| {
        for key in keys {
            w.insert(key, &data::value_for(key))?;
        }
        Ok(())
    })?;
    let load_s = start.elapsed().as_secs_f64();
    let file = dir_bytes(&dir)? as f64;
    emit("w1_load_s", load_s);
    emit("w1_anon_mib", memory::phase_peak_mib());
    emit("w1_file_mib", file / MIB);
    emit(
        "w1_file_x_raw",
        file / (keys.len() * (KEY_LEN + VALUE_LEN)) as f64,
    );
    progress(
        p,
        &format!("1 bulk load: {load_s:.2} s, {:.1} MiB", file / MIB),
    );
    verify(db, keys, |_| true)?;

    // 10, then 2: the disk floor, then durable transactions of one insert each.
    let floor_us = disk_floor(p)?;
    emit("w10_floor_us", floor_us);
    let mut rng = SplitMix64::new(data::SINGLE_SEED);
    let start = Instant::now();
    for _ in 0..SINGLE_COMMITS {
        let key = data::next_key(&mut rng);
        db.write(true, &mut |w| w.insert(&key, &data::value_for(&key)))?;
    }
    let commit_us = start.elapsed().as_secs_f64() * 1e6 / SINGLE_COMMITS as f64;
    emit("w2_commit_us", commit_us);
    emit("w2_x_floor", commit_us / floor_us);
    progress(
        p,
        &format!(
            "10 disk floor {floor_us:.0} us; 2 durable single commits: {commit_us:.0} us each, \
             file {:.1} MiB",
            mib(&dir)?
        ),
    );

    // 3. Durable transactions of a thousand inserts.
    let mut rng = SplitMix64::new(data::BATCH_SEED);
    let start = Instant::now();
    for _ in 0..BATCHES {
        db.write(true, &mut |w| {
            for _ in 0..BATCH_SIZE {
                let key = data::next_key(&mut rng);
                w.insert(&key, &data::value_for(&key))?;
            }
            Ok(())
        })?;
    }
    let txn_ms = start.elapsed().as_secs_f64() * 1e3 / BATCHES as f64;
    emit("w3_txn_ms", txn_ms);
    progress(
        p,
        &format!(
            "3 durable batches: {txn_ms:.1} ms each, file {:.1} MiB",
            mib(&dir)?
        ),
    );

    // 11. Durable transactions of one insert each, from eight threads at once.
    let syncs_before = db.commit_syncs();
    let barrier = Barrier::new(COMMIT_THREADS);
    let start = Instant::now();
    std::thread::scope(|s| -> Res<()> {
        let threads: Vec<_> = (0..COMMIT_THREADS)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || -> Res<()> {
                    let mut rng = SplitMix64::new(data::GROUP_SEED + t as u64);
                    barrier.wait();
                    for _ in 0..COMMITS_PER_THREAD {
                        let key = data::next_key(&mut rng);
                        db.write(true, &mut |w| w.insert(&key, &data::value_for(&key)))?;
                    }
                    Ok(())
                })
            })
            .collect();
        for thread in threads {
            thread
                .join()
                .map_err(|_| "a committing thread panicked")??;
        }
        Ok(())
    })?;
    let group_commits = COMMIT_THREADS * COMMITS_PER_THREAD;
    let group_s = group_commits as f64 / start.elapsed().as_secs_f64();
    emit("w11_commits_s", group_s);
    let syncs = db
        .commit_syncs()
        .zip(syncs_before)
        .map(|(after, before)| after - before);
    if let Some(syncs) = syncs {
        emit("w11_syncs", syncs as f64);
    }
    progress(
        p,
        &format!(
            "11 durable single commits from {COMMIT_THREADS} threads: {group_s:.0}/s{}",
            syncs.map_or(String::new(), |n| format!(", {n} syncs"))
        ),
    );

    // 4. Non-durable transactions of one insert.
    let mut rng = SplitMix64::new(data::NON_DURABLE_SEED);
    let start = Instant::now();
    for _ in 0..NON_DURABLE_COMMITS {
        let key = data::next_key(&mut rng);
        db.write(false, &mut |w| w.insert(&key, &data::value_for(&key)))?;
    }
    let commits_s = NON_DURABLE_COMMITS as f64 / start.elapsed().as_secs_f64();
    let before_removals = dir_bytes(&dir)? as f64;
    emit("w4_commits_s", commits_s);
    emit("w4_file_mib", before_removals / MIB);
    progress(
        p,
        &format!(
            "4 non-durable commits: {commits_s:.0}/s, file {:.1} MiB",
            before_removals / MIB
        ),
    );
    let total_entries = keys.len()
        + SINGLE_COMMITS
        + BATCHES * BATCH_SIZE
        + COMMIT_THREADS * COMMITS_PER_THREAD
        + NON_DURABLE_COMMITS;

    // 5. Random gets of existing keys, one thread then two.
    let gets = keys.len().max(MIN_GETS);
    let start = Instant::now();
    random_gets(db, keys, gets, data::READ_SEED)?;
    let gets_1t = gets as f64 / start.elapsed().as_secs_f64();
    emit("w5_gets_1t", gets_1t);
    let barrier = Barrier::new(2);
    let start = Instant::now();
    std::thread::scope(|s| -> Res<()> {
        let threads: Vec<_> = (1..=2)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    random_gets(db, keys, gets, data::READ_SEED + t)
                })
            })
            .collect();
        for thread in threads {
            thread.join().map_err(|_| "a reading thread panicked")??;
        }
        Ok(())
    })?;
    let gets_2t = 2.0 * gets as f64 / start.elapsed().as_secs_f64();
    emit("w5_gets_2t", gets_2t);
    progress(
        p,
        &format!("5 gets: {gets_1t:.0}/s on one thread, {gets_2t:.0}/s on two"),
    );

    // 6. A full ordered scan, then short scans from random existing keys.
    let start = Instant::now();
    let mut seen = 0;
    db.read(&mut |r| {
        let mut previous: Option<Key> = None;
        let mut sum = 0u64;
        let mut in_order = true;
        seen = r.scan(None, usize::MAX, &mut |k, v| {
            let key: Key = k.try_into().unwrap_or([0xFF; KEY_LEN]);
            in_order &= previous.is_none_or(|prev| prev < key) && k.len() == KEY_LEN;
            previous = Some(key);
            sum = sum.wrapping_add(data::digest(v));
        })?;
        std::hint::black_box(sum);
        if !in_order {
            return Err("the full scan returned keys out of order".into());
        }
        Ok(())
    })?;
    let scan_rate = seen as f64 / start.elapsed().as_secs_f64();
    if seen != total_entries {
        return Err(format!("full scan saw {seen} entries, expected {total_entries}").into());
    }
    emit("w6_scan_entries_s", scan_rate);
    let mut rng = SplitMix64::new(data::READ_SEED + 3);
    let start = Instant::now();
    db.read(&mut |r| {
        let mut sum = 0u64;
        for _ in 0..SHORT_SCANS {
            let from = &keys[rng.below(keys.len())];
            let n = r.scan(Some(from), SHORT_SCAN_LEN, &mut |_, v| {
                sum = sum.wrapping_add(data::digest(v))
            })?;
            if n == 0 {
                return Err("a short scan from an existing key returned nothing".into());
            }
        }
        std::hint::black_box(sum);
        Ok(())
    })?;
    let scans_s = SHORT_SCANS as f64 / start.elapsed().as_secs_f64();
    emit("w6_short_scans_s", scans_s);
    progress(
        p,
        &format!("6 scans: {scan_rate:.0} entries/s full, {scans_s:.0} short scans/s"),
    );

    // 7. Remove every other loaded key in one durable transaction.
    let start = Instant::now();
    db.write(true, &mut |w| {
        for (i, key) in keys.iter().enumerate().step_by(2) {
            if !w.remove(key)? {
                return Err(format!("removing key #{i}: not found").into());
            }
        }
        Ok(())
    })?;
    let remove_s = start.elapsed().as_secs_f64();
    let after = dir_bytes(&dir)? as f64;
    emit("w7_remove_s", remove_s);
    emit("w7_file_mib", after / MIB);
    emit("w7_growth", after / before_removals);
    progress(
        p,
        &format!(
            "7 removals: {remove_s:.2} s, file {:.1} -> {:.1} MiB",
            before_removals / MIB,
            after / MIB
        ),
    );
    verify(db, keys, |i| i % 2 == 1)?;

    drop_and_delete(owned, &dir);
    Ok(Some(load_s))
}

/// `count` gets of random loaded keys in one read transaction; every key must be found.
fn random_gets(db: &dyn Engine, keys: &[Key], count: usize, seed: u64) -> Res<()> {
    let mut rng = SplitMix64::new(seed);
    db.read(&mut |r| {
        let mut sum = 0u64;
        for _ in 0..count {
            let key = &keys[rng.below(keys.len())];
            if !r.get(key, &mut |v| sum = sum.wrapping_add(data::digest(v)))? {
                return Err("a loaded key was not found".into());
            }
        }
        std::hint::black_box(sum);
        Ok(())
    })
}

/// Workload 8: `large_values` values of 1 MiB in one durable transaction, then read back.
fn large_values(p: &Params) -> Res<()> {
    let dir = fresh_dir(p, "large")?;
    let db = engine::open(&p.engine, &dir)?;
    let keys = data::keys(data::LARGE_SEED, p.large_values);
    let mut value = vec![0u8; LARGE_VALUE_LEN];
    SplitMix64::new(data::LARGE_VALUE_SEED).fill(&mut value);
    let total_mib = (p.large_values * LARGE_VALUE_LEN) as f64 / MIB;

    memory::phase_start();
    let start = Instant::now();
    db.write(true, &mut |w| {
        for (i, key) in keys.iter().enumerate() {
            value[..8].copy_from_slice(&(i as u64).to_le_bytes());
            w.insert(key, &value)?;
        }
        Ok(())
    })?;
    let write_mibs = total_mib / start.elapsed().as_secs_f64();
    emit("w8_write_mibs", write_mibs);
    emit("w8_anon_mib", memory::phase_peak_mib());

    let start = Instant::now();
    db.read(&mut |r| {
        let mut sum = 0u64;
        for (i, key) in keys.iter().enumerate() {
            let mut ok = false;
            let found = r.get(key, &mut |v| {
                ok = v.len() == LARGE_VALUE_LEN && v[..8] == (i as u64).to_le_bytes();
                sum = sum.wrapping_add(data::digest(v));
            })?;
            if !found || !ok {
                return Err(format!("large value #{i} is missing or wrong").into());
            }
        }
        std::hint::black_box(sum);
        Ok(())
    })?;
    let read_mibs = total_mib / start.elapsed().as_secs_f64();
    emit("w8_read_mibs", read_mibs);
    progress(
        p,
        &format!("8 large values: write {write_mibs:.0} MiB/s, read {read_mibs:.0} MiB/s"),
    );
    drop_and_delete(db, &dir);
    Ok(())
}

/// Workload 9: the same entries as workload 1, inserted in key order into a new database.
fn sorted_load(p: &Params, keys: &[Key], random_load_s: Option<f64>) -> Res<()> {
    let mut sorted = keys.to_vec();
    sorted.sort_unstable();
    let dir = fresh_dir(p, "sorted")?;
    let db = engine::open(&p.engine, &dir)?;
    let start = Instant::now();
    db.write(true, &mut |w| {
        for key in &sorted {
            w.insert(key, &data::value_for(key))?;
        }
        Ok(())
    })?;
    let load_s = start.elapsed().as_secs_f64();
    emit("w9_load_s", load_s);
    emit("w9_file_mib", mib(&dir)?);
    if let Some(random) = random_load_s {
        emit("w9_speedup", random / load_s);
    }
    progress(p, &format!("9 sorted bulk load: {load_s:.2} s"));
    verify(db.as_ref(), &sorted, |_| true)?;
    drop_and_delete(db, &dir);
    Ok(())
}

/// Workload 10: one 4 KiB pwrite over already allocated blocks plus fdatasync, the least a
/// durable commit can cost on this disk; microseconds each. The file sits beside the engine's
/// directory, so it never counts in the engine's file sizes.
fn disk_floor(p: &Params) -> Res<f64> {
    let path = p.dir.join("floor.bin");
    let file = std::fs::File::create(&path)?;
    let mut block = [0u8; 4096];
    file.write_all_at(&block, 0)?;
    file.sync_all()?;
    for i in 0..FLOOR_WARMUP {
        block[0] = i as u8;
        file.write_all_at(&block, 0)?;
        file.sync_data()?;
    }
    let start = Instant::now();
    for i in 0..FLOOR_SYNCS {
        block[..8].copy_from_slice(&(i as u64).to_le_bytes());
        file.write_all_at(&block, 0)?;
        file.sync_data()?;
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / FLOOR_SYNCS as f64;
    drop(file);
    std::fs::remove_file(&path)?;
    Ok(us)
}

/// Closes the engine (so its files are released) and deletes its directory.
fn drop_and_delete(db: Box<dyn Engine>, dir: &Path) {
    drop(db);
    if let Err(err) = std::fs::remove_dir_all(dir) {
        eprintln!("warning: could not delete {}: {err}", dir.display());
    }
}
