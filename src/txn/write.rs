//! The write transaction and its tables. One at a time; sees its own writes; dropped
//! without `commit`, it leaves no trace.

use super::commit::{self, CommitInput};
use super::held::HeldWrites;
use super::range::{Range, bounds};
use super::read::table_names;
use super::{Shared, TableRecord, WriterState, validate_table_name};
use crate::btree::{self, RangeIter};
use crate::error::{Error, Result};
use crate::ids::Ptr;
use crate::pager::wal::{WalPager, WalPagerStart};
use crate::pager::{CowPager, FreeList, PageSource, PageStore, PagerStart, TxnPager};
use crate::{Durability, MAX_KEY_LEN, MAX_VALUE_LEN};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeBounds;
use std::sync::MutexGuard;

/// A table's tree as this transaction has it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableState {
    pub root: Option<Ptr>,
    pub len: u64,
    /// Created or changed: its record must be written at commit.
    pub changed: bool,
}

impl TableState {
    /// Records an insert that left the tree at `root`; `existed` if it replaced a value.
    pub(crate) fn inserted(&mut self, root: Ptr, existed: bool) {
        self.root = Some(root);
        self.len += u64::from(!existed);
        self.changed = true;
    }

    /// Records writes that left the tree at `root` with `len_change` more entries.
    pub(crate) fn merged(&mut self, root: Option<Ptr>, len_change: i64) {
        self.root = root;
        self.len = self.len.wrapping_add_signed(len_change);
        self.changed = true;
    }

    /// Records a removal that left the tree at `root`, if it `removed` anything.
    pub(crate) fn removed(&mut self, root: Option<Ptr>, removed: bool) {
        if removed {
            self.root = root;
            self.len -= 1;
            self.changed = true;
        }
    }
}

/// The single write transaction. Dropping it aborts.
#[derive(Debug)]
pub struct WriteTransaction<'db> {
    shared: &'db Shared,
    state: MutexGuard<'db, WriterState>,
    /// `None` once committed or aborted.
    pager: Option<TxnPager<'db>>,
    txn: u64,
    catalog: Option<Ptr>,
    tables: BTreeMap<String, TableState>,
    /// Writes held back per table; at most one table holds any between operations.
    held: BTreeMap<String, HeldWrites>,
    deleted: BTreeSet<String>,
    durability: Durability,
    /// An operation failed part-way: the transaction can only be aborted.
    failed: bool,
}

impl<'db> WriteTransaction<'db> {
    pub(crate) fn begin(shared: &'db Shared) -> Result<Self> {
        if shared.read_only {
            return Err(Error::ReadOnly);
        }
        let mut state = shared.lock_writer()?;
        let durable = shared.published().durable_txn;
        // Transaction N writes meta N % 2 and must never overwrite the slot of the newest
        // durable meta, so ids skip one after a non-durable commit (DESIGN.md, "Meta slots").
        let mut txn = state.last_txn + 1;
        if txn % 2 == durable % 2 {
            txn += 1;
        }
        let mut freelist = match state.freelist.take() {
            Some(list) => list,
            None => load_freelist(shared)?,
        };
        let (reader_bound, durable_bound) = shared.reuse_thresholds();
        freelist.release(reader_bound, durable_bound);
        let pager = match &state.wal {
            None => TxnPager::Cow(CowPager::new(PagerStart {
                storage: &*shared.storage,
                map: state.map.clone(),
                page_size: shared.page_size,
                verify: shared.verify,
                verified: shared.verified.clone(),
                txn,
                durable_txn: durable,
                high_water: state.meta.high_water,
                file_len: state.file_len,
                freelist,
                length_unsynced: state.length_unsynced,
                dirty_budget: shared.dirty_budget,
            })),
            Some(wal) => TxnPager::Wal(WalPager::new(WalPagerStart {
                main: state.map.clone(),
                log: wal.log.map().clone(),
                index: wal.index.clone(),
                page_size: shared.page_size,
                verify: shared.verify,
                verified: shared.verified.clone(),
                txn,
                high_water: state.meta.high_water,
                freelist,
            })),
        };
        let catalog = state.meta.catalog;
        Ok(WriteTransaction {
            shared,
            state,
            pager: Some(pager),
            txn,
            catalog,
            tables: BTreeMap::new(),
            held: BTreeMap::new(),
            deleted: BTreeSet::new(),
            durability: shared.durability,
            failed: false,
        })
    }

    fn store(&mut self) -> &mut dyn PageStore {
        self.pager
            .as_mut()
            .expect("the pager lives until commit or abort")
            .store()
    }

    fn source(&self) -> &dyn PageSource {
        self.pager
            .as_ref()
            .expect("the pager lives until commit or abort")
            .source()
    }

    /// Bytes of changed pages and held writes this transaction keeps in memory now (see
    /// [`Builder::dirty_page_budget`](crate::Builder::dirty_page_budget)).
    pub fn dirty_memory(&self) -> usize {
        let pages = match self.pager.as_ref() {
            Some(TxnPager::Cow(p)) => p.dirty_bytes(),
            Some(TxnPager::Wal(p)) => p.dirty_bytes(),
            None => 0,
        };
        pages + self.held.values().map(HeldWrites::bytes).sum::<usize>()
    }

    /// How many inserts and removals this transaction holds back, to apply in key order
    /// (DESIGN.md, "Held writes"). Reads see them all the same; they reach the trees at the
    /// latest at commit.
    pub fn held_writes(&self) -> usize {
        self.held.values().map(HeldWrites::count).sum()
    }

    /// Applies the writes held for every table but `except`.
    fn apply_held(&mut self, except: Option<&str>) -> Result<()> {
        let pager = self
            .pager
            .as_mut()
            .expect("the pager lives until commit or abort")
            .store();
        for (name, held) in &mut self.held {
            if held.is_empty() || except == Some(name.as_str()) {
                continue;
            }
            let state = self
                .tables
                .get_mut(name)
                .expect("a table with held writes is open in this transaction");
            if let Err(error) = held.apply(pager, state) {
                self.failed = true;
                return Err(error);
            }
        }
        Ok(())
    }

    /// Overrides the database's durability for this commit.
    pub fn set_durability(&mut self, durability: Durability) {
        self.durability = durability;
    }

    /// The id this transaction commits as.
    pub fn id(&self) -> u64 {
        self.txn
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::TransactionFailed);
        }
        Ok(())
    }

    /// The table's state, read from the catalog on first use.
    fn table_state(&mut self, name: &str) -> Result<Option<TableState>> {
        if let Some(state) = self.tables.get(name) {
            return Ok(Some(*state));
        }
        if self.deleted.contains(name) {
            return Ok(None);
        }
        let catalog = self.catalog;
        let found = btree::get(self.source(), catalog, name.as_bytes())?;
        found
            .map(|bytes| {
                let record =
                    TableRecord::decode(bytes, catalog.map_or(crate::ids::PageId(0), |c| c.page))?;
                Ok(TableState {
                    root: record.root,
                    len: record.len,
                    changed: false,
                })
            })
            .transpose()
    }

    /// Opens a table for reading and writing, creating it if missing.
    pub fn open_table(&mut self, name: &str) -> Result<Table<'_>> {
        validate_table_name(name)?;
        self.check_usable()?;
        // One table at a time holds writes, so that together they keep within the budget.
        self.apply_held(Some(name))?;
        let state = self.table_state(name)?.unwrap_or(TableState {
            root: None,
            len: 0,
            changed: true,
        });
        let state = self.tables.entry(name.to_owned()).or_insert(state);
        let held = self
            .held
            .entry(name.to_owned())
            .or_insert_with(|| HeldWrites::new(self.shared.dirty_budget / 4 * 3));
        Ok(Table {
            pager: self
                .pager
                .as_mut()
                .expect("the pager lives until commit or abort")
                .store(),
            state,
            held,
            failed: &mut self.failed,
        })
    }

    /// Deletes a table and frees its pages; `false` if it did not exist.
    pub fn delete_table(&mut self, name: &str) -> Result<bool> {
        validate_table_name(name)?;
        self.check_usable()?;
        let Some(state) = self.table_state(name)? else {
            return Ok(false);
        };
        self.held.remove(name);
        let freed =
            btree::free_tree(self.store(), state.root).and_then(|()| self.store().end_operation());
        if freed.is_err() {
            self.failed = true;
        }
        freed?;
        self.tables.remove(name);
        self.deleted.insert(name.to_owned());
        Ok(true)
    }

    /// The names of all tables as this transaction sees them, sorted.
    pub fn list_tables(&self) -> Result<Vec<String>> {
        let mut names: BTreeSet<String> = table_names(self.source(), self.catalog)?
            .into_iter()
            .filter(|name| !self.deleted.contains(name))
            .collect();
        names.extend(self.tables.keys().cloned());
        Ok(names.into_iter().collect())
    }

    /// Makes every change durable (per the durability setting) and visible to new readers.
    pub fn commit(mut self) -> Result<()> {
        self.check_usable()?;
        self.apply_held(None)?;
        let pager = self
            .pager
            .take()
            .expect("the pager lives until commit or abort");
        commit::commit(CommitInput {
            shared: self.shared,
            state: &mut self.state,
            pager,
            txn: self.txn,
            catalog: self.catalog,
            tables: std::mem::take(&mut self.tables),
            deleted: std::mem::take(&mut self.deleted),
            durability: self.durability,
        })
    }

    /// Discards every change.
    pub fn abort(self) -> Result<()> {
        drop(self);
        Ok(())
    }
}

impl Drop for WriteTransaction<'_> {
    fn drop(&mut self) {
        if let Some(pager) = self.pager.take() {
            self.state.freelist = Some(pager.rollback());
        }
    }
}

/// The freelist of the newest commit (the writer holds the writer lock: no commit can
/// follow while it loads).
fn load_freelist(shared: &Shared) -> Result<FreeList> {
    let snapshot = shared.published().snapshot.clone();
    FreeList::load(&snapshot.pages(), &snapshot.meta)
}

/// A table inside a write transaction.
pub struct Table<'txn> {
    pager: &'txn mut dyn PageStore,
    state: &'txn mut TableState,
    held: &'txn mut HeldWrites,
    failed: &'txn mut bool,
}

impl std::fmt::Debug for Table<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table")
            .field("root", &self.state.root)
            .field("len", &self.state.len)
            .finish()
    }
}

impl Table<'_> {
    /// The value stored under `key`, including this transaction's writes.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        if let Some(held) = self.held.get(key) {
            return Ok(held);
        }
        btree::get(&*self.pager, self.state.root, key)
    }

    /// Entries with keys in `r`, in order; iterate from either end.
    pub fn range<'k>(&self, r: impl RangeBounds<&'k [u8]>) -> Result<Range<'_>> {
        let (start, end) = bounds(&r);
        let tree = RangeIter::new(&*self.pager, self.state.root, start, end)?;
        Ok(match self.held.is_empty() {
            true => Range::new(tree),
            false => Range::with_held(tree, self.held.range(start, end)),
        })
    }

    /// All entries, in order.
    pub fn iter(&self) -> Result<Range<'_>> {
        self.range(..)
    }

    /// The number of entries.
    pub fn len(&self) -> Result<u64> {
        if self.held.is_empty() {
            return Ok(self.state.len);
        }
        let (pager, root) = (&*self.pager, self.state.root);
        let change = self
            .held
            .len_change(|key| btree::contains(pager, root, key))?;
        // Never below zero: a held removal counts only for a key the tree has.
        Ok(self.state.len.saturating_add_signed(change))
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        // Held writes remove at most one entry each.
        if self.state.len > self.held.count() as u64 {
            return Ok(false);
        }
        Ok(self.len()? == 0)
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(&[u8], &[u8])>> {
        self.iter()?.next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(&[u8], &[u8])>> {
        self.iter()?.next_back().transpose()
    }

    fn guard<T>(&mut self, result: Result<T>) -> Result<T> {
        if result.is_err() {
            *self.failed = true;
        }
        result
    }

    /// Inserts `value` under `key`, replacing any value there.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if *self.failed {
            return Err(Error::TransactionFailed);
        }
        if key.len() > MAX_KEY_LEN {
            return Err(Error::KeyTooLarge {
                len: key.len(),
                max: MAX_KEY_LEN,
            });
        }
        if value.len() > MAX_VALUE_LEN {
            return Err(Error::ValueTooLarge {
                len: value.len(),
                max: MAX_VALUE_LEN,
            });
        }
        let held = self.held.engage(self.pager);
        if self.guard(held)? {
            if self.held.hold(key, Some(value), None) {
                let applied = self.held.apply(self.pager, self.state);
                self.guard(applied)?;
            }
            return Ok(());
        }
        let result = btree::insert(self.pager, self.state.root, key, value)
            .and_then(|done| self.pager.end_operation().map(|()| done));
        let (root, existed) = self.guard(result)?;
        self.state.inserted(root, existed);
        Ok(())
    }

    /// Removes `key`; `true` if it was there.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        if *self.failed {
            return Err(Error::TransactionFailed);
        }
        if key.len() > MAX_KEY_LEN {
            return Ok(false);
        }
        let held = self.held.engage(self.pager);
        if self.guard(held)? {
            return self.remove_held(key);
        }
        let result = btree::remove(self.pager, self.state.root, key)
            .and_then(|done| self.pager.end_operation().map(|()| done));
        let (root, removed) = self.guard(result)?;
        self.state.removed(root, removed);
        Ok(removed)
    }

    /// `remove` while the table holds its writes: holds the removal if the key is there.
    fn remove_held(&mut self, key: &[u8]) -> Result<bool> {
        let held = self.held.write_of(key);
        if let Some((false, _)) = held {
            // Removed already.
            return Ok(false);
        }
        // Looked up for a held value too, so that one the tree lacks can simply go.
        let in_tree = match held.and_then(|(_, in_tree)| in_tree) {
            Some(in_tree) => in_tree,
            None => {
                let found = btree::contains(&*self.pager, self.state.root, key);
                self.guard(found)?
            }
        };
        let there = held.is_some() || in_tree;
        if there && self.held.hold(key, None, Some(in_tree)) {
            let applied = self.held.apply(self.pager, self.state);
            self.guard(applied)?;
        }
        Ok(there)
    }
}
