//! The operations of the model tests and how they are drawn at random.

use std::fmt;
use std::ops::Bound;

use bough::MAX_KEY_LEN;
use quickcheck::{Arbitrary, Gen};

use crate::common::{self, Rng, show};

/// The tables the operations use; the last one has the longest valid name.
pub fn table_name(table: u8) -> String {
    match table % 3 {
        0 => "accounts".to_string(),
        1 => "b".to_string(),
        _ => "t".repeat(255),
    }
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key(pub Vec<u8>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&show(&self.0))
    }
}

/// A value given by seed and length, so failure reports stay short even for 200 KiB values.
#[derive(Clone, Copy, Debug)]
pub struct Val {
    pub seed: u16,
    pub len: u32,
}

impl Val {
    pub fn bytes(self) -> Vec<u8> {
        common::value(u64::from(self.seed), self.len as usize)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    Forward,
    Reverse,
    /// Bit `i % 8` of the pattern picks `next` (1) or `next_back` (0) for the i-th step.
    Mixed(u8),
}

#[derive(Clone, Debug)]
pub enum Op {
    Insert {
        table: u8,
        key: Key,
        value: Val,
    },
    /// Overwrite the `index`-th (mod len) existing key, so overwrites of long keys happen too.
    Overwrite {
        table: u8,
        index: usize,
        value: Val,
    },
    Remove {
        table: u8,
        key: Key,
    },
    /// Remove the `index`-th (mod len) existing key.
    RemoveExisting {
        table: u8,
        index: usize,
    },
    Get {
        table: u8,
        key: Key,
    },
    Range {
        table: u8,
        lo: Bound<Key>,
        hi: Bound<Key>,
        walk: Walk,
    },
    First {
        table: u8,
    },
    Last {
        table: u8,
    },
    Len {
        table: u8,
    },
    CreateTable {
        table: u8,
    },
    DeleteTable {
        table: u8,
    },
    ListTables,
    /// A reader opened while the write transaction is live sees the last commit only.
    ReadSnapshot,
    Commit {
        durable: bool,
    },
    Abort {
        explicit: bool,
    },
    /// Drop the open write transaction (abort), check, close and open the database again.
    Reopen,
    PopFirst {
        table: u8,
    },
    PopLast {
        table: u8,
    },
    /// Keep the entries `keeps(key, modulo)` is true for, remove the others.
    Retain {
        table: u8,
        modulo: u8,
    },
    DeleteRange {
        table: u8,
        lo: Bound<Key>,
        hi: Bound<Key>,
    },
    Clear {
        table: u8,
    },
    Contains {
        table: u8,
        key: Key,
    },
    Prefix {
        table: u8,
        prefix: Key,
    },
    /// Copy the entries of `from` in the range into `to`, both tables open at once (the
    /// source iterated while the destination is written).
    Copy {
        from: u8,
        to: u8,
        lo: Bound<Key>,
        hi: Bound<Key>,
    },
    Savepoint,
    /// Restore the `index`-th (mod count) savepoint still valid.
    Restore {
        index: usize,
    },
}

/// Whether `Op::Retain` keeps an entry.
pub fn keeps(key: &[u8], modulo: u8) -> bool {
    let sum: u32 = key.iter().map(|&b| u32::from(b)).sum();
    sum % u32::from(modulo.max(2)) != 0
}

/// How the random operations are drawn.
pub struct Profile {
    /// Short keys are 1..=key_len letters of `alphabet`: few enough that overwrites hit.
    alphabet: &'static [u8],
    key_len: usize,
    /// One operation in `txn_len` (on average) ends the write transaction.
    txn_len: u64,
    /// Whether values above 64 KiB (up to 200 KiB) are drawn.
    huge_values: bool,
    /// One drawn value of 1000 bytes or more in this many is kept (the others are redrawn
    /// small), to bound the size of long runs.
    large_one_in: u64,
    /// One drawn table deletion or snapshot check in this many is kept (the others become
    /// inserts), so long runs grow tables of thousands of entries.
    rare_one_in: u64,
    /// Likewise for removals.
    remove_one_in: u64,
}

pub const SMALL: Profile = Profile {
    alphabet: b"abcd",
    key_len: 3,
    txn_len: 8,
    huge_values: true,
    large_one_in: 1,
    rare_one_in: 1,
    remove_one_in: 1,
};

pub const LONG_RUN: Profile = Profile {
    alphabet: b"abcdefgh",
    key_len: 4,
    txn_len: 50,
    huge_values: false,
    large_one_in: 8,
    rare_one_in: 200,
    remove_one_in: 2,
};

impl Profile {
    fn key(&self, rng: &mut Rng) -> Key {
        match rng.below(12) {
            0 => Key(Vec::new()),
            1 => {
                // Long keys that sort among the short ones ("a" < "aa..." < "ab").
                let byte = self.alphabet[rng.index(4)];
                let len = [MAX_KEY_LEN, MAX_KEY_LEN - 1, 700][rng.index(3)];
                Key(vec![byte; len])
            }
            _ => {
                let len = 1 + rng.index(self.key_len);
                Key((0..len)
                    .map(|_| self.alphabet[rng.index(self.alphabet.len())])
                    .collect())
            }
        }
    }

    fn value(&self, rng: &mut Rng) -> Val {
        let mut class = rng.below(40);
        if class > 32 && rng.below(self.large_one_in) != 0 {
            class = rng.below(33);
        }
        let len = match class {
            0..=5 => 0,
            6..=25 => rng.below(64),
            26..=32 => rng.below(1000),
            // Around and above the page sizes under test: overflow runs of one to a few pages.
            33..=36 => [2000, 4064, 4096, 4097, 8192, 8193, 16_000][rng.index(7)] + rng.below(8),
            37..=38 if self.huge_values => 10_000 + rng.below(60_000),
            37..=38 => 5_000 + rng.below(5_000),
            _ if self.huge_values => [65_537, 100_000, 200 * 1024][rng.index(3)],
            _ => 20_000,
        };
        Val {
            seed: rng.next_u64() as u16,
            len: len as u32,
        }
    }

    fn bound(&self, rng: &mut Rng) -> Bound<Key> {
        match rng.below(5) {
            0 => Bound::Unbounded,
            1 | 2 => Bound::Included(self.key(rng)),
            _ => Bound::Excluded(self.key(rng)),
        }
    }

    pub fn op(&self, rng: &mut Rng) -> Op {
        if rng.below(self.txn_len) == 0 {
            return match rng.below(10) {
                0..=5 => Op::Commit {
                    durable: rng.below(3) == 0,
                },
                6 | 7 => Op::Abort {
                    explicit: rng.below(2) == 0,
                },
                _ => Op::Reopen,
            };
        }
        let table = rng.below(3) as u8;
        let index = rng.next_u64() as usize;
        if rng.below(100) < 12 {
            return self.newer_op(rng, table, index);
        }
        match rng.below(100) {
            0..=29 => Op::Insert {
                table,
                key: self.key(rng),
                value: self.value(rng),
            },
            30..=39 => Op::Overwrite {
                table,
                index,
                value: self.value(rng),
            },
            40..=47 if rng.below(self.remove_one_in) == 0 => Op::Remove {
                table,
                key: self.key(rng),
            },
            48..=54 if rng.below(self.remove_one_in) == 0 => Op::RemoveExisting { table, index },
            55..=64 => Op::Get {
                table,
                key: self.key(rng),
            },
            65..=76 => {
                let walk = match rng.below(3) {
                    0 => Walk::Forward,
                    1 => Walk::Reverse,
                    _ => Walk::Mixed(rng.next_u64() as u8),
                };
                Op::Range {
                    table,
                    lo: self.bound(rng),
                    hi: self.bound(rng),
                    walk,
                }
            }
            77..=79 => Op::First { table },
            80..=82 => Op::Last { table },
            83..=86 => Op::Len { table },
            87..=89 => Op::CreateTable { table },
            93..=95 => Op::ListTables,
            90..=92 if rng.below(self.rare_one_in) == 0 => Op::DeleteTable { table },
            96..=99 if rng.below(self.rare_one_in) == 0 => Op::ReadSnapshot,
            _ => Op::Insert {
                table,
                key: self.key(rng),
                value: self.value(rng),
            },
        }
    }
}

impl Profile {
    /// The operations added with several tables per transaction and savepoints. Those that
    /// remove many entries at once are as rare as table deletions, pops as removals, so that
    /// long runs still grow large tables.
    fn newer_op(&self, rng: &mut Rng, table: u8, index: usize) -> Op {
        let rare = rng.below(self.rare_one_in) == 0;
        let remove = rng.below(self.remove_one_in) == 0;
        match rng.below(20) {
            0 | 1 if remove => Op::PopFirst { table },
            2 | 3 if remove => Op::PopLast { table },
            4 | 5 if rare => Op::Retain {
                table,
                modulo: 2 + rng.below(5) as u8,
            },
            6 | 7 if rare => Op::DeleteRange {
                table,
                lo: self.bound(rng),
                hi: self.bound(rng),
            },
            8 if rare => Op::Clear { table },
            9 | 10 => Op::Contains {
                table,
                key: self.key(rng),
            },
            11 | 12 => {
                let mut prefix = self.key(rng);
                prefix.0.truncate(2);
                Op::Prefix { table, prefix }
            }
            13..=15 => Op::Copy {
                from: table,
                to: (table + 1 + rng.below(2) as u8) % 3,
                lo: self.bound(rng),
                hi: self.bound(rng),
            },
            16 | 17 => Op::Savepoint,
            18 | 19 if rare => Op::Restore { index },
            _ => Op::Insert {
                table,
                key: self.key(rng),
                value: self.value(rng),
            },
        }
    }
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Self {
        SMALL.op(&mut Rng::new(u64::arbitrary(g)))
    }
}
