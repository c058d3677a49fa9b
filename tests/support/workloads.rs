//! The workloads the crash tests record: each a sequence of steps on the simulated disk.

use super::crash::{Op, Step, Workload};
use bough::Durability;
use bough::testing::SplitMix;

pub(super) fn key(i: u64) -> Vec<u8> {
    let mut rng = SplitMix(i);
    format!("k{:06}", rng.below(1_000_000)).into_bytes()
}

pub(super) fn value(i: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix(i ^ 0xabcdef);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

impl Workload {
    pub fn inserts_and_overwrites() -> Self {
        let mut steps = Vec::new();
        for round in 0..4u64 {
            let ops = (0..60)
                .map(|i| {
                    Op::Insert(
                        "t",
                        key(i + 20 * round),
                        value(i * 7 + round, 20 + (i as usize * 13) % 300),
                    )
                })
                .collect();
            steps.push(Step::Commit(ops, Durability::Immediate));
        }
        Workload {
            name: "inserts_and_overwrites",
            page_size: 4096,
            steps,
        }
    }

    pub fn deletes_with_merges() -> Self {
        let load = (0..400)
            .map(|i| Op::Insert("t", key(i), value(i, 60)))
            .collect();
        let mut steps = vec![Step::Commit(load, Durability::Immediate)];
        for round in 0..4u64 {
            let ops = (0..400)
                .filter(|i| i % 4 == round)
                .map(|i| Op::Remove("t", key(i)))
                .collect();
            steps.push(Step::Commit(ops, Durability::Immediate));
        }
        Workload {
            name: "deletes_with_merges",
            page_size: 4096,
            steps,
        }
    }

    pub fn large_values() -> Self {
        let mut steps = Vec::new();
        for round in 0..4u64 {
            let ops = (0..3)
                .map(|i| {
                    Op::Insert(
                        "big",
                        key(i),
                        value(round * 3 + i, 5_000 + 9_000 * (round as usize + i as usize)),
                    )
                })
                .collect();
            steps.push(Step::Commit(ops, Durability::Immediate));
        }
        steps.push(Step::Commit(
            vec![Op::Remove("big", key(1))],
            Durability::Immediate,
        ));
        Workload {
            name: "large_values",
            page_size: 4096,
            steps,
        }
    }

    pub fn tables() -> Self {
        let fill = |t: &'static str, n: u64| {
            (0..n)
                .map(move |i| Op::Insert(t, key(i), value(i, 100)))
                .collect::<Vec<_>>()
        };
        let mut first = fill("a", 80);
        first.extend(fill("b", 80));
        let mut steps = vec![Step::Commit(first, Durability::Immediate)];
        steps.push(Step::Commit(
            vec![Op::DeleteTable("a")],
            Durability::Immediate,
        ));
        let mut again = fill("c", 50);
        again.push(Op::DeleteTable("b"));
        steps.push(Step::Commit(again, Durability::Immediate));
        steps.push(Step::Abort(fill("d", 30)));
        steps.push(Step::Commit(fill("a", 20), Durability::Immediate));
        Workload {
            name: "tables",
            page_size: 4096,
            steps,
        }
    }

    /// Commits with overlapping readers: in log mode with a small checkpoint threshold, every
    /// checkpoint copies up to the oldest reader only, and the log's space is reused (jumps
    /// back to the start, retired bytes, a header that moves).
    pub fn overlapping_readers() -> Self {
        let mut steps = Vec::new();
        for round in 0..14u64 {
            let ops = (0..24)
                .map(|i| Op::Insert("t", key((i * 7 + round * 5) % 60), value(i + round, 150)))
                .collect();
            steps.push(Step::Commit(ops, Durability::Immediate));
            steps.push(Step::RotateReaders);
        }
        Workload {
            name: "overlapping_readers",
            page_size: 4096,
            steps,
        }
    }

    pub fn churn_with_reader() -> Self {
        let mut steps = Vec::new();
        for round in 0..6u64 {
            if round == 2 {
                steps.push(Step::BeginReader);
            }
            if round == 4 {
                steps.push(Step::EndReader);
            }
            let ops = (0..60)
                .map(|i| Op::Insert("churn", key(i), value(i + round, 120)))
                .collect();
            steps.push(Step::Commit(ops, Durability::Immediate));
            let ops = (0..60)
                .filter(|i| i % 2 == 0)
                .map(|i| Op::Remove("churn", key(i)))
                .collect();
            steps.push(Step::Commit(ops, Durability::Immediate));
        }
        Workload {
            name: "churn_with_reader",
            page_size: 4096,
            steps,
        }
    }

    /// Commits through several tables open at once, with savepoints restored inside them, so
    /// crashes land in commits whose pages come from several trees and from restores.
    pub fn tables_and_savepoints() -> Self {
        let both = |range: std::ops::Range<u64>, len: usize| {
            range
                .map(move |i| Op::InsertBoth("x", "y", key(i), value(i, len)))
                .collect::<Vec<_>>()
        };
        let mut steps = vec![Step::Commit(both(0..30, 90), Durability::Immediate)];
        let mut second = vec![Op::Savepoint];
        second.extend(both(30..50, 200));
        second.push(Op::DeleteTable("x"));
        second.push(Op::Restore);
        second.extend(both(50..60, 60));
        second.extend((0..10).map(|i| Op::Remove("y", key(i))));
        steps.push(Step::Commit(second, Durability::Immediate));
        let mut third = both(60..64, 5_000);
        third.push(Op::Savepoint);
        third.extend((10..20).map(|i| Op::Remove("x", key(i))));
        third.push(Op::Restore);
        steps.push(Step::Commit(third, Durability::None));
        let mut fourth = vec![Op::Savepoint];
        fourth.extend(both(64..74, 100));
        steps.push(Step::Commit(fourth, Durability::Immediate));
        Workload {
            name: "tables_and_savepoints",
            page_size: 4096,
            steps,
        }
    }

    /// Deletions that leave most pages free, then compactions (one beside a reader, which
    /// holds pages back), so crashes land inside packing, moving and truncating commits.
    pub fn compaction() -> Self {
        let inserts = |range: std::ops::Range<u64>| {
            range
                .map(|i| {
                    let len = if i % 41 == 0 { 5_000 } else { 90 };
                    Op::Insert("t", key(i), value(i, len))
                })
                .collect::<Vec<_>>()
        };
        let removes = |range: std::ops::Range<u64>, keep_every: u64| {
            range
                .filter(move |i| i % keep_every != 0)
                .map(|i| Op::Remove("t", key(i)))
                .collect::<Vec<_>>()
        };
        let steps = vec![
            Step::Commit(inserts(0..150), Durability::Immediate),
            Step::Commit(removes(0..150, 5), Durability::Immediate),
            Step::Compact,
            Step::Commit(inserts(150..160), Durability::None),
            Step::BeginReader,
            Step::Commit(removes(150..160, 2), Durability::Immediate),
            Step::Compact,
            Step::EndReader,
            Step::Compact,
        ];
        Workload {
            name: "compaction",
            page_size: 4096,
            steps,
        }
    }

    pub fn concurrent_commits() -> Self {
        Workload {
            name: "concurrent_commits",
            page_size: 4096,
            steps: vec![
                Step::Commit(
                    (0..20)
                        .map(|i| Op::Insert("t", key(i), value(i, 60)))
                        .collect(),
                    Durability::Immediate,
                ),
                Step::Concurrent {
                    threads: 4,
                    commits: 5,
                },
                Step::Commit(vec![Op::Remove("t", key(3))], Durability::Immediate),
            ],
        }
    }

    /// Transactions begun during a group's sync: one committed after it, without anyone
    /// waiting (so its meta is written directly; its id was chosen before the group became
    /// durable, and its meta must still avoid the group's slot), and one committed at once,
    /// without a sync, over pages the group wrote.
    pub fn commit_after_a_group() -> Self {
        let inserts = |range: std::ops::Range<u64>| {
            range
                .map(|i| Op::Insert("t", key(i), value(i, 70)))
                .collect::<Vec<_>>()
        };
        let overwrites = |range: std::ops::Range<u64>| {
            range
                .map(|i| Op::Insert("t", key(i), value(i + 1_000, 70)))
                .collect::<Vec<_>>()
        };
        Workload {
            name: "commit_after_a_group",
            page_size: 4096,
            steps: vec![
                Step::Commit(inserts(0..10), Durability::Immediate),
                Step::BehindASync(inserts(10..14), inserts(14..18), Durability::None, true),
                Step::BehindASync(
                    inserts(18..22),
                    inserts(22..26),
                    Durability::Immediate,
                    true,
                ),
                // The second commit replaces pages the first wrote and queues behind its
                // sync without one of its own; the next commit reuses what it freed only
                // once no state a crash can leave reaches it.
                Step::BehindASync(inserts(26..30), overwrites(26..30), Durability::None, false),
                Step::Commit(overwrites(0..30), Durability::Immediate),
            ],
        }
    }

    /// Pages of a commit waiting in a group that a later commit of the same group frees are
    /// reused at once (DESIGN.md, "Recycling within a group"), but only while that group
    /// waits: with `outlast`, the third writer commits while the second's group is synced,
    /// and what it frees of the second's pages must wait for its own sync.
    pub fn writers_across_groups(outlast: bool) -> Self {
        let write = |range: std::ops::Range<u64>, salt: u64| {
            range
                .map(|i| Op::Insert("t", key(i), value(i + salt, 70)))
                .collect::<Vec<_>>()
        };
        // Each writer overwrites what the one before wrote and adds a key: every commit
        // replaces the root and the leaf the previous one wrote.
        let round = |salt: u64| -> [Vec<Op>; 4] {
            std::array::from_fn(|n| {
                let n = n as u64;
                let mut ops = write(0..3, salt + n);
                ops.extend(write(40 + n..41 + n, salt));
                ops
            })
        };
        Workload {
            name: match outlast {
                true => "writers_across_groups_outlasting",
                false => "writers_across_groups",
            },
            page_size: 4096,
            steps: vec![
                Step::Commit(write(0..40, 0), Durability::Immediate),
                Step::FourWriters(round(100), outlast),
                Step::FourWriters(round(200), outlast),
                Step::Commit(write(0..10, 300), Durability::Immediate),
            ],
        }
    }

    pub fn non_durable_then_durable() -> Self {
        let mut steps = Vec::new();
        for round in 0..3u64 {
            for lazy in 0..3u64 {
                let base = round * 100 + lazy * 30;
                let mut ops: Vec<Op> = (0..30)
                    .map(|i| Op::Insert("t", key(base + i), value(base + i, 80)))
                    .collect();
                ops.extend((0..10).map(|i| Op::Remove("t", key(base + i * 3))));
                steps.push(Step::Commit(ops, Durability::None));
            }
            let ops = (0..20)
                .map(|i| Op::Insert("t", key(round * 7 + i), value(round + i, 200)))
                .collect();
            steps.push(Step::Commit(ops, Durability::Immediate));
        }
        Workload {
            name: "non_durable_then_durable",
            page_size: 4096,
            steps,
        }
    }

    /// Small durable commits (chained, under `CommitProtocol::Chained`), then non-durable
    /// ones that write metas and reuse free pages, then a durable one that covers them.
    pub fn chain_then_non_durable() -> Self {
        let mut steps = vec![Step::Commit(
            (0..60)
                .map(|i| Op::Insert("t", key(i), value(i, 120)))
                .collect(),
            Durability::Immediate,
        )];
        for i in 0..4u64 {
            let one = vec![Op::Insert("t", key(100 + i), value(100 + i, 60))];
            steps.push(Step::Commit(one, Durability::Immediate));
        }
        for round in 0..2u64 {
            let ops = (0..40)
                .map(|i| Op::Insert("t", key(i * 3 + round), value(i + 7 * round, 150)))
                .collect();
            steps.push(Step::Commit(ops, Durability::None));
        }
        let last = vec![Op::Remove("t", key(101))];
        steps.push(Step::Commit(last, Durability::Immediate));
        Workload {
            name: "chain_then_non_durable",
            page_size: 4096,
            steps,
        }
    }
}
