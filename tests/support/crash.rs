//! Record a workload on the simulated disk, then rebuild and check every image a crash at
//! each recorded operation can leave.

use super::workloads::{key, value};
use bough::testing::{CrashImages, Event, SimDisk};
use bough::{Builder, CommitProtocol, Database, Durability, Mode, ReadTransaction};
use std::collections::{BTreeMap, HashSet};

pub type Model = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

#[derive(Clone, Debug)]
pub enum Op {
    Insert(&'static str, Vec<u8>, Vec<u8>),
    Remove(&'static str, Vec<u8>),
    DeleteTable(&'static str),
    /// The same key and value into two tables through two handles open at once.
    InsertBoth(&'static str, &'static str, Vec<u8>, Vec<u8>),
    /// Takes a savepoint.
    Savepoint,
    /// Restores the newest savepoint still taken.
    Restore,
}

#[derive(Clone, Debug)]
pub enum Step {
    Commit(Vec<Op>, Durability),
    Abort(Vec<Op>),
    BeginReader,
    EndReader,
    /// Begins a reader and ends the oldest live one once more than two live, so readers
    /// overlap and the oldest is always a commit or two behind.
    RotateReaders,
    /// `Database::compact`: several commits of the same content.
    Compact,
    /// Threads committing at once (two commits in three durable), each sync taking long
    /// enough for commits to queue behind it (group commit); every durable `commit` must
    /// return only once its transaction is durable.
    Concurrent {
        threads: u64,
        commits: u64,
    },
    /// A durable commit made while a second writer waits (so it queues and hands the state
    /// on before its sync); the second writer begins during that sync and commits, with the
    /// given durability, after it has ended if the flag is set, else at once (so it queues
    /// behind the sync).
    BehindASync(Vec<Op>, Vec<Op>, Durability, bool),
    /// Four durable writers, each beginning as soon as the one before hands the writer's
    /// state on: the first leads a sync, the second queues behind it, the third begins while
    /// the second waits and commits at once (joining its group) or, if the flag is set, only
    /// once the second's group is being synced; the fourth begins as the third queues.
    FourWriters([Vec<Op>; 4], bool),
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub name: &'static str,
    pub page_size: usize,
    pub steps: Vec<Step>,
}

/// A committed state and where its commit sits among the recorded operations.
#[derive(Clone, Debug)]
pub struct CommitMark {
    pub txn: u64,
    /// Operations recorded before the transaction began.
    pub started: usize,
    /// Operations recorded when `commit` returned.
    pub returned: usize,
    pub durable: bool,
    pub state: Model,
}

#[derive(Debug)]
pub struct Run {
    pub initial: Vec<u8>,
    pub events: Vec<Event>,
    pub commits: Vec<CommitMark>,
    pub page_size: usize,
}

fn apply(tx: &mut bough::WriteTransaction, model: &mut Model, ops: &[Op]) {
    let mut saved: Vec<(bough::Savepoint, Model)> = Vec::new();
    for op in ops {
        match op {
            Op::InsertBoth(a, b, k, v) => {
                let mut first = tx.open_table(a).unwrap();
                let mut second = tx.open_table(b).unwrap();
                first.insert(k, v).unwrap();
                second.insert(k, v).unwrap();
                for t in [a, b] {
                    let table = model.entry(t.to_string()).or_default();
                    table.insert(k.clone(), v.clone());
                }
            }
            Op::Savepoint => saved.push((tx.savepoint().unwrap(), model.clone())),
            Op::Restore => {
                let (savepoint, state) = saved.pop().expect("a savepoint to restore");
                tx.restore_savepoint(&savepoint).unwrap();
                *model = state;
            }
            Op::Insert(t, k, v) => {
                tx.open_table(t).unwrap().insert(k, v).unwrap();
                model
                    .entry(t.to_string())
                    .or_default()
                    .insert(k.clone(), v.clone());
            }
            Op::Remove(t, k) => {
                let removed = tx.open_table(t).unwrap().remove(k).unwrap();
                let table = model.entry(t.to_string()).or_default();
                assert_eq!(removed, table.remove(k).is_some());
            }
            Op::DeleteTable(t) => {
                assert_eq!(tx.delete_table(t).unwrap(), model.remove(*t).is_some());
            }
        }
    }
}

/// How the database under test is opened.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub protocol: CommitProtocol,
    pub mode: Mode,
    /// Log mode: checkpoint once the log holds this many bytes.
    pub checkpoint_bytes: u64,
    /// Copy-on-write mode: dirty bytes kept in memory before pages are written early.
    pub dirty_budget: usize,
}

impl Setup {
    /// Every combination the crash tests cover.
    pub const ALL: [Setup; 5] = [
        // A budget of eight pages: the large transactions of the delete workload write pages
        // early (spill, 15 times), so crashes land between spills, and between spills and
        // the commit, too. Smaller budgets spill in every workload but multiply the crash
        // images past CI's time (four pages: about 65 times as many for that workload).
        Setup {
            protocol: CommitProtocol::OneSync,
            mode: Mode::CopyOnWrite,
            checkpoint_bytes: 64 << 20,
            dirty_budget: 8 * 4096,
        },
        Setup {
            protocol: CommitProtocol::TwoSync,
            mode: Mode::CopyOnWrite,
            checkpoint_bytes: 64 << 20,
            dirty_budget: 64 << 20,
        },
        // Chained commits (DESIGN.md, "Chained commits"): small durable commits append
        // records to chains, the others write metas that end and start them.
        Setup {
            protocol: CommitProtocol::Chained,
            mode: Mode::CopyOnWrite,
            checkpoint_bytes: 64 << 20,
            dirty_budget: 64 << 20,
        },
        Setup {
            protocol: CommitProtocol::OneSync,
            mode: Mode::Wal,
            checkpoint_bytes: 64 << 20,
            dirty_budget: 64 << 20,
        },
        // A checkpoint after nearly every commit: crashes land inside checkpoints too.
        Setup {
            protocol: CommitProtocol::OneSync,
            mode: Mode::Wal,
            checkpoint_bytes: 16 << 10,
            dirty_budget: 64 << 20,
        },
    ];

    fn builder(&self, page_size: usize) -> Builder {
        Database::builder()
            .page_size(page_size)
            .commit_protocol(self.protocol)
            .mode(self.mode)
            .checkpoint_bytes(self.checkpoint_bytes)
            .dirty_page_budget(self.dirty_budget)
    }
}

/// Runs `workload` once on a recording simulated disk.
pub fn run_workload(workload: &Workload, setup: Setup) -> Run {
    let disk = SimDisk::new();
    disk.record();
    let db = setup
        .builder(workload.page_size)
        .open_simulated(disk.clone())
        .unwrap();
    let initial = Vec::new();
    let mut model = Model::new();
    let mut commits = vec![CommitMark {
        txn: 0,
        started: 0,
        returned: 0,
        durable: true,
        state: model.clone(),
    }];
    let mut readers: Vec<ReadTransaction> = Vec::new();
    for step in &workload.steps {
        match step {
            Step::Commit(ops, durability) => {
                let started = disk.event_count();
                let mut tx = db.begin_write().unwrap();
                let mut next = model.clone();
                apply(&mut tx, &mut next, ops);
                tx.set_durability(*durability);
                let txn = tx.id();
                tx.commit().unwrap();
                model = next;
                commits.push(CommitMark {
                    txn,
                    started,
                    returned: disk.event_count(),
                    durable: *durability == Durability::Immediate,
                    state: model.clone(),
                });
            }
            Step::Abort(ops) => {
                let mut tx = db.begin_write().unwrap();
                apply(&mut tx, &mut model.clone(), ops);
                drop(tx);
            }
            Step::Concurrent {
                threads,
                commits: n,
            } => {
                let (state, marks) = run_concurrently(&db, &disk, model, *threads, *n);
                model = state;
                commits.extend(marks);
            }
            Step::BehindASync(first, second, durability, outlast) => {
                let (state, marks) =
                    commit_behind_a_sync(&db, &disk, model, first, second, *durability, *outlast);
                model = state;
                commits.extend(marks);
            }
            Step::FourWriters(ops, outlast) => {
                let (state, marks) = four_writers(&db, &disk, model, ops, *outlast);
                model = state;
                commits.extend(marks);
            }
            Step::BeginReader => readers.push(db.begin_read().unwrap()),
            Step::EndReader => drop(readers.pop()),
            Step::RotateReaders => {
                readers.push(db.begin_read().unwrap());
                if readers.len() > 2 {
                    drop(readers.remove(0));
                }
            }
            Step::Compact => {
                // Every commit of a compaction holds the same content: each is a committed
                // state a crash inside it may leave, and none is in the past until it ends.
                let started = disk.event_count();
                let before = db.begin_read().unwrap().snapshot_id();
                db.compact().unwrap();
                let after = db.begin_read().unwrap().snapshot_id();
                for txn in before + 1..=after {
                    commits.push(CommitMark {
                        txn,
                        started,
                        returned: disk.event_count(),
                        durable: true,
                        state: model.clone(),
                    });
                }
            }
        }
    }
    drop(readers);
    db.check().unwrap();
    // The close seals the newest commit under a new id (copy-on-write mode): it is recorded
    // too, so crashes land inside the close, and the seal is a committed state of its own.
    let closing = disk.event_count();
    drop(db);
    let image = disk.contents();
    let meta_txn = |slot: usize| {
        let at = slot * workload.page_size + 16;
        image
            .get(at..at + 8)
            .map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    let sealed = meta_txn(0).max(meta_txn(1));
    if commits.iter().all(|c| c.txn < sealed) {
        commits.push(CommitMark {
            txn: sealed,
            started: closing,
            returned: disk.event_count(),
            durable: true,
            state: model.clone(),
        });
    }
    Run {
        initial,
        events: disk.events(),
        commits,
        page_size: workload.page_size,
    }
}

/// `threads` threads each commit `n` transactions (two in three durable), which insert keys of their own and
/// overwrite one key all share. Returns the state after the last and a mark per commit.
fn run_concurrently(
    db: &Database,
    disk: &SimDisk,
    model: Model,
    threads: u64,
    n: u64,
) -> (Model, Vec<CommitMark>) {
    disk.set_sync_time(std::time::Duration::from_millis(2));
    // The model advances in commit order: each transaction updates it while it holds the
    // writer's state, which the next one takes only once this one has queued its commit.
    let log = CommitLog::new(model, disk);
    std::thread::scope(|scope| {
        for thread in 0..threads {
            let log = &log;
            scope.spawn(move || {
                for round in 0..n {
                    let i = 10_000 + thread * 100 + round;
                    let ops = vec![
                        Op::Insert("t", key(i), value(i, 60)),
                        Op::Insert("t", b"shared".to_vec(), value(i, 30)),
                    ];
                    // One commit in three skips the sync: it may queue behind a durable
                    // group's sync, and what it frees must not reach that group.
                    let durable = (thread + round) % 3 != 0;
                    let mut tx = db.begin_write().unwrap();
                    if !durable {
                        tx.set_durability(Durability::None);
                    }
                    let index = log.record(&mut tx, &ops, disk.event_count(), durable);
                    tx.commit().unwrap();
                    log.finish(index);
                }
            });
        }
    });
    disk.set_sync_time(std::time::Duration::ZERO);
    let stats = db.stats().unwrap();
    println!(
        "{} durable commits since the open, {} syncs",
        stats.durable_commits, stats.commit_syncs
    );
    log.into_inner()
}

/// `Step::BehindASync`.
fn commit_behind_a_sync(
    db: &Database,
    disk: &SimDisk,
    model: Model,
    first: &[Op],
    second: &[Op],
    durability: Durability,
    outlast: bool,
) -> (Model, Vec<CommitMark>) {
    use std::time::Duration;
    disk.set_sync_time(Duration::from_millis(100));
    let log = CommitLog::new(model, disk);
    std::thread::scope(|scope| {
        let mut tx = db.begin_write().unwrap();
        let index = log.record(&mut tx, first, disk.event_count(), true);
        scope.spawn(|| {
            // Waits for the first writer, then (if `outlast`) outlasts its sync.
            let mut tx = db.begin_write().unwrap();
            let index = log.record(
                &mut tx,
                second,
                disk.event_count(),
                durability == Durability::Immediate,
            );
            if outlast {
                std::thread::sleep(Duration::from_millis(250));
            }
            tx.set_durability(durability);
            tx.commit().unwrap();
            log.finish(index);
        });
        // Long enough for the second writer to be waiting.
        std::thread::sleep(Duration::from_millis(50));
        tx.commit().unwrap();
        log.finish(index);
    });
    disk.set_sync_time(Duration::ZERO);
    log.into_inner()
}

/// `Step::FourWriters`. Syncs take 100 ms; each writer begins (blocking) before the one
/// before it commits.
fn four_writers(
    db: &Database,
    disk: &SimDisk,
    model: Model,
    ops: &[Vec<Op>; 4],
    outlast: bool,
) -> (Model, Vec<CommitMark>) {
    use std::time::Duration;
    disk.set_sync_time(Duration::from_millis(100));
    let log = CommitLog::new(model, disk);
    // Writer `n` begins, spawns writer `n + 1` (which waits for the writer's state), then
    // does its `work`.
    fn writer<'s, 'e>(
        scope: &'s std::thread::Scope<'s, 'e>,
        n: usize,
        work: &'s (dyn Fn(usize, bough::WriteTransaction) + Sync),
        db: &'e Database,
    ) {
        scope.spawn(move || {
            let tx = db.begin_write().unwrap();
            if n < 3 {
                writer(scope, n + 1, work, db);
            }
            work(n, tx);
        });
    }
    let work = |n: usize, mut tx: bough::WriteTransaction| {
        let index = log.record(&mut tx, &ops[n], disk.event_count(), true);
        // Long enough for the next writer to be waiting; the third outlasts the first sync
        // and commits during the second.
        std::thread::sleep(Duration::from_millis(match (n, outlast) {
            (2, true) => 150,
            (3, _) => 0,
            _ => 30,
        }));
        tx.commit().unwrap();
        log.finish(index);
    };
    std::thread::scope(|scope| writer(scope, 0, &work, db));
    disk.set_sync_time(Duration::ZERO);
    log.into_inner()
}

/// The model and the commit marks of writers on several threads, in commit order: each
/// records its transaction while it holds the writer's state.
struct CommitLog<'d> {
    log: std::sync::Mutex<(Model, Vec<CommitMark>)>,
    disk: &'d SimDisk,
}

impl<'d> CommitLog<'d> {
    fn new(model: Model, disk: &'d SimDisk) -> Self {
        CommitLog {
            log: std::sync::Mutex::new((model, Vec::new())),
            disk,
        }
    }

    /// Applies `ops` to the transaction and the model; returns the commit's mark.
    fn record(
        &self,
        tx: &mut bough::WriteTransaction,
        ops: &[Op],
        started: usize,
        durable: bool,
    ) -> usize {
        let mut log = self.log.lock().unwrap();
        let (state, marks) = &mut *log;
        apply(tx, state, ops);
        marks.push(CommitMark {
            txn: tx.id(),
            started,
            returned: usize::MAX,
            durable,
            state: state.clone(),
        });
        marks.len() - 1
    }

    /// Marks the commit as returned now.
    fn finish(&self, index: usize) {
        self.log.lock().unwrap().1[index].returned = self.disk.event_count();
    }

    fn into_inner(self) -> (Model, Vec<CommitMark>) {
        self.log.into_inner().unwrap()
    }
}

/// The content of a database, read through its public API.
pub fn read_all(db: &Database) -> bough::Result<Model> {
    let rtx = db.begin_read()?;
    let mut model = Model::new();
    for name in rtx.list_tables()? {
        let table = rtx.open_table(&name)?;
        let entries = table
            .iter()?
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        assert_eq!(table.len()?, entries.len() as u64);
        model.insert(name, entries);
    }
    Ok(model)
}

/// Drops empty tables: a table created and emptied exists in the database and not in the
/// model, or the other way round, without changing what any key reads.
fn normalise(model: &Model) -> Model {
    model
        .iter()
        .filter(|(_, t)| !t.is_empty())
        .map(|(n, t)| (n.clone(), t.clone()))
        .collect()
}

/// Checks every crash image at every point of `run`; returns the number of distinct images.
pub fn check_all_crash_points(
    run: &Run,
    setup: Setup,
    samples: u64,
    name: &str,
) -> Result<u64, String> {
    let mut images = CrashImages::new(vec![run.initial.clone()]);
    let mut states = 0;
    for point in 0..=run.events.len() {
        let floor = floor_at(run, point);
        let mut seen = HashSet::new();
        let tries = if images.pending() == 0 { 1 } else { samples };
        for sample in 0..tries {
            let seed = (point as u64) << 20 | sample;
            if !seen.insert(images.fingerprint(seed)) {
                continue;
            }
            states += 1;
            check_image(run, setup, images.images(seed), floor, point).map_err(|e| {
                format!(
                    "{name} {setup:?}: crash after operation {point}, fault seed {seed}: {e}{}",
                    debug_run(run, point)
                )
            })?;
        }
        if let Some(event) = run.events.get(point) {
            images.apply(event);
        }
    }
    Ok(states)
}

fn debug_run(run: &Run, point: usize) -> String {
    if std::env::var("BOUGH_CRASH_DEBUG").is_err() {
        return String::new();
    }
    let marks: Vec<_> = run
        .commits
        .iter()
        .map(|c| (c.txn, c.durable, c.started, c.returned))
        .collect();
    let kinds: Vec<String> = run.events[..point.min(run.events.len())]
        .iter()
        .map(|e| match &e.op {
            bough::testing::Op::Write { offset, data } => {
                format!("W{}+{}", offset / 4096, data.len().div_ceil(4096))
            }
            bough::testing::Op::Sync { .. } => "S".into(),
            bough::testing::Op::SetLen(l) => format!("L{}", l / 4096),
            _ => "D".into(),
        })
        .collect();
    format!("; commits {marks:?}; events {kinds:?}")
}

/// Checks one image a crash after `point` recorded operations can leave (fault choices from
/// `seed`).
pub fn check_crash_point(run: &Run, setup: Setup, point: usize, seed: u64) -> Result<(), String> {
    let mut images = CrashImages::new(vec![run.initial.clone()]);
    for event in &run.events[..point.min(run.events.len())] {
        images.apply(event);
    }
    let floor = floor_at(run, point);
    check_image(run, setup, images.images(seed), floor, point)
}

/// The newest transaction whose durable commit had returned after `point` operations.
fn floor_at(run: &Run, point: usize) -> u64 {
    run.commits
        .iter()
        .filter(|c| c.durable && c.returned <= point)
        .map(|c| c.txn)
        .max()
        .unwrap_or(0)
}

/// Opens one crash image and checks it holds exactly one committed state no older than
/// `floor`, whose commit had started before the crash.
fn check_image(
    run: &Run,
    setup: Setup,
    image: Vec<Vec<u8>>,
    floor: u64,
    point: usize,
) -> Result<(), String> {
    let db = setup
        .builder(run.page_size)
        .open_simulated(SimDisk::from_images(image))
        .map_err(|e| format!("open failed: {e}"))?;
    db.check().map_err(|e| format!("check failed: {e}"))?;
    let txn = db.begin_read().map_err(|e| e.to_string())?.snapshot_id();
    // A commit queued behind a sync may be recorded under the id after its own, which no
    // transaction began with ("Group commit").
    let commit = run
        .commits
        .iter()
        .find(|c| c.txn == txn)
        .or_else(|| run.commits.iter().find(|c| c.txn + 1 == txn))
        .ok_or_else(|| format!("opened transaction {txn}, which never committed"))?;
    if txn < floor {
        return Err(format!(
            "opened transaction {txn}, older than durable transaction {floor} ({:?})",
            db.recovery()
        ));
    }
    if commit.started >= point && txn != floor {
        return Err(format!("opened transaction {txn}, which had not started"));
    }
    let content = read_all(&db).map_err(|e| format!("reading failed: {e}"))?;
    if normalise(&content) != normalise(&commit.state) {
        return Err(format!("content differs from transaction {txn}"));
    }
    Ok(())
}
