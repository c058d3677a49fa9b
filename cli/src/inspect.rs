//! `bough pages` and `bough page`: the page-inspection API, printed.

use crate::bytes::show;
use crate::open::{Failure, open_read};
use crate::print;
use bough::CellInfo;
use std::path::Path;
use std::process::ExitCode;

pub fn pages(file: &Path, json: bool) -> Result<ExitCode, Failure> {
    let db = open_read(file)?;
    let census = db
        .begin_read()
        .and_then(|rtx| rtx.page_census())
        .map_err(Failure::of(file))?;
    if json {
        let value = serde_json::json!({
            "meta": census.meta, "branch": census.branch, "leaf": census.leaf,
            "overflow": census.overflow, "freelist": census.freelist, "free": census.free,
            "high_water": census.high_water, "fill_histogram": census.fill_histogram,
        });
        return print(&format!("{value}\n"));
    }
    let mut out = format!(
        "meta {}\nbranch {}\nleaf {}\noverflow {}\nfreelist {}\nfree {}\nhigh water {}\n\
         fill of branch and leaf pages:\n",
        census.meta,
        census.branch,
        census.leaf,
        census.overflow,
        census.freelist,
        census.free,
        census.high_water
    );
    let most = census
        .fill_histogram
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    for (i, count) in census.fill_histogram.iter().enumerate() {
        let bar = "#".repeat((count * 40).div_ceil(most) as usize);
        out += &format!("  {:>3}-{:<3}% {:>8} {bar}\n", i * 10, (i + 1) * 10, count);
    }
    print(&out)
}

fn cell_json(cell: &CellInfo) -> serde_json::Value {
    match cell {
        CellInfo::Branch {
            key,
            child,
            child_checksum,
        } => {
            serde_json::json!({"key": show(key, true), "child": child, "child_checksum": child_checksum})
        }
        CellInfo::Leaf { key, value } => {
            serde_json::json!({"key": show(key, true), "value": show(value, true)})
        }
        CellInfo::Overflow {
            key,
            run,
            len,
            checksum,
        } => {
            serde_json::json!({"key": show(key, true), "run": run, "len": len, "checksum": checksum})
        }
        _ => serde_json::json!({}),
    }
}

fn cell_line(i: usize, cell: &CellInfo) -> String {
    match cell {
        CellInfo::Branch {
            key,
            child,
            child_checksum,
        } => format!(
            "  {i:>4} key {} -> page {child} (crc {child_checksum:#010x})\n",
            show(key, true)
        ),
        CellInfo::Leaf { key, value } => format!(
            "  {i:>4} key {} value {} ({} bytes)\n",
            show(key, true),
            show(&value[..value.len().min(32)], true),
            value.len()
        ),
        CellInfo::Overflow {
            key,
            run,
            len,
            checksum,
        } => format!(
            "  {i:>4} key {} -> overflow run at page {run}, {len} bytes (crc {checksum:#010x})\n",
            show(key, true)
        ),
        _ => format!("  {i:>4} (a cell of a newer kind)\n"),
    }
}

pub fn page(file: &Path, id: u64, json: bool) -> Result<ExitCode, Failure> {
    let db = open_read(file)?;
    let info = db
        .begin_read()
        .and_then(|rtx| rtx.inspect_page(id))
        .map_err(Failure::of(file))?;
    if json {
        let cells: Vec<_> = info.cells.iter().map(cell_json).collect();
        let value = serde_json::json!({
            "id": info.id, "kind": info.kind, "header_id": info.header_id, "txn_id": info.txn_id,
            "checksum": info.checksum, "checksum_ok": info.checksum_ok, "fill": info.fill,
            "cells": cells, "problem": info.problem,
        });
        return print(&format!("{value}\n"));
    }
    let mut out = format!(
        "page {} ({})\nheader names page {}, written by transaction {}\n",
        info.id, info.kind, info.header_id, info.txn_id
    );
    out += &match (info.kind.as_str(), info.checksum_ok) {
        ("meta", true) => "a valid meta\n".to_owned(),
        ("meta", false) => "NOT a valid meta\n".to_owned(),
        (_, true) => format!("checksum {:#010x} matches its bytes\n", info.checksum),
        (_, false) => format!(
            "checksum {:#010x} does NOT match its bytes\n",
            info.checksum
        ),
    };
    if let Some(fill) = info.fill {
        out += &format!("{} cells, {:.0}% full\n", info.cells.len(), fill * 100.0);
    }
    for (i, cell) in info.cells.iter().enumerate() {
        out += &cell_line(i, cell);
    }
    if let Some(problem) = &info.problem {
        out += &format!("cells unreadable: {problem}\n");
    }
    print(&out)
}
