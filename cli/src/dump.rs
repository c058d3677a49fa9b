//! `bough dump` and `bough load`: a portable, line-oriented text format, exact for any bytes.
//!
//! ```text
//! bough-dump 1
//! table <name in hex>
//! entry <key in hex> <value in hex>
//! ...
//! end
//! ```
//!
//! Every line ends with `\n`; an empty key or value is an empty field (so `entry  61` is the
//! empty key with value "a"). A table line with no entries after it is an empty table. The
//! `end` line marks a whole dump: `load` refuses input without it and loads nothing.
//! Dumps carry bytes: a typed table is dumped as its encodings, and loaded as a table of
//! bytes.

use crate::bytes::{from_hex, to_hex};
use crate::open::Failure;
use bough::{Database, Table};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

const HEADER: &str = "bough-dump 1";

/// Runs `job` under a spinner named `what` (on a terminal only).
pub fn spinning<T>(what: &str, job: impl FnOnce() -> T) -> T {
    let spinner = progress(None, what);
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    let done = job();
    spinner.finish_and_clear();
    done
}

/// A bar on stderr for `total` steps (a spinner if unknown), only when stderr is a terminal.
pub fn progress(total: Option<u64>, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} entries ({eta})")
                .expect("a valid template"),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.set_message(what.to_owned());
    bar
}

fn write_failed(e: std::io::Error) -> Failure {
    Failure::new(2, format!("writing to stdout: {e}"))
}

pub fn dump(db: &Database, file: &Path, only: Option<&str>) -> Result<ExitCode, Failure> {
    let rtx = db.begin_read().map_err(Failure::of(file))?;
    let mut names = rtx.list_tables().map_err(Failure::of(file))?;
    if let Some(only) = only {
        if !names.iter().any(|n| n == only) {
            return Err(Failure::new(
                2,
                format!("{}: no table {only:?}", file.display()),
            ));
        }
        names = vec![only.to_owned()];
    }
    let mut tables = Vec::new();
    for name in &names {
        tables.push(rtx.open_table(name.as_str()).map_err(Failure::of(file))?);
    }
    let total = tables.iter().map(|t| t.len().unwrap_or(0)).sum();
    let bar = progress(Some(total), "dump");
    let mut out = BufWriter::new(std::io::stdout().lock());
    writeln!(out, "{HEADER}").map_err(write_failed)?;
    for (name, table) in names.iter().zip(&tables) {
        writeln!(out, "table {}", to_hex(name.as_bytes())).map_err(write_failed)?;
        for entry in table.iter().map_err(Failure::of(file))? {
            let (key, value) = entry.map_err(Failure::of(file))?;
            writeln!(out, "entry {} {}", to_hex(key), to_hex(value)).map_err(write_failed)?;
            bar.inc(1);
        }
    }
    writeln!(out, "end").map_err(write_failed)?;
    out.flush().map_err(write_failed)?;
    bar.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

fn bad(line: usize, what: &str) -> Failure {
    Failure::new(2, format!("stdin line {line}: {what}"))
}

pub fn load(db: &Database, file: &Path) -> Result<ExitCode, Failure> {
    let stdin = std::io::stdin().lock();
    let mut lines = stdin.split(b'\n').enumerate();
    match lines.next() {
        Some((_, Ok(line))) if line == HEADER.as_bytes() => {}
        _ => return Err(bad(1, "not a bough dump (no 'bough-dump 1' header)")),
    }
    let wtx = db.begin_write().map_err(Failure::of(file))?;
    let bar = progress(None, "load");
    let mut table: Option<Table<'_>> = None;
    let mut ended = false;
    for (at, line) in lines {
        let number = at + 1;
        let line = line.map_err(|e| bad(number, &e.to_string()))?;
        if ended {
            return Err(bad(number, "text after the 'end' line"));
        }
        let text = std::str::from_utf8(&line).map_err(|_| bad(number, "not text"))?;
        let mut fields = text.splitn(3, ' ');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("table"), Some(name), None) => {
                let name = from_hex(name)
                    .and_then(|n| String::from_utf8(n).ok())
                    .ok_or_else(|| bad(number, "table name is not hex of UTF-8"))?;
                // One handle at a time: the previous table is done.
                drop(table.take());
                table = Some(wtx.open_table(name.as_str()).map_err(Failure::of(file))?);
            }
            (Some("entry"), Some(key), Some(value)) => {
                let (Some(key), Some(value)) = (from_hex(key), from_hex(value)) else {
                    return Err(bad(number, "key or value is not hex"));
                };
                let Some(table) = table.as_mut() else {
                    return Err(bad(number, "an entry before any table line"));
                };
                table.insert(&key, &value).map_err(Failure::of(file))?;
                bar.inc(1);
            }
            (Some("end"), None, None) => ended = true,
            _ => return Err(bad(number, "expected 'table', 'entry' or 'end'")),
        }
    }
    if !ended {
        return Err(Failure::new(
            2,
            "the dump has no 'end' line (cut short?); nothing was loaded",
        ));
    }
    drop(table);
    wtx.commit().map_err(Failure::of(file))?;
    bar.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}
