//! Random operation sequences against a `BTreeMap` model (target `model_ops`).
//!
//! The input decodes (with `arbitrary`) to a list of operations on a few tables: inserts, removes,
//! gets, ranges walked from both ends, pops, retain, range deletion, clear, contains and prefix,
//! copies between two tables open at once, savepoints and restores, commits, aborts, snapshots
//! and reopens. Every read is compared
//! with the model: reads in the write transaction see its own writes, fresh read transactions see the
//! last commit, and a held snapshot keeps seeing the commit it started at. Each time the database is
//! closed (at a reopen and at the end) its whole content is compared with the model and
//! `Database::check` must pass.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::path::Path;

use arbitrary::Arbitrary;
use arbitrary::Unstructured;
use bough::{Database, Durability, Error, MAX_KEY_LEN, ReadTransaction, WriteTransaction};

const PAGE_SIZE: usize = 4096;
const TABLES: [&str; 3] = ["alpha", "beta", "gamma"];
/// Longer inputs only repeat what shorter ones do, more slowly.
const MAX_OPS: usize = 512;
/// Key lengths: empty, short, and up to the maximum, so branch pages hold few large keys.
const KEY_LENS: [usize; 8] = [0, 1, 2, 8, 24, 200, 700, MAX_KEY_LEN];
/// Value lengths around the inline/overflow boundary and the page size, for a 4096-byte page.
const VALUE_LENS: [usize; 16] = [
    0, 1, 8, 150, 700, 1500, 2000, 2047, 2048, 2100, 4064, 4096, 4097, 9000, 12289, 20000,
];

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;
type Tables = BTreeMap<String, Entries>;

/// A key from a small space (64 first bytes x 8 lengths), so operations hit the same keys often;
/// keys of one `id` and different lengths are prefixes of each other.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct KeySpec {
    id: u8,
    len: u8,
}

impl KeySpec {
    fn bytes(self) -> Vec<u8> {
        let id = self.id % 64;
        let len = KEY_LENS[usize::from(self.len) % KEY_LENS.len()];
        std::iter::once(id)
            .chain((1..len).map(|i| id.wrapping_mul(31) ^ i as u8))
            .take(len)
            .collect()
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct ValueSpec {
    len: u8,
    fill: u8,
}

impl ValueSpec {
    fn bytes(self) -> Vec<u8> {
        let len = VALUE_LENS[usize::from(self.len) % VALUE_LENS.len()];
        (0..len)
            .map(|i| self.fill.wrapping_add((i / 7) as u8))
            .collect()
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum BoundSpec {
    Unbounded,
    Included(KeySpec),
    Excluded(KeySpec),
}

impl BoundSpec {
    fn bytes(self) -> Bound<Vec<u8>> {
        match self {
            BoundSpec::Unbounded => Bound::Unbounded,
            BoundSpec::Included(key) => Bound::Included(key.bytes()),
            BoundSpec::Excluded(key) => Bound::Excluded(key.bytes()),
        }
    }
}

/// Which transaction a read goes through.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Via {
    /// The open write transaction (begun if there is none): sees its own writes.
    Writer,
    /// A new read transaction: sees the last commit.
    Fresh,
    /// The held snapshot (taken if there is none): sees the commit it started at.
    Snapshot,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Insert {
        table: u8,
        key: KeySpec,
        value: ValueSpec,
    },
    InsertOversizedKey {
        table: u8,
    },
    Remove {
        table: u8,
        key: KeySpec,
    },
    DeleteTable {
        table: u8,
    },
    Get {
        via: Via,
        table: u8,
        key: KeySpec,
    },
    /// Walks `range(start..end)`: step i takes from the back when bit i of `ends` is set; stops after
    /// `limit` steps (0: when exhausted).
    Range {
        via: Via,
        table: u8,
        start: BoundSpec,
        end: BoundSpec,
        ends: u16,
        limit: u8,
    },
    /// `len`, `is_empty`, `first` and `last`.
    Summary {
        via: Via,
        table: u8,
    },
    ListTables {
        via: Via,
    },
    /// Replaces the held snapshot with a new one.
    TakeSnapshot,
    /// Commits the write transaction (an empty one if none is open). Immediate durability only when
    /// `sync` is 0: a sync is slow and changes nothing the model can see.
    Commit {
        sync: u8,
    },
    Abort,
    /// Drops every transaction (an open write transaction is aborted by the drop), checks and closes
    /// the database, and opens it again.
    Reopen,
    /// `pop_first` (or `pop_last` if `back`).
    Pop {
        table: u8,
        back: bool,
    },
    /// `retain` keeping the keys whose first byte is not a multiple of `modulo`.
    Retain {
        table: u8,
        modulo: u8,
    },
    DeleteRange {
        table: u8,
        start: BoundSpec,
        end: BoundSpec,
    },
    Clear {
        table: u8,
    },
    /// `contains_key` and `prefix` (the key's first `prefix_len % 3` bytes).
    Lookup {
        via: Via,
        table: u8,
        key: KeySpec,
        prefix_len: u8,
    },
    /// Copies `range(start..end)` of `from` into `to` through two handles open at once.
    Copy {
        from: u8,
        to: u8,
        start: BoundSpec,
        end: BoundSpec,
    },
    Savepoint,
    /// Restores the `index`-th (mod count) savepoint still valid.
    Restore {
        index: u8,
    },
}

/// Whether `Op::Retain` keeps `key`.
fn keeps(key: &[u8], modulo: u8) -> bool {
    key.first().is_none_or(|&b| b % modulo.max(2) != 0)
}

fn table_name(table: u8) -> &'static str {
    TABLES[usize::from(table) % TABLES.len()]
}

/// The reads that `Table` and `ReadTable` share, so one check serves both.
trait Reads {
    fn get(&self, key: &[u8]) -> bough::Result<Option<&[u8]>>;
    fn range<'k>(
        &self,
        range: (Bound<&'k [u8]>, Bound<&'k [u8]>),
    ) -> bough::Result<bough::Range<'_>>;
    fn len(&self) -> bough::Result<u64>;
    fn is_empty(&self) -> bough::Result<bool>;
    fn first(&self) -> bough::Result<Option<(&[u8], &[u8])>>;
    fn last(&self) -> bough::Result<Option<(&[u8], &[u8])>>;
    fn contains_key(&self, key: &[u8]) -> bough::Result<bool>;
    fn prefix(&self, prefix: &[u8]) -> bough::Result<bough::Range<'_>>;
}

macro_rules! forward_reads {
    ($table:ident) => {
        impl Reads for bough::$table<'_> {
            fn get(&self, key: &[u8]) -> bough::Result<Option<&[u8]>> {
                bough::$table::get(self, key)
            }
            fn range<'k>(
                &self,
                range: (Bound<&'k [u8]>, Bound<&'k [u8]>),
            ) -> bough::Result<bough::Range<'_>> {
                bough::$table::range(self, range)
            }
            fn len(&self) -> bough::Result<u64> {
                bough::$table::len(self)
            }
            fn is_empty(&self) -> bough::Result<bool> {
                bough::$table::is_empty(self)
            }
            fn first(&self) -> bough::Result<Option<(&[u8], &[u8])>> {
                bough::$table::first(self)
            }
            fn last(&self) -> bough::Result<Option<(&[u8], &[u8])>> {
                bough::$table::last(self)
            }
            fn contains_key(&self, key: &[u8]) -> bough::Result<bool> {
                bough::$table::contains_key(self, key)
            }
            fn prefix(&self, prefix: &[u8]) -> bough::Result<bough::Range<'_>> {
                bough::$table::prefix(self, prefix)
            }
        }
    };
}

forward_reads!(Table);
forward_reads!(ReadTable);

fn as_slices<'a>((key, value): (&'a Vec<u8>, &'a Vec<u8>)) -> (&'a [u8], &'a [u8]) {
    (key, value)
}

fn check_get(table: &dyn Reads, model: &Entries, key: &[u8]) {
    let got = table.get(key).expect("get");
    assert_eq!(got, model.get(key).map(Vec::as_slice), "get({key:?})");
}

fn check_range(
    table: &dyn Reads,
    model: &Entries,
    start: BoundSpec,
    end: BoundSpec,
    ends: u16,
    limit: u8,
) {
    let (start, end) = (start.bytes(), end.bytes());
    let bounds = (
        start.as_ref().map(Vec::as_slice),
        end.as_ref().map(Vec::as_slice),
    );
    // BTreeMap::range panics on these; the engine must not: it may return an error or nothing.
    let inverted = match bounds {
        (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
            s > e || (s == e && matches!(bounds, (Bound::Excluded(_), Bound::Excluded(_))))
        }
        _ => false,
    };
    if inverted {
        if let Ok(mut range) = table.range(bounds) {
            assert!(
                range.next().is_none(),
                "inverted range {bounds:?} yields entries"
            );
        }
        return;
    }
    let mut expected: VecDeque<(&[u8], &[u8])> =
        model.range::<[u8], _>(bounds).map(as_slices).collect();
    let mut range = table.range(bounds).expect("range");
    for step in 0usize.. {
        if limit != 0 && step == usize::from(limit) {
            break;
        }
        let from_back = step < 16 && ends >> step & 1 == 1;
        let (got, want) = if from_back {
            (range.next_back(), expected.pop_back())
        } else {
            (range.next(), expected.pop_front())
        };
        let got = got.map(|entry| entry.expect("range entry"));
        assert_eq!(
            got, want,
            "step {step} (from back: {from_back}) of range {bounds:?}"
        );
        if want.is_none() {
            break;
        }
    }
}

fn check_lookup(table: &dyn Reads, model: &Entries, key: &[u8], prefix: &[u8]) {
    let got = table.contains_key(key).expect("contains_key");
    assert_eq!(got, model.contains_key(key), "contains_key({key:?})");
    let got: Vec<(&[u8], &[u8])> = table
        .prefix(prefix)
        .expect("prefix")
        .map(|entry| entry.expect("prefix entry"))
        .collect();
    let want: Vec<(&[u8], &[u8])> = model
        .iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(as_slices)
        .collect();
    assert_eq!(got, want, "prefix({prefix:?})");
}

/// The model's entries in `start..end`, or none for an inverted range (which the engine must
/// also treat as empty).
fn model_range(model: &Entries, start: BoundSpec, end: BoundSpec) -> Vec<(Vec<u8>, Vec<u8>)> {
    let (start, end) = (start.bytes(), end.bytes());
    let bounds = (
        start.as_ref().map(Vec::as_slice),
        end.as_ref().map(Vec::as_slice),
    );
    model
        .iter()
        .filter(|(k, _)| std::ops::RangeBounds::contains(&bounds, &k.as_slice()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn check_summary(table: &dyn Reads, model: &Entries) {
    assert_eq!(table.len().expect("len"), model.len() as u64, "len");
    assert_eq!(
        table.is_empty().expect("is_empty"),
        model.is_empty(),
        "is_empty"
    );
    assert_eq!(
        table.first().expect("first"),
        model.first_key_value().map(as_slices),
        "first"
    );
    assert_eq!(
        table.last().expect("last"),
        model.last_key_value().map(as_slices),
        "last"
    );
}

/// Opens `name` in a read transaction whose committed state the model holds as `tables`, and runs
/// `check` on it; a table the model lacks must be reported as not found.
fn read_committed(
    rtx: &ReadTransaction,
    tables: &Tables,
    name: &str,
    check: impl FnOnce(&dyn Reads, &Entries),
) {
    match (rtx.open_table(name), tables.get(name)) {
        (Ok(table), Some(model)) => check(&table, model),
        (Err(Error::TableNotFound(missing)), None) => assert_eq!(missing, name),
        (got, want) => panic!(
            "open_table({name:?}) in a read transaction: got {:?}, model has {want:?}",
            got.map(|_| ())
        ),
    }
}

fn names(tables: &Tables) -> Vec<String> {
    tables.keys().cloned().collect()
}

/// The operations between two reopens, on one open database.
struct Session<'db, 'm> {
    db: &'db Database,
    /// The model of the last commit.
    committed: &'m mut Tables,
    /// The open write transaction and the model of what it sees.
    writer: Option<(WriteTransaction, Tables)>,
    /// The held snapshot and the model of the commit it started at.
    snapshot: Option<(ReadTransaction, Tables)>,
    /// The write transaction's savepoints still valid, with the model at each.
    saved: Vec<(bough::Savepoint, Tables)>,
}

impl<'db> Session<'db, '_> {
    fn writer(&mut self) -> (&mut WriteTransaction, &mut Tables) {
        if self.writer.is_none() {
            let wtx = self.db.begin_write().expect("begin_write");
            self.writer = Some((wtx, self.committed.clone()));
        }
        let (wtx, tables) = self.writer.as_mut().expect("writer is open");
        (wtx, tables)
    }

    fn snapshot(&mut self) -> (&ReadTransaction, &Tables) {
        if self.snapshot.is_none() {
            let rtx = self.db.begin_read().expect("begin_read");
            self.snapshot = Some((rtx, self.committed.clone()));
        }
        let (rtx, tables) = self.snapshot.as_ref().expect("snapshot is held");
        (rtx, tables)
    }

    fn read(&mut self, via: Via, name: &str, check: impl FnOnce(&dyn Reads, &Entries)) {
        match via {
            Via::Writer => {
                let (wtx, tables) = self.writer();
                let table = wtx.open_table(name).expect("open_table");
                check(&table, tables.entry(name.to_owned()).or_default());
            }
            Via::Fresh => {
                let rtx = self.db.begin_read().expect("begin_read");
                read_committed(&rtx, self.committed, name, check);
            }
            Via::Snapshot => {
                let (rtx, tables) = self.snapshot();
                read_committed(rtx, tables, name, check);
            }
        }
    }

    /// Runs operations until a `Reopen` (returns true) or the end of the input (false).
    fn run(mut self, ops: &mut impl Iterator<Item = Op>) -> bool {
        for op in ops {
            match op {
                Op::Insert { table, key, value } => {
                    let name = table_name(table);
                    let (key, value) = (key.bytes(), value.bytes());
                    let (wtx, tables) = self.writer();
                    let mut table = wtx.open_table(name).expect("open_table");
                    table.insert(&key, &value).expect("insert");
                    tables
                        .entry(name.to_owned())
                        .or_default()
                        .insert(key, value);
                }
                Op::InsertOversizedKey { table } => {
                    let name = table_name(table);
                    let (wtx, tables) = self.writer();
                    let mut table = wtx.open_table(name).expect("open_table");
                    tables.entry(name.to_owned()).or_default();
                    match table.insert(&[7; MAX_KEY_LEN + 1], b"v") {
                        Err(Error::KeyTooLarge { len, max }) => {
                            assert_eq!((len, max), (MAX_KEY_LEN + 1, MAX_KEY_LEN))
                        }
                        other => panic!("insert of an oversized key: {other:?}"),
                    }
                }
                Op::Remove { table, key } => {
                    let name = table_name(table);
                    let key = key.bytes();
                    let (wtx, tables) = self.writer();
                    let mut table = wtx.open_table(name).expect("open_table");
                    let model = tables.entry(name.to_owned()).or_default();
                    let removed = table.remove(&key).expect("remove");
                    assert_eq!(removed, model.remove(&key).is_some(), "remove({key:?})");
                }
                Op::DeleteTable { table } => {
                    let name = table_name(table);
                    let (wtx, tables) = self.writer();
                    let deleted = wtx.delete_table(name).expect("delete_table");
                    assert_eq!(
                        deleted,
                        tables.remove(name).is_some(),
                        "delete_table({name})"
                    );
                }
                Op::Get { via, table, key } => {
                    let key = key.bytes();
                    self.read(via, table_name(table), |t, m| check_get(t, m, &key));
                }
                Op::Range {
                    via,
                    table,
                    start,
                    end,
                    ends,
                    limit,
                } => {
                    self.read(via, table_name(table), |t, m| {
                        check_range(t, m, start, end, ends, limit)
                    });
                }
                Op::Summary { via, table } => self.read(via, table_name(table), check_summary),
                Op::ListTables { via } => {
                    let (got, want) = match via {
                        Via::Writer => {
                            let (wtx, tables) = self.writer();
                            (wtx.list_tables(), names(tables))
                        }
                        Via::Fresh => {
                            let rtx = self.db.begin_read().expect("begin_read");
                            (rtx.list_tables(), names(self.committed))
                        }
                        Via::Snapshot => {
                            let (rtx, tables) = self.snapshot();
                            (rtx.list_tables(), names(tables))
                        }
                    };
                    assert_eq!(got.expect("list_tables"), want, "list_tables via {via:?}");
                }
                Op::TakeSnapshot => {
                    self.snapshot = None;
                    self.snapshot();
                }
                Op::Commit { sync } => {
                    self.writer();
                    self.saved.clear();
                    let (mut wtx, tables) = self.writer.take().expect("writer is open");
                    if sync == 0 {
                        wtx.set_durability(Durability::Immediate);
                    }
                    wtx.commit().expect("commit");
                    *self.committed = tables;
                }
                Op::Abort => {
                    self.saved.clear();
                    if let Some((wtx, _)) = self.writer.take() {
                        wtx.abort().expect("abort");
                    }
                }
                Op::Reopen => return true,
                op => self.run_newer(op),
            }
        }
        false
    }

    /// The operations added with several tables per transaction and savepoints.
    fn run_newer(&mut self, op: Op) {
        match op {
            Op::Pop { table, back } => {
                let name = table_name(table);
                let (wtx, tables) = self.writer();
                let mut table = wtx.open_table(name).expect("open_table");
                let model = tables.entry(name.to_owned()).or_default();
                let (got, want) = match back {
                    false => (table.pop_first(), model.pop_first()),
                    true => (table.pop_last(), model.pop_last()),
                };
                assert_eq!(got.expect("pop"), want, "pop (back: {back})");
            }
            Op::Retain { table, modulo } => {
                let name = table_name(table);
                let (wtx, tables) = self.writer();
                let mut table = wtx.open_table(name).expect("open_table");
                let model = tables.entry(name.to_owned()).or_default();
                let removed = table.retain(|k, _| keeps(k, modulo)).expect("retain");
                let before = model.len();
                model.retain(|k, _| keeps(k, modulo));
                assert_eq!(removed, (before - model.len()) as u64, "retain");
            }
            Op::DeleteRange { table, start, end } => {
                let name = table_name(table);
                let (wtx, tables) = self.writer();
                let mut table = wtx.open_table(name).expect("open_table");
                let model = tables.entry(name.to_owned()).or_default();
                let doomed = model_range(model, start, end);
                let removed = table
                    .delete_range((start.bytes(), end.bytes()))
                    .expect("delete_range");
                assert_eq!(removed, doomed.len() as u64, "delete_range");
                for (k, _) in doomed {
                    model.remove(&k);
                }
            }
            Op::Clear { table } => {
                let name = table_name(table);
                let (wtx, tables) = self.writer();
                let mut table = wtx.open_table(name).expect("open_table");
                let model = tables.entry(name.to_owned()).or_default();
                assert_eq!(table.clear().expect("clear"), model.len() as u64, "clear");
                model.clear();
            }
            Op::Lookup {
                via,
                table,
                key,
                prefix_len,
            } => {
                let key = key.bytes();
                let prefix = key[..key.len().min(usize::from(prefix_len % 3))].to_vec();
                self.read(via, table_name(table), |t, m| {
                    check_lookup(t, m, &key, &prefix)
                });
            }
            Op::Copy {
                from,
                to,
                start,
                end,
            } => {
                let (from, to) = (table_name(from), table_name(to));
                if from == to {
                    return;
                }
                let (wtx, tables) = self.writer();
                let source = wtx.open_table(from).expect("open source");
                let mut target = wtx.open_table(to).expect("open target");
                for entry in source.range((start.bytes(), end.bytes())).expect("range") {
                    let (k, v) = entry.expect("range entry");
                    target.insert(k, v).expect("copy insert");
                }
                let copied = model_range(tables.entry(from.to_owned()).or_default(), start, end);
                tables.entry(to.to_owned()).or_default().extend(copied);
            }
            Op::Savepoint => {
                let (wtx, tables) = self.writer();
                let savepoint = wtx.savepoint().expect("savepoint");
                let model = tables.clone();
                self.saved.push((savepoint, model));
            }
            Op::Restore { index } => {
                if self.saved.is_empty() {
                    return;
                }
                let at = usize::from(index) % self.saved.len();
                self.saved.truncate(at + 1);
                let (wtx, tables) = self.writer.as_mut().expect("a savepoint has a writer");
                let (savepoint, model) = &self.saved[at];
                wtx.restore_savepoint(savepoint).expect("restore_savepoint");
                *tables = model.clone();
            }
            _ => unreachable!("handled by run"),
        }
    }
}

fn open(path: &Path, dirty_budget: usize) -> Database {
    let db = Database::builder()
        .mode(crate::test_mode())
        .page_size(PAGE_SIZE)
        .durability(Durability::None)
        .dirty_page_budget(dirty_budget)
        .open(path)
        .expect("open");
    let stats = db.stats().expect("stats");
    // Every close here is clean, so the newest meta must always be valid.
    assert!(
        !stats.fell_back_to_older_meta,
        "fell back to the older meta after a clean close"
    );
    db
}

/// The whole database equals the model, and the integrity check passes.
fn verify(db: &Database, committed: &Tables) {
    {
        let rtx = db.begin_read().expect("begin_read");
        assert_eq!(rtx.list_tables().expect("list_tables"), names(committed));
        for (name, model) in committed {
            let table = rtx.open_table(name).expect("open_table");
            assert_eq!(
                table.len().expect("len"),
                model.len() as u64,
                "len of {name}"
            );
            let mut entries = table.iter().expect("iter");
            for want in model.iter().map(as_slices) {
                let got = entries.next().map(|entry| entry.expect("iter entry"));
                assert_eq!(got, Some(want), "iterating {name}");
            }
            assert!(
                entries.next().is_none(),
                "{name} has more entries than the model"
            );
        }
    }
    db.check().expect("check");
}

/// Runs one input: decodes it into operations and checks them against the model.
pub fn run(data: &[u8]) {
    // As libFuzzer's typed entry point decodes: elements until the input runs out.
    let Ok(ops) = Vec::<Op>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let dir = tempfile::Builder::new()
        .prefix("bough-fuzz-")
        .tempdir()
        .expect("temp dir");
    let path = dir.path().join("model.bough");
    let mut committed = Tables::new();
    let mut ops = ops.into_iter().take(MAX_OPS);
    // Half the inputs run with a budget of three dirty pages, so write transactions spill
    // pages early and read them back (DESIGN.md, "Spilling dirty pages").
    let dirty_budget = match data.len() % 2 {
        0 => 3 * PAGE_SIZE,
        _ => 64 << 20,
    };
    loop {
        let db = open(&path, dirty_budget);
        let session = Session {
            db: &db,
            committed: &mut committed,
            writer: None,
            snapshot: None,
            saved: Vec::new(),
        };
        let reopen = session.run(&mut ops);
        verify(&db, &committed);
        if !reopen {
            break;
        }
    }
}
