//! The database handle and its builder.

mod backup;
mod check;
mod compact;
mod follow_chain;
mod inspect;
mod open;

pub use backup::BackupReport;
pub use check::{CheckReport, Stats, TableSummary};
pub use compact::CompactionReport;
pub use inspect::{CellInfo, PageCensus, PageInfo};

/// How a durable commit reaches the disk (DESIGN.md, "Commit protocol").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum CommitProtocol {
    /// Pages and meta written together, one sync; the open verifies the newest commit and
    /// falls back to the previous one if it did not reach the disk whole (the default).
    #[default]
    OneSync,
    /// Pages, sync, meta, sync: no verification needed at open (LMDB's and bbolt's way).
    TwoSync,
    /// As `OneSync`, but a small durable commit writes its pages and a commit record as one
    /// run, chained to the meta, with one write and one sync; a meta is written every few
    /// dozen commits (DESIGN.md, "Chained commits").
    Chained,
}

use crate::error::{Error, Result};
use crate::format::valid_page_size;
use crate::io::Storage;
use crate::txn::{ReadTransaction, Shared, WriteTransaction, WriterGuard};
use crate::{Durability, Mode};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// An open database file. `Send + Sync`: share it between threads by reference or `Arc`.
/// Transactions keep the file open by themselves: dropping the `Database` while some live
/// is fine, and the file closes when the last of them ends.
#[derive(Debug)]
pub struct Database {
    shared: Arc<Shared>,
    path: PathBuf,
}

/// Options for opening or creating a database.
#[derive(Clone, Debug)]
pub struct Builder {
    page_size: usize,
    durability: Durability,
    read_only: bool,
    verify_checksums: bool,
    protocol: CommitProtocol,
    mode: Mode,
    checkpoint_bytes: u64,
    dirty_budget: usize,
    create: bool,
    refuse_fallback: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            page_size: 4096,
            durability: Durability::Immediate,
            read_only: false,
            verify_checksums: true,
            protocol: CommitProtocol::OneSync,
            mode: Mode::CopyOnWrite,
            checkpoint_bytes: 64 << 20,
            dirty_budget: 128 << 20,
            create: true,
            refuse_fallback: false,
        }
    }
}

impl Builder {
    /// Page size for a new file: a power of two from 4096 to 65536 (default 4096). An
    /// existing file keeps the page size it was created with.
    pub fn page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }

    /// Default durability of commits (default [`Durability::Immediate`]).
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Open without write access, sharing the file with other read-only handles.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// Hash every page read against its checksum (default on), once per page version and
    /// process (DESIGN.md, "Checksums"). Off, a page is still checked against the checksum its
    /// parent recorded and its own id, but a flipped bit inside it goes unnoticed until
    /// `check()`.
    pub fn verify_checksums(mut self, verify: bool) -> Self {
        self.verify_checksums = verify;
        self
    }

    /// How durable commits are written (default [`CommitProtocol::OneSync`]).
    pub fn commit_protocol(mut self, protocol: CommitProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Storage mode (default [`Mode::CopyOnWrite`]). A file keeps the mode it was created in;
    /// opening it in the other gives [`Error::ModeMismatch`].
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Write-ahead-log mode: copy the log into the file once it holds this many bytes of
    /// commits not yet copied (default 64 MiB), as far as the oldest live reader allows.
    /// Also done on close and by [`Database::checkpoint`]. The log's space is reused once the
    /// readers that could read it are gone, so it stays within about twice this.
    pub fn checkpoint_bytes(mut self, bytes: u64) -> Self {
        self.checkpoint_bytes = bytes;
        self
    }

    /// Copy-on-write mode: the bytes of changed pages a write transaction keeps in memory
    /// (default 128 MiB). Beyond it, pages are written early to their new places, which no
    /// snapshot can see, and read back if changed again, so a transaction of any size runs in
    /// bounded memory (DESIGN.md, "Spilling dirty pages"). Log mode keeps every changed page
    /// in memory until commit.
    pub fn dirty_page_budget(mut self, bytes: usize) -> Self {
        self.dirty_budget = bytes;
        self
    }

    /// Whether `open` creates a missing file (default true). With `false`, a missing file
    /// gives [`Error::Io`] of kind `NotFound`, so a mistyped path is not taken for a new,
    /// empty database.
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Fail the open with [`Error::FallBackRefused`] instead of falling back to the previous
    /// commit when the newest one did not reach the disk whole (default false: fall back, and
    /// report it through [`Database::recovery`]). For users who must never forget a commit
    /// they acknowledged, and can fetch it again, such as a replicated node. After a clean
    /// close there is nothing to fall back from (DESIGN.md, "Sealing at close").
    pub fn refuse_fallback(mut self, refuse: bool) -> Self {
        self.refuse_fallback = refuse;
        self
    }

    /// Opens the database at `path`, creating it (read-write, unless
    /// [`create(false)`](Self::create)) if missing.
    pub fn open(&self, path: impl AsRef<Path>) -> Result<Database> {
        if !valid_page_size(self.page_size) {
            return Err(Error::InvalidPageSize(self.page_size));
        }
        let path = path.as_ref();
        let shared = Arc::new(open::open_file(path, self)?);
        Ok(Database {
            shared,
            path: path.to_owned(),
        })
    }

    /// Opens a database on a simulated disk, creating it if the disk is empty (tests).
    #[doc(hidden)]
    pub fn open_simulated(&self, disk: crate::io::sim::SimDisk) -> Result<Database> {
        if !valid_page_size(self.page_size) {
            return Err(Error::InvalidPageSize(self.page_size));
        }
        let log = (self.mode == Mode::Wal).then(|| Box::new(disk.sibling(1)) as Box<dyn Storage>);
        let shared = Arc::new(open::open_storage(Box::new(disk), log, self)?);
        Ok(Database {
            shared,
            path: PathBuf::from("<simulated disk>"),
        })
    }
}

/// What the open did instead of taking the newest commit the file names (see
/// [`Database::recovery`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FallBack {
    /// The commit that was dropped: it was in flight at a crash, or its pages are damaged.
    pub dropped_txn: u64,
    /// The commit opened instead.
    pub opened_txn: u64,
    /// Why the dropped one was not whole.
    pub reason: String,
}

impl Database {
    /// `Some` if the open fell back from the newest commit the file names to the one before
    /// it: which one, and why. Only an unclean stop (a crash, a kill, a power loss) with
    /// one-sync commits can leave a commit that may be dropped; damage to a commit the file
    /// trusts (sealed at a clean close, or written with two syncs) is `Corruption` instead.
    pub fn recovery(&self) -> Option<&FallBack> {
        self.shared.fell_back.as_ref()
    }

    /// Opens (or creates) the database at `path` with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().open(path)
    }

    /// Opens the existing database at `path` with default options; a missing file gives
    /// [`Error::Io`] of kind `NotFound`.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Database> {
        Builder::default().create(false).open(path)
    }

    /// Options for opening a database.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The path the database was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the write transaction, waiting for the current one to end.
    pub fn begin_write(&self) -> Result<WriteTransaction> {
        let started = WriteTransaction::begin(&self.shared, true)?;
        Ok(started.expect("a waiting begin returns a transaction"))
    }

    /// Starts the write transaction if no other is active, without waiting: `Ok(None)` if
    /// one is.
    pub fn try_begin_write(&self) -> Result<Option<WriteTransaction>> {
        WriteTransaction::begin(&self.shared, false)
    }

    /// Starts a read transaction on the newest committed state. Never waits for the writer.
    pub fn begin_read(&self) -> Result<ReadTransaction> {
        Ok(ReadTransaction::new(self.shared.clone()))
    }

    /// Write-ahead-log mode: copies the log into the file now, up to the oldest live reader's
    /// snapshot, and starts the log over if no reader needs it. `Ok(false)` if a reader of an
    /// older snapshot kept some commits in the log.
    /// Copy-on-write mode has nothing to copy: `Ok(true)`.
    pub fn checkpoint(&self) -> Result<bool> {
        if self.shared.read_only || self.shared.mode == Mode::CopyOnWrite {
            return Ok(true);
        }
        let mut state = WriterGuard::acquire(&self.shared, true)?
            .expect("a waiting acquire returns the writer's state");
        crate::txn::try_checkpoint(&self.shared, &mut state)
    }
}
