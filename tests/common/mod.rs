//! Helpers shared by the black-box tests.
//!
//! Every test opens its database through [`TestDb`], which runs `Database::check` whenever it
//! closes the database (on `reopen` and on drop), as bbolt's test helper does: a test that
//! leaves a damaged file behind fails even if its own assertions passed.
#![allow(dead_code)] // each test binary uses its own subset of these helpers

pub mod log_file;

use std::path::{Path, PathBuf};

use bough::{CheckReport, Database, Durability, Mode, Range, WriteTransaction};
use tempfile::TempDir;

/// The storage mode the suite runs in: `BOUGH_TEST_MODE=wal` runs it in write-ahead-log
/// mode (CI runs it both ways).
pub fn test_mode() -> Mode {
    match std::env::var("BOUGH_TEST_MODE").as_deref() {
        Ok("wal") => Mode::Wal,
        _ => Mode::CopyOnWrite,
    }
}

/// How [`TestDb`] opens its database; `reopen` uses the same options again.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `None` leaves the builder's default (for an existing file, the stored page size).
    pub page_size: Option<usize>,
    pub durability: Durability,
    pub read_only: bool,
    /// `None` leaves the builder's default.
    pub dirty_budget: Option<usize>,
}

impl Options {
    pub fn page_size(page_size: usize) -> Self {
        Options {
            page_size: Some(page_size),
            ..Options::default()
        }
    }

    pub fn durability(self, durability: Durability) -> Self {
        Options { durability, ..self }
    }

    pub fn dirty_budget(self, bytes: usize) -> Self {
        Options {
            dirty_budget: Some(bytes),
            ..self
        }
    }

    pub fn read_only(self) -> Self {
        Options {
            read_only: true,
            ..self
        }
    }

    /// Opens `path` with these options. The default options go through `Database::open`, so
    /// that entry point is exercised too; the rest go through the builder.
    pub fn open(&self, path: &Path) -> bough::Result<Database> {
        let is_default = self.page_size.is_none()
            && self.durability == Durability::default()
            && !self.read_only
            && self.dirty_budget.is_none()
            && test_mode() == Mode::CopyOnWrite;
        if is_default {
            return Database::open(path);
        }
        let mut builder = Database::builder()
            .mode(test_mode())
            .durability(self.durability)
            .read_only(self.read_only);
        if let Some(bytes) = self.dirty_budget {
            builder = builder.dirty_page_budget(bytes);
        }
        match self.page_size {
            Some(page_size) => builder.page_size(page_size).open(path),
            None => builder.open(path),
        }
    }
}

/// A database in its own temporary directory, checked for integrity whenever it is closed.
pub struct TestDb {
    db: Option<Database>,
    options: Options,
    path: PathBuf,
    check_on_close: bool,
    // Declared last so the directory outlives the database handle.
    _dir: TempDir,
}

impl TestDb {
    /// A database with the default options.
    pub fn new() -> Self {
        Self::with(Options::default())
    }

    pub fn with(options: Options) -> Self {
        let mut test_db = Self::unopened(options);
        if let Err(e) = test_db.try_open() {
            panic!("opening the test database with {options:?} failed: {e}");
        }
        test_db
    }

    /// The directory and path only: for tests that prepare the file themselves or expect the
    /// open to fail. Call [`TestDb::try_open`] to open it.
    pub fn unopened(options: Options) -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("test.bough");
        TestDb {
            db: None,
            options,
            path,
            check_on_close: true,
            _dir: dir,
        }
    }

    pub fn try_open(&mut self) -> bough::Result<()> {
        assert!(self.db.is_none(), "the test database is already open");
        self.db = Some(self.options.open(&self.path)?);
        Ok(())
    }

    pub fn db(&self) -> &Database {
        self.db.as_ref().expect("the test database is not open")
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> Options {
        self.options
    }

    /// Checks (unless disabled) and drops the database; the directory and file stay.
    pub fn close(&mut self) {
        if let Some(db) = self.db.take() {
            if self.check_on_close {
                check_ok(&db);
            }
        }
    }

    /// Checks the database, runs `f` on it and drops the handle: what `f` returns (say,
    /// transactions) keeps the file open until it is dropped.
    pub fn close_keeping<R>(&mut self, f: impl FnOnce(&Database) -> R) -> R {
        let db = self.db.take().expect("the test database is not open");
        if self.check_on_close {
            check_ok(&db);
        }
        f(&db)
    }

    /// Checks, drops and opens the database again with the same options.
    pub fn reopen(&mut self) {
        self.reopen_with(self.options);
    }

    pub fn reopen_with(&mut self, options: Options) {
        self.close();
        self.options = options;
        if let Err(e) = self.try_open() {
            panic!("reopening the test database with {options:?} failed: {e}");
        }
    }

    /// For tests that damage the file on purpose: close without the integrity check.
    pub fn skip_check(&mut self) {
        self.check_on_close = false;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The test already failed; a second panic would abort and hide its message.
            self.check_on_close = false;
        }
        self.close();
    }
}

/// Runs the integrity check and fails the test if it finds a problem.
pub fn check_ok(db: &Database) -> CheckReport {
    match db.check() {
        Ok(report) => report,
        Err(e) => panic!("integrity check failed: {e} ({e:?})"),
    }
}

/// Runs `f` in a write transaction and commits it.
pub fn write<R>(db: &Database, f: impl FnOnce(&mut WriteTransaction) -> R) -> R {
    let mut wtx = db.begin_write().expect("begin_write");
    let result = f(&mut wtx);
    wtx.commit().expect("commit");
    result
}

/// Owned key/value pairs, as the tests compare them.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Drains a range front to back, failing the test on an error.
pub fn collect(range: Range<'_>) -> Entries {
    range
        .map(|item| {
            let (k, v) = item.expect("range item");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// Drains a range back to front, failing the test on an error.
pub fn collect_rev(range: Range<'_>) -> Entries {
    range
        .rev()
        .map(|item| {
            let (k, v) = item.expect("range item");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// All entries of `table` as a fresh read transaction sees them.
pub fn read_all(db: &Database, table: &str) -> Entries {
    let rtx = db.begin_read().expect("begin_read");
    let t = rtx.open_table(table).expect("open_table");
    collect(t.iter().expect("iter"))
}

/// A short, readable rendering of a key or value for failure messages.
pub fn show(bytes: &[u8]) -> String {
    const SHOWN: usize = 24;
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]).into_owned();
    if bytes.len() > SHOWN {
        format!("{head:?}...({} bytes)", bytes.len())
    } else {
        format!("{head:?}")
    }
}

/// splitmix64: a tiny deterministic generator, so seeded tests replay exactly.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `0..n` as a `usize`.
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next_u64() as u8).collect()
    }
}

/// The value of length `len` derived from `seed`: every byte depends on both, so values of
/// different seeds differ everywhere and a misplaced page shows up as wrong bytes.
pub fn value(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ len as u64);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}
