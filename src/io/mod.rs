//! Storage I/O: the one narrow seam all file access passes through, the file lock and the
//! read-only memory map.

mod file;
mod map;
pub mod sim;

pub(crate) use file::{FileStorage, LockMode};
pub(crate) use map::{Mapping, ZeroedWords, prefetch};

use std::io;

/// Everything the engine does to its file. Reads of committed pages go through a
/// [`Mapping`]; this trait carries the writes, the size and the syncs.
pub(crate) trait Storage: Send + Sync + std::fmt::Debug {
    /// Reads exactly `buf.len()` bytes at `offset` (used before a map exists).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Writes all of `buf` at `offset`, extending the file if needed.
    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()>;
    /// Writes whole tree or freelist pages, `pages`, one after another from `offset`, as one
    /// write (one crash point of the simulated disk); a file writes them in pieces of one
    /// cache page each, straight from their bytes (DESIGN.md, "Page-sized writes").
    fn write_pages(&self, pages: &[&[u8]], offset: u64) -> io::Result<()> {
        match pages {
            [one] => self.write_at(one, offset),
            _ => self.write_at(&pages.concat(), offset),
        }
    }
    /// The current file length in bytes.
    fn len(&self) -> io::Result<u64>;
    /// Sets the file's length: growth, or giving back a tail no live snapshot and no meta on
    /// disk can reach (DESIGN.md, "Giving space back").
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Makes every write so far durable; `with_metadata` also forces the file size out
    /// (needed after growth: fdatasync does not persist it on every filesystem).
    fn sync(&self, with_metadata: bool) -> io::Result<()>;
    /// Maps the first `len` bytes read-only.
    fn map(&self, len: u64) -> io::Result<Mapping>;
    /// Whether a map shows writes made after it was created (a shared file map does; a
    /// copy does not, and the pager then maps again after writing).
    fn map_follows_writes(&self) -> bool {
        true
    }
    /// Makes a newly created file's directory entry durable. Files created through a path
    /// sync their directory when they are linked into place (`db/open.rs`), so only storage
    /// without a path does anything here.
    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }
}

/// A map of the first `len` bytes of a file that grew, or gave back its tail, since
/// `current` mapped it: a view through the same map where its reservation covers `len` (the
/// pages already faulted in stay mapped), else a new map.
pub(crate) fn map_resized<S: Storage + ?Sized>(
    storage: &S,
    current: &Mapping,
    len: u64,
) -> io::Result<Mapping> {
    match current.resized_to(len) {
        Some(view) => Ok(view),
        None => storage.map(len),
    }
}
