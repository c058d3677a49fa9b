//! The bulk paths at any scale (issue 18, parts 3 and 4): loads random entries in one durable
//! transaction, then removes every other one in load order in another, as the peer
//! comparison's workloads 1 and 7 do, and prints their times, the file against the raw bytes
//! and how full the leaves are.
//!
//! Run: `cargo run --release --example bulk_paths -- [--entries N] [--budget-mib N] [--sorted]`
//! (`--sorted`: the load inserts the keys in ascending order; the removal stays random).
//! (defaults: 1,000,000 entries and the default 128 MiB budget; the file lives in a fresh
//! directory under the system temp dir, deleted afterwards). A smaller budget stands in for a larger
//! load: what shapes the tree is how many entries each application of held writes gives a
//! leaf (DESIGN.md, "Held writes"), so 1,000,000 entries under 6 MiB behave as 10,000,000
//! under 64 MiB.
//!
//! Data: 24-byte random keys and 150-byte values from a splitmix64, as the peer comparison's.

#[path = "../benches/support/splitmix64.rs"]
#[allow(dead_code)] // shared with the benchmarks, which use all of it
mod splitmix64;

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use bough::Database;
use splitmix64::SplitMix64;

const KEY_LEN: usize = 24;
const VALUE_LEN: usize = 150;
/// A leaf cell's bytes beside its key and value: its header and its slot.
const CELL_OVERHEAD: usize = 7 + 2;

fn number_after(args: &[String], flag: &str, default: usize) -> Result<usize, Box<dyn Error>> {
    match args.iter().position(|a| a == flag) {
        Some(at) => Ok(args.get(at + 1).ok_or("a number must follow")?.parse()?),
        None => Ok(default),
    }
}

/// The file's length, its pages in use, and how full its leaves are, for `entries` entries.
fn shape(db: &Database, file: &Path, entries: usize) -> Result<String, Box<dyn Error>> {
    let stats = db.stats()?;
    let raw = (entries * (KEY_LEN + VALUE_LEN)) as f64;
    let usable = (stats.page_size - 32) as f64; // below the page header
    let cells = (entries * (KEY_LEN + VALUE_LEN + CELL_OVERHEAD)) as f64;
    Ok(format!(
        "file {:.2}x the raw bytes ({:.2}x in pages in use), {} leaves {:.1}% full",
        std::fs::metadata(file)?.len() as f64 / raw,
        (stats.high_water * stats.page_size as u64) as f64 / raw,
        stats.leaf_pages,
        100.0 * cells / (stats.leaf_pages as f64 * usable)
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let entries = number_after(&args, "--entries", 1_000_000)?;
    let budget_mib = number_after(&args, "--budget-mib", 128)?;
    let dir = std::env::temp_dir().join(format!("bough-bulk-paths-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("db.bough");
    let db = Database::builder()
        .dirty_page_budget(budget_mib << 20)
        .open(&file)?;
    let mut rng = SplitMix64::new(1);
    let keys: Vec<[u8; KEY_LEN]> = (0..entries)
        .map(|_| {
            let mut key = [0; KEY_LEN];
            rng.fill(&mut key);
            key
        })
        .collect();
    let sorted = args.iter().any(|a| a == "--sorted");
    let mut load_order = keys.clone();
    if sorted {
        load_order.sort_unstable();
    }
    let value = [0x5A; VALUE_LEN];

    let start = Instant::now();
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table("t")?;
        for key in &load_order {
            table.insert(key, &value)?;
        }
    }
    let inserted = start.elapsed().as_secs_f64();
    tx.commit()?;
    println!(
        "{}load of {entries} entries under {budget_mib} MiB: {:.2} s ({inserted:.2} s before \
         the commit), {}",
        if sorted { "sorted " } else { "" },
        start.elapsed().as_secs_f64(),
        shape(&db, &file, entries)?
    );

    let before = std::fs::metadata(&file)?.len() as f64;
    let start = Instant::now();
    let tx = db.begin_write()?;
    {
        let mut table = tx.open_table("t")?;
        for key in keys.iter().step_by(2) {
            if !table.remove(key)? {
                return Err("a loaded key was not found".into());
            }
        }
    }
    let removed = start.elapsed().as_secs_f64();
    tx.commit()?;
    let left = entries / 2;
    println!(
        "removal of every other entry: {:.2} s ({removed:.2} s before the commit), \
         file grew {:.2}x, {}",
        start.elapsed().as_secs_f64(),
        std::fs::metadata(&file)?.len() as f64 / before,
        shape(&db, &file, left)?
    );
    drop(db);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
