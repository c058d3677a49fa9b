//! Savepoints: a write transaction's state at one moment, to return to later in the same
//! transaction (DESIGN.md, "Savepoints").

use super::tables::SavedState;

/// What [`WriteTransaction::restore_savepoint`](crate::WriteTransaction::restore_savepoint)
/// returns to: every table (created, deleted, changed) as it was when
/// [`savepoint`](crate::WriteTransaction::savepoint) was called. Valid in its own
/// transaction until a restore of an earlier savepoint or the end of the transaction.
#[derive(Debug)]
pub struct Savepoint {
    pub(super) txn: u64,
    pub(super) seq: u64,
    pub(super) state: SavedState,
}
