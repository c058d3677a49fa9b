//! Real process kills (issue 3, part 4): a child process commits numbered transactions to a
//! file database and is killed with SIGKILL at a random moment, again and again; after each
//! kill the database is reopened and checked.
//!
//! Transaction `n` inserts key `n` (small values, and a ~20 KiB overflow value every 16th
//! `n`) and, when `n % 3 == 0`, deletes key `n - 50`. The child prints `committed n` after each
//! commit returns. After the kill, every reported commit must be present (key `n` and its
//! delete), at most one more (the commit that returned but was not yet reported), nothing
//! deleted may come back, and `check()` must pass. The next child continues the numbering
//! from the last commit found, on the same, growing file.
//!
//! A process kill keeps the page cache, so this cannot catch a missing fsync (the crash
//! simulation does); it catches what a real process death can do: a commit cut short between
//! any two system calls, a lock left by a dead process, a file grown but not written.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bough::testing::SplitMix;
use bough::{Database, Durability, Error};

/// Set in the child's environment to the directory of the database it writes.
const CHILD_DIR: &str = "BOUGH_KILL_CHILD";
/// Set in the child's environment to the first transaction number it commits.
const CHILD_START: &str = "BOUGH_KILL_START";
/// This test's name, which the child is started with.
const TEST_NAME: &str = "a_killed_writer_loses_no_reported_commit";
const KILLS: usize = 120;
const TABLE: &str = "numbers";
const FILE: &str = "kill.bough";
/// A child still running after this lost its parent: it stops by itself.
const CHILD_LIFETIME: Duration = Duration::from_secs(10);

fn key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// The value of transaction `n`: ~20 KiB (an overflow run) every sixteenth, else 16-112
/// bytes.
fn value(n: u64) -> Vec<u8> {
    let len = if n % 16 == 0 {
        20 * 1024 + (n % 13) as usize * 64
    } else {
        16 + (n % 97) as usize
    };
    let seed = n.to_le_bytes();
    (0..len).map(|i| seed[i % 8] ^ (i / 8) as u8).collect()
}

/// The key transaction `n` deletes, if any.
fn deleted_by(n: u64) -> Option<u64> {
    (n % 3 == 0 && n > 50).then(|| n - 50)
}

/// The keys present after transactions `1..=last`, in order.
fn expected_keys(last: u64) -> impl Iterator<Item = u64> {
    (1..=last).filter(move |&n| !(n + 50 <= last && (n + 50) % 3 == 0))
}

/// The storage mode: `BOUGH_TEST_MODE=wal` runs the kills in write-ahead-log mode (the child
/// inherits the variable).
fn test_mode() -> bough::Mode {
    match std::env::var("BOUGH_TEST_MODE").as_deref() {
        Ok("wal") => bough::Mode::Wal,
        _ => bough::Mode::CopyOnWrite,
    }
}

/// The writer: commits `start, start + 1, ...` until killed, reporting each on stdout.
fn run_child(dir: &Path, start: u64) {
    let began = Instant::now();
    let db = Database::builder()
        .mode(test_mode())
        .durability(Durability::Immediate)
        .open(dir.join(FILE))
        .expect("child: open");
    let mut out = std::io::stdout().lock();
    for n in start.. {
        if began.elapsed() > CHILD_LIFETIME {
            return;
        }
        let mut wtx = db.begin_write().expect("child: begin_write");
        wtx.set_durability(Durability::Immediate);
        {
            let mut table = wtx.open_table(TABLE).expect("child: open_table");
            table.insert(&key(n), &value(n)).expect("child: insert");
            if let Some(old) = deleted_by(n) {
                assert!(
                    table.remove(&key(old)).expect("child: remove"),
                    "child: key {old} was missing when transaction {n} deleted it"
                );
            }
        }
        wtx.commit().expect("child: commit");
        writeln!(out, "committed {n}").expect("child: stdout");
        out.flush().expect("child: stdout");
    }
}

/// What one child did before it was killed.
struct Run {
    reported: Vec<u64>,
    stderr: String,
}

/// Starts a child committing from `start` and kills it after `delay`.
fn kill_a_child(dir: &Path, start: u64, delay: Duration) -> Run {
    let exe = std::env::current_exe().expect("current_exe");
    let mut child = Command::new(exe)
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_START, start.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let lines = std::thread::spawn(move || {
        let mut reported = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness's "test ... " may share the first line.
            if let Some((_, n)) = line.split_once("committed ") {
                reported.push(n.parse::<u64>().expect("a transaction number"));
            }
        }
        reported
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    std::thread::sleep(delay);
    let exited_early = child.try_wait().expect("try_wait");
    child.kill().expect("kill the child");
    let status = child.wait().expect("wait for the child");
    let run = Run {
        reported: lines.join().expect("stdout reader"),
        stderr: errors.join().expect("stderr reader"),
    };
    assert!(
        exited_early.is_none() && status.signal() == Some(9),
        "the child ended by itself ({status}) before it was killed; its stderr:\n{}",
        run.stderr
    );
    run
}

/// Reopens the database after a kill and checks it against the commits reported up to
/// `reported_last`. Returns the last transaction present (`reported_last` or one more).
fn verify(path: &Path, reported_last: u64, iteration: usize) -> u64 {
    let db = Database::builder()
        .mode(test_mode())
        .open(path)
        .unwrap_or_else(|e| panic!("kill {iteration}: reopening failed: {e:?}"));
    db.check()
        .unwrap_or_else(|e| panic!("kill {iteration}: check failed: {e:?}"));
    let rtx = db.begin_read().expect("begin_read");
    let table = match rtx.open_table(TABLE) {
        Ok(table) => Some(table),
        Err(Error::TableNotFound(_)) => None,
        Err(e) => panic!("kill {iteration}: open_table: {e:?}"),
    };
    let mut present = Vec::new();
    if let Some(table) = &table {
        for entry in table.iter().expect("iter") {
            let (k, v) = entry.unwrap_or_else(|e| panic!("kill {iteration}: iter: {e:?}"));
            let n = u64::from_be_bytes(k.try_into().expect("8-byte keys"));
            assert!(
                v == value(n).as_slice(),
                "kill {iteration}: key {n} has a value of {} bytes that transaction {n} did not write",
                v.len()
            );
            present.push(n);
        }
    }
    // The commit after the last reported one may have returned before the kill.
    let last = if present.contains(&(reported_last + 1)) {
        reported_last + 1
    } else {
        reported_last
    };
    let expected: Vec<u64> = expected_keys(last).collect();
    if present != expected {
        let missing: Vec<u64> = expected
            .iter()
            .filter(|n| present.binary_search(n).is_err())
            .copied()
            .collect();
        let extra: Vec<u64> = present
            .iter()
            .filter(|n| expected.binary_search(n).is_err())
            .copied()
            .collect();
        panic!(
            "kill {iteration}: after transaction {last} (last reported {reported_last}): \
             missing {missing:?}, unexpected (deleted or never committed) {extra:?}"
        );
    }
    let len = table.as_ref().map_or(0, |t| t.len().expect("len"));
    assert_eq!(len, expected.len() as u64, "kill {iteration}: len()");
    last
}

#[test]
fn a_killed_writer_loses_no_reported_commit() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        let start = std::env::var(CHILD_START)
            .expect("the child's first transaction")
            .parse()
            .expect("a number");
        return run_child(Path::new(&dir), start);
    }
    let started = Instant::now();
    let seed = std::env::var("BOUGH_KILL_SEED")
        .ok()
        .map_or(0x6b11, |s| s.parse().expect("BOUGH_KILL_SEED is a number"));
    let mut rng = SplitMix(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(FILE);
    let mut last = 0u64;
    let mut reported_total = 0u64;
    let mut unreported = 0u64;
    let mut before_first_commit = 0u64;
    for iteration in 0..KILLS {
        let delay = Duration::from_millis(5 + rng.below(146));
        let run = kill_a_child(dir.path(), last + 1, delay);
        let want: Vec<u64> = (last + 1..).take(run.reported.len()).collect();
        assert_eq!(
            run.reported, want,
            "kill {iteration} (seed {seed}): the child reported out of order"
        );
        let reported_last = run.reported.last().copied().unwrap_or(last);
        let found = verify(&path, reported_last, iteration);
        reported_total += run.reported.len() as u64;
        unreported += found - reported_last;
        before_first_commit += u64::from(run.reported.is_empty());
        last = found;
    }
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "kills: {KILLS} children killed (seed {seed}), {reported_total} commits reported and \
         found, {unreported} more committed but not yet reported, {before_first_commit} kills \
         before the first commit; last transaction {last}, file {} KiB, in {:.1?}",
        size / 1024,
        started.elapsed()
    );
}
