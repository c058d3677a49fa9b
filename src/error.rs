//! The one error type of the crate.

use std::fmt;

/// `Result` with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with what and where.
#[non_exhaustive]
#[derive(Debug)]
pub enum Error {
    /// The operating system reported an I/O error.
    Io(std::io::Error),
    /// A page failed a checksum, bounds or structure check.
    Corruption {
        /// The page that failed (0 or 1 for a meta page).
        page: u64,
        /// What was wrong with it.
        reason: String,
    },
    /// The file is not a Bough database (no valid meta page).
    NotADatabase,
    /// The file was written by an incompatible format version.
    IncompatibleVersion {
        /// The version found in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// The file is already open for writing, by this process or another.
    AlreadyOpen,
    /// A write was attempted on a database opened read-only.
    ReadOnly,
    /// No table of this name exists.
    TableNotFound(String),
    /// Table names are non-empty UTF-8 of at most 255 bytes.
    InvalidTableName(String),
    /// The table already has a live handle in this write transaction (open it once and
    /// use that handle, or drop it first).
    TableAlreadyOpen(String),
    /// The newest commit the file names did not reach the disk whole, and the open was told
    /// (`Builder::refuse_fallback`) not to fall back to the one before it.
    FallBackRefused {
        /// The commit that would have been dropped.
        dropped_txn: u64,
        /// Why it is not whole.
        reason: String,
    },
    /// The savepoint belongs to another transaction, or a restore of an earlier savepoint
    /// invalidated it.
    InvalidSavepoint,
    /// A typed table was opened with other key or value types than it was created with.
    TableTypeMismatch {
        /// The table.
        table: String,
        /// The types asked for.
        expected: String,
        /// The types the table records.
        found: String,
    },
    /// Stored bytes are not a valid encoding of the typed table's key or value type (say,
    /// written through the byte API).
    InvalidEncoding {
        /// The type the bytes were read as.
        type_name: String,
        /// What was wrong.
        reason: String,
    },
    /// The key is longer than [`crate::MAX_KEY_LEN`].
    KeyTooLarge {
        /// Length of the key given.
        len: usize,
        /// The largest length accepted.
        max: usize,
    },
    /// The value is longer than [`crate::MAX_VALUE_LEN`].
    ValueTooLarge {
        /// Length of the value given.
        len: usize,
        /// The largest length accepted.
        max: usize,
    },
    /// Page sizes are powers of two from 4096 to 65536.
    InvalidPageSize(usize),
    /// An earlier sync failed; the handle refuses further writes because the kernel may
    /// already have dropped the unsynced data (reopen the database to continue).
    Poisoned,
    /// An operation of this write transaction failed part-way; it can only be aborted.
    TransactionFailed,
    /// The file was created in the other storage mode.
    ModeMismatch {
        /// The mode the file was created in.
        file: crate::Mode,
        /// The mode asked for.
        requested: crate::Mode,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Corruption { page, reason } => write!(f, "corruption in page {page}: {reason}"),
            Error::NotADatabase => write!(f, "not a Bough database (no valid meta page)"),
            Error::IncompatibleVersion { found, supported } => write!(
                f,
                "file format version {found} is not supported (this build reads version {supported})"
            ),
            Error::AlreadyOpen => write!(f, "the database is already open for writing"),
            Error::ReadOnly => write!(f, "the database was opened read-only"),
            Error::TableNotFound(name) => write!(f, "table {name:?} does not exist"),
            Error::TableTypeMismatch {
                table,
                expected,
                found,
            } => write!(
                f,
                "table {table:?} holds {found}, not {expected} as asked for"
            ),
            Error::InvalidEncoding { type_name, reason } => {
                write!(f, "stored bytes are not a valid {type_name}: {reason}")
            }
            Error::FallBackRefused {
                dropped_txn,
                reason,
            } => write!(
                f,
                "the newest commit (transaction {dropped_txn}) is not whole ({reason}); the open \
                 refuses to fall back to the previous one"
            ),
            Error::InvalidSavepoint => write!(
                f,
                "the savepoint belongs to another transaction or was invalidated by a restore"
            ),
            Error::TableAlreadyOpen(name) => write!(
                f,
                "table {name:?} already has a live handle in this write transaction"
            ),
            Error::InvalidTableName(name) => write!(
                f,
                "invalid table name {name:?}: names are non-empty UTF-8 of at most 255 bytes"
            ),
            Error::KeyTooLarge { len, max } => {
                write!(f, "key of {len} bytes is longer than the maximum of {max}")
            }
            Error::ValueTooLarge { len, max } => {
                write!(
                    f,
                    "value of {len} bytes is longer than the maximum of {max}"
                )
            }
            Error::InvalidPageSize(size) => write!(
                f,
                "invalid page size {size}: must be a power of two from 4096 to 65536"
            ),
            Error::TransactionFailed => write!(
                f,
                "an earlier operation of this write transaction failed; abort it"
            ),
            Error::ModeMismatch { file, requested } => write!(
                f,
                "the file was created in {file:?} mode and cannot be opened in {requested:?} mode"
            ),
            Error::Poisoned => write!(
                f,
                "an earlier sync failed; reopen the database before writing again"
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl Error {
    /// Whether the filesystem had no room (`Error::Io` of kind `StorageFull`): nothing was
    /// lost, and the same operation can succeed once there is room.
    pub fn is_storage_full(&self) -> bool {
        matches!(self, Error::Io(e) if e.kind() == std::io::ErrorKind::StorageFull)
    }

    pub(crate) fn corruption(page: impl Into<u64>, reason: impl Into<String>) -> Self {
        Error::Corruption {
            page: page.into(),
            reason: reason.into(),
        }
    }
}
