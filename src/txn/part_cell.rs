//! Where one table's part of a write transaction lives: shared by the transaction and, while
//! one is open, the table's handle (DESIGN.md, "Several tables in one transaction").
//!
//! A handle reads its part without a lock guard, so that `get` and ranges can hand out plain
//! slices, and it has no `Drop` of its own, so that a handle still in scope does not keep
//! its transaction borrowed: `let t = wtx.open_table("t")?; t.insert(..)?; wtx.commit()?`
//! compiles, and the commit sees the handle's writes. The contract that makes this sound:
//! - at most one [`PartRef`] exists per part, made by [`PartSlot::check_out`] only while
//!   none does; it reads through `&self` and writes through `&mut self`;
//! - the transaction touches a part only while no `PartRef` exists (`Arc::get_mut`), or as
//!   it ends (its commit or its drop consumes it): then every handle's borrow of it has
//!   ended, so no handle reads or writes its part again (it can only be dropped, which
//!   touches the count).
#![allow(unsafe_code)]

use super::catalog::{TableState, TableTypes};
use super::held::HeldWrites;
use crate::btree::Edge;
use crate::pager::TablePages;
use std::cell::UnsafeCell;
use std::sync::Arc;

/// One table's part of a write transaction.
#[derive(Debug, Clone)]
pub(crate) struct TablePart {
    pub state: TableState,
    /// What the catalog records of its keys' and values' types.
    pub types: TableTypes,
    pub held: HeldWrites,
    /// The pages the table's tree changed, and the committed pages as of its last change.
    pub pages: TablePages,
    /// Where the last write, an insert at the tree's right edge, left it: every other write
    /// drops it (`Table::write`), and a savepoint keeps none.
    pub edge: Option<Edge>,
}

#[derive(Debug)]
struct PartCell(UnsafeCell<TablePart>);

// SAFETY: a part is reached only through its transaction and the one handle the transaction
// lent it to. The transaction is not `Sync` (its tables sit in a `RefCell`), and a handle
// borrows it, so a handle stays on the transaction's thread while it can be used. The only
// access from another thread is the handle's `Arc` count, after the transaction moved on
// once the handle's borrow ended (the handle is then only dropped), and the final drop of
// the part, which `Arc` orders after every other use.
unsafe impl Sync for PartCell {}

/// The transaction's side: owns the part while no handle has it.
#[derive(Debug)]
pub(crate) struct PartSlot(Arc<PartCell>);

/// The handle's side: the one reference that reads and writes the part while it lives.
#[derive(Debug)]
pub(crate) struct PartRef(Arc<PartCell>);

impl PartSlot {
    pub(crate) fn new(part: TablePart) -> Self {
        PartSlot(Arc::new(PartCell(UnsafeCell::new(part))))
    }

    /// The handle's reference, unless a handle has one already.
    pub(crate) fn check_out(&self) -> Option<PartRef> {
        (Arc::strong_count(&self.0) == 1).then(|| PartRef(self.0.clone()))
    }

    /// Whether a handle has the part.
    pub(crate) fn is_open(&self) -> bool {
        Arc::strong_count(&self.0) > 1
    }

    /// The part, while no handle has it.
    pub(crate) fn parked(&mut self) -> Option<&mut TablePart> {
        Arc::get_mut(&mut self.0).map(|cell| cell.0.get_mut())
    }

    /// The part, as the transaction ends (commits, or is dropped).
    ///
    /// # Safety
    /// Only while the transaction is consumed by its commit or its drop: no handle of it can
    /// be used again (see the module's contract).
    pub(crate) unsafe fn at_end(&mut self) -> &mut TablePart {
        // SAFETY: the caller guarantees no `PartRef` reads or writes the part from now on,
        // and `&mut self` excludes every other use through the transaction.
        unsafe { &mut *self.0.0.get() }
    }
}

impl PartSlot {
    /// The part, to copy it for a savepoint, whether or not a handle has it.
    ///
    /// # Safety
    /// Only while no handle method is changing its part: a handle changes its part only
    /// inside its own methods, which never run user code meanwhile (a `retain` callback runs
    /// while the table is only read), so any call from the transaction's API qualifies.
    pub(crate) unsafe fn peek(&self) -> &TablePart {
        // SAFETY: the caller guarantees no `&mut` to the part is live; reads may overlap.
        unsafe { &*self.0.0.get() }
    }
}

impl PartRef {
    pub(crate) fn part(&self) -> &TablePart {
        // SAFETY: only this `PartRef` reaches the part while it lives (module contract), and
        // it writes only through `&mut self`, which this `&self` borrow excludes.
        unsafe { &*self.0.0.get() }
    }

    pub(crate) fn part_mut(&mut self) -> &mut TablePart {
        // SAFETY: only this `PartRef` reaches the part while it lives (module contract), and
        // `&mut self` excludes its own reads.
        unsafe { &mut *self.0.0.get() }
    }
}
