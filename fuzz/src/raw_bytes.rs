//! Target `raw_bytes`: arbitrary bytes opened as a database (and, split in two, as a file and
//! its write-ahead log) and walked every way. Errors are fine; a panic, an abort, a hang or an
//! out-of-bounds read (the AddressSanitizer lane) is a failure.

use bough::testing::SimDisk;
use bough::{Database, Mode};

/// At most this many entries are visited per table, so a corrupt tree cannot make a run slow.
const MAX_ENTRIES: usize = 2_000;

fn walk(db: &Database) {
    let _ = db.check();
    let _ = db.stats();
    let Ok(rtx) = db.begin_read() else {
        return;
    };
    let Ok(names) = rtx.list_tables() else {
        return;
    };
    for name in names.iter().take(8) {
        let Ok(table) = rtx.open_table(name) else {
            continue;
        };
        let _ = table.len();
        let _ = table.first();
        let _ = table.last();
        let mut keys = Vec::new();
        if let Ok(range) = table.iter() {
            for entry in range.take(MAX_ENTRIES) {
                match entry {
                    Ok((key, _)) => keys.push(key.to_vec()),
                    Err(_) => break,
                }
            }
        }
        if let Ok(range) = table.iter() {
            for entry in range.rev().take(MAX_ENTRIES) {
                if entry.is_err() {
                    break;
                }
            }
        }
        for key in keys.iter().step_by(7) {
            let _ = table.get(key);
            if let Ok(range) = table.range(&key[..]..) {
                let _ = range.take(3).count();
            }
        }
    }
}

/// Runs one input.
pub fn run(data: &[u8]) {
    for read_only in [true, false] {
        let opened = Database::builder()
            .read_only(read_only)
            .open_simulated(SimDisk::from_image(data.to_vec()));
        if let Ok(db) = opened {
            walk(&db);
        }
    }
    if data.len() > 2 {
        let split = (u16::from_le_bytes([data[0], data[1]]) as usize).min(data.len() - 2) + 2;
        let (main, log) = data[2..].split_at(split - 2);
        let opened = Database::builder()
            .mode(Mode::Wal)
            .open_simulated(SimDisk::from_images(vec![main.to_vec(), log.to_vec()]));
        if let Ok(db) = opened {
            walk(&db);
        }
    }
}
