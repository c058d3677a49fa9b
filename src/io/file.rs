//! The real file: positioned I/O, fs2 locks, fsync.

use super::{Mapping, Storage};
use fs2::FileExt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::Path;

/// How the file is locked for the life of the handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// Read-write handle: no other handle of any kind may hold the file.
    Exclusive,
    /// Read-only handle: other read-only handles may share it, writers may not.
    Shared,
}

#[derive(Debug)]
pub(crate) struct FileStorage {
    file: File,
}

impl Drop for FileStorage {
    /// Releases the lock explicitly: a process that forks (to spawn a child) while the file
    /// is open shares the lock with the child until the child's exec, so merely closing the
    /// file could leave it held for a moment, and a reopen right after would see it taken.
    fn drop(&mut self) {
        let _ = FileExt::unlock(&self.file);
    }
}

impl FileStorage {
    /// Opens an existing file and takes its lock without waiting. A lock held elsewhere
    /// gives `Ok(None)`.
    pub(crate) fn open(path: &Path, mode: LockMode) -> io::Result<Option<Self>> {
        let file = OpenOptions::new()
            .read(true)
            .write(mode == LockMode::Exclusive)
            .open(path)?;
        let locked = match mode {
            LockMode::Exclusive => FileExt::try_lock_exclusive(&file),
            LockMode::Shared => FileExt::try_lock_shared(&file),
        };
        match locked {
            Ok(()) => Ok(Some(FileStorage { file })),
            Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Opens (creating it if `create`) a file covered by another file's lock: a log.
    pub(crate) fn open_unlocked(path: &Path, create: bool) -> io::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(create)
            .create(create)
            .truncate(false)
            .open(path)?;
        Ok(FileStorage { file })
    }

    /// Creates (or truncates) a scratch file, locked exclusively.
    pub(crate) fn create_scratch(path: &Path) -> io::Result<Option<Self>> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        match FileExt::try_lock_exclusive(&file) {
            Ok(()) => {
                file.set_len(0)?;
                Ok(Some(FileStorage { file }))
            }
            Err(e) if e.raw_os_error() == fs2::lock_contended_error().raw_os_error() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The page cache's base page size on the platforms Bough runs on, and the smallest page size
/// a database can have.
const CACHE_PAGE: usize = 4096;

impl Storage for FileStorage {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn write_pages(&self, pages: &[&[u8]], offset: u64) -> io::Result<()> {
        // One write per cache page: the kernel sizes the cache folios it creates for a write
        // by the write's length, and a later single-page write into a large folio costs more
        // to copy in and to sync (DESIGN.md, "Page-sized writes").
        let pieces = pages.iter().flat_map(|page| page.chunks(CACHE_PAGE));
        let mut at = offset;
        for piece in pieces {
            self.file.write_all_at(piece, at)?;
            at += piece.len() as u64;
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync(&self, with_metadata: bool) -> io::Result<()> {
        if with_metadata {
            self.file.sync_all()
        } else {
            self.file.sync_data()
        }
    }

    fn map(&self, len: u64) -> io::Result<Mapping> {
        Mapping::of_file(&self.file, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_written_in_pieces_land_where_one_write_would_put_them() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileStorage::open_unlocked(&dir.path().join("f"), true).unwrap();
        // Three 8 KiB pages (six pieces) at page 1, each piece with its own bytes.
        let run: Vec<u8> = (0..3 * 8192).map(|i| (i / 4096) as u8 + 1).collect();
        let pages: Vec<&[u8]> = run.chunks(8192).collect();
        storage.write_pages(&pages, 8192).unwrap();
        assert_eq!(storage.len().unwrap(), 4 * 8192);
        let mut back = vec![0u8; run.len()];
        storage.read_at(&mut back, 8192).unwrap();
        assert_eq!(back, run);
        let mut first = vec![1u8; 8192];
        storage.read_at(&mut first, 0).unwrap();
        assert!(first.iter().all(|&b| b == 0), "nothing before the offset");
    }
}
