//! Transactions and tables: reader registration and snapshots, the write transaction and
//! its commit protocol, the catalog of named tables.

mod catalog;
mod chain;
mod commit;
mod compact;
mod give_back;
mod group_commit;
mod held;
mod part_cell;
pub(crate) use commit::{checkpoint_and_shrink_log, try_checkpoint};
mod range;
mod read;
mod readers;
mod savepoint;
mod seal;
mod shared;
mod snapshot;
mod spec;
mod table;
mod tables;
mod write;
mod writer_slot;

pub(crate) use catalog::{BYTES, TableRecord, list_tables, validate_table_name};
pub(crate) use chain::{ChainState, MAX_CHAIN_RECORDS};
pub(crate) use group_commit::CommitQueue;
pub use range::{KeyRange, Range};
pub use read::{ReadTable, ReadTransaction};
pub use readers::ReaderInfo;
pub use savepoint::Savepoint;
pub(crate) use shared::{Published, Recovery, Shared, WalState, WriterState};
pub(crate) use snapshot::Snapshot;
pub use spec::TableSpec;
pub use table::Table;
pub use write::WriteTransaction;
pub(crate) use writer_slot::{WriterGuard, WriterSlot};
