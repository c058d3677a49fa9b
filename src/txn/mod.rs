//! Transactions and tables: reader registration and snapshots, the write transaction and
//! its commit protocol, the catalog of named tables.

mod catalog;
mod commit;
mod held;
pub(crate) use commit::try_checkpoint;
mod range;
mod read;
mod shared;
mod snapshot;
mod write;

pub(crate) use catalog::{TableRecord, validate_table_name};
pub use range::Range;
pub use read::{ReadTable, ReadTransaction};
pub(crate) use shared::{Published, Recovery, Shared, WalState, WriterState};
pub(crate) use snapshot::{Snapshot, WalSnapshot};
pub use write::{Table, WriteTransaction};
