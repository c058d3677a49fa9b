//! The one interface every engine is driven through, so each workload is written once.
//!
//! Calls go through `dyn` (one indirect call per get or insert, a few nanoseconds, the same for
//! every engine). Values reach the caller through a callback so zero-copy engines hand out a
//! borrowed slice, never a copy the harness forced on them.

use std::path::Path;

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// A database with one table of byte keys and byte values, opened with the engine's documented
/// durable defaults.
pub trait Engine: Sync {
    /// Runs `f` inside one write transaction and commits it. `durable = false` asks for a commit
    /// that skips the sync (each engine's own non-durable mode); the next durable commit syncs.
    fn write(&self, durable: bool, f: &mut dyn FnMut(&mut dyn Writer) -> Res<()>) -> Res<()>;

    /// Runs `f` inside one read transaction (a snapshot). Called from several threads at once.
    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Res<()>) -> Res<()>;

    /// Syncs durable commits made since the open, for an engine that counts them.
    fn commit_syncs(&self) -> Option<u64> {
        None
    }
}

pub trait Writer {
    /// Inserts or replaces.
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Res<()>;
    /// Returns whether the key was there.
    fn remove(&mut self, key: &[u8]) -> Res<bool>;
}

pub trait Reader {
    /// Calls `f` with the value if the key exists; returns whether it did.
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Res<bool>;
    /// Calls `f` for up to `limit` entries in key order, from `from` (inclusive) or the first key;
    /// returns how many it visited.
    fn scan(
        &self,
        from: Option<&[u8]>,
        limit: usize,
        f: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Res<usize>;
}

pub const ENGINES: [&str; 5] = ["bough", "bough-wal", "lmdb", "redb", "sqlite"];

/// Creates a new database inside the empty directory `dir`.
pub fn open(name: &str, dir: &Path) -> Res<Box<dyn Engine>> {
    use crate::engines;
    Ok(match name {
        "bough" => Box::new(engines::bough::Bough::open(dir, bough::Mode::CopyOnWrite)?),
        "bough-wal" => Box::new(engines::bough::Bough::open(dir, bough::Mode::Wal)?),
        "lmdb" => Box::new(engines::lmdb::Lmdb::open(dir)?),
        "redb" => Box::new(engines::redb::Redb::open(dir)?),
        "sqlite" => Box::new(engines::sqlite::Sqlite::open(dir)?),
        _ => return Err(format!("unknown engine {name:?} (known: {})", ENGINES.join(", ")).into()),
    })
}
