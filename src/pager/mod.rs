//! The pager: the page store the B+ tree works on. Readers see a snapshot through
//! [`ReadPages`]; a write transaction uses [`CowPager`], which copies a page before its first
//! change, allocates from the freelist and writes its pages at commit. The tree only sees the
//! [`PageSource`] and [`PageStore`] traits, never which storage mode is behind them.

mod alloc;
mod cow;
mod dirty;
mod free_set;
mod freelist;
mod read;
mod verified;
pub(crate) mod wal;

pub(crate) use cow::{CowPager, PagerStart};
pub(crate) use freelist::FreeList;
pub(crate) use read::{ReadPages, WalRead};
pub(crate) use verified::VerifiedPages;

use crate::error::Result;
use crate::format::PageKind;
use crate::format::freelist_page::RecordParts;
use crate::ids::{PageId, Ptr};

/// Read access to tree pages and overflow values.
pub(crate) trait PageSource {
    fn page_size(&self) -> usize;
    /// The page `ptr` points to, checked against `ptr.crc` (unless the page was written by
    /// the current transaction and is not sealed yet).
    fn page(&self, ptr: Ptr) -> Result<&[u8]>;
    /// The `len` bytes of the value stored in the overflow run at `ptr`.
    fn overflow(&self, ptr: Ptr, len: u64) -> Result<&[u8]>;
}

/// Write access for one transaction.
pub(crate) trait PageStore: PageSource {
    /// Whether `id` was written by this transaction (and may be changed in place).
    fn is_dirty(&self, id: PageId) -> bool;
    /// A dirty page's bytes; `id` must be dirty.
    fn page_mut(&mut self, id: PageId) -> &mut [u8];
    /// Makes the page at `ptr` changeable and returns its id: a copy on a fresh page in
    /// copy-on-write mode (the original is freed), the page itself if already dirty.
    fn make_dirty(&mut self, ptr: Ptr) -> Result<PageId>;
    /// A fresh, empty node of `kind`.
    fn allocate(&mut self, kind: PageKind) -> Result<PageId>;
    /// Releases a tree page no longer reachable from this transaction's trees.
    fn free(&mut self, id: PageId) -> Result<()>;
    /// Stores `value` in a new overflow run and returns the pointer to it.
    fn write_overflow(&mut self, value: &[u8]) -> Result<Ptr>;
    /// Releases the overflow run at `ptr` holding `len` bytes.
    fn free_overflow(&mut self, ptr: Ptr, len: u64) -> Result<()>;
    /// Computes and stores the checksum of dirty page `id` (its content is final).
    fn seal(&mut self, id: PageId) -> Result<u32>;
    /// The checksum of dirty page `id` if it is sealed already (written early, and not
    /// changed since): it and every page below it need no sealing.
    fn sealed_crc(&self, _id: PageId) -> Option<u32> {
        None
    }
    /// A page of this transaction still in memory that no `seal` reached, if any: sealing
    /// walks the trees, so such a page is one no tree reaches (checked before commit).
    fn unsealed_page(&self) -> Option<PageId>;
    /// Called between tree operations, when no page is half-changed: the store may write
    /// dirty pages early to keep its memory within budget.
    fn end_operation(&mut self) -> Result<()> {
        Ok(())
    }
    /// Whether this transaction keeps changing pages it wrote early to stay within its
    /// memory budget: its changes reach more pages than the budget holds, in no useful
    /// order, so changes applied in key order would serve it better (DESIGN.md, "Held
    /// writes").
    fn thrashing(&self) -> bool {
        false
    }
    /// Sets aside up to `bytes` of the memory budget for the transaction's other uses and
    /// returns how much it did: dirty pages keep within the rest from the next
    /// `end_operation` on.
    fn reserve_memory(&mut self, _bytes: usize) -> usize {
        0
    }
}

/// The page store of one write transaction, in either storage mode.
#[derive(Debug)]
pub(crate) enum TxnPager<'a> {
    Cow(CowPager<'a>),
    Wal(wal::WalPager),
}

impl TxnPager<'_> {
    pub(crate) fn store(&mut self) -> &mut dyn PageStore {
        match self {
            TxnPager::Cow(p) => p,
            TxnPager::Wal(p) => p,
        }
    }

    pub(crate) fn source(&self) -> &dyn PageSource {
        match self {
            TxnPager::Cow(p) => p,
            TxnPager::Wal(p) => p,
        }
    }

    /// Saves this transaction's freelist records; returns the new head of the chain and the
    /// records the meta holds.
    pub(crate) fn save_freelist(&mut self) -> Result<(Option<crate::ids::Ptr>, Vec<RecordParts>)> {
        match self {
            TxnPager::Cow(p) => p.save_freelist(),
            TxnPager::Wal(p) => Ok((p.save_freelist()?, Vec::new())),
        }
    }

    pub(crate) fn high_water(&self) -> u64 {
        match self {
            TxnPager::Cow(p) => p.high_water(),
            TxnPager::Wal(p) => p.high_water(),
        }
    }

    /// Ends an aborted transaction, handing back the freelist as it was.
    pub(crate) fn rollback(self) -> FreeList {
        match self {
            TxnPager::Cow(p) => p.rollback(),
            TxnPager::Wal(p) => p.rollback(),
        }
    }
}
