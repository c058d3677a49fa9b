//! Inserts a write transaction holds back and applies in key order, once its changes reach
//! more pages than its memory budget keeps (DESIGN.md, "Held inserts").

use super::write::TableState;
use crate::btree;
use crate::error::Result;
use crate::pager::PageStore;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::collections::btree_map;
use std::ops::Bound;

/// Bytes counted for each held entry beside the allocations of its key and value: its slot in
/// the map's nodes (two boxes and a cell), with the nodes' slack.
const SLOT_BYTES: usize = 64;

/// Bytes a heap allocation of `len` bytes takes, allocator header and rounding included
/// (glibc's malloc: 16-byte steps, 32 at least).
fn allocation(len: usize) -> usize {
    (len + 8).next_multiple_of(16).max(32)
}

/// Bytes counted for a held entry.
fn entry_bytes(key: &[u8], value_len: usize) -> usize {
    allocation(key.len()) + allocation(value_len) + SLOT_BYTES
}

#[derive(Debug)]
struct Held {
    value: Box<[u8]>,
    /// Whether the key is absent from the table's tree; `None` until `len` needs it.
    new_key: Cell<Option<bool>>,
}

/// One table's held inserts: the newest value for each key, in key order. Invariants: every
/// insert into the table since the first one held is held (the tree gains keys only when all
/// are applied), so whether a held key is in the tree changes only when it is removed.
#[derive(Debug)]
pub(crate) struct HeldInserts {
    /// Bytes the held entries may take before they are applied.
    capacity: usize,
    /// The table holds its inserts (from the first sign of thrashing to the commit).
    engaged: bool,
    entries: BTreeMap<Box<[u8]>, Held>,
    /// Bytes the entries take (`entry_bytes` each).
    bytes: usize,
    /// Held keys known to be absent from the tree.
    new_keys: Cell<u64>,
    /// Keys held since `len` last counted, not looked up in the tree yet, one after another,
    /// each after its length (u16, little-endian; keys are at most `MAX_KEY_LEN`).
    unresolved: RefCell<Vec<u8>>,
}

impl HeldInserts {
    pub(crate) fn new(capacity: usize) -> Self {
        HeldInserts {
            capacity,
            engaged: false,
            entries: BTreeMap::new(),
            bytes: 0,
            new_keys: Cell::new(0),
            unresolved: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn count(&self) -> usize {
        self.entries.len()
    }

    /// Bytes of memory the held entries take, approximately, with the keys `len` has yet to
    /// look up.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes + self.unresolved.borrow().len()
    }

    /// Whether the next insert should be held: from the store's first sign of thrashing on,
    /// with the store's memory budget shared with the held entries.
    pub(crate) fn engage(&mut self, store: &mut dyn PageStore) -> Result<bool> {
        if !self.engaged && self.capacity > 0 && store.thrashing() {
            // As much as the store can set aside: it keeps at least one page.
            self.capacity = store.reserve_memory(self.capacity);
            self.engaged = self.capacity > 0;
            // Down to the smaller budget now: held inserts do not end operations.
            store.end_operation()?;
        }
        Ok(self.engaged)
    }

    /// The held value of `key`, if any.
    pub(crate) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.entries.get(key).map(|held| &held.value[..])
    }

    /// Holds `value` under `key`; `true` once the held entries fill their capacity.
    pub(crate) fn hold(&mut self, key: &[u8], value: &[u8]) -> bool {
        // One search of the map: a new key is the common case.
        match self.entries.entry(key.into()) {
            btree_map::Entry::Occupied(mut held) => {
                let held = held.get_mut();
                self.bytes =
                    self.bytes - entry_bytes(key, held.value.len()) + entry_bytes(key, value.len());
                held.value = value.into();
            }
            btree_map::Entry::Vacant(slot) => {
                slot.insert(Held {
                    value: value.into(),
                    new_key: Cell::new(None),
                });
                let unresolved = self.unresolved.get_mut();
                unresolved.extend_from_slice(&(key.len() as u16).to_le_bytes());
                unresolved.extend_from_slice(key);
                self.bytes += entry_bytes(key, value.len());
            }
        }
        self.bytes() >= self.capacity
    }

    /// Drops the held entry of `key`; `true` if there was one.
    pub(crate) fn release(&mut self, key: &[u8]) -> bool {
        let Some(held) = self.entries.remove(key) else {
            return false;
        };
        // Its copy in `unresolved`, if any, stays (and counts) until `len` skips it or `apply`
        // clears it.
        self.bytes -= entry_bytes(key, held.value.len());
        if held.new_key.get() == Some(true) {
            self.new_keys.set(self.new_keys.get() - 1);
        }
        true
    }

    /// How many held keys the tree lacks; `in_tree` looks a key up in it.
    pub(crate) fn new_keys(&self, in_tree: impl Fn(&[u8]) -> Result<bool>) -> Result<u64> {
        let mut unresolved = self.unresolved.borrow_mut();
        let mut at = 0;
        while at < unresolved.len() {
            let len = usize::from(u16::from_le_bytes([unresolved[at], unresolved[at + 1]]));
            let key = &unresolved[at + 2..at + 2 + len];
            if let Some(held) = self.entries.get(key)
                && held.new_key.get().is_none()
            {
                let new_key = !in_tree(key)?;
                held.new_key.set(Some(new_key));
                self.new_keys.set(self.new_keys.get() + u64::from(new_key));
            }
            at += 2 + len;
        }
        unresolved.clear();
        Ok(self.new_keys.get())
    }

    /// Held entries with keys within the bounds, in order.
    pub(crate) fn range<'a>(&'a self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> HeldRange<'a> {
        let empty = match (start, end) {
            (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) => {
                s > e || (s == e && matches!(start, Bound::Excluded(_)))
            }
            _ => false,
        };
        HeldRange {
            inner: match empty {
                true => None,
                false => Some(self.entries.range::<[u8], _>((start, end))),
            },
        }
    }

    /// Applies the held entries to the table's tree in key order, and holds none after.
    pub(crate) fn apply(
        &mut self,
        store: &mut dyn PageStore,
        state: &mut TableState,
    ) -> Result<()> {
        let entries = std::mem::take(&mut self.entries);
        self.bytes = 0;
        self.new_keys.set(0);
        self.unresolved.get_mut().clear();
        for (key, held) in entries {
            let (root, existed) = btree::insert(store, state.root, &key, &held.value)?;
            store.end_operation()?;
            state.root = Some(root);
            state.len += u64::from(!existed);
            state.changed = true;
        }
        Ok(())
    }
}

/// Held entries in key order, from either end.
#[derive(Debug)]
pub(crate) struct HeldRange<'a> {
    inner: Option<btree_map::Range<'a, Box<[u8]>, Held>>,
}

impl<'a> Iterator for HeldRange<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, held) = self.inner.as_mut()?.next()?;
        Some((key, &held.value))
    }
}

impl DoubleEndedIterator for HeldRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (key, held) = self.inner.as_mut()?.next_back()?;
        Some((key, &held.value))
    }
}
