//! The write transaction. One at a time; sees its own writes; dropped without `commit`, it
//! leaves no trace. It owns the writer's state, so it keeps the database open by itself and
//! can move between threads.

use super::commit::{self, CommitInput};
use super::savepoint::Savepoint;
use super::tables::TxnTables;
use super::writer_slot::WriterGuard;
use super::{Shared, Snapshot, WriterState, validate_table_name};
use crate::Durability;
use crate::error::{Error, Result};
use crate::pager::wal::{WalPager, WalPagerStart};
use crate::pager::{CowPager, FreeList, PagerStart, TxnPager};
use crate::plant::{Bug, planted};
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// The single write transaction. Dropping it aborts. `Send + 'static`: begin it on one
/// thread, commit it on another. Any number of different tables can be open in it at once.
#[derive(Debug)]
pub struct WriteTransaction {
    writer: WriterGuard,
    txn: u64,
    durability: Durability,
    pub(super) tables: RefCell<TxnTables>,
    /// The savepoints that can be restored, in the order taken.
    savepoints: RefCell<Vec<u64>>,
    savepoints_taken: Cell<u64>,
}

impl WriteTransaction {
    /// Starts the write transaction, waiting for the current one if `wait`; `Ok(None)` if
    /// another is active and not `wait`.
    pub(crate) fn begin(shared: &Arc<Shared>, wait: bool) -> Result<Option<Self>> {
        if shared.read_only {
            return Err(Error::ReadOnly);
        }
        let Some(mut state) = WriterGuard::acquire(shared, wait)? else {
            return Ok(None);
        };
        if shared.commits.failed() {
            // A group's sync failed while this writer waited for the state.
            return Err(Error::Poisoned);
        }
        let queue = shared.commits.view_at_begin(shared);
        let (busy, durable) = (queue.busy, queue.durable_txn);
        // Transaction N writes meta N % 2 and must never overwrite the slot of the newest
        // durable meta, so ids skip one after a non-durable commit (DESIGN.md, "Meta slots and non-durable commits").
        let mut txn = state.last_txn + 1;
        if txn % 2 == durable % 2 {
            txn += 1;
        }
        let mut freelist = match state.freelist.take() {
            Some(list) => list,
            None => {
                let mut list = load_freelist(shared, &state)?;
                list.withhold(&state.chain.withheld);
                list
            }
        };
        let (reader_bound, durable_bound) = shared.reuse_thresholds();
        freelist.release(reader_bound, durable_bound);
        // While a group's sync runs or commits wait for one, every committed page may become
        // durable without another write: none counts as written after the newest durable
        // commit ("Group commit").
        let volatile_after = if busy && !planted(Bug::GroupPagesVolatile) {
            state.meta.txn_id.0
        } else {
            durable
        };
        let pager = match &state.wal {
            None => TxnPager::Cow(CowPager::new(PagerStart {
                storage: shared.storage.clone(),
                map: state.map.clone(),
                page_size: shared.page_size,
                verify: shared.verify,
                verified: shared.verified.clone(),
                txn,
                durable_txn: volatile_after,
                unwritten_after: queue.unwritten_after.unwrap_or(u64::MAX),
                high_water: state.meta.high_water,
                file_len: state.file_len,
                freelist,
                length_unsynced: state.length_unsynced,
                dirty_budget: shared.dirty_budget,
                withheld: state.chain.withheld.clone(),
                chain_live: state.chain.live.is_some(),
            })),
            Some(wal) => TxnPager::Wal(WalPager::new(WalPagerStart {
                main: state.map.clone(),
                log: wal.view(),
                page_size: shared.page_size,
                verify: shared.verify,
                verified: shared.verified.clone(),
                txn,
                high_water: state.meta.high_water,
                freelist,
            })),
        };
        let tables = TxnTables::new(pager, state.meta.catalog, shared.dirty_budget / 4 * 3);
        Ok(Some(WriteTransaction {
            txn,
            durability: shared.durability,
            tables: RefCell::new(tables),
            savepoints: RefCell::new(Vec::new()),
            savepoints_taken: Cell::new(0),
            writer: state,
        }))
    }

    pub(super) fn page_size(&self) -> usize {
        self.writer.shared().page_size
    }

    /// Bytes of changed pages and held writes this transaction keeps in memory now (see
    /// [`Builder::dirty_page_budget`](crate::Builder::dirty_page_budget)), counting the
    /// tables whose handles are dropped (a handle keeps its own until then).
    pub fn dirty_memory(&self) -> usize {
        self.tables.borrow_mut().parked_memory(self.page_size())
    }

    /// How many inserts and removals this transaction holds back, to apply in key order
    /// (DESIGN.md, "Held writes"), in tables whose handles are dropped. Reads see them all
    /// the same; they reach the trees at the latest at commit.
    pub fn held_writes(&self) -> usize {
        self.tables.borrow_mut().parked_held()
    }

    /// Overrides the database's durability for this commit.
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// The id this transaction commits as: the snapshot id readers of its commit see, or,
    /// when its commit queues behind another's sync and must move to the other meta slot,
    /// the id after it, which no other transaction takes (DESIGN.md, "Group commit").
    pub fn id(&self) -> u64 {
        self.txn
    }

    /// Deletes a table and frees its pages; `false` if it did not exist.
    /// [`Error::TableAlreadyOpen`] while a handle of it is live.
    pub fn delete_table(&self, name: &str) -> Result<bool> {
        validate_table_name(name)?;
        self.tables.borrow_mut().delete(name)
    }

    /// The names of all tables as this transaction sees them, sorted.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        self.tables.borrow_mut().names()
    }

    /// Records this moment of the transaction, to return to with
    /// [`restore_savepoint`](Self::restore_savepoint). Any number can be taken. A savepoint
    /// copies the pages the transaction changed so far (up to the dirty-page budget), and
    /// from the first one on the transaction keeps its changed pages in memory until the
    /// commit (DESIGN.md, "Savepoints").
    pub fn savepoint(&self) -> Result<Savepoint> {
        let state = self.tables.borrow_mut().savepoint()?;
        // Never reused: a savepoint invalidated by a restore must stay invalid.
        let seq = self.savepoints_taken.get();
        self.savepoints_taken.set(seq + 1);
        self.savepoints.borrow_mut().push(seq);
        Ok(Savepoint {
            txn: self.txn,
            seq,
            state,
        })
    }

    /// Returns every table (created, deleted, changed) to the state at `savepoint`; the
    /// pages written since are free again at once. Savepoints taken after it become
    /// invalid; it stays valid itself. [`Error::InvalidSavepoint`] for a savepoint of
    /// another transaction or an invalidated one. Table handles in scope cannot be used
    /// after it (the borrow checker sees to it).
    #[allow(unsafe_code)] // `&mut self` ends the parts lent to handles (`part_cell`)
    pub fn restore_savepoint(&mut self, savepoint: &Savepoint) -> Result<()> {
        let savepoints = self.savepoints.get_mut();
        if savepoint.txn != self.txn || !savepoints.contains(&savepoint.seq) {
            return Err(Error::InvalidSavepoint);
        }
        savepoints.retain(|&seq| seq <= savepoint.seq);
        // SAFETY: `&mut self`: no handle of this transaction can be used again.
        unsafe { self.tables.get_mut().restore(&savepoint.state) }
    }

    /// Makes every change durable (per the durability setting) and visible to new readers.
    #[allow(unsafe_code)] // consuming `self` ends the parts lent to handles (`part_cell`)
    pub fn commit(mut self) -> Result<()> {
        // SAFETY: `commit` consumes the transaction: no handle of it can be used again.
        let committing = unsafe { self.tables.get_mut().take_for_commit() }?;
        let shared = self.writer.shared().clone();
        commit::commit(CommitInput {
            shared: &shared,
            writer: &mut self.writer,
            pager: committing.pager,
            dirty: committing.dirty,
            txn: self.txn,
            catalog: committing.catalog,
            tables: committing.tables,
            deleted: committing.deleted,
            durability: self.durability,
        })
    }

    /// Discards every change.
    pub fn abort(self) -> Result<()> {
        drop(self);
        Ok(())
    }
}

impl Drop for WriteTransaction {
    #[allow(unsafe_code)] // dropping ends the parts lent to handles (`part_cell`)
    fn drop(&mut self) {
        // SAFETY: the transaction is being dropped: no handle of it can be used again.
        if let Some(freelist) = unsafe { self.tables.get_mut().rollback() } {
            self.writer.freelist = Some(freelist);
        }
    }
}

/// The freelist of the writer's newest commit (the writer holds the writer's state: no commit
/// can follow while it loads). That commit may not be published yet ("Group commit").
fn load_freelist(shared: &Shared, state: &WriterState) -> Result<FreeList> {
    let snapshot = Snapshot::new(
        state.meta.clone(),
        state.map.clone(),
        shared.verify,
        shared.verified.clone(),
        state.wal.as_ref(),
    );
    FreeList::load(&snapshot.pages(), &snapshot.meta)
}
