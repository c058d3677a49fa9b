//! The two storage modes side by side (issue 4, "The comparison"): the same workloads, on the same
//! data, against a copy-on-write database and a write-ahead-log database, in one run. Prints a
//! markdown table (one row per measurement; ratio = write-ahead log ÷ copy-on-write) and, with
//! `--csv PATH`, writes the same rows as CSV.
//!
//! Run: `cargo run --release --example compare_modes -- [--scale N] [--csv PATH]`
//!
//! - `--scale N` multiplies every count, duration and log size (default 1; 0.1 for a quick look).
//!
//! Data: 24-byte random keys and 150-byte random values from a splitmix64, so both modes get the
//! same bytes on every run. The databases live in a fresh directory under the system temp dir
//! (`TMPDIR`); durable figures depend on that file system. The workloads run one after the other
//! on the same two databases (a 200k-entry table that grows). Within a workload the modes take
//! turns (commit and read workloads in rounds that alternate them), so a change in machine load
//! hits both alike. Between workloads the log is checkpointed (untimed), so each workload starts
//! from an empty log.
//!
//! Crash recovery re-executes this binary with a hidden flag (`--child-load`): the child loads
//! 1000-entry durable commits with `checkpoint_bytes(u64::MAX)` until it has written the target
//! bytes of log, then leaves with `std::process::exit(0)`, so no checkpoint on close runs.

#[path = "../benches/support/splitmix64.rs"]
mod splitmix64;

use std::error::Error;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use bough::{Database, Mode, ReadTable};
use splitmix64::SplitMix64;

type BoxError = Box<dyn Error + Send + Sync>;

const KEY_LEN: usize = 24;
const VALUE_LEN: usize = 150;
/// User bytes per entry, the denominator of write amplification.
const ENTRY_BYTES: u64 = (KEY_LEN + VALUE_LEN) as u64;
const TABLE: &str = "compare";
const MIB: f64 = (1u64 << 20) as f64;

/// Entries of the bulk load (one durable commit); every read workload reads them.
const BULK_ENTRIES: usize = 200_000;
/// Commit workloads run in this many rounds, alternating the modes.
const COMMIT_ROUNDS: usize = 5;
/// Read workloads run this many rounds, alternating the modes; the best round counts.
const READ_ROUNDS: usize = 3;
/// Gets and 100-entry scans over all rounds.
const GETS: usize = 300_000;
const SHORT_SCANS: usize = 3_000;
const SHORT_SCAN_LEN: usize = 100;
const SINGLE_COMMITS: usize = 500;
const BATCHES: usize = 50;
const BATCH: usize = 1000;
const READERS: usize = 2;
const CONCURRENT_FOR: Duration = Duration::from_secs(3);
/// Gets per read transaction while the writer commits.
const GETS_PER_READ_TXN: usize = 100;
const RECOVERY_MIB: [u64; 3] = [16, 64, 256];

const MODES: [Mode; 2] = [Mode::CopyOnWrite, Mode::Wal];

type Key = [u8; KEY_LEN];

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child-load") {
        return child_load(&args[1..]);
    }
    let options = Options::parse(&args)?;
    let report = run(&options)?;
    let table = report.markdown();
    println!("{table}");
    if let Some(csv) = &options.csv {
        std::fs::write(csv, report.csv())?;
        eprintln!("wrote {}", csv.display());
    }
    Ok(())
}

struct Options {
    scale: f64,
    csv: Option<PathBuf>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, BoxError> {
        let mut options = Options {
            scale: 1.0,
            csv: None,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--scale" => {
                    let value = args.next().ok_or("--scale needs a number")?;
                    options.scale = value.parse()?;
                    if !options.scale.is_finite() || options.scale <= 0.0 {
                        return Err("--scale must be positive".into());
                    }
                }
                "--csv" => options.csv = Some(args.next().ok_or("--csv needs a path")?.into()),
                "-h" | "--help" => {
                    println!(
                        "usage: compare_modes [--scale N] [--csv PATH]\n\
                         Runs the same workloads in copy-on-write and write-ahead-log mode and \
                         prints a markdown table."
                    );
                    std::process::exit(0);
                }
                other => return Err(format!("unknown argument {other:?} (try --help)").into()),
            }
        }
        Ok(options)
    }

    fn count(&self, base: usize) -> usize {
        ((base as f64 * self.scale).round() as usize).max(1)
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::CopyOnWrite => "copy-on-write",
        Mode::Wal => "write-ahead log",
    }
}

fn mode_flag(mode: Mode) -> &'static str {
    match mode {
        Mode::CopyOnWrite => "cow",
        Mode::Wal => "wal",
    }
}

/// One measurement in both modes. `None` where the measurement has no meaning in a mode.
struct Row {
    workload: String,
    cells: [Option<f64>; 2],
    /// Extra text after a mode's number (the main/log split of a file size).
    details: [Option<String>; 2],
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn add(&mut self, workload: impl Into<String>, cells: [Option<f64>; 2]) {
        self.rows.push(Row {
            workload: workload.into(),
            cells,
            details: [None, None],
        });
    }

    fn both(&mut self, workload: impl Into<String>, cells: [f64; 2]) {
        self.add(workload, cells.map(Some));
    }

    /// A file-size row: total MiB per mode, and for the log mode "main + log".
    fn sizes(&mut self, workload: impl Into<String>, sizes: [Footprint; 2]) {
        self.rows.push(Row {
            workload: workload.into(),
            cells: sizes.map(|s| Some(s.total() as f64 / MIB)),
            details: sizes.map(|s| {
                (s.log > 0).then(|| {
                    format!(
                        "({} + {} log)",
                        number(s.main as f64 / MIB),
                        number(s.log as f64 / MIB)
                    )
                })
            }),
        });
    }

    fn ratio(row: &Row) -> Option<f64> {
        match row.cells {
            [Some(cow), Some(wal)] if cow > 0.0 => Some(wal / cow),
            _ => None,
        }
    }

    fn cell(row: &Row, i: usize) -> String {
        match (&row.cells[i], &row.details[i]) {
            (None, _) => "—".to_owned(),
            (Some(v), None) => number(*v),
            (Some(v), Some(detail)) => format!("{} {detail}", number(*v)),
        }
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("| workload | copy-on-write | write-ahead log | ratio |\n");
        out.push_str("|---|---:|---:|---:|\n");
        for row in &self.rows {
            let ratio = Report::ratio(row).map_or("—".to_owned(), |r| format!("{r:.2}×"));
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                row.workload,
                Report::cell(row, 0),
                Report::cell(row, 1),
                ratio
            );
        }
        out.push('\n');
        for note in &self.notes {
            let _ = writeln!(out, "- {note}");
        }
        out
    }

    fn csv(&self) -> String {
        let mut out = String::from(
            "workload,copy_on_write,write_ahead_log,ratio,copy_on_write_detail,write_ahead_log_detail\n",
        );
        let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        for row in &self.rows {
            let detail = |i: usize| csv_field(row.details[i].as_deref().unwrap_or(""));
            let _ = writeln!(
                out,
                "{},{},{},{},{},{}",
                csv_field(&row.workload),
                num(row.cells[0]),
                num(row.cells[1]),
                num(Report::ratio(row)),
                detail(0),
                detail(1),
            );
        }
        out
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Three significant digits or so, with thousands separated by commas.
fn number(v: f64) -> String {
    if v.abs() >= 100.0 {
        let digits = format!("{:.0}", v.abs());
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        if v < 0.0 {
            format!("-{grouped}")
        } else {
            grouped
        }
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// Bytes this process has passed to write-like system calls so far (`wchar` in /proc/self/io):
/// what the engine asked the kernel to write, before the page cache rounds it to blocks.
fn bytes_written() -> Result<u64, BoxError> {
    let io = std::fs::read_to_string("/proc/self/io")?;
    io.lines()
        .find_map(|line| line.strip_prefix("wchar:"))
        .ok_or("/proc/self/io has no wchar line")?
        .trim()
        .parse()
        .map_err(Into::into)
}

fn log_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

#[derive(Clone, Copy)]
struct Footprint {
    main: u64,
    log: u64,
}

impl Footprint {
    /// The length of the main file and of the log beside it (absent in copy-on-write mode).
    fn of(path: &Path) -> Result<Footprint, BoxError> {
        let log = match std::fs::metadata(log_path(path)) {
            Ok(meta) => meta.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e.into()),
        };
        Ok(Footprint {
            main: std::fs::metadata(path)?.len(),
            log,
        })
    }

    fn total(self) -> u64 {
        self.main + self.log
    }
}

fn random_entry(rng: &mut SplitMix64, key: &mut Key, value: &mut [u8; VALUE_LEN]) {
    rng.fill(key);
    rng.fill(value);
}

/// One write transaction inserting `count` fresh random entries, committed durably.
fn commit_random(db: &Database, rng: &mut SplitMix64, count: usize) -> Result<(), BoxError> {
    let (mut key, mut value) = ([0; KEY_LEN], [0; VALUE_LEN]);
    let wtx = db.begin_write()?;
    {
        let mut table = wtx.open_table(TABLE)?;
        for _ in 0..count {
            random_entry(rng, &mut key, &mut value);
            table.insert(&key, &value)?;
        }
    }
    wtx.commit()?;
    Ok(())
}

/// Checkpoints a log-mode database (a no-op in copy-on-write mode); fails if a reader blocks it.
fn checkpoint(db: &Database) -> Result<(), BoxError> {
    if db.checkpoint()? {
        Ok(())
    } else {
        Err("checkpoint refused: a reader of an older snapshot is still open".into())
    }
}

/// The two databases under comparison, index 0 copy-on-write, 1 write-ahead log.
struct Pair {
    paths: [PathBuf; 2],
    dbs: [Database; 2],
}

impl Pair {
    fn footprints(&self) -> Result<[Footprint; 2], BoxError> {
        Ok([
            Footprint::of(&self.paths[0])?,
            Footprint::of(&self.paths[1])?,
        ])
    }

    fn checkpoint(&self) -> Result<(), BoxError> {
        self.dbs.iter().try_for_each(checkpoint)
    }
}

fn progress(what: &str) {
    eprintln!("[compare_modes] {what}");
}

fn run(options: &Options) -> Result<Report, BoxError> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("bough-compare-")
        .tempdir()?;
    progress(&format!(
        "databases in {} (scale {})",
        dir.path().display(),
        options.scale
    ));
    let paths = MODES.map(|mode| dir.path().join(format!("{}.bough", mode_flag(mode))));
    let mut dbs = Vec::new();
    for (mode, path) in MODES.iter().zip(&paths) {
        dbs.push(Database::builder().mode(*mode).open(path)?);
    }
    let dbs: [Database; 2] = dbs.try_into().map_err(|_| "two databases")?;
    let pair = Pair { paths, dbs };
    let mut report = Report::default();

    let (keys, load_written) = bulk_load(options, &pair, &mut report)?;
    reads(options, &pair, &keys, "just after the load", &mut report)?;
    checkpoint_after_load(&pair, keys.len(), load_written, &mut report)?;
    reads(options, &pair, &keys, "after a checkpoint", &mut report)?;
    single_inserts(options, &pair, &mut report)?;
    batch_inserts(options, &pair, &mut report)?;
    reads_while_writing(options, &pair, &keys, &mut report)?;
    drop(pair);

    for mib in RECOVERY_MIB {
        recovery(options, dir.path(), mib, &mut report)?;
    }

    report.notes.push(
        "ratio = write-ahead log ÷ copy-on-write. For rates (/s) higher is better; for times, \
         latencies, sizes and amplification lower is better."
            .to_owned(),
    );
    report.notes.push(format!(
        "Data: {KEY_LEN}-byte random keys, {VALUE_LEN}-byte random values; the table holds \
         {} entries after the bulk load and grows with each write workload. Every commit is \
         durable (Durability::Immediate, CommitProtocol::OneSync); log mode uses the default \
         checkpoint threshold of 64 MiB.",
        options.count(BULK_ENTRIES)
    ));
    report.notes.push(
        "Write amplification = bytes the process passed to write/pwrite calls (wchar in \
         /proc/self/io) ÷ bytes of keys and values inserted. It counts what the engine asks the \
         kernel to write, not what the device finally writes (no filesystem journal, no rounding \
         to blocks). \"+ checkpoint\" adds the checkpoint that copies the workload's pages from \
         the log into the main file (copy-on-write has none)."
            .to_owned(),
    );
    report.notes.push(format!(
        "Reads: the best of {READ_ROUNDS} rounds that alternate the modes, one read transaction \
         per round. Reads while writing: each reader opens a read transaction per \
         {GETS_PER_READ_TXN} gets and times every get; {READERS} readers and the writer share \
         this machine's cores with anything else running, so the worst get includes scheduling \
         delays in both modes (p99.9 is steadier)."
    ));
    report.notes.push(
        "File sizes are file lengths: main file + log in log mode. A checkpoint starts the log \
         over but does not shrink it; neither mode shrinks its main file."
            .to_owned(),
    );
    report.notes.push(
        "Recovery: a child process commits 1000-entry batches (checkpoint_bytes = u64::MAX in \
         log mode) until it has written the stated amount of log, then exits without closing; \
         copy-on-write gets the same commits. The open is timed in this process; the log and \
         file are still in the page cache (a process crash, not a power loss). \"replay\" is \
         stats().recovery_time: scanning the log, copying its pages into the file and syncing."
            .to_owned(),
    );
    progress(&format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(report)
}

/// Loads the table in one durable commit per mode; returns its keys and the bytes each mode's
/// commit wrote.
fn bulk_load(
    options: &Options,
    pair: &Pair,
    report: &mut Report,
) -> Result<(Vec<Key>, [u64; 2]), BoxError> {
    let entries = options.count(BULK_ENTRIES);
    progress(&format!(
        "bulk load: {entries} entries in one durable commit"
    ));
    let mut keys = Vec::with_capacity(entries);
    let mut times = [0.0; 2];
    let mut commit_times = [0.0; 2];
    let mut written = [0u64; 2];
    for (i, db) in pair.dbs.iter().enumerate() {
        let mut rng = SplitMix64::new(0xB01D);
        let (mut key, mut value) = ([0; KEY_LEN], [0; VALUE_LEN]);
        keys.clear();
        let before = bytes_written()?;
        let start = Instant::now();
        let wtx = db.begin_write()?;
        {
            let mut table = wtx.open_table(TABLE)?;
            for _ in 0..entries {
                random_entry(&mut rng, &mut key, &mut value);
                table.insert(&key, &value)?;
                keys.push(key);
            }
        }
        let committing = Instant::now();
        wtx.commit()?;
        times[i] = start.elapsed().as_secs_f64();
        commit_times[i] = committing.elapsed().as_secs_f64();
        written[i] = bytes_written()? - before;
    }
    report.both(
        format!("bulk load, {entries} entries in one durable commit, s"),
        times,
    );
    report.both("… of which the commit (write + sync), s", commit_times);
    report.sizes("file size after the bulk load, MiB", pair.footprints()?);
    Ok((keys, written))
}

/// Checkpoints the bulk load; its write amplification counts the load's commit and this copy.
fn checkpoint_after_load(
    pair: &Pair,
    entries: usize,
    load_written: [u64; 2],
    report: &mut Report,
) -> Result<(), BoxError> {
    progress("checkpoint after the load");
    let mut times = [None; 2];
    let mut amplification = [0.0; 2];
    let user = entries as f64 * ENTRY_BYTES as f64;
    for (i, db) in pair.dbs.iter().enumerate() {
        let before = bytes_written()?;
        let start = Instant::now();
        checkpoint(db)?;
        let elapsed = start.elapsed().as_secs_f64();
        if MODES[i] == Mode::Wal {
            times[i] = Some(elapsed * 1e3);
        }
        amplification[i] = (load_written[i] + bytes_written()? - before) as f64 / user;
    }
    report.add("checkpoint after the bulk load, ms", times);
    report.sizes("file size after that checkpoint, MiB", pair.footprints()?);
    report.both(
        "write amplification, bulk load (+ checkpoint)",
        amplification,
    );
    Ok(())
}

/// Random point gets, full scans and 100-entry scans from random keys. Each is measured in
/// `READ_ROUNDS` rounds that alternate the modes, and the best round counts: on a shared machine
/// the best round is the one least disturbed by other work.
fn reads(
    options: &Options,
    pair: &Pair,
    keys: &[Key],
    when: &str,
    report: &mut Report,
) -> Result<(), BoxError> {
    let gets = options.count(GETS / READ_ROUNDS);
    let short_scans = options.count(SHORT_SCANS / READ_ROUNDS);
    progress(&format!("reads {when}"));
    let rtxs = [pair.dbs[0].begin_read()?, pair.dbs[1].begin_read()?];
    let tables = [rtxs[0].open_table(TABLE)?, rtxs[1].open_table(TABLE)?];
    let best_of = |measure: &dyn Fn(&ReadTable<'_>, &mut SplitMix64) -> Result<u64, BoxError>| {
        let mut best = [0.0f64; 2];
        for round in 0..READ_ROUNDS {
            for (i, table) in tables.iter().enumerate() {
                let mut rng = SplitMix64::new(0x6E7 + round as u64);
                let start = Instant::now();
                let done = measure(table, &mut rng)?;
                best[i] = best[i].max(done as f64 / start.elapsed().as_secs_f64());
            }
        }
        Ok::<_, BoxError>(best)
    };
    let get_rate = best_of(&|table, rng| {
        let mut bytes = 0;
        for _ in 0..gets {
            let key = &keys[rng.below(keys.len())];
            bytes += table.get(key)?.ok_or("a loaded key is missing")?.len();
        }
        std::hint::black_box(bytes);
        Ok(gets as u64)
    })?;
    let full_rate = best_of(&|table, _| {
        let mut entries = 0;
        for entry in table.iter()? {
            std::hint::black_box(entry?);
            entries += 1;
        }
        Ok(entries)
    })?;
    let short_rate = best_of(&|table, rng| {
        let mut entries = 0;
        for _ in 0..short_scans {
            let from = keys[rng.below(keys.len())].as_slice();
            for entry in table.range(from..)?.take(SHORT_SCAN_LEN) {
                std::hint::black_box(entry?);
                entries += 1;
            }
        }
        Ok(entries)
    })?;
    report.both(format!("random point gets {when}, gets/s"), get_rate);
    report.both(format!("full scan {when}, entries/s"), full_rate);
    report.both(
        format!("{SHORT_SCAN_LEN}-entry scans from random keys {when}, entries/s"),
        short_rate,
    );
    Ok(())
}

/// Times `commits` durable commits of `per_commit` inserts each in both modes; reports the mean
/// commit time, write amplification with and without the checkpoint that follows, and the file
/// size.
fn timed_commits(
    pair: &Pair,
    report: &mut Report,
    label: &str,
    commits: usize,
    per_commit: usize,
    seed: u64,
    unit: (&str, f64),
) -> Result<(), BoxError> {
    let mut elapsed = [Duration::ZERO; 2];
    let mut written = [0u64; 2];
    let mut with_checkpoint = [0.0; 2];
    let mut sizes = [Footprint { main: 0, log: 0 }; 2];
    let user = (commits * per_commit) as f64 * ENTRY_BYTES as f64;
    let mut rngs = [SplitMix64::new(seed), SplitMix64::new(seed)];
    // Rounds alternate the modes so a change in machine load hits both alike.
    for round in 0..COMMIT_ROUNDS {
        let in_round = commits * (round + 1) / COMMIT_ROUNDS - commits * round / COMMIT_ROUNDS;
        for (i, db) in pair.dbs.iter().enumerate() {
            let before = bytes_written()?;
            let start = Instant::now();
            for _ in 0..in_round {
                commit_random(db, &mut rngs[i], per_commit)?;
            }
            elapsed[i] += start.elapsed();
            written[i] += bytes_written()? - before;
        }
    }
    for (i, db) in pair.dbs.iter().enumerate() {
        sizes[i] = Footprint::of(&pair.paths[i])?;
        let before = bytes_written()?;
        checkpoint(db)?;
        with_checkpoint[i] = (written[i] + bytes_written()? - before) as f64 / user;
    }
    let per = elapsed.map(|e| e.as_secs_f64() * unit.1 / commits as f64);
    let amplification = written.map(|w| w as f64 / user);
    report.both(format!("{label}, {}/commit", unit.0), per);
    report.both(format!("write amplification, {label}"), amplification);
    report.both(
        format!("write amplification, {label} (+ checkpoint)"),
        with_checkpoint,
    );
    report.sizes(format!("file size after the {label}, MiB"), sizes);
    Ok(())
}

fn single_inserts(options: &Options, pair: &Pair, report: &mut Report) -> Result<(), BoxError> {
    let commits = options.count(SINGLE_COMMITS);
    progress(&format!("{commits} durable single-insert commits"));
    timed_commits(
        pair,
        report,
        &format!("{commits} durable single-insert commits"),
        commits,
        1,
        0x51,
        ("µs", 1e6),
    )
}

fn batch_inserts(options: &Options, pair: &Pair, report: &mut Report) -> Result<(), BoxError> {
    let commits = options.count(BATCHES);
    progress(&format!("{commits} durable commits of {BATCH} inserts"));
    timed_commits(
        pair,
        report,
        &format!("{commits} durable {BATCH}-insert commits"),
        commits,
        BATCH,
        0xBA7C,
        ("ms", 1e3),
    )
}

/// What the readers saw while the writer committed.
struct Concurrent {
    gets_per_s: f64,
    worst_us: f64,
    p999_us: f64,
    commits_per_s: f64,
}

/// Reader threads doing random gets (a read transaction per `GETS_PER_READ_TXN`) while this
/// thread commits durable batches.
fn concurrent_run(
    db: &Database,
    keys: &[Key],
    duration: Duration,
    seed: u64,
) -> Result<Concurrent, BoxError> {
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let (commits, readers) = thread::scope(|s| {
        let handles: Vec<_> = (0..READERS)
            .map(|r| {
                let stop = &stop;
                s.spawn(move || -> Result<Vec<u32>, BoxError> {
                    let mut rng = SplitMix64::new(0x4EAD + r as u64);
                    let mut latencies = Vec::with_capacity(1 << 22);
                    while !stop.load(Ordering::Relaxed) {
                        let rtx = db.begin_read()?;
                        let table = rtx.open_table(TABLE)?;
                        for _ in 0..GETS_PER_READ_TXN {
                            let key = &keys[rng.below(keys.len())];
                            let start = Instant::now();
                            let value = table.get(key)?;
                            let nanos = start.elapsed().as_nanos();
                            if value.is_none() {
                                return Err("a loaded key is missing".into());
                            }
                            latencies.push(u32::try_from(nanos).unwrap_or(u32::MAX));
                        }
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut rng = SplitMix64::new(seed);
        let mut commits = 0u64;
        let writer = (|| -> Result<(), BoxError> {
            while started.elapsed() < duration {
                commit_random(db, &mut rng, BATCH)?;
                commits += 1;
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        let readers: Vec<_> = handles
            .into_iter()
            .map(|h| h.join().expect("reader thread panicked"))
            .collect();
        (writer.map(|()| commits), readers)
    });
    let elapsed = started.elapsed().as_secs_f64();
    let commits = commits?;
    let mut all = Vec::new();
    for reader in readers {
        all.extend(reader?);
    }
    all.sort_unstable();
    let at = |q: f64| all[((all.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
    Ok(Concurrent {
        gets_per_s: all.len() as f64 / elapsed,
        worst_us: at(1.0),
        p999_us: at(0.999),
        commits_per_s: commits as f64 / elapsed,
    })
}

fn reads_while_writing(
    options: &Options,
    pair: &Pair,
    keys: &[Key],
    report: &mut Report,
) -> Result<(), BoxError> {
    let duration = CONCURRENT_FOR.mul_f64(options.scale);
    progress(&format!(
        "{READERS} readers doing random gets for {:.1} s while a writer commits {BATCH}-insert batches",
        duration.as_secs_f64()
    ));
    let mut results = Vec::new();
    let mut sizes = [Footprint { main: 0, log: 0 }; 2];
    for (i, db) in pair.dbs.iter().enumerate() {
        results.push(concurrent_run(db, keys, duration, 0xC0C0)?);
        sizes[i] = Footprint::of(&pair.paths[i])?;
    }
    pair.checkpoint()?;
    let field = |f: fn(&Concurrent) -> f64| [f(&results[0]), f(&results[1])];
    let label = format!("{READERS} readers while a writer commits {BATCH}-insert batches");
    report.both(
        format!("{label}: reader gets/s (all readers)"),
        field(|c| c.gets_per_s),
    );
    report.both(
        format!("{label}: worst single get, µs"),
        field(|c| c.worst_us),
    );
    report.both(format!("{label}: p99.9 get, µs"), field(|c| c.p999_us));
    report.both(
        format!("{label}: writer commits/s"),
        field(|c| c.commits_per_s),
    );
    report.sizes(
        "file size after the reads while writing (before a checkpoint), MiB",
        sizes,
    );
    Ok(())
}

/// Crash with `mib` MiB of log in a child process, then time the open here.
fn recovery(options: &Options, dir: &Path, mib: u64, report: &mut Report) -> Result<(), BoxError> {
    let target = ((mib << 20) as f64 * options.scale) as u64;
    let label = format!("{:.0} MiB", target as f64 / MIB);
    progress(&format!("recovery after a crash with {label} of log"));
    let seed = 0xC4A5 + mib;
    let wal = dir.join(format!("crash-{mib}-wal-mode.bough"));
    let cow = dir.join(format!("crash-{mib}-cow-mode.bough"));
    let batches = run_child(
        &wal,
        Mode::Wal,
        &format!("--until-log-bytes={target}"),
        seed,
    )?;
    run_child(
        &cow,
        Mode::CopyOnWrite,
        &format!("--batches={batches}"),
        seed,
    )?;

    let mut open_ms = [0.0; 2];
    let mut replay = [None, None];
    let mut replayed = [None, None];
    for (i, (mode, path)) in MODES.iter().zip([&cow, &wal]).enumerate() {
        let start = Instant::now();
        let db = Database::builder().mode(*mode).open(path)?;
        open_ms[i] = start.elapsed().as_secs_f64() * 1e3;
        let stats = db.stats()?;
        let len = db.begin_read()?.open_table(TABLE)?.len()?;
        if len != (batches * BATCH) as u64 {
            return Err(format!(
                "{} database holds {len} entries after the crash, expected {}",
                mode_name(*mode),
                batches * BATCH
            )
            .into());
        }
        if *mode == Mode::Wal {
            replay[i] = Some(stats.recovery_time.as_secs_f64() * 1e3);
            replayed[i] = Some(stats.recovered_bytes as f64 / MIB);
        }
        drop(db);
        std::fs::remove_file(path)?;
        let _ = std::fs::remove_file(log_path(path));
    }
    report.both(
        format!("open after a crash with {label} of log ({batches} commits), ms"),
        open_ms,
    );
    report.add("… of which replay (stats().recovery_time), ms", replay);
    report.add("… log replayed (stats().recovered_bytes), MiB", replayed);
    Ok(())
}

/// Runs this binary as the crashing child; returns the number of commits it made.
fn run_child(path: &Path, mode: Mode, limit: &str, seed: u64) -> Result<usize, BoxError> {
    let output = Command::new(std::env::current_exe()?)
        .arg("--child-load")
        .arg(path)
        .arg(format!("--mode={}", mode_flag(mode)))
        .arg(limit)
        .arg(format!("--seed={seed}"))
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "crash child ({}) failed: {}",
            mode_name(mode),
            output.status
        )
        .into());
    }
    let stdout = String::from_utf8(output.stdout)?;
    let batches = stdout
        .lines()
        .find_map(|line| line.strip_prefix("batches "))
        .ok_or_else(|| format!("crash child printed no batch count: {stdout:?}"))?;
    Ok(batches.trim().parse()?)
}

/// The hidden child: `--child-load PATH --mode=cow|wal (--until-log-bytes=N | --batches=N)
/// --seed=N`. Commits durable batches, prints the count and exits without closing the database.
fn child_load(args: &[String]) -> Result<(), BoxError> {
    let path = PathBuf::from(args.first().ok_or("--child-load needs a path")?);
    let (mut mode, mut until_bytes, mut batches, mut seed) = (None, None, None, 0);
    for arg in &args[1..] {
        let (name, value) = arg.split_once('=').ok_or("child flags are --name=value")?;
        match name {
            "--mode" => {
                mode = Some(match value {
                    "cow" => Mode::CopyOnWrite,
                    "wal" => Mode::Wal,
                    _ => return Err(format!("unknown mode {value:?}").into()),
                })
            }
            "--until-log-bytes" => until_bytes = Some(value.parse::<u64>()?),
            "--batches" => batches = Some(value.parse::<usize>()?),
            "--seed" => seed = value.parse()?,
            _ => return Err(format!("unknown child flag {name:?}").into()),
        }
    }
    let mode = mode.ok_or("the child needs --mode")?;
    let db = Database::builder()
        .mode(mode)
        .checkpoint_bytes(u64::MAX)
        .open(&path)?;
    let mut rng = SplitMix64::new(seed);
    let before = bytes_written()?;
    let mut done = 0usize;
    loop {
        commit_random(&db, &mut rng, BATCH)?;
        done += 1;
        let enough = match (until_bytes, batches) {
            // In log mode with no checkpoint every write goes to the log.
            (Some(bytes), _) => bytes_written()? - before >= bytes,
            (None, Some(n)) => done >= n,
            (None, None) => return Err("the child needs --until-log-bytes or --batches".into()),
        };
        if enough {
            break;
        }
    }
    println!("batches {done}");
    std::io::stdout().flush()?;
    // A crash as far as the database can tell: no destructor runs, so no checkpoint on close.
    std::process::exit(0);
}
