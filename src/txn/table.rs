//! A table open in a write transaction. The handle has the table's part lent to it: its
//! tree's state, its held writes and the pages its tree changed (DESIGN.md, "Several tables
//! in one transaction"). Reads borrow only these and the map, so other tables can be written
//! meanwhile.

use super::catalog::TableState;
use super::catalog::TableTypes;
use super::held::HeldWrites;
use super::part_cell::PartRef;
use super::range::{KeyRange, Range, prefix_range};
use super::spec::TableSpec;
use super::validate_table_name;
use super::write::WriteTransaction;
use crate::btree::{self, RangeIter};
use crate::error::{Error, Result};
use crate::pager::PageStore;
use crate::{MAX_KEY_LEN, MAX_VALUE_LEN};
use std::ops::Bound;

/// Entries a range operation reads before it removes the chosen ones and reads on.
const CHUNK: usize = 1024;

/// A table inside a write transaction. Dropping the handle keeps its changes in the
/// transaction; a handle still in scope at `commit` is committed with it.
pub struct Table<'txn> {
    txn: &'txn WriteTransaction,
    name: String,
    part: PartRef,
}

impl std::fmt::Debug for Table<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = &self.part.part().state;
        f.debug_struct("Table")
            .field("name", &self.name)
            .field("root", &state.root)
            .field("len", &state.len)
            .finish()
    }
}

/// Opening a table's handle, beside the handle: the transaction lends the table's part.
impl WriteTransaction {
    /// Opens a table for reading and writing, creating it if missing: by name for a table of
    /// bytes (`open_table("users")`), or by a [`TableDefinition`](crate::TableDefinition)
    /// for a typed table. Any number of different tables can be open at once, each written
    /// through its own handle; a table that already has a live handle in this transaction
    /// gives [`Error::TableAlreadyOpen`], a typed table opened with other types
    /// [`Error::TableTypeMismatch`].
    pub fn open_table<S: TableSpec>(&self, spec: S) -> Result<S::Write<'_>> {
        let name = spec.table_name();
        validate_table_name(name)?;
        let types = spec
            .table_types()
            .map(|(key, value)| TableTypes { key, value });
        let part = self.tables.borrow_mut().check_out(name, types.as_ref())?;
        Ok(S::write_handle(Table::new(self, name.to_owned(), part)))
    }

    /// Opens (or creates) table `name` of bytes recorded with `types` (a backup's copy of a
    /// typed table).
    pub(crate) fn open_table_with_types(&self, name: &str, types: TableTypes) -> Result<Table<'_>> {
        validate_table_name(name)?;
        let types = (!types.is_bytes()).then_some(types);
        let part = self.tables.borrow_mut().check_out(name, types.as_ref())?;
        Ok(Table::new(self, name.to_owned(), part))
    }
}

impl<'txn> Table<'txn> {
    pub(super) fn new(txn: &'txn WriteTransaction, name: String, part: PartRef) -> Self {
        Table { txn, name, part }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `op` on this table's tree with the transaction's page store; an error fails the
    /// transaction (it may have left the tree half-changed).
    pub(super) fn write<R>(
        &mut self,
        op: impl FnOnce(&mut dyn PageStore, &mut TableState, &mut HeldWrites) -> Result<R>,
    ) -> Result<R> {
        self.write_at_edge(|store, state, held, _| op(store, state, held))
    }

    /// `write`, handing `op` the tree's edge as the last write left it (if that write was an
    /// insert at the right edge) for `op` to set anew; it is dropped otherwise.
    fn write_at_edge<R>(
        &mut self,
        op: impl FnOnce(
            &mut dyn PageStore,
            &mut TableState,
            &mut HeldWrites,
            &mut Option<btree::Edge>,
        ) -> Result<R>,
    ) -> Result<R> {
        let mut tables = self.txn.tables.borrow_mut();
        tables.check_usable()?;
        let pager = tables.pager();
        let part = self.part.part_mut();
        let mut edge = part.edge.take();
        let result = {
            let mut store = pager.with(&mut part.pages.dirty);
            op(store.store(), &mut part.state, &mut part.held, &mut edge)
        };
        if result.is_ok() {
            part.edge = edge;
        }
        let result = result.and_then(|done| {
            let page_size = self.txn.page_size();
            let in_memory = || part.pages.dirty.bytes(page_size) + part.held.bytes();
            tables.keep_within_budget(in_memory, page_size)?;
            Ok(done)
        });
        // Reads from now on see the file as this change left it (it may have grown).
        tables.pager().refresh(&mut part.pages.view);
        tables.guard(result)
    }

    /// The value stored under `key`, including this transaction's writes.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>> {
        let part = self.part.part();
        if let Some(held) = part.held.get(key) {
            return Ok(held);
        }
        btree::get(&part.pages, part.state.root, key)
    }

    /// Whether `key` is in the table, including this transaction's writes; a large value's
    /// overflow run is not read.
    pub fn contains_key(&self, key: &[u8]) -> Result<bool> {
        let part = self.part.part();
        if let Some(held) = part.held.get(key) {
            return Ok(held.is_some());
        }
        btree::contains(&part.pages, part.state.root, key)
    }

    /// Entries whose keys start with `prefix`, in order; iterate from either end.
    pub fn prefix(&self, prefix: impl AsRef<[u8]>) -> Result<Range<'_>> {
        self.range(prefix_range(prefix.as_ref()))
    }

    /// Entries with keys in `range`, in order; iterate from either end.
    pub fn range(&self, range: impl KeyRange) -> Result<Range<'_>> {
        let (start, end) = range.byte_bounds();
        let part = self.part.part();
        let tree = RangeIter::new(&part.pages, part.state.root, start, end)?;
        Ok(match part.held.is_empty() {
            true => Range::new(tree),
            false => Range::with_held(tree, part.held.range(start, end)),
        })
    }

    /// All entries, in order.
    pub fn iter(&self) -> Result<Range<'_>> {
        self.range(..)
    }

    /// The number of entries.
    pub fn len(&self) -> Result<u64> {
        let part = self.part.part();
        if part.held.is_empty() {
            return Ok(part.state.len);
        }
        let (pages, root) = (&part.pages, part.state.root);
        let change = part
            .held
            .len_change(|key| btree::contains(pages, root, key))?;
        // Never below zero: a held removal counts only for a key the tree has.
        Ok(part.state.len.saturating_add_signed(change))
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        let part = self.part.part();
        // Held writes remove at most one entry each.
        if part.state.len > part.held.count() as u64 {
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

    /// Inserts `value` under `key`, replacing any value there.
    pub fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
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
        self.write_at_edge(|store, state, held, edge| {
            if held.engage(store)? {
                *edge = None;
                if held.hold(key, Some(value), None) {
                    held.apply(store, state)?;
                }
                return Ok(());
            }
            // A sorted load: straight into the last leaf, without a descent.
            if let (Some(at), Some(root)) = (*edge, state.root)
                && btree::append_at_edge(store, state.root, at, key, value)?
            {
                store.end_operation()?;
                state.inserted(root, false);
                return Ok(());
            }
            let (root, existed, at) = btree::insert_noting_edge(store, state.root, key, value)?;
            // Packing may rewrite the edge's leaf: the edge stays only if nothing is packed.
            *edge = at.filter(|_| !store.over_budget());
            let root = btree::pack_before_spilling(store, Some(root))?
                .ok_or_else(|| Error::corruption(root.page, "an insert left the tree empty"))?;
            store.end_operation()?;
            state.inserted(root, existed);
            Ok(())
        })
    }

    /// Removes `key`; `true` if it was there.
    pub fn remove(&mut self, key: &[u8]) -> Result<bool> {
        if key.len() > MAX_KEY_LEN {
            self.txn.tables.borrow().check_usable()?;
            return Ok(false);
        }
        self.write(|store, state, held| {
            let root = state.root;
            let leaves = |store: &dyn PageStore| btree::estimated_leaves(store, root, key);
            if held.engage_for_removal(store, leaves)? {
                return remove_held(store, state, held, key);
            }
            let (root, removed) = btree::remove(store, state.root, key)?;
            let root = btree::pack_before_spilling(store, root)?;
            store.end_operation()?;
            state.removed(root, removed);
            Ok(removed)
        })
    }
}

impl Table<'_> {
    /// Inserts `value` under `key` and returns the value it replaced, copied.
    pub fn replace(&mut self, key: &[u8], value: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(key)?.map(<[u8]>::to_vec);
        self.insert(key, value)?;
        Ok(old)
    }

    /// Removes `key` and returns its value, copied.
    pub fn take(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let old = self.get(key)?.map(<[u8]>::to_vec);
        if old.is_some() {
            self.remove(key)?;
        }
        Ok(old)
    }

    /// Removes and returns the entry with the smallest key.
    pub fn pop_first(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let first = self.first()?.map(|(k, v)| (k.to_vec(), v.to_vec()));
        self.pop(first)
    }

    /// Removes and returns the entry with the largest key.
    pub fn pop_last(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let last = self.last()?.map(|(k, v)| (k.to_vec(), v.to_vec()));
        self.pop(last)
    }

    fn pop(&mut self, entry: Option<(Vec<u8>, Vec<u8>)>) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        if let Some((key, _)) = &entry {
            self.remove(key)?;
        }
        Ok(entry)
    }

    /// Keeps the entries for which `keep(key, value)` is true and removes the others;
    /// returns how many it removed.
    pub fn retain(&mut self, keep: impl FnMut(&[u8], &[u8]) -> bool) -> Result<u64> {
        self.retain_in(.., keep)
    }

    /// [`retain`](Self::retain) over the keys in `range` only.
    pub fn retain_in(
        &mut self,
        range: impl KeyRange,
        mut keep: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<u64> {
        let removed = self.remove_chosen(range, false, |k, v| !keep(k, v))?;
        Ok(removed.count)
    }

    /// Removes the entries for which `extract(key, value)` is true and returns them in key
    /// order (collected: the table is changed before this returns).
    pub fn extract_if(
        &mut self,
        extract: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.extract_from_if(.., extract)
    }

    /// [`extract_if`](Self::extract_if) over the keys in `range` only.
    pub fn extract_from_if(
        &mut self,
        range: impl KeyRange,
        extract: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        Ok(self.remove_chosen(range, true, extract)?.entries)
    }

    /// Removes every entry with a key in `range`; returns how many. Subtrees the range
    /// covers whole are freed page by page without reading their cells (but for overflow
    /// pointers), so the cost follows the pages the range spans, not its entries; the
    /// entries left at its two ends are removed one by one (DESIGN.md, "Range deletion").
    pub fn delete_range(&mut self, range: impl KeyRange) -> Result<u64> {
        let (start, end) = range.byte_bounds();
        if (start, end) == (Bound::Unbounded, Bound::Unbounded) {
            return self.clear();
        }
        let (start, end) = (start.map(<[u8]>::to_vec), end.map(<[u8]>::to_vec));
        let (start, end) = (
            start.as_ref().map(Vec::as_slice),
            end.as_ref().map(Vec::as_slice),
        );
        let mut removed = 0;
        loop {
            let freed = self.write(|store, state, held| {
                // The tree changes only once every held write is in it.
                if !held.is_empty() {
                    held.apply(store, state)?;
                }
                let Some((root, count)) = btree::delete_covered(store, state.root, start, end)?
                else {
                    return Ok(None);
                };
                store.end_operation()?;
                state.merged(root, -(count as i64));
                Ok(Some(count))
            })?;
            match freed {
                Some(count) => removed += count,
                None => break,
            }
        }
        let ends = self.remove_chosen((start, end), false, |_, _| true)?;
        Ok(removed + ends.count)
    }

    /// Removes every entry; returns how many. Frees the tree page by page, reading no cell
    /// but those that point to overflow runs.
    pub fn clear(&mut self) -> Result<u64> {
        let removed = self.len()?;
        self.write(|store, state, held| {
            held.discard();
            btree::free_tree(store, state.root)?;
            store.end_operation()?;
            state.cleared();
            Ok(())
        })?;
        Ok(removed)
    }

    /// Removes the entries in `range` for which `chosen` is true, a chunk at a time, so that
    /// no callback runs while the table changes; copies them out if `collect`.
    fn remove_chosen(
        &mut self,
        range: impl KeyRange,
        collect: bool,
        mut chosen: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<Removed> {
        let (start, end) = range.byte_bounds();
        let end = end.map(<[u8]>::to_vec);
        let mut from = start.map(<[u8]>::to_vec);
        let mut removed = Removed::default();
        loop {
            let mut doomed = Vec::new();
            let mut last = None;
            let mut read = 0;
            for entry in self.range((from.as_ref(), end.as_ref()))? {
                let (key, value) = entry?;
                if chosen(key, value) {
                    doomed.push((key.to_vec(), collect.then(|| value.to_vec())));
                }
                read += 1;
                if read == CHUNK {
                    last = Some(key.to_vec());
                    break;
                }
            }
            for (key, value) in doomed {
                self.remove(&key)?;
                removed.count += 1;
                if let Some(value) = value {
                    removed.entries.push((key, value));
                }
            }
            match last {
                Some(key) => from = Bound::Excluded(key),
                None => return Ok(removed),
            }
        }
    }
}

/// What a range removal removed.
#[derive(Default)]
struct Removed {
    count: u64,
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

/// `remove` while the table holds its writes: holds the removal if the key is there.
fn remove_held(
    store: &mut dyn PageStore,
    state: &mut TableState,
    held: &mut HeldWrites,
    key: &[u8],
) -> Result<bool> {
    let root = state.root;
    let (there, full) = held.hold_removal(key, || btree::contains(&*store, root, key))?;
    if full {
        held.apply(store, state)?;
    }
    Ok(there)
}
