//! What is measured: every figure's id (the CSV key), label, unit, direction and issue-5 target.

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Better {
    Higher,
    Lower,
}

/// An issue-5 target for Bough's figure.
#[derive(Clone, Copy, Debug)]
pub enum Target {
    /// No target on this figure.
    None,
    /// Bough at least this many times better than each listed engine.
    Beat(&'static [&'static str], f64),
    /// Bough's own figure at most this.
    AtMost(f64),
    /// Bough's own figure at least this.
    AtLeast(f64),
}

#[derive(Debug)]
pub struct Metric {
    pub id: &'static str,
    pub label: &'static str,
    pub unit: &'static str,
    pub better: Better,
    pub target: Target,
    /// Shown in chart.png (relative to the reference engine).
    pub chart: bool,
}

const fn m(
    id: &'static str,
    label: &'static str,
    unit: &'static str,
    better: Better,
    target: Target,
    chart: bool,
) -> Metric {
    Metric {
        id,
        label,
        unit,
        better,
        target,
        chart,
    }
}

use Better::{Higher, Lower};
use Target::{AtLeast, AtMost, Beat};

/// In the order of the table. `chart` figures are drawn in chart.png.
#[rustfmt::skip]
pub const METRICS: &[Metric] = &[
    //  id                   label                                              unit         better  target                         chart
    m("w1_load_s",          "1 bulk load, random order, one durable txn",      "s",         Lower,  Beat(&["lmdb"], 1.0),          true),
    m("w1_file_mib",        "1 file size after bulk load",                     "MiB",       Lower,  Target::None,                  true),
    m("w1_file_x_raw",      "1 file size / raw key+value bytes",               "x",         Lower,  AtMost(1.25),                  false),
    m("w1_anon_mib",        "1 peak RssAnon during bulk load",                 "MiB",       Lower,  Target::None,                  false),
    m("w2_commit_us",       "2 durable commit of 1 insert (x1,000)",           "us/commit", Lower,  Target::None,                  true),
    m("w2_x_floor",         "2 durable commit / disk floor (10)",              "x",         Lower,  AtMost(1.3),                   false),
    m("w3_txn_ms",          "3 durable txn of 1,000 inserts (x100)",           "ms/txn",    Lower,  Beat(&["lmdb"], 2.0),          true),
    m("w4_commits_s",       "4 non-durable commits of 1 insert (x10,000)",     "commits/s", Higher, Beat(&["redb"], 2.0),          true),
    m("w11_commits_s",      "11 durable commits of 1 insert, 8 threads x125",  "commits/s", Higher, Beat(&["lmdb", "redb"], 4.0),  true),
    m("w11_syncs",          "11 syncs for those 1,000 commits (Bough counts)", "syncs",     Lower,  Target::None,                  false),
    m("w4_file_mib",        "2-4 file size after those 111,000 inserts",       "MiB",       Lower,  Target::None,                  false),
    m("w5_gets_1t",         "5 random gets, 1 thread",                         "gets/s",    Higher, Beat(&["lmdb"], 1.0),          true),
    m("w5_gets_2t",         "5 random gets, 2 threads",                        "gets/s",    Higher, Beat(&["lmdb"], 1.0),          true),
    m("w6_scan_entries_s",  "6 full ordered scan",                             "entries/s", Higher, Beat(&["lmdb", "redb"], 1.0),  true),
    m("w6_short_scans_s",   "6 short scans of 100 entries (x10,000)",          "scans/s",   Higher, Beat(&["lmdb", "redb"], 1.0),  true),
    m("w7_remove_s",        "7 remove half the keys, one durable txn",         "s",         Lower,  Beat(&["lmdb"], 1.0),          true),
    m("w7_file_mib",        "7 file size after removals",                      "MiB",       Lower,  Target::None,                  false),
    m("w7_growth",          "7 file size after / before removals",             "x",         Lower,  AtMost(1.0),                   false),
    m("w8_write_mibs",      "8 write 1 MiB values, one durable txn",           "MiB/s",     Higher, Beat(&["lmdb"], 1.0),          true),
    m("w8_read_mibs",       "8 read 1 MiB values back",                        "MiB/s",     Higher, Beat(&["lmdb"], 1.0),          true),
    m("w8_anon_mib",        "8 peak RssAnon during large writes",              "MiB",       Lower,  Target::None,                  false),
    m("w9_load_s",          "9 bulk load, sorted keys, one durable txn",       "s",         Lower,  Target::None,                  true),
    m("w9_file_mib",        "9 file size after sorted load",                   "MiB",       Lower,  Target::None,                  false),
    m("w9_speedup",         "9 random-order / sorted load time",               "x",         Higher, AtLeast(2.0),                  false),
    m("w10_floor_us",       "10 disk floor: 4 KiB pwrite + fdatasync",         "us",        Lower,  Target::None,                  false),
    m("mem_peak_anon_mib",  "peak RssAnon, whole engine process",              "MiB",       Lower,  Target::None,                  true),
    m("mem_hwm_mib",        "peak RSS (VmHWM, counts mapped file pages)",      "MiB",       Lower,  Target::None,                  false),
    m("mem_base_anon_mib",  "RssAnon of the harness before opening (keys)",    "MiB",       Lower,  Target::None,                  false),
];

pub fn find(id: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|metric| metric.id == id)
}
