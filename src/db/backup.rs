//! Hot backup: one snapshot written, compacted, as a new database file (DESIGN.md, "Hot
//! backup"). Writers and other readers go on meanwhile: the copy only reads its snapshot.

use super::{Builder, Database};
use crate::error::{Error, Result};
use crate::txn::ReadTransaction;
use crate::{Durability, Mode};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a backup wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupReport {
    /// The transaction whose state the copy holds.
    pub snapshot_id: u64,
    /// Tables copied.
    pub tables: u64,
    /// Entries copied.
    pub entries: u64,
    /// Bytes of keys and values copied.
    pub data_bytes: u64,
    /// The copy's size, in bytes.
    pub file_size: u64,
    /// How long the copy took.
    pub elapsed: Duration,
}

fn with_suffix(path: &Path, suffix: &str) -> Result<PathBuf> {
    let mut name = path
        .file_name()
        .ok_or_else(|| {
            Error::Io(std::io::Error::new(
                ErrorKind::InvalidInput,
                "path has no file name",
            ))
        })?
        .to_owned();
    name.push(suffix);
    Ok(path.with_file_name(name))
}

/// The log beside a log-mode database file.
fn log_of(path: &Path) -> Result<PathBuf> {
    with_suffix(path, "-wal")
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

impl ReadTransaction {
    /// Writes exactly this snapshot as a new database at `path`: every table with its types,
    /// its live data only, packed (entries are copied in key order, so leaves fill up), no
    /// free space; same page size and storage mode (a log-mode copy starts with an empty
    /// log). The copy is synced, with its directory, before this returns. Writers and other
    /// readers go on meanwhile.
    ///
    /// An existing `path` is never overwritten: [`Error::Io`] of kind `AlreadyExists`. The
    /// copy is written under a temporary name beside `path` and linked into place only once
    /// whole, so a crash or an error midway leaves nothing at `path`.
    pub fn copy_to(&self, path: impl AsRef<Path>) -> Result<BackupReport> {
        let path = path.as_ref();
        let started = Instant::now();
        if path.exists() {
            return Err(Error::Io(std::io::Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{} exists; a backup never overwrites a file",
                    path.display()
                ),
            )));
        }
        let wal = self.mode() == Mode::Wal;
        if wal && log_of(path)?.exists() {
            return Err(Error::Io(std::io::Error::new(
                ErrorKind::AlreadyExists,
                format!(
                    "{} exists; a backup never overwrites a file",
                    log_of(path)?.display()
                ),
            )));
        }
        let scratch = with_suffix(path, ".bough-backup")?;
        remove_if_present(&scratch)?;
        remove_if_present(&log_of(&scratch)?)?;
        let copied = self.write_copy(&scratch);
        let linked = copied.and_then(|report| {
            // The log first (empty after the copy's checkpoint), the file last: a file at
            // `path` is a finished backup.
            if wal {
                fs::hard_link(log_of(&scratch)?, log_of(path)?)?;
            }
            fs::hard_link(&scratch, path)?;
            Ok(report)
        });
        // The scratch names go whatever happened.
        remove_if_present(&scratch)?;
        remove_if_present(&log_of(&scratch)?)?;
        let mut report = linked?;
        super::open::sync_parent(path)?;
        report.file_size = fs::metadata(path)?.len();
        report.elapsed = started.elapsed();
        Ok(report)
    }

    /// Copies every table of this snapshot into a new database at `scratch` and closes it.
    fn write_copy(&self, scratch: &Path) -> Result<BackupReport> {
        let mode = self.mode();
        let copy = Builder::default()
            .page_size(self.page_size())
            .mode(mode)
            .durability(Durability::Immediate)
            .open(scratch)?;
        let mut report = BackupReport {
            snapshot_id: self.snapshot_id(),
            tables: 0,
            entries: 0,
            data_bytes: 0,
            file_size: 0,
            elapsed: Duration::ZERO,
        };
        let wtx = copy.begin_write()?;
        for (name, types) in self.table_types()? {
            let source = self.open_table(name.as_str())?;
            let mut target = wtx.open_table_with_types(&name, types)?;
            for entry in source.iter()? {
                let (key, value) = entry?;
                target.insert(key, value)?;
                report.entries += 1;
                report.data_bytes += (key.len() + value.len()) as u64;
            }
            report.tables += 1;
        }
        wtx.commit()?;
        copy.check()?;
        if mode == Mode::Wal && !copy.checkpoint()? {
            return Err(Error::Io(std::io::Error::other(
                "the copy's log could not be checkpointed",
            )));
        }
        drop(copy);
        Ok(report)
    }
}

impl Database {
    /// Writes the newest snapshot as a new database at `path`: see
    /// [`ReadTransaction::copy_to`].
    pub fn backup(&self, path: impl AsRef<Path>) -> Result<BackupReport> {
        self.begin_read()?.copy_to(path)
    }
}
