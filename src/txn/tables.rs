//! The tables a write transaction has opened or deleted, and the pager they share
//! (DESIGN.md, "Several tables in one transaction"). Each opened table has its own part: its
//! tree's state, its held writes and the pages its tree changed, lent to its handle while
//! one is open (`part_cell`).

use super::catalog::{TableState, TableTypes, find_table, list_tables};
use super::held::HeldWrites;
use super::part_cell::TablePart;
use super::part_cell::{PartRef, PartSlot};
use crate::error::{Error, Result};
use crate::ids::Ptr;
use crate::pager::{Allocation, DirtyPages, FreeList, TablePages, TxnPager};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug)]
enum Slot {
    Table(PartSlot),
    /// Deleted by this transaction (its pages are freed).
    Deleted,
}

/// Every table's part and the allocator's state at a savepoint.
#[derive(Debug)]
pub(crate) struct SavedState {
    allocation: Allocation,
    /// `None` for a table deleted before the savepoint.
    tables: BTreeMap<String, Option<TablePart>>,
}

/// What a commit takes from the transaction.
#[derive(Debug)]
pub(crate) struct Committing {
    pub pager: TxnPager,
    /// Every page the transaction changed.
    pub dirty: DirtyPages,
    pub catalog: Option<Ptr>,
    /// Every table opened, by name.
    pub tables: BTreeMap<String, (TableState, TableTypes)>,
    pub deleted: BTreeSet<String>,
}

/// A write transaction's pager and its tables.
#[derive(Debug)]
pub(crate) struct TxnTables {
    /// `None` once committed or rolled back.
    pager: Option<TxnPager>,
    /// Pages changed outside any table's tree (the catalog's and the freelist's, at commit).
    own: DirtyPages,
    catalog: Option<Ptr>,
    tables: BTreeMap<String, Slot>,
    /// Bytes of held writes each table may keep.
    held_capacity: usize,
    /// An operation failed part-way: the transaction can only be aborted.
    pub failed: bool,
}

impl TxnTables {
    pub(crate) fn new(pager: TxnPager, catalog: Option<Ptr>, held_capacity: usize) -> Self {
        TxnTables {
            pager: Some(pager),
            own: DirtyPages::default(),
            catalog,
            tables: BTreeMap::new(),
            held_capacity,
            failed: false,
        }
    }

    pub(crate) fn pager(&mut self) -> &mut TxnPager {
        self.pager
            .as_mut()
            .expect("the pager lives until commit or abort")
    }

    pub(crate) fn check_usable(&self) -> Result<()> {
        match self.failed {
            true => Err(Error::TransactionFailed),
            false => Ok(()),
        }
    }

    /// Marks the transaction failed if `result` is an error.
    pub(crate) fn guard<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    /// Lends table `name` to a new handle, creating the table if missing:
    /// `TableAlreadyOpen` if a handle has it. `types` are the typed API's (`None` for the
    /// byte API, which reads any table as bytes): a table recorded with other types gives
    /// `TableTypeMismatch`, a new one is recorded with them. Writes held by tables without a
    /// handle are applied first, so that one table at a time holds writes and together they
    /// keep within the budget.
    pub(crate) fn check_out(&mut self, name: &str, types: Option<&TableTypes>) -> Result<PartRef> {
        self.check_usable()?;
        if let Some(Slot::Table(slot)) = self.tables.get(name)
            && slot.is_open()
        {
            return Err(Error::TableAlreadyOpen(name.to_owned()));
        }
        let new_types = || types.cloned().unwrap_or_else(TableTypes::bytes);
        let part = match self.tables.get_mut(name) {
            Some(Slot::Table(slot)) => {
                let part = slot.parked().expect("no handle has it (checked above)");
                check_types(name, &part.types, types)?;
                None
            }
            Some(Slot::Deleted) => Some((TableState::created(), new_types())),
            None => Some(match self.find(name)? {
                Some(record) => {
                    check_types(name, &record.types, types)?;
                    (TableState::found(&record), record.types)
                }
                None => (TableState::created(), new_types()),
            }),
        };
        self.apply_parked_held(Some(name))?;
        let view = self.pager().view();
        if let Some((state, types)) = part {
            let part = TablePart {
                state,
                types,
                held: HeldWrites::new(self.held_capacity),
                pages: TablePages {
                    view,
                    dirty: DirtyPages::default(),
                },
                edge: None,
            };
            self.tables
                .insert(name.to_owned(), Slot::Table(PartSlot::new(part)));
        } else if let Some(Slot::Table(slot)) = self.tables.get_mut(name) {
            let part = slot.parked().expect("no handle has it (checked above)");
            part.pages.view = view;
        }
        match self.tables.get(name) {
            Some(Slot::Table(slot)) => Ok(slot.check_out().expect("no handle has it")),
            _ => unreachable!("inserted above"),
        }
    }

    fn find(&mut self, name: &str) -> Result<Option<super::TableRecord>> {
        let catalog = self.catalog;
        let pager = self.pager.as_mut().expect("the pager lives until commit");
        let store = pager.with(&mut self.own);
        find_table(store.source(), catalog, name)
    }

    /// Applies the writes held by every parked table but `except`.
    fn apply_parked_held(&mut self, except: Option<&str>) -> Result<()> {
        let pager = self.pager.as_mut().expect("the pager lives until commit");
        for (name, slot) in &mut self.tables {
            let Slot::Table(slot) = slot else { continue };
            let Some(part) = slot.parked() else { continue };
            if part.held.is_empty() || except == Some(name.as_str()) {
                continue;
            }
            let mut store = pager.with(&mut part.pages.dirty);
            if let Err(error) = part.held.apply(store.store(), &mut part.state) {
                self.failed = true;
                return Err(error);
            }
        }
        Ok(())
    }

    /// Deletes table `name` and frees its pages; `false` if it did not exist.
    pub(crate) fn delete(&mut self, name: &str) -> Result<bool> {
        self.check_usable()?;
        let (state, mut dirty) = match self.tables.get_mut(name) {
            Some(Slot::Deleted) => return Ok(false),
            Some(Slot::Table(slot)) => match slot.parked() {
                Some(part) => (part.state, std::mem::take(&mut part.pages.dirty)),
                None => return Err(Error::TableAlreadyOpen(name.to_owned())),
            },
            None => match self.find(name)? {
                Some(record) => (TableState::found(&record), DirtyPages::default()),
                None => return Ok(false),
            },
        };
        let pager = self.pager.as_mut().expect("the pager lives until commit");
        let mut store = pager.with(&mut dirty);
        let store = store.store();
        let freed = crate::btree::free_tree(store, state.root).and_then(|()| store.end_operation());
        self.guard(freed)?;
        self.tables.insert(name.to_owned(), Slot::Deleted);
        Ok(true)
    }

    /// The names of all tables as this transaction sees them, sorted.
    pub(crate) fn names(&mut self) -> Result<Vec<String>> {
        let catalog = self.catalog;
        let pager = self.pager.as_mut().expect("the pager lives until commit");
        let store = pager.with(&mut self.own);
        let mut names: BTreeSet<String> = list_tables(store.source(), catalog)?
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        for (name, slot) in &self.tables {
            match slot {
                Slot::Deleted => names.remove(name),
                Slot::Table(_) => names.insert(name.clone()),
            };
        }
        Ok(names.into_iter().collect())
    }

    /// After a change to a table keeping `in_memory` bytes (dirty pages and held writes):
    /// if together with the tables without a handle they exceed the budget, those tables
    /// write their pages early (they are not in use; the changed table keeps within the
    /// budget by itself, and held writes of tables without a handle are applied before
    /// another table opens).
    pub(crate) fn keep_within_budget(
        &mut self,
        in_memory: impl FnOnce() -> usize,
        page_size: usize,
    ) -> Result<()> {
        let Some(budget) = self.pager().budget_bytes() else {
            return Ok(());
        };
        // Nothing is parked in the common case of one table at a time: no count needed.
        if self.tables.len() <= 1 || in_memory() + self.parked_memory(page_size) <= budget {
            return Ok(());
        }
        let pager = self.pager.as_mut().expect("the pager lives until commit");
        for slot in self.tables.values_mut() {
            let Slot::Table(slot) = slot else { continue };
            let Some(part) = slot.parked() else { continue };
            let spilled = pager.with(&mut part.pages.dirty).spill_all();
            if spilled.is_err() {
                self.failed = true;
                return spilled;
            }
        }
        Ok(())
    }

    /// Copies every table's part and the allocator's state (DESIGN.md, "Savepoints").
    #[allow(unsafe_code)] // reads the parts of live handles (`part_cell`)
    pub(crate) fn savepoint(&mut self) -> Result<SavedState> {
        self.check_usable()?;
        let allocation = self.pager().savepoint();
        let tables = self
            .tables
            .iter()
            .map(|(name, slot)| {
                let part = match slot {
                    Slot::Table(slot) => {
                        // SAFETY: called from `WriteTransaction::savepoint`, outside every
                        // handle method.
                        let mut part = unsafe { slot.peek() }.clone();
                        // A savepoint outliving its transaction must not keep the file
                        // mapped (and locked); a restore gives the part the current view.
                        part.pages.view.release();
                        // A restored table starts without an edge: its next insert descends.
                        part.edge = None;
                        Some(part)
                    }
                    Slot::Deleted => None,
                };
                (name.clone(), part)
            })
            .collect();
        Ok(SavedState { allocation, tables })
    }

    /// Returns every table and the allocator to `saved`.
    ///
    /// # Safety
    /// Only with the transaction borrowed mutably: handles of it may still be in scope, but
    /// none can be used again (`part_cell`).
    #[allow(unsafe_code)] // ends the parts lent to handles (`part_cell`)
    pub(crate) unsafe fn restore(&mut self, saved: &SavedState) -> Result<()> {
        self.check_usable()?;
        for slot in self.tables.values_mut() {
            if let Slot::Table(slot) = slot {
                // SAFETY: the caller guarantees no handle uses the part again.
                unsafe { slot.at_end() }.pages.view.release();
            }
        }
        let pager = self.pager();
        pager.restore(&saved.allocation);
        let view = pager.view();
        self.tables = saved
            .tables
            .iter()
            .map(|(name, part)| {
                let slot = match part {
                    Some(part) => {
                        let mut part = part.clone();
                        part.pages.view = view.clone();
                        Slot::Table(PartSlot::new(part))
                    }
                    None => Slot::Deleted,
                };
                (name.clone(), slot)
            })
            .collect();
        Ok(())
    }

    /// Bytes of changed pages and held writes of the tables without a handle.
    pub(crate) fn parked_memory(&mut self, page_size: usize) -> usize {
        let own = self.own.bytes(page_size);
        let parked = self
            .parked()
            .map(|p| p.pages.dirty.bytes(page_size) + p.held.bytes());
        own + parked.sum::<usize>()
    }

    /// Writes the tables without a handle hold.
    pub(crate) fn parked_held(&mut self) -> usize {
        self.parked().map(|p| p.held.count()).sum()
    }

    fn parked(&mut self) -> impl Iterator<Item = &mut TablePart> {
        self.tables.values_mut().filter_map(|slot| match slot {
            Slot::Table(slot) => slot.parked(),
            Slot::Deleted => None,
        })
    }

    /// Everything a commit needs; held writes are applied.
    ///
    /// # Safety
    /// Only from the commit, which consumes the transaction: handles of it may still be in
    /// scope, but none can be used again (`part_cell`).
    #[allow(unsafe_code)] // ends the parts lent to handles (`part_cell`)
    pub(crate) unsafe fn take_for_commit(&mut self) -> Result<Committing> {
        self.check_usable()?;
        let pager = self.pager.as_mut().expect("the pager lives until commit");
        let mut dirty = std::mem::take(&mut self.own);
        let mut tables = BTreeMap::new();
        let mut deleted = BTreeSet::new();
        for (name, slot) in std::mem::take(&mut self.tables) {
            let mut slot = match slot {
                Slot::Table(slot) => slot,
                Slot::Deleted => {
                    deleted.insert(name);
                    continue;
                }
            };
            // SAFETY: the caller guarantees no handle uses the part again.
            let part = unsafe { slot.at_end() };
            if !part.held.is_empty() {
                let mut store = pager.with(&mut part.pages.dirty);
                if let Err(error) = part.held.apply(store.store(), &mut part.state) {
                    self.failed = true;
                    return Err(error);
                }
            }
            dirty.absorb(std::mem::take(&mut part.pages.dirty));
            part.pages.view.release();
            tables.insert(name, (part.state, part.types.clone()));
        }
        Ok(Committing {
            pager: self.pager.take().expect("the pager lives until commit"),
            dirty,
            catalog: self.catalog,
            tables,
            deleted,
        })
    }

    /// Ends the transaction without a commit: the freelist as it was, unless a commit took
    /// the pager already. Handles still in scope let go of the file's maps.
    ///
    /// # Safety
    /// Only from the transaction's drop: handles of it may still be in scope, but none can
    /// be used again (`part_cell`).
    #[allow(unsafe_code)] // ends the parts lent to handles (`part_cell`)
    pub(crate) unsafe fn rollback(&mut self) -> Option<FreeList> {
        for slot in self.tables.values_mut() {
            if let Slot::Table(slot) = slot {
                // SAFETY: the caller guarantees no handle uses the part again.
                unsafe { slot.at_end() }.pages.view.release();
            }
        }
        self.pager.take().map(TxnPager::rollback)
    }
}

/// `TableTypeMismatch` if the typed API asks for `wanted` and the table has `found`.
fn check_types(name: &str, found: &TableTypes, wanted: Option<&TableTypes>) -> Result<()> {
    match wanted {
        Some(wanted) if wanted != found => Err(Error::TableTypeMismatch {
            table: name.to_owned(),
            expected: wanted.to_string(),
            found: found.to_string(),
        }),
        _ => Ok(()),
    }
}
