//! Bough's main job in one run: bulk load a table, then let three snapshot readers scan it while a
//! writer commits money transfers beside them, and show that every reader saw consistent snapshots.
//!
//! The data is a bank: 200k accounts whose balances always add up to the same total. Each write
//! transaction moves money between accounts, bumps a sequence number in `meta` and appends one row
//! to `history`. Every so often the writer credits money out of nowhere and aborts instead: a reader
//! that saw that, or any half-applied transfer, would find the wrong total.
//!
//! Run: `cargo run --release --example demo [DIR]` (DIR defaults to a fresh temp dir; an existing
//! DIR/demo.bough is replaced).

#[path = "../benches/support/splitmix64.rs"]
mod splitmix64;

use std::error::Error;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bough::{Database, Durability, ReadTable, ReadTransaction, Table};
use splitmix64::SplitMix64;

type BoxError = Box<dyn Error + Send + Sync>;

const ACCOUNTS: u64 = 200_000;
const INITIAL_BALANCE: u64 = 1_000;
const TOTAL: u64 = ACCOUNTS * INITIAL_BALANCE;
/// Account values: an 8-byte little-endian balance, then filler standing in for the rest of a record.
const VALUE_LEN: usize = 100;
const LOAD_CHUNK: u64 = 20_000;
const READERS: usize = 3;
const RUN_FOR: Duration = Duration::from_secs(5);
const TRANSFERS_PER_COMMIT: usize = 10;
/// One write transaction in this many is a bogus one that is aborted.
const ABORT_EVERY: u64 = 16;

const ACCOUNTS_TABLE: &str = "accounts";
const HISTORY_TABLE: &str = "history";
const META_TABLE: &str = "meta";
const SEQ_KEY: &[u8] = b"seq";

fn main() -> Result<(), BoxError> {
    let (path, _temp) = match std::env::args_os().nth(1) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            std::fs::create_dir_all(&dir)?;
            let path = dir.join("demo.bough");
            if path.exists() {
                std::fs::remove_file(&path)?;
            }
            (path, None)
        }
        None => {
            let temp = tempfile::Builder::new().prefix("bough-demo-").tempdir()?;
            (temp.path().join("demo.bough"), Some(temp))
        }
    };
    println!("database: {}", path.display());
    let db = Database::open(path.as_path())?;

    bulk_load(&db)?;

    let stop = AtomicBool::new(false);
    let (writer, readers) = thread::scope(|s| {
        let handles: Vec<_> = (0..READERS)
            .map(|_| s.spawn(|| run_reader(&db, &stop)))
            .collect();
        let writer = run_writer(&db);
        stop.store(true, Ordering::Release);
        let readers: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("reader thread panicked"))
            .collect();
        (writer, readers)
    });
    let writer = writer?;
    println!(
        "writer: {} commits in {:.1} s ({:.0} commits/s, {:.0} transfers/s, durable), {} aborted",
        writer.commits,
        writer.elapsed.as_secs_f64(),
        writer.commits as f64 / writer.elapsed.as_secs_f64(),
        writer.transfers as f64 / writer.elapsed.as_secs_f64(),
        writer.aborted,
    );
    for (i, reader) in readers.into_iter().enumerate() {
        let reader = reader?;
        println!(
            "reader {i}: {} consistent snapshots (seq {}..={}), {:.0} entries/s scanned",
            reader.snapshots,
            reader.first_seq,
            reader.last_seq,
            reader.entries as f64 / reader.elapsed.as_secs_f64(),
        );
    }

    let last = check_snapshot(&db.begin_read()?)?;
    if last.seq != writer.commits {
        return Err(format!(
            "final snapshot at seq {}, but the writer committed {} times",
            last.seq, writer.commits
        )
        .into());
    }
    println!(
        "final snapshot: seq {}, {ACCOUNTS} accounts holding {TOTAL}: consistent",
        last.seq
    );

    let started = Instant::now();
    let report = db.check()?;
    println!(
        "check: ok in {:.2} s: {} tables, {} entries, {} branch + {} leaf + {} overflow pages, \
         {} freelist pages, {} free pages, high water {}",
        started.elapsed().as_secs_f64(),
        report.tables,
        report.entries,
        report.branch_pages,
        report.leaf_pages,
        report.overflow_pages,
        report.freelist_pages,
        report.free_pages,
        report.high_water,
    );
    let stats = db.stats()?;
    println!(
        "stats: page size {}, file {} bytes, txn {}, depth {}, {} branch + {} leaf + {} overflow pages, \
         {} freelist pages, {} free, {} pending, high water {}, fell back to older meta: {}",
        stats.page_size,
        stats.file_size,
        stats.txn_id,
        stats.depth,
        stats.branch_pages,
        stats.leaf_pages,
        stats.overflow_pages,
        stats.freelist_pages,
        stats.free_pages,
        stats.pending_pages,
        stats.high_water,
        stats.fell_back_to_older_meta,
    );
    Ok(())
}

fn account_key(id: u64) -> [u8; 12] {
    let mut key = *b"acct\0\0\0\0\0\0\0\0";
    key[4..].copy_from_slice(&id.to_be_bytes());
    key
}

fn balance(value: &[u8]) -> u64 {
    let bytes = value.get(..8).expect("account value holds a balance");
    u64::from_le_bytes(bytes.try_into().expect("8 bytes"))
}

fn set_balance(value: &mut [u8], balance: u64) {
    value[..8].copy_from_slice(&balance.to_le_bytes());
}

/// Loads every account in key order, a chunk per commit; only the last commit syncs.
fn bulk_load(db: &Database) -> Result<(), BoxError> {
    let started = Instant::now();
    let mut rng = SplitMix64::new(0xB0_06);
    let mut value = [0; VALUE_LEN];
    let mut first = 0;
    while first < ACCOUNTS {
        let end = (first + LOAD_CHUNK).min(ACCOUNTS);
        let mut wtx = db.begin_write()?;
        if end < ACCOUNTS {
            wtx.set_durability(Durability::None);
        } else {
            let _ = wtx.open_table(HISTORY_TABLE)?; // created empty
            wtx.open_table(META_TABLE)?
                .insert(SEQ_KEY, &0u64.to_le_bytes())?;
        }
        {
            let mut accounts = wtx.open_table(ACCOUNTS_TABLE)?;
            for id in first..end {
                rng.fill(&mut value);
                set_balance(&mut value, INITIAL_BALANCE);
                accounts.insert(&account_key(id), &value)?;
            }
        }
        wtx.commit()?;
        first = end;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "bulk load: {ACCOUNTS} accounts of {VALUE_LEN}-byte values in {elapsed:.2} s ({:.0} entries/s)",
        ACCOUNTS as f64 / elapsed
    );
    Ok(())
}

struct WriterReport {
    commits: u64,
    transfers: u64,
    aborted: u64,
    elapsed: Duration,
}

fn run_writer(db: &Database) -> Result<WriterReport, BoxError> {
    let mut rng = SplitMix64::new(0x7EA);
    let mut report = WriterReport {
        commits: 0,
        transfers: 0,
        aborted: 0,
        elapsed: Duration::ZERO,
    };
    let started = Instant::now();
    let mut attempts = 0u64;
    while started.elapsed() < RUN_FOR {
        attempts += 1;
        let bogus = attempts % ABORT_EVERY == 0;
        let seq = report.commits + 1;
        let wtx = db.begin_write()?;
        let mut transfers = 0;
        {
            let mut accounts = wtx.open_table(ACCOUNTS_TABLE)?;
            if bogus {
                // Money out of nowhere: must never be seen, since this transaction is aborted.
                let key = account_key(rng.below(ACCOUNTS as usize) as u64);
                let mut value = accounts.get(&key)?.ok_or("missing account")?.to_vec();
                let inflated = balance(&value) + 1_000_000;
                set_balance(&mut value, inflated);
                accounts.insert(&key, &value)?;
            }
            for _ in 0..TRANSFERS_PER_COMMIT {
                let from = rng.below(ACCOUNTS as usize) as u64;
                let to = (from + 1 + rng.below(ACCOUNTS as usize - 1) as u64) % ACCOUNTS;
                let amount = rng.below(200) as u64;
                if transfer(&mut accounts, from, to, amount)? {
                    transfers += 1;
                }
            }
        }
        wtx.open_table(META_TABLE)?
            .insert(SEQ_KEY, &seq.to_le_bytes())?;
        wtx.open_table(HISTORY_TABLE)?.insert(
            &seq.to_be_bytes(),
            format!("{transfers} transfers").as_bytes(),
        )?;
        if bogus {
            wtx.abort()?;
            report.aborted += 1;
        } else {
            wtx.commit()?;
            report.commits = seq;
            report.transfers += transfers;
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Moves `amount` from one account to another; false (and no change) if `from` can't cover it.
fn transfer(accounts: &mut Table<'_>, from: u64, to: u64, amount: u64) -> Result<bool, BoxError> {
    let (from_key, to_key) = (account_key(from), account_key(to));
    let mut from_value = accounts.get(&from_key)?.ok_or("missing account")?.to_vec();
    let from_balance = balance(&from_value);
    if from_balance < amount {
        return Ok(false);
    }
    let mut to_value = accounts.get(&to_key)?.ok_or("missing account")?.to_vec();
    let to_balance = balance(&to_value);
    set_balance(&mut from_value, from_balance - amount);
    set_balance(&mut to_value, to_balance + amount);
    accounts.insert(&from_key, &from_value)?;
    accounts.insert(&to_key, &to_value)?;
    Ok(true)
}

struct ReaderReport {
    snapshots: u64,
    entries: u64,
    first_seq: u64,
    last_seq: u64,
    elapsed: Duration,
}

/// Scans fresh snapshots until told to stop (at least one), checking each.
fn run_reader(db: &Database, stop: &AtomicBool) -> Result<ReaderReport, BoxError> {
    let started = Instant::now();
    let mut report = ReaderReport {
        snapshots: 0,
        entries: 0,
        first_seq: 0,
        last_seq: 0,
        elapsed: Duration::ZERO,
    };
    loop {
        let snapshot = check_snapshot(&db.begin_read()?)?;
        if snapshot.seq < report.last_seq {
            return Err(format!(
                "snapshot went back in time: seq {} after {}",
                snapshot.seq, report.last_seq
            )
            .into());
        }
        if report.snapshots == 0 {
            report.first_seq = snapshot.seq;
        }
        report.snapshots += 1;
        report.entries += snapshot.entries;
        report.last_seq = snapshot.seq;
        if stop.load(Ordering::Acquire) {
            break;
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

struct Snapshot {
    seq: u64,
    entries: u64,
}

/// Checks one snapshot: all accounts present and holding the total, one history row per commit,
/// and the sequence number unchanged after the scan (the writer commits meanwhile).
fn check_snapshot(rtx: &ReadTransaction) -> Result<Snapshot, BoxError> {
    let meta = rtx.open_table(META_TABLE)?;
    let seq = read_seq(&meta)?;
    let accounts = rtx.open_table(ACCOUNTS_TABLE)?;
    let (mut count, mut total) = (0u64, 0u64);
    for entry in accounts.iter()? {
        let (_, value) = entry?;
        total += balance(value);
        count += 1;
    }
    if (count, total) != (ACCOUNTS, TOTAL) {
        return Err(format!(
            "snapshot at seq {seq}: {count} accounts holding {total}, \
             expected {ACCOUNTS} holding {TOTAL}"
        )
        .into());
    }
    let logged = rtx.open_table(HISTORY_TABLE)?.len()?;
    if logged != seq {
        return Err(format!("snapshot at seq {seq} has {logged} history rows").into());
    }
    let again = read_seq(&meta)?;
    if again != seq {
        return Err(format!("seq changed within one snapshot: {seq} then {again}").into());
    }
    Ok(Snapshot {
        seq,
        entries: count + logged,
    })
}

fn read_seq(meta: &ReadTable<'_>) -> Result<u64, BoxError> {
    let bytes = meta.get(SEQ_KEY)?.ok_or("meta has no seq")?;
    Ok(u64::from_le_bytes(bytes.try_into()?))
}
