//! `bough`: inspect, check, query, dump, load and back up Bough database files.
//!
//! Exit status: 0 on success; 1 when `check` finds damage, a key is not found, or a
//! damaged page stops a command; 2 for usage errors and files that cannot be opened.

mod bytes;
mod dump;
mod inspect;
mod open;

use bough::{Database, Error, ReadTransaction};
use bytes::{parse, show};
use clap::{Parser, Subcommand};
use open::{Failure, open_read, open_write};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "bough",
    version,
    about = "Inspect and operate Bough database files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Page size, mode, commit, file size, page counts and each table.
    Info {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify every page: status 0 if whole, 1 if damaged (the first problem is printed).
    Check {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The table names, one per line.
    Tables {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the value stored under KEY (status 1 if there is none).
    Get {
        file: PathBuf,
        table: String,
        key: String,
        /// KEY is hex, and the value is printed as hex.
        #[arg(long)]
        hex: bool,
    },
    /// Store VALUE under KEY (the table, and the file, are created if missing).
    Put {
        file: PathBuf,
        table: String,
        key: String,
        value: String,
        /// KEY and VALUE are hex.
        #[arg(long)]
        hex: bool,
    },
    /// Remove KEY (status 1 if it was not there).
    Del {
        file: PathBuf,
        table: String,
        key: String,
        /// KEY is hex.
        #[arg(long)]
        hex: bool,
    },
    /// Print entries in key order, one `key<TAB>value` per line.
    Scan {
        file: PathBuf,
        table: String,
        /// Only keys starting with P.
        #[arg(long, value_name = "P")]
        prefix: Option<String>,
        /// Only keys at or after K.
        #[arg(long, value_name = "K")]
        from: Option<String>,
        /// Only keys before K.
        #[arg(long, value_name = "K")]
        to: Option<String>,
        /// Largest key first.
        #[arg(long)]
        reverse: bool,
        /// At most N entries.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Keys and values as hex (and the bounds given as hex).
        #[arg(long)]
        hex: bool,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Write every table (or one) to stdout in the portable text format of `bough load`.
    Dump {
        file: PathBuf,
        #[arg(long, value_name = "T")]
        table: Option<String>,
    },
    /// Read a dump from stdin into FILE (created if missing), in one transaction.
    Load { file: PathBuf },
    /// Page counts by kind and a fill-factor histogram of tree pages.
    Pages {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One page decoded: header, checksum, cells and pointers with their checksums.
    Page {
        file: PathBuf,
        id: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the newest snapshot, compacted, as a new database at DEST.
    Backup {
        file: PathBuf,
        dest: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Pack the file in place and give its free space back to the filesystem.
    Compact {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.use_stderr() {
                true => ExitCode::from(2),
                false => ExitCode::SUCCESS,
            };
        }
    };
    match run(cli.command) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("bough: {}", failure.message);
            ExitCode::from(failure.status)
        }
    }
}

fn run(command: Command) -> Result<ExitCode, Failure> {
    match command {
        Command::Info { file, json } => info(&file, json),
        Command::Check { file, json } => check(&file, json),
        Command::Tables { file, json } => tables(&file, json),
        Command::Get {
            file,
            table,
            key,
            hex,
        } => get(&file, &table, &key, hex),
        Command::Put {
            file,
            table,
            key,
            value,
            hex,
        } => put(&file, &table, &key, &value, hex),
        Command::Del {
            file,
            table,
            key,
            hex,
        } => del(&file, &table, &key, hex),
        Command::Scan {
            file,
            table,
            prefix,
            from,
            to,
            reverse,
            limit,
            hex,
            json,
        } => {
            let bounds = ScanBounds {
                prefix: prefix.map(|p| parse(&p, hex)).transpose()?,
                from: from.map(|k| parse(&k, hex)).transpose()?,
                to: to.map(|k| parse(&k, hex)).transpose()?,
            };
            scan(&file, &table, &bounds, reverse, limit, hex, json)
        }
        Command::Pages { file, json } => inspect::pages(&file, json),
        Command::Page { file, id, json } => inspect::page(&file, id, json),
        Command::Dump { file, table } => {
            let db = open_read(&file)?;
            dump::dump(&db, &file, table.as_deref())
        }
        Command::Load { file } => {
            let db = open_write(&file, true)?;
            dump::load(&db, &file)
        }
        Command::Compact { file, json } => compact(&file, json),
        Command::Backup { file, dest, json } => backup(&file, &dest, json),
    }
}

fn tables(file: &Path, json: bool) -> Result<ExitCode, Failure> {
    let db = open_read(file)?;
    let names = db.begin_read().map_err(Failure::of(file))?.list_tables();
    let names = names.map_err(Failure::of(file))?;
    let out = match json {
        true => serde_json::to_string(&names).expect("strings serialize") + "\n",
        false => names.iter().map(|n| format!("{n}\n")).collect(),
    };
    print(&out)
}

fn get(file: &Path, table: &str, key: &str, hex: bool) -> Result<ExitCode, Failure> {
    let db = open_read(file)?;
    let rtx = db.begin_read().map_err(Failure::of(file))?;
    let key = parse(key, hex)?;
    let value = read_table(&rtx, file, table)?.get(&key);
    match value.map_err(Failure::of(file))? {
        Some(value) => print(&format!("{}\n", show(value, hex))),
        None => Err(not_found(&key, table)),
    }
}

fn put(file: &Path, table: &str, key: &str, value: &str, hex: bool) -> Result<ExitCode, Failure> {
    let (key, value) = (parse(key, hex)?, parse(value, hex)?);
    // Like `load`, `put` creates a missing file.
    let db = open_write(file, true)?;
    let wtx = db.begin_write().map_err(Failure::of(file))?;
    wtx.open_table(table)
        .and_then(|mut t| t.insert(&key, &value))
        .map_err(Failure::of(file))?;
    wtx.commit().map_err(Failure::of(file))?;
    Ok(ExitCode::SUCCESS)
}

fn del(file: &Path, table: &str, key: &str, hex: bool) -> Result<ExitCode, Failure> {
    let db = open_write(file, false)?;
    let key = parse(key, hex)?;
    let rtx = db.begin_read().map_err(Failure::of(file))?;
    read_table(&rtx, file, table)?;
    drop(rtx);
    let wtx = db.begin_write().map_err(Failure::of(file))?;
    let removed = wtx
        .open_table(table)
        .and_then(|mut t| t.remove(&key))
        .map_err(Failure::of(file))?;
    wtx.commit().map_err(Failure::of(file))?;
    match removed {
        true => Ok(ExitCode::SUCCESS),
        false => Err(not_found(&key, table)),
    }
}

fn backup(file: &Path, dest: &Path, json: bool) -> Result<ExitCode, Failure> {
    let db = open_read(file)?;
    let report = dump::spinning("backup", || db.backup(dest)).map_err(Failure::of(dest))?;
    let out = match json {
        true => format!(
            "{}\n",
            serde_json::json!({
                "snapshot_id": report.snapshot_id,
                "tables": report.tables,
                "entries": report.entries,
                "data_bytes": report.data_bytes,
                "file_size": report.file_size,
                "seconds": report.elapsed.as_secs_f64(),
            })
        ),
        false => format!(
            "backed up {} entries in {} tables to {} ({} bytes) in {:.2} s\n",
            report.entries,
            report.tables,
            dest.display(),
            report.file_size,
            report.elapsed.as_secs_f64()
        ),
    };
    print(&out)
}

fn compact(file: &Path, json: bool) -> Result<ExitCode, Failure> {
    let db = open_write(file, false)?;
    let report = dump::spinning("compact", || db.compact()).map_err(Failure::of(file))?;
    let out = match json {
        true => format!(
            "{}\n",
            serde_json::json!({
                "size_before": report.size_before,
                "size_after": report.size_after,
                "leaves_packed": report.leaves_packed,
                "pages_moved": report.pages_moved,
                "commits": report.commits,
                "seconds": report.elapsed.as_secs_f64(),
            })
        ),
        false => format!(
            "compacted {}: {} -> {} bytes ({} leaves packed, {} pages moved, {} commits) in {:.2} s\n",
            file.display(),
            report.size_before,
            report.size_after,
            report.leaves_packed,
            report.pages_moved,
            report.commits,
            report.elapsed.as_secs_f64()
        ),
    };
    print(&out)
}

/// A key a command looked for is not there: status 1.
fn not_found(key: &[u8], table: &str) -> Failure {
    Failure::new(1, format!("no key {} in table {table:?}", show(key, true)))
}

pub(crate) fn print(text: &str) -> Result<ExitCode, Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(2, format!("writing to stdout: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// Opens `table` for reading: a missing one is one clear line and status 2.
fn read_table<'t>(
    rtx: &'t ReadTransaction,
    file: &Path,
    table: &str,
) -> Result<bough::ReadTable<'t>, Failure> {
    rtx.open_table(table).map_err(|e| match e {
        Error::TableNotFound(_) => {
            Failure::new(2, format!("{}: no table {table:?}", file.display()))
        }
        e => Failure::of(file)(e),
    })
}

fn info(file: &Path, json: bool) -> Result<ExitCode, Failure> {
    let db = open_read(file)?;
    let stats = db.stats().map_err(Failure::of(file))?;
    let tables = db
        .begin_read()
        .and_then(|rtx| rtx.table_summaries())
        .map_err(Failure::of(file))?;
    let live =
        stats.branch_pages + stats.leaf_pages + stats.overflow_pages + stats.freelist_pages + 2;
    // Free and pending pages below the high-water mark, and the file's tail past it.
    let page_size = stats.page_size as u64;
    let reclaimable = (stats.free_pages + stats.pending_pages) * page_size
        + stats.file_size.saturating_sub(stats.high_water * page_size);
    if json {
        let tables: Vec<_> = tables
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name, "entries": t.entries, "depth": t.depth,
                    "branch_pages": t.branch_pages, "leaf_pages": t.leaf_pages,
                    "overflow_pages": t.overflow_pages,
                    "key_type": t.key_type, "value_type": t.value_type,
                })
            })
            .collect();
        let value = serde_json::json!({
            "page_size": stats.page_size,
            "mode": format!("{:?}", stats.mode),
            "commit_id": stats.txn_id,
            "file_size": stats.file_size,
            "live_pages": live,
            "free_pages": stats.free_pages,
            "pending_pages": stats.pending_pages,
            "high_water": stats.high_water,
            "compaction_would_reclaim_bytes": reclaimable,
            "tables": tables,
        });
        return print(&format!("{value}\n"));
    }
    let mut out = format!(
        "page size      {}\nmode           {:?}\ncommit         {}\nfile size      {} bytes\n\
         pages          {} live, {} free, {} pending, {} up to the high-water mark\n\
         compaction     would reclaim up to {} bytes (free and pending pages, the file's tail)\ntables         {}\n",
        stats.page_size,
        stats.mode,
        stats.txn_id,
        stats.file_size,
        live,
        stats.free_pages,
        stats.pending_pages,
        stats.high_water,
        reclaimable,
        tables.len()
    );
    for t in &tables {
        out += &format!(
            "  {:<24} {} entries, depth {}, {} branch / {} leaf / {} overflow pages, {} -> {}\n",
            t.name,
            t.entries,
            t.depth,
            t.branch_pages,
            t.leaf_pages,
            t.overflow_pages,
            t.key_type,
            t.value_type
        );
    }
    print(&out)
}

fn check(file: &Path, json: bool) -> Result<ExitCode, Failure> {
    // A file that opens but whose pages are damaged is "damaged" (status 1, from the open or
    // from the check); one that cannot be opened is status 2.
    let db: Database = open_read(file)?;
    match db.check() {
        Ok(report) => {
            let out = match json {
                true => format!(
                    "{}\n",
                    serde_json::json!({
                        "ok": true, "tables": report.tables, "entries": report.entries,
                        "branch_pages": report.branch_pages, "leaf_pages": report.leaf_pages,
                        "overflow_pages": report.overflow_pages,
                        "freelist_pages": report.freelist_pages,
                        "free_pages": report.free_pages, "high_water": report.high_water,
                    })
                ),
                false => format!(
                    "ok: {} tables, {} entries, {} pages checked\n",
                    report.tables, report.entries, report.high_water
                ),
            };
            print(&out)
        }
        Err(Error::Corruption { page, reason }) => {
            if json {
                print(&format!(
                    "{}\n",
                    serde_json::json!({"ok": false, "page": page, "reason": reason})
                ))?;
            }
            Err(Failure::new(
                1,
                format!("{}: damaged: page {page}: {reason}", file.display()),
            ))
        }
        Err(e) => Err(Failure::of(file)(e)),
    }
}

/// One entry of a range, or the error that ended it.
type Entry<'a> = bough::Result<(&'a [u8], &'a [u8])>;

/// What `scan` reads: keys with a prefix, from a key, to a key (all optional).
struct ScanBounds {
    prefix: Option<Vec<u8>>,
    from: Option<Vec<u8>>,
    to: Option<Vec<u8>>,
}

fn scan(
    file: &Path,
    table: &str,
    bounds: &ScanBounds,
    reverse: bool,
    limit: Option<u64>,
    hex: bool,
    json: bool,
) -> Result<ExitCode, Failure> {
    use std::ops::Bound;
    let db = open_read(file)?;
    let rtx = db.begin_read().map_err(Failure::of(file))?;
    let t = read_table(&rtx, file, table)?;
    let start = bounds
        .from
        .as_deref()
        .map_or(Bound::Unbounded, Bound::Included);
    let end = bounds
        .to
        .as_deref()
        .map_or(Bound::Unbounded, Bound::Excluded);
    // With a prefix, its range is read and the other bounds filter it.
    let range = match &bounds.prefix {
        Some(prefix) => t.prefix(prefix),
        None => t.range((start, end)),
    }
    .map_err(Failure::of(file))?;
    let entries: Box<dyn Iterator<Item = Entry<'_>>> = match reverse {
        true => Box::new(range.rev()),
        false => Box::new(range),
    };
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut written = 0;
    for entry in entries {
        if limit.is_some_and(|limit| written >= limit) {
            break;
        }
        let (key, value) = entry.map_err(Failure::of(file))?;
        let before = bounds.from.as_deref().is_some_and(|from| key < from);
        let after = bounds.to.as_deref().is_some_and(|to| key >= to);
        if before || after {
            continue;
        }
        let line = match json {
            true => {
                serde_json::json!({"key": show(key, hex), "value": show(value, hex)}).to_string()
            }
            false => format!("{}\t{}", show(key, hex), show(value, hex)),
        };
        writeln!(out, "{line}").map_err(|e| Failure::new(2, format!("writing to stdout: {e}")))?;
        written += 1;
    }
    out.flush()
        .map_err(|e| Failure::new(2, format!("writing to stdout: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
