//! Bough: an embedded, transactional key-value store on a copy-on-write B+ tree.
//!
//! The crate is layered one way (see DESIGN.md, "Layers"): `io` (file, lock, map) ->
//! `format` (page and meta layouts) -> `pager` (allocation, freelist, dirty pages) ->
//! `btree` -> `txn` (transactions, tables) -> `typed` (typed tables) -> `db` (the database
//! handle).
//!
//! The README follows; its quickstart runs as a doc test.
#![doc = include_str!("../README.md")]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

mod btree;
mod db;
mod error;
mod format;
mod ids;
mod io;
mod pager;
mod plant;
mod txn;
mod typed;

/// Test support: the simulated disk and, with the `planted-bugs` feature, known protocol
/// bugs to plant. Not part of the stable API.
#[doc(hidden)]
pub mod testing {
    pub use crate::io::sim::*;
    pub use crate::plant::{Bug, plant};
}

pub use db::{
    BackupReport, Builder, CellInfo, CheckReport, CommitProtocol, CompactionReport, Database,
    FallBack, PageCensus, PageInfo, Stats, TableSummary,
};
pub use error::{Error, Result};
pub use txn::{
    KeyRange, Range, ReadTable, ReadTransaction, ReaderInfo, Savepoint, Table, TableSpec,
    WriteTransaction,
};
#[cfg(feature = "serde")]
pub use typed::Postcard;
pub use typed::{Element, Key, TableDefinition, TypedRange, TypedReadTable, TypedTable, Value};

/// The longest key accepted, in bytes (any page size). Longer keys give [`Error::KeyTooLarge`].
pub const MAX_KEY_LEN: usize = 1024;

/// The longest value accepted, in bytes. Longer values give [`Error::ValueTooLarge`].
pub const MAX_VALUE_LEN: usize = u32::MAX as usize;

/// How pages reach the file (DESIGN.md, "Write-ahead-log mode").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Never overwrite a live page: commits write new pages and switch metas (the default).
    #[default]
    CopyOnWrite,
    /// The classic design, kept as a baseline: pages overwritten in place at checkpoints,
    /// protected by a write-ahead log beside the file (`<file>-wal`).
    Wal,
}

/// How a commit reaches the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Durability {
    /// `commit` returns once the transaction survives power loss (the default).
    #[default]
    Immediate,
    /// No sync: a process crash loses nothing committed; a power loss may lose recent
    /// commits but never corrupts the file (DESIGN.md, "Meta slots and non-durable commits").
    None,
}
