//! Inserts and removals a write transaction holds back and applies in key order, once its
//! changes reach more pages than its memory budget keeps (DESIGN.md, "Held writes").

use super::catalog::TableState;
use crate::btree;
use crate::error::Result;
use crate::pager::PageStore;
use std::cell::{Cell, RefCell};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::btree_map;
use std::ops::Bound;

/// Bytes counted for each held entry beside the allocations of its key and value: its slot in
/// the map's nodes (48 bytes: a key's head, two boxes and a cell) in nodes about three
/// quarters full.
const SLOT_BYTES: usize = 64;

/// Held entries taken from the map at a time to apply (a short-lived list of pointers).
const APPLY_CHUNK: usize = 1024;

/// Bytes a heap allocation of `len` bytes takes, allocator header and rounding included
/// (glibc's malloc: 16-byte steps, 32 at least).
fn allocation(len: usize) -> usize {
    (len + 8).next_multiple_of(16).max(32)
}

/// Bytes counted for a held entry.
fn entry_bytes(key: &[u8], value: Option<&[u8]>) -> usize {
    entry_bytes_of(key.len(), value)
}

/// `entry_bytes` for a key of `key_len` bytes.
fn entry_bytes_of(key_len: usize, value: Option<&[u8]>) -> usize {
    allocation(key_len) + value.map_or(0, |v| allocation(v.len())) + SLOT_BYTES
}

/// A held entry's key, ordered as its bytes are: first by its first eight bytes read as a
/// big-endian number (zero-padded), then by all of its bytes. Keys that differ within their
/// first eight bytes (random keys nearly always do) compare with one integer comparison in
/// the map's node, never touching the boxed bytes: a search through a large map is a chain of
/// cache misses otherwise, one per key compared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HeldKey {
    head: u64,
    bytes: Box<[u8]>,
}

impl HeldKey {
    fn new(key: &[u8]) -> Self {
        let mut head = [0u8; 8];
        let n = key.len().min(8);
        head[..n].copy_from_slice(&key[..n]);
        HeldKey {
            head: u64::from_be_bytes(head),
            bytes: key.into(),
        }
    }
}

impl Ord for HeldKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // Heads that differ order the keys as their bytes do: the first differing byte is in
        // both keys, or the shorter key (padded with zeros there) is a prefix of the other.
        self.head
            .cmp(&other.head)
            .then_with(|| self.bytes.cmp(&other.bytes))
    }
}

impl PartialOrd for HeldKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug, Clone)]
struct Held {
    /// The value to insert, or `None` to remove the key.
    value: Option<Box<[u8]>>,
    /// Whether the key is in the table's tree; `None` until needed.
    in_tree: Cell<Option<bool>>,
}

impl Held {
    /// What the entry adds to the tree's entry count, once known.
    fn len_change(&self) -> Option<i64> {
        let in_tree = self.in_tree.get()?;
        Some(match (&self.value, in_tree) {
            (Some(_), false) => 1,
            (None, true) => -1,
            _ => 0,
        })
    }
}

/// Replaces the held write in `slot` by `value` (a removal if `None`); `in_tree` says whether
/// the tree has the key, if known. Keeps `bytes` and `len_change` (the fields of the
/// `HeldWrites` the slot is in) up to date, and drops a removal of a key the tree lacks.
fn overwrite(
    mut slot: btree_map::OccupiedEntry<'_, HeldKey, Held>,
    value: Option<&[u8]>,
    in_tree: Option<bool>,
    bytes: &mut usize,
    len_change: &Cell<i64>,
) {
    let key_len = slot.key().bytes.len();
    let held = slot.get_mut();
    let before = held.len_change().unwrap_or(0);
    if held.in_tree.get().is_none() {
        // Its copy in `unresolved` is skipped once this is known.
        held.in_tree.set(in_tree);
    }
    *bytes -= entry_bytes_of(key_len, held.value.as_deref());
    held.value = value.map(Into::into);
    *bytes += entry_bytes_of(key_len, value);
    let after = held.len_change().unwrap_or(0);
    len_change.set(len_change.get() - before + after);
    if held.value.is_none() && held.in_tree.get() == Some(false) {
        // A removal of a key the tree lacks: nothing to apply.
        *bytes -= entry_bytes_of(key_len, None);
        slot.remove();
    }
}

/// One table's held writes: the newest for each key, in key order. Invariant: every write to
/// the table since the first one held is held (the tree changes only when all are applied),
/// so whether a held key is in the tree never changes while it is held.
#[derive(Debug, Clone)]
pub(crate) struct HeldWrites {
    /// Bytes the held entries may take before they are applied.
    capacity: usize,
    /// The table holds its writes (from the first sign of thrashing to the commit).
    engaged: bool,
    /// The tree's size was weighed at a removal (`engage_for_removal`).
    sized: bool,
    entries: BTreeMap<HeldKey, Held>,
    /// Bytes the entries take (`entry_bytes` each).
    bytes: usize,
    /// The sum of the entries' known `len_change`.
    len_change: Cell<i64>,
    /// Keys held since `len` last counted, not looked up in the tree yet, one after another,
    /// each after its length (u16, little-endian; keys are at most `MAX_KEY_LEN`).
    unresolved: RefCell<Vec<u8>>,
}

impl HeldWrites {
    pub(crate) fn new(capacity: usize) -> Self {
        HeldWrites {
            capacity,
            engaged: false,
            sized: false,
            entries: BTreeMap::new(),
            bytes: 0,
            len_change: Cell::new(0),
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

    /// Whether the next write should be held: from the store's first sign of thrashing on,
    /// with the store's memory budget shared with the held entries.
    pub(crate) fn engage(&mut self, store: &mut dyn PageStore) -> Result<bool> {
        if !self.engaged && self.capacity > 0 && store.thrashing() {
            self.engage_now(store)?;
        }
        Ok(self.engaged)
    }

    /// `engage` for a removal: also from the table's first removal on if its tree, of about
    /// `leaves()` leaves, takes more than the held entries' capacity (three quarters of the
    /// budget), so its removals would copy more leaves than the budget keeps. Asked once per
    /// transaction.
    pub(crate) fn engage_for_removal(
        &mut self,
        store: &mut dyn PageStore,
        leaves: impl FnOnce(&dyn PageStore) -> Result<u64>,
    ) -> Result<bool> {
        if !self.engaged && self.capacity > 0 && !self.sized {
            self.sized = true;
            let tree_bytes = leaves(&*store)?.saturating_mul(store.page_size() as u64);
            if tree_bytes > self.capacity as u64 {
                self.engage_now(store)?;
            }
        }
        self.engage(store)
    }

    fn engage_now(&mut self, store: &mut dyn PageStore) -> Result<()> {
        // As much as the store can set aside: it keeps at least one page.
        self.capacity = store.reserve_memory(self.capacity);
        self.engaged = self.capacity > 0;
        // Down to the smaller budget now: held writes do not end operations.
        store.end_operation()
    }

    /// The held write of `key`, if any: `Some(None)` if it removes the key.
    pub(crate) fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.entries
            .get(&HeldKey::new(key))
            .map(|held| held.value.as_deref())
    }

    /// Holds the write of `value` (or the removal, `None`) under `key`; `in_tree` says whether
    /// the tree has the key, if known. `true` once the held entries fill their capacity.
    /// Removing a held value whose key the tree lacks drops the entry.
    pub(crate) fn hold(&mut self, key: &[u8], value: Option<&[u8]>, in_tree: Option<bool>) -> bool {
        // One search of the map: a new key is the common case.
        match self.entries.entry(HeldKey::new(key)) {
            btree_map::Entry::Occupied(slot) => {
                overwrite(slot, value, in_tree, &mut self.bytes, &self.len_change);
            }
            btree_map::Entry::Vacant(slot) => {
                let held = slot.insert(Held {
                    value: value.map(Into::into),
                    in_tree: Cell::new(in_tree),
                });
                match held.len_change() {
                    Some(change) => self.len_change.set(self.len_change.get() + change),
                    None => {
                        let unresolved = self.unresolved.get_mut();
                        unresolved.extend_from_slice(&(key.len() as u16).to_le_bytes());
                        unresolved.extend_from_slice(key);
                    }
                }
                self.bytes += entry_bytes(key, value);
            }
        }
        self.bytes() >= self.capacity
    }

    /// Holds the removal of `key` if the key is there: as a held value, or in the tree, which
    /// `in_tree` looks up when the held entry does not tell. One search of the map. Returns
    /// whether the key was there, and whether the held entries now fill their capacity.
    pub(crate) fn hold_removal(
        &mut self,
        key: &[u8],
        in_tree: impl FnOnce() -> Result<bool>,
    ) -> Result<(bool, bool)> {
        match self.entries.entry(HeldKey::new(key)) {
            btree_map::Entry::Occupied(slot) => {
                if slot.get().value.is_none() {
                    return Ok((false, false)); // removed already
                }
                // Looked up for a held value too, so that one the tree lacks can simply go.
                let known = match slot.get().in_tree.get() {
                    Some(known) => known,
                    None => in_tree()?,
                };
                overwrite(slot, None, Some(known), &mut self.bytes, &self.len_change);
            }
            btree_map::Entry::Vacant(slot) => {
                if !in_tree()? {
                    return Ok((false, false));
                }
                slot.insert(Held {
                    value: None,
                    in_tree: Cell::new(Some(true)),
                });
                self.len_change.set(self.len_change.get() - 1);
                self.bytes += entry_bytes(key, None);
            }
        }
        Ok((true, self.bytes() >= self.capacity))
    }

    /// How much the held entries change the tree's entry count; `in_tree` looks a key up in
    /// the tree.
    pub(crate) fn len_change(&self, in_tree: impl Fn(&[u8]) -> Result<bool>) -> Result<i64> {
        let mut unresolved = self.unresolved.borrow_mut();
        let mut at = 0;
        while at < unresolved.len() {
            let len = usize::from(u16::from_le_bytes([unresolved[at], unresolved[at + 1]]));
            let key = &unresolved[at + 2..at + 2 + len];
            if let Some(held) = self.entries.get(&HeldKey::new(key))
                && held.in_tree.get().is_none()
            {
                held.in_tree.set(Some(in_tree(key)?));
                let change = held.len_change().expect("just resolved");
                self.len_change.set(self.len_change.get() + change);
            }
            at += 2 + len;
        }
        unresolved.clear();
        Ok(self.len_change.get())
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
                false => Some(
                    self.entries
                        .range((start.map(HeldKey::new), end.map(HeldKey::new))),
                ),
            },
        }
    }

    /// Forgets every held entry (the table was cleared: none of them matters).
    pub(crate) fn discard(&mut self) {
        self.entries.clear();
        self.bytes = 0;
        self.len_change.set(0);
        self.unresolved.get_mut().clear();
    }

    /// Applies the held entries to the table's tree in key order, a span of leaves at a time
    /// (`btree::merge_sorted`), and holds none after.
    pub(crate) fn apply(
        &mut self,
        store: &mut dyn PageStore,
        state: &mut TableState,
    ) -> Result<()> {
        let entries = std::mem::take(&mut self.entries);
        self.bytes = 0;
        self.len_change.set(0);
        self.unresolved.get_mut().clear();
        let mut entries = entries.into_iter();
        let mut chunk: Vec<(HeldKey, Held)> = Vec::with_capacity(APPLY_CHUNK);
        loop {
            chunk.extend(entries.by_ref().take(APPLY_CHUNK));
            if chunk.is_empty() {
                return Ok(());
            }
            let writes: Vec<btree::Write> = chunk
                .iter()
                .map(|(key, held)| btree::Write {
                    key: &key.bytes,
                    value: held.value.as_deref(),
                })
                .collect();
            let mut done = 0;
            while done < writes.len() {
                let merged = btree::merge_sorted(store, state.root, &writes[done..])?;
                debug_assert!(merged.consumed > 0, "every step applies a write");
                state.merged(merged.root, merged.len_change);
                done += merged.consumed;
                store.end_operation()?;
            }
            chunk.clear();
        }
    }
}

/// Held entries in key order, from either end: `None` for a held removal.
#[derive(Debug)]
pub(crate) struct HeldRange<'a> {
    inner: Option<btree_map::Range<'a, HeldKey, Held>>,
}

impl<'a> Iterator for HeldRange<'a> {
    type Item = (&'a [u8], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let (key, held) = self.inner.as_mut()?.next()?;
        Some((&key.bytes, held.value.as_deref()))
    }
}

impl DoubleEndedIterator for HeldRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (key, held) = self.inner.as_mut()?.next_back()?;
        Some((&key.bytes, held.value.as_deref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_write_per_key_counts_once_and_a_removal_of_an_absent_key_goes() {
        let mut held = HeldWrites::new(1 << 20);
        assert!(!held.hold(b"a", Some(b"1"), Some(false)));
        held.hold(b"a", Some(b"22"), Some(false));
        assert_eq!(held.get(b"a"), Some(Some(&b"22"[..])));
        assert_eq!(held.count(), 1);
        // Removing a held value whose key the tree lacks leaves nothing to apply.
        assert_eq!(
            held.hold_removal(b"a", || unreachable!()).unwrap(),
            (true, false)
        );
        assert_eq!(held.get(b"a"), None);
        assert!(held.is_empty());
        assert_eq!(held.bytes(), 0, "every byte given back");
    }

    #[test]
    fn a_held_removal_looks_the_tree_up_only_when_the_held_entry_does_not_tell() {
        let mut held = HeldWrites::new(1 << 20);
        let asked = std::cell::Cell::new(0);
        let in_tree = |answer: bool| {
            asked.set(asked.get() + 1);
            move || Ok(answer)
        };
        // Absent from both: nothing held.
        assert_eq!(
            held.hold_removal(b"x", in_tree(false)).unwrap(),
            (false, false)
        );
        assert!(held.is_empty());
        // In the tree: held once; a second removal is told by the entry alone.
        assert_eq!(
            held.hold_removal(b"y", in_tree(true)).unwrap(),
            (true, false)
        );
        assert_eq!(held.get(b"y"), Some(None));
        assert_eq!(held.len_change(|_| unreachable!()).unwrap(), -1);
        assert_eq!(
            held.hold_removal(b"y", || unreachable!()).unwrap(),
            (false, false)
        );
        // A held value of unknown standing: the tree is asked, and the removal stays.
        held.hold(b"z", Some(b"v"), None);
        assert_eq!(
            held.hold_removal(b"z", in_tree(true)).unwrap(),
            (true, false)
        );
        assert_eq!(held.get(b"z"), Some(None));
        assert_eq!(asked.get(), 3);
        assert_eq!(held.len_change(|_| unreachable!()).unwrap(), -2);
        // Filling the capacity says so.
        let mut small = HeldWrites::new(1);
        assert_eq!(small.hold_removal(b"k", || Ok(true)).unwrap(), (true, true));
    }

    #[test]
    fn the_count_change_looks_each_unknown_key_up_once() {
        let mut held = HeldWrites::new(1 << 20);
        held.hold(b"new", Some(b"v"), Some(false)); // +1
        held.hold(b"old", None, Some(true)); // -1
        held.hold(b"maybe", Some(b"v"), None); // +1 if the tree lacks it
        held.hold(b"also", None, None); // -1 if the tree has it
        let asked = std::cell::RefCell::new(Vec::new());
        let in_tree = |key: &[u8]| {
            asked.borrow_mut().push(key.to_vec());
            Ok(key == b"also")
        };
        assert_eq!(held.len_change(in_tree).unwrap(), 0);
        assert_eq!(asked.borrow().len(), 2, "the two unknown keys");
        assert_eq!(
            held.len_change(|_| unreachable!()).unwrap(),
            0,
            "resolved once"
        );
        let keys: Vec<&[u8]> = held
            .range(Bound::Unbounded, Bound::Unbounded)
            .map(|(k, _)| k)
            .collect();
        assert_eq!(
            keys,
            [&b"also"[..], b"maybe", b"new", b"old"],
            "in key order"
        );
    }

    #[test]
    fn held_keys_order_as_their_bytes_do() {
        let keys: [&[u8]; 10] = [
            b"",
            b"\0",
            b"a",
            b"a\0",
            b"ab",
            b"abcdefgh",
            b"abcdefgh\0",
            b"abcdefghi",
            b"abcdefgi",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(
                    HeldKey::new(a).cmp(&HeldKey::new(b)),
                    a.cmp(b),
                    "{a:?} against {b:?}"
                );
            }
        }
    }

    #[test]
    fn holding_reports_when_the_capacity_is_reached() {
        let mut held = HeldWrites::new(200);
        let full = (0..100u8).any(|i| held.hold(&[i], Some(&[0; 50]), Some(false)));
        assert!(full);
        assert!(held.bytes() >= 200);
    }
}
