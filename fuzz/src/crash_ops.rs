//! Target `crash_ops`: a fuzzer-chosen workload, run on the recording simulated disk, crashed
//! after a fuzzer-chosen operation with fuzzer-chosen faults (lost, torn, reordered writes);
//! the image must open, pass `check()` and hold exactly one committed state no older than the
//! last durable commit (the rules of tests/crash_points.rs).

use crate::crash::{Op, Setup, Step, Workload, check_crash_point, run_workload};
use arbitrary::{Arbitrary, Unstructured};
use bough::Durability;

const TABLES: [&str; 3] = ["a", "b", "c"];

#[derive(Arbitrary, Debug)]
enum OpSpec {
    Insert { table: u8, key: u8, len: u16 },
    Remove { table: u8, key: u8 },
    DeleteTable { table: u8 },
}

#[derive(Arbitrary, Debug)]
enum StepSpec {
    Commit { ops: Vec<OpSpec>, durable: bool },
    Abort { ops: Vec<OpSpec> },
    BeginReader,
    EndReader,
}

#[derive(Arbitrary, Debug)]
struct Input {
    setup: u8,
    steps: Vec<StepSpec>,
    point: u32,
    seed: u64,
}

fn op(spec: &OpSpec) -> Op {
    let table = |t: &u8| TABLES[*t as usize % TABLES.len()];
    let key = |k: &u8| format!("key{:03}", k % 200).into_bytes();
    match spec {
        OpSpec::Insert {
            table: t,
            key: k,
            len,
        } => {
            let len = *len as usize % 24_000;
            let value = (0..len).map(|i| (i as u8) ^ k).collect();
            Op::Insert(table(t), key(k), value)
        }
        OpSpec::Remove { table: t, key: k } => Op::Remove(table(t), key(k)),
        OpSpec::DeleteTable { table: t } => Op::DeleteTable(table(t)),
    }
}

fn ops(specs: &[OpSpec]) -> Vec<Op> {
    specs.iter().take(40).map(op).collect()
}

/// Runs one input.
pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let steps = input
        .steps
        .iter()
        .take(10)
        .map(|step| match step {
            StepSpec::Commit { ops: o, durable } => Step::Commit(
                ops(o),
                if *durable {
                    Durability::Immediate
                } else {
                    Durability::None
                },
            ),
            StepSpec::Abort { ops: o } => Step::Abort(ops(o)),
            StepSpec::BeginReader => Step::BeginReader,
            StepSpec::EndReader => Step::EndReader,
        })
        .collect();
    let workload = Workload {
        name: "fuzz",
        page_size: 4096,
        steps,
    };
    let setup = Setup::ALL[input.setup as usize % Setup::ALL.len()];
    let run = run_workload(&workload, setup);
    let point = input.point as usize % (run.events.len() + 1);
    if let Err(report) = check_crash_point(&run, setup, point, input.seed) {
        panic!("{report}");
    }
}
