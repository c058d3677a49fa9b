//! Model tests: random operation sequences run against Bough and against a `BTreeMap` model,
//! compared after every operation and, in full, after every transaction and reopen.

mod common;
mod model_ops;

use std::collections::BTreeMap;
use std::ops::{Bound, RangeBounds};

use bough::{Database, Durability, Error, Range, WriteTransaction};
use common::{Entries, Options, Rng, TestDb, show};
use model_ops::{Key, LONG_RUN, Op, Walk, keeps, table_name};
use quickcheck::{Gen, QuickCheck, TestResult};

/// Table name -> that table's entries: what the database must contain.
type Model = BTreeMap<String, BTreeMap<Vec<u8>, Vec<u8>>>;

/// Turns an engine error into a failure message.
fn fail(context: &str) -> impl Fn(Error) -> String + '_ {
    move |e| format!("{context}: {e:?}")
}

fn as_slice(bound: &Bound<Key>) -> Bound<&[u8]> {
    match bound {
        Bound::Included(k) => Bound::Included(&k.0),
        Bound::Excluded(k) => Bound::Excluded(&k.0),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Puts the bounds in order: what an inverted range returns is not specified.
fn ordered(lo: &Bound<Key>, hi: &Bound<Key>) -> (Bound<Key>, Bound<Key>) {
    let key = |b: &Bound<Key>| match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k.clone()),
        Bound::Unbounded => None,
    };
    match (key(lo), key(hi)) {
        (Some(low), Some(high)) if low > high => {
            // Keep each side's kind, exchange the keys.
            let with_key = |bound: &Bound<Key>, k: Key| match bound {
                Bound::Included(_) => Bound::Included(k),
                _ => Bound::Excluded(k),
            };
            (with_key(lo, high), with_key(hi, low))
        }
        _ => (lo.clone(), hi.clone()),
    }
}

fn same_entries(
    context: &str,
    got: &[(Vec<u8>, Vec<u8>)],
    want: &[(Vec<u8>, Vec<u8>)],
) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got.iter().zip(want).take_while(|(g, w)| g == w).count();
    let render = |e: Option<&(Vec<u8>, Vec<u8>)>| match e {
        Some((k, v)) => format!("({}, {})", show(k), show(v)),
        None => "end".to_string(),
    };
    Err(format!(
        "{context}: {} entries, expected {}; first difference at {at}: got {}, expected {}",
        got.len(),
        want.len(),
        render(got.get(at)),
        render(want.get(at)),
    ))
}

fn same_pair(
    context: &str,
    got: Option<(&[u8], &[u8])>,
    want: Option<(&Vec<u8>, &Vec<u8>)>,
) -> Result<(), String> {
    let got: Entries = got
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .into_iter()
        .collect();
    let want: Entries = want
        .map(|(k, v)| (k.clone(), v.clone()))
        .into_iter()
        .collect();
    same_entries(context, &got, &want)
}

/// Walks a range in the given order and returns the entries in key order.
fn walk(mut range: Range<'_>, walk: Walk) -> bough::Result<Entries> {
    let owned = |(k, v): (&[u8], &[u8])| (k.to_vec(), v.to_vec());
    match walk {
        Walk::Forward => range.map(|r| r.map(owned)).collect(),
        Walk::Reverse => {
            let mut out: Entries = range
                .rev()
                .map(|r| r.map(owned))
                .collect::<bough::Result<_>>()?;
            out.reverse();
            Ok(out)
        }
        Walk::Mixed(pattern) => {
            let (mut front, mut back) = (Vec::new(), Vec::new());
            for step in 0u32.. {
                let from_front = (pattern >> (step % 8)) & 1 == 1;
                let next = if from_front {
                    range.next()
                } else {
                    range.next_back()
                };
                match next {
                    None => break,
                    Some(item) if from_front => front.push(owned(item?)),
                    Some(item) => back.push(owned(item?)),
                }
            }
            front.extend(back.into_iter().rev());
            Ok(front)
        }
    }
}

/// Applies one data operation to the write transaction and the model, comparing results.
fn apply(wtx: &mut WriteTransaction, model: &mut Model, op: &Op) -> Result<(), String> {
    let name = |table: &u8| table_name(*table);
    match op {
        Op::Insert { table, key, value } => {
            let value = value.bytes();
            let mut t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            t.insert(&key.0, &value).map_err(fail("insert"))?;
            model
                .entry(name(table))
                .or_default()
                .insert(key.0.clone(), value);
        }
        Op::Overwrite { table, index, .. } | Op::RemoveExisting { table, index } => {
            let Some(entries) = model.get_mut(&name(table)).filter(|e| !e.is_empty()) else {
                return Ok(());
            };
            let key = entries
                .keys()
                .nth(index % entries.len())
                .cloned()
                .expect("in range");
            let mut t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            if let Op::Overwrite { value, .. } = op {
                let value = value.bytes();
                t.insert(&key, &value).map_err(fail("overwrite"))?;
                entries.insert(key, value);
            } else {
                if !t.remove(&key).map_err(fail("remove existing"))? {
                    return Err(format!(
                        "remove of existing key {} returned false",
                        show(&key)
                    ));
                }
                entries.remove(&key);
            }
        }
        Op::Remove { table, key } => {
            let mut t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let removed = t.remove(&key.0).map_err(fail("remove"))?;
            let expected = model
                .entry(name(table))
                .or_default()
                .remove(&key.0)
                .is_some();
            if removed != expected {
                return Err(format!(
                    "remove({}) returned {removed}, expected {expected}",
                    show(&key.0)
                ));
            }
        }
        Op::Get { table, key } => {
            let t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let got = t
                .get(&key.0)
                .map_err(fail("get"))?
                .map(|v| (key.0.as_slice(), v));
            let entries = model.entry(name(table)).or_default();
            same_pair("get", got, entries.get_key_value(&key.0))?;
        }
        Op::Range {
            table,
            lo,
            hi,
            walk: how,
        } => {
            let (lo, hi) = ordered(lo, hi);
            let t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let bounds = (as_slice(&lo), as_slice(&hi));
            let got =
                walk(t.range(bounds).map_err(fail("range"))?, *how).map_err(fail("range item"))?;
            let want: Entries = model
                .entry(name(table))
                .or_default()
                .iter()
                .filter(|(k, _)| bounds.contains(&k.as_slice()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            same_entries(&format!("range {lo:?}..{hi:?} {how:?}"), &got, &want)?;
        }
        Op::First { table } | Op::Last { table } => {
            let t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let entries = model.entry(name(table)).or_default();
            if matches!(op, Op::First { .. }) {
                same_pair(
                    "first",
                    t.first().map_err(fail("first"))?,
                    entries.first_key_value(),
                )?;
            } else {
                same_pair(
                    "last",
                    t.last().map_err(fail("last"))?,
                    entries.last_key_value(),
                )?;
            }
        }
        Op::Len { table } => {
            let t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let (len, empty) = (
                t.len().map_err(fail("len"))?,
                t.is_empty().map_err(fail("is_empty"))?,
            );
            let want = model.entry(name(table)).or_default().len() as u64;
            if len != want || empty != (want == 0) {
                return Err(format!("len {len} / is_empty {empty}, expected {want}"));
            }
        }
        Op::CreateTable { table } => {
            wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            model.entry(name(table)).or_default();
        }
        Op::DeleteTable { table } => {
            let deleted = wtx
                .delete_table(&name(table))
                .map_err(fail("delete_table"))?;
            let expected = model.remove(&name(table)).is_some();
            if deleted != expected {
                return Err(format!(
                    "delete_table returned {deleted}, expected {expected}"
                ));
            }
        }
        Op::ListTables => {
            let got = wtx.list_tables().map_err(fail("list_tables"))?;
            let want: Vec<String> = model.keys().cloned().collect();
            if got != want {
                return Err(format!("list_tables: got {got:?}, expected {want:?}"));
            }
        }
        Op::ReadSnapshot
        | Op::Commit { .. }
        | Op::Abort { .. }
        | Op::Reopen
        | Op::Savepoint
        | Op::Restore { .. } => {
            unreachable!("handled by run_txn")
        }
        _ => apply_newer(wtx, model, op)?,
    }
    Ok(())
}

/// The owned model entries in `bounds`.
fn model_range(
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
    bounds: (Bound<&[u8]>, Bound<&[u8]>),
) -> Entries {
    entries
        .iter()
        .filter(|(k, _)| bounds.contains(&k.as_slice()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The operations added with several tables per transaction: pops, retain, range deletion,
/// clear, contains, prefix, and a copy between two open tables.
fn apply_newer(wtx: &mut WriteTransaction, model: &mut Model, op: &Op) -> Result<(), String> {
    let name = |table: &u8| table_name(*table);
    match op {
        Op::PopFirst { table } | Op::PopLast { table } => {
            let mut t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let entries = model.entry(name(table)).or_default();
            let (got, want) = match op {
                Op::PopFirst { .. } => (t.pop_first(), entries.pop_first()),
                _ => (t.pop_last(), entries.pop_last()),
            };
            let got = got.map_err(fail("pop"))?;
            if got != want {
                return Err(format!(
                    "pop: got {:?}, expected {:?}",
                    got.map(|e| e.0),
                    want.map(|e| e.0)
                ));
            }
        }
        Op::Retain { table, modulo } => {
            let mut t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let removed = t.retain(|k, _| keeps(k, *modulo)).map_err(fail("retain"))?;
            let entries = model.entry(name(table)).or_default();
            let before = entries.len();
            entries.retain(|k, _| keeps(k, *modulo));
            if removed != (before - entries.len()) as u64 {
                return Err(format!(
                    "retain removed {removed}, expected {}",
                    before - entries.len()
                ));
            }
        }
        Op::DeleteRange { table, lo, hi } => {
            let (lo, hi) = ordered(lo, hi);
            let bounds = (as_slice(&lo), as_slice(&hi));
            let mut t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let removed = t.delete_range(bounds).map_err(fail("delete_range"))?;
            let entries = model.entry(name(table)).or_default();
            let doomed = model_range(entries, bounds);
            for (k, _) in &doomed {
                entries.remove(k);
            }
            if removed != doomed.len() as u64 {
                return Err(format!(
                    "delete_range removed {removed}, expected {}",
                    doomed.len()
                ));
            }
        }
        Op::Clear { table } => {
            let mut t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let removed = t.clear().map_err(fail("clear"))?;
            let entries = model.entry(name(table)).or_default();
            if removed != entries.len() as u64 {
                return Err(format!(
                    "clear removed {removed}, expected {}",
                    entries.len()
                ));
            }
            entries.clear();
        }
        Op::Contains { table, key } => {
            let t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let got = t.contains_key(&key.0).map_err(fail("contains_key"))?;
            let want = model.entry(name(table)).or_default().contains_key(&key.0);
            if got != want {
                return Err(format!(
                    "contains_key({}): {got}, expected {want}",
                    show(&key.0)
                ));
            }
        }
        Op::Prefix { table, prefix } => {
            let t = wtx.open_table(&name(table)).map_err(fail("open_table"))?;
            let got: Entries = collect_all(t.prefix(&prefix.0).map_err(fail("prefix"))?)?;
            let want: Entries = model
                .entry(name(table))
                .or_default()
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix.0))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            same_entries(&format!("prefix {}", show(&prefix.0)), &got, &want)?;
        }
        Op::Copy { from, to, lo, hi } => {
            let (lo, hi) = ordered(lo, hi);
            let bounds = (as_slice(&lo), as_slice(&hi));
            let source = wtx.open_table(&name(from)).map_err(fail("open source"))?;
            let mut target = wtx.open_table(&name(to)).map_err(fail("open target"))?;
            for entry in source.range(bounds).map_err(fail("range"))? {
                let (k, v) = entry.map_err(fail("range item"))?;
                target.insert(k, v).map_err(fail("copy insert"))?;
            }
            let copied = model_range(model.entry(name(from)).or_default(), bounds);
            model.entry(name(to)).or_default().extend(copied);
        }
        _ => unreachable!("handled by apply"),
    }
    Ok(())
}

fn collect_all(range: Range<'_>) -> Result<Entries, String> {
    range
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect::<bough::Result<_>>()
        .map_err(fail("range item"))
}

/// Compares an engine iteration with the model's, streaming (no copies of large values).
fn same_stream<'a, 'm>(
    context: &str,
    mut got: impl Iterator<Item = bough::Result<(&'a [u8], &'a [u8])>>,
    mut want: impl Iterator<Item = (&'m Vec<u8>, &'m Vec<u8>)>,
) -> Result<(), String> {
    for at in 0.. {
        match (got.next(), want.next()) {
            (None, None) => return Ok(()),
            (Some(Err(e)), _) => return Err(format!("{context}: item {at}: {e:?}")),
            (Some(Ok((k, v))), Some((wk, wv))) if k == wk.as_slice() && v == wv.as_slice() => {}
            (got, want) => {
                let got = match got {
                    Some(Ok((k, v))) => format!("({}, {})", show(k), show(v)),
                    _ => "end".to_string(),
                };
                let want = match want {
                    Some((k, v)) => format!("({}, {})", show(k), show(v)),
                    None => "end".to_string(),
                };
                return Err(format!(
                    "{context}: first difference at {at}: got {got}, expected {want}"
                ));
            }
        }
    }
    unreachable!("the loop only ends by returning")
}

/// Checks that a fresh reader sees exactly `model`: table list, len, and both iteration orders.
fn verify(db: &Database, model: &Model) -> Result<(), String> {
    let rtx = db.begin_read().map_err(fail("begin_read"))?;
    let names = rtx.list_tables().map_err(fail("list_tables"))?;
    if !names.iter().eq(model.keys()) {
        return Err(format!(
            "list_tables: got {names:?}, expected {:?}",
            model.keys()
        ));
    }
    for table in 0..3 {
        let name = table_name(table);
        let short = show(name.as_bytes());
        let Some(entries) = model.get(&name) else {
            match rtx.open_table(&name) {
                Err(Error::TableNotFound(_)) => continue,
                other => {
                    let other = other.map(|_| ());
                    return Err(format!("open_table({short}) of an absent table: {other:?}"));
                }
            }
        };
        let t = rtx.open_table(&name).map_err(fail("open_table"))?;
        let len = t.len().map_err(fail("len"))?;
        if len != entries.len() as u64 {
            return Err(format!("{short}: len {len}, expected {}", entries.len()));
        }
        let forward = t.iter().map_err(fail("iter"))?;
        same_stream(&format!("{short} forward"), forward, entries.iter())?;
        let backward = t.iter().map_err(fail("iter"))?.rev();
        same_stream(&format!("{short} reverse"), backward, entries.iter().rev())?;
    }
    Ok(())
}

/// Runs operations in one write transaction until one ends it. Returns how many operations
/// it used and whether the database must be reopened next.
fn run_txn(
    db: &Database,
    ops: &[Op],
    base: usize,
    committed: &mut Model,
) -> Result<(usize, bool), String> {
    let mut wtx = db.begin_write().map_err(fail("begin_write"))?;
    let mut pending = committed.clone();
    let mut saved: Vec<(bough::Savepoint, Model)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let at = |e: String| format!("op {} {op:?}: {e}", base + i);
        match op {
            Op::Savepoint => {
                let sp = wtx.savepoint().map_err(fail("savepoint")).map_err(at)?;
                saved.push((sp, pending.clone()));
            }
            Op::Restore { index } => {
                if saved.is_empty() {
                    continue;
                }
                let at_index = index % saved.len();
                saved.truncate(at_index + 1);
                let (sp, state) = &saved[at_index];
                wtx.restore_savepoint(sp)
                    .map_err(fail("restore_savepoint"))
                    .map_err(at)?;
                pending = state.clone();
            }
            Op::Commit { durable } => {
                if !durable {
                    wtx.set_durability(Durability::None);
                }
                wtx.commit().map_err(fail("commit")).map_err(at)?;
                *committed = pending;
                return Ok((i + 1, false));
            }
            Op::Abort { explicit: true } => {
                wtx.abort().map_err(fail("abort")).map_err(at)?;
                return Ok((i + 1, false));
            }
            // Returning drops the transaction, which aborts it.
            Op::Abort { explicit: false } => return Ok((i + 1, false)),
            Op::Reopen => return Ok((i + 1, true)),
            Op::ReadSnapshot => verify(db, committed).map_err(at)?,
            _ => apply(&mut wtx, &mut pending, op).map_err(at)?,
        }
    }
    wtx.commit().map_err(fail("final commit"))?;
    *committed = pending;
    Ok((ops.len(), false))
}

/// Runs `ops` on a fresh database, verifying it in full after every transaction and reopen.
fn run(page_size: usize, ops: &[Op]) -> Result<Model, String> {
    run_with(Options::page_size(page_size), ops)
}

fn run_with(options: Options, ops: &[Op]) -> Result<Model, String> {
    let mut db = TestDb::with(options);
    let mut committed = Model::new();
    let mut done = 0;
    while done < ops.len() {
        let (used, reopen) = run_txn(db.db(), &ops[done..], done, &mut committed)?;
        done += used;
        if reopen {
            db.reopen();
        }
        verify(db.db(), &committed).map_err(|e| format!("after op {}: {e}", done - 1))?;
    }
    Ok(committed)
}

/// Operations per generated case: quickcheck draws sequences of 0..OPS_PER_CASE operations.
const OPS_PER_CASE: usize = 200;

fn property(page_size: usize, ops: Vec<Op>) -> TestResult {
    match run(page_size, &ops) {
        Ok(_) => TestResult::passed(),
        Err(e) => TestResult::error(format!("page size {page_size}: {e}")),
    }
}

fn property_4096(ops: Vec<Op>) -> TestResult {
    property(4096, ops)
}

fn property_8192(ops: Vec<Op>) -> TestResult {
    property(8192, ops)
}

fn property_65536(ops: Vec<Op>) -> TestResult {
    property(65536, ops)
}

/// A budget of three pages: nearly every operation writes pages early and reads them back.
fn property_spilling(ops: Vec<Op>) -> TestResult {
    match run_with(Options::page_size(4096).dirty_budget(3 * 4096), &ops) {
        Ok(_) => TestResult::passed(),
        Err(e) => TestResult::error(format!("dirty budget of 3 pages: {e}")),
    }
}

fn check_cases(cases: u64, property: fn(Vec<Op>) -> TestResult) {
    QuickCheck::new()
        .rng(Gen::new(OPS_PER_CASE))
        .tests(cases)
        .quickcheck(property);
}

/// Random sequences agree with the model when write transactions spill their pages early.
#[test]
fn model_with_a_tiny_dirty_budget() {
    check_cases(150, property_spilling);
}

/// Random sequences agree with the model at the smallest page size (deepest trees).
#[test]
fn model_page_size_4096() {
    check_cases(300, property_4096);
}

/// The same at 8 KiB pages, where values of 4-8 KiB stop being overflow values.
#[test]
fn model_page_size_8192() {
    check_cases(200, property_8192);
}

/// The same at the largest page size, where maximum-length keys are small against a page.
#[test]
fn model_page_size_65536() {
    check_cases(150, property_65536);
}

/// A long replayable run (tables of thousands of entries, dozens of reopens) agrees with the
/// model after every transaction.
#[test]
fn long_seeded_sequence_matches_model() {
    const OPS: usize = 30_000;
    for (seed, page_size) in [(0xb0_06, 4096), (0x5eed, 65536)] {
        let mut rng = Rng::new(seed);
        let ops: Vec<Op> = (0..OPS).map(|_| LONG_RUN.op(&mut rng)).collect();
        let reopens = ops.iter().filter(|op| matches!(op, Op::Reopen)).count();
        assert!(reopens >= 80, "the sequence has only {reopens} reopens");
        match run(page_size, &ops) {
            Ok(model) => {
                let entries: usize = model.values().map(BTreeMap::len).sum();
                assert!(entries >= 1200, "the run ended with only {entries} entries");
            }
            Err(e) => panic!("seed {seed:#x}, page size {page_size}: {e}"),
        }
    }
}
