//! Opening a file for a command, and turning every error into one clear line and a status.

use bough::{Database, Error, Mode};
use std::io::ErrorKind;
use std::path::Path;

/// Why a command failed: the line to print and the exit status.
#[derive(Debug)]
pub struct Failure {
    pub status: u8,
    pub message: String,
}

impl Failure {
    pub fn new(status: u8, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    /// How an error of the engine on `path` is reported: damage is status 1, anything that
    /// keeps the file from being used is 2.
    pub fn of(path: &Path) -> impl Fn(Error) -> Failure + '_ {
        move |error| {
            let file = path.display();
            match error {
                Error::Corruption { page, reason } => {
                    Failure::new(1, format!("{file}: damaged: page {page}: {reason}"))
                }
                Error::Io(e) if e.kind() == ErrorKind::NotFound => {
                    Failure::new(2, format!("{file}: no such file"))
                }
                Error::Io(e) if e.kind() == ErrorKind::AlreadyExists => Failure::new(
                    2,
                    format!("{file}: exists already; it is never overwritten"),
                ),
                Error::NotADatabase => Failure::new(2, format!("{file}: not a Bough database")),
                Error::AlreadyOpen => Failure::new(
                    2,
                    format!(
                        "{file}: another process has it open for writing (one process at a time \
                         may write a file, and read-only opens wait for it to close)"
                    ),
                ),
                e => Failure::new(2, format!("{file}: {e}")),
            }
        }
    }
}

/// Opens `path` with `builder`'s options in the mode the file was created in.
fn open_in_its_mode(path: &Path, read_only: bool, create: bool) -> Result<Database, Failure> {
    let open = |mode: Mode| {
        Database::builder()
            .mode(mode)
            .read_only(read_only)
            .create(create)
            .open(path)
    };
    match open(Mode::CopyOnWrite) {
        Err(Error::ModeMismatch { file, .. }) => open(file),
        other => other,
    }
    .map_err(Failure::of(path))
}

/// Opens an existing file for reading, sharing it with other readers.
pub fn open_read(path: &Path) -> Result<Database, Failure> {
    open_in_its_mode(path, true, false)
}

/// Opens a file for writing; a missing one is created only if `create`.
pub fn open_write(path: &Path, create: bool) -> Result<Database, Failure> {
    open_in_its_mode(path, false, create)
}
