//! A copy-on-write page store in memory, for the tree's unit tests: committed pages and this
//! transaction's pages side by side, ids from a counter or from a free list (lowest first
//! while compacting), every free recorded.

use crate::error::{Error, Result};
use crate::format::{PageHeader, PageKind, page_checksum};
use crate::ids::{PageId, Ptr};
use crate::pager::{PageSource, PageStore};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) struct TestStore {
    page_size: usize,
    /// Pages of earlier transactions (sealed).
    committed: BTreeMap<u64, Box<[u8]>>,
    /// Pages of this transaction.
    dirty: BTreeMap<u64, Box<[u8]>>,
    /// Values of overflow runs, by first page and page count.
    runs: BTreeMap<u64, (Vec<u8>, u64)>,
    free: BTreeSet<u64>,
    next: u64,
    pub freed: Vec<u64>,
    /// Compacting below this limit: allocations take the lowest free id.
    pub limit: Option<u64>,
}

impl TestStore {
    pub(crate) fn new(page_size: usize) -> Self {
        TestStore {
            page_size,
            committed: BTreeMap::new(),
            dirty: BTreeMap::new(),
            runs: BTreeMap::new(),
            free: BTreeSet::new(),
            next: 2,
            freed: Vec::new(),
            limit: None,
        }
    }

    /// Ends the transaction: seals the tree at `root` and makes every page committed.
    pub(crate) fn commit(&mut self, root: Option<Ptr>) -> Result<Option<Ptr>> {
        let root = super::seal_tree(self, root)?;
        self.committed.append(&mut self.dirty);
        self.free.extend(self.freed.drain(..));
        Ok(root)
    }

    /// Ids from now on start at `next`, and `free` may be reused.
    pub(crate) fn spread(&mut self, next: u64, free: impl IntoIterator<Item = u64>) {
        self.next = self.next.max(next);
        self.free.extend(free);
    }

    pub(crate) fn dirty_ids(&self) -> Vec<u64> {
        self.dirty.keys().copied().collect()
    }

    /// Every page id the tree at `root` reaches, overflow runs included.
    pub(crate) fn reachable(&self, root: Option<Ptr>) -> Vec<u64> {
        let mut ids = Vec::new();
        let mut stack: Vec<Ptr> = root.into_iter().collect();
        while let Some(ptr) = stack.pop() {
            ids.push(ptr.page.0);
            let node = super::node_at(self, ptr).expect("a whole tree");
            for i in 0..node.len() {
                if node.is_branch() {
                    stack.push(node.child(i).unwrap());
                } else if let crate::format::node::LeafValue::Overflow { ptr, .. } =
                    node.value(i).unwrap()
                {
                    ids.push(ptr.page.0);
                }
            }
        }
        ids.sort_unstable();
        ids
    }

    fn take_id(&mut self, count: u64) -> u64 {
        if self.limit.is_some() {
            // The lowest run of `count` free ids.
            let start = self
                .free
                .iter()
                .copied()
                .find(|&id| (id..id + count).all(|i| self.free.contains(&i)));
            if let Some(start) = start {
                for id in start..start + count {
                    self.free.remove(&id);
                }
                return start;
            }
        }
        let id = self.next;
        self.next += count;
        id
    }
}

impl PageSource for TestStore {
    fn page_size(&self) -> usize {
        self.page_size
    }

    fn page(&self, ptr: Ptr) -> Result<&[u8]> {
        if let Some(page) = self.dirty.get(&ptr.page.0) {
            return Ok(page);
        }
        let page = self
            .committed
            .get(&ptr.page.0)
            .ok_or_else(|| Error::corruption(ptr.page, "no such page"))?;
        if page_checksum(page) != ptr.crc {
            return Err(Error::corruption(ptr.page, "checksum mismatch"));
        }
        Ok(page)
    }

    fn overflow(&self, ptr: Ptr, _len: u64) -> Result<&[u8]> {
        self.runs
            .get(&ptr.page.0)
            .map(|(value, _)| &value[..])
            .ok_or_else(|| Error::corruption(ptr.page, "no such run"))
    }
}

impl PageStore for TestStore {
    fn is_dirty(&self, id: PageId) -> bool {
        self.dirty.contains_key(&id.0)
    }

    fn page_mut(&mut self, id: PageId) -> &mut [u8] {
        self.dirty.get_mut(&id.0).expect("dirty")
    }

    fn make_dirty(&mut self, ptr: Ptr) -> Result<PageId> {
        if self.dirty.contains_key(&ptr.page.0) {
            return Ok(ptr.page);
        }
        let mut page: Box<[u8]> = self.page(ptr)?.into();
        let id = self.take_id(1);
        PageHeader::of_mut(&mut page).page_id = id.into();
        self.dirty.insert(id, page);
        self.free(ptr.page)?;
        Ok(PageId(id))
    }

    fn allocate(&mut self, kind: PageKind) -> Result<PageId> {
        let id = self.take_id(1);
        let page = crate::pager::empty_node(id, kind, 1, self.page_size);
        self.dirty.insert(id, page);
        Ok(PageId(id))
    }

    fn free(&mut self, id: PageId) -> Result<()> {
        self.committed.remove(&id.0);
        self.dirty.remove(&id.0);
        self.freed.push(id.0);
        Ok(())
    }

    fn write_overflow(&mut self, value: &[u8]) -> Result<Ptr> {
        let pages = crate::format::overflow::run_pages(self.page_size, value.len() as u64);
        let id = self.take_id(pages);
        let crc = crc32c::crc32c(value);
        self.runs.insert(id, (value.to_vec(), pages));
        Ok(Ptr {
            page: PageId(id),
            crc,
        })
    }

    fn free_overflow(&mut self, ptr: Ptr, _len: u64) -> Result<()> {
        if let Some((_, pages)) = self.runs.remove(&ptr.page.0) {
            self.freed.extend(ptr.page.0..ptr.page.0 + pages);
        }
        Ok(())
    }

    fn seal(&mut self, id: PageId) -> Result<u32> {
        let page = self.dirty.get_mut(&id.0).expect("dirty");
        Ok(crate::pager::seal(page))
    }

    fn relocate(&mut self, ptr: Ptr) -> Result<PageId> {
        self.make_dirty(ptr)
    }

    fn compaction(&self) -> Option<(u64, bool)> {
        let limit = self.limit?;
        Some((limit, self.free.first().is_some_and(|&id| id < limit)))
    }

    fn unsealed_page(&self) -> Option<PageId> {
        None
    }
}
