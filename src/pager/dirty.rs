//! The pages one tree of a write transaction changed, the same type in both storage modes,
//! and building and sealing them. A write transaction keeps one set per open table (so that
//! reads of one table never borrow pages another table's writes may move) and one for the
//! catalog and the freelist (DESIGN.md, "Several tables in one transaction").

use crate::format::{PageHeader, PageKind, node, page_checksum};
use crate::ids::{PageId, PageMap, PageSet};
use std::collections::BTreeMap;

/// Changed pages held in memory, those already sealed, those written early and the
/// overflow runs kept in memory.
#[derive(Debug, Default, Clone)]
pub(crate) struct DirtyPages {
    /// Pages written by this transaction, held in memory.
    pub(super) pages: PageMap<Box<[u8]>>,
    /// Pages of `pages` sealed for the commit.
    pub(super) sealed: PageSet,
    /// Copy-on-write mode: pages this transaction wrote, sealed and already in the file
    /// (spilled to stay within the memory budget), with their checksums. None of their
    /// children is in `pages` (DESIGN.md, "Spilling dirty pages").
    pub(super) spilled: PageMap<u32>,
    /// Write-ahead-log mode: overflow runs written by this transaction, by first page.
    pub(super) runs: BTreeMap<u64, Box<[u8]>>,
    /// Copy-on-write mode: how many times a spilled page was read back to change it again.
    pub(super) read_back: u64,
    /// Bytes of the memory budget set aside for held writes (`PageStore::reserve_memory`).
    pub(super) reserved: usize,
}

impl DirtyPages {
    /// Bytes of pages and overflow runs held in memory.
    pub(crate) fn bytes(&self, page_size: usize) -> usize {
        self.pages.len() * page_size + self.runs.values().map(|r| r.len()).sum::<usize>()
    }

    /// Takes over every page of `other` (a disjoint set: each page belongs to one tree).
    pub(crate) fn absorb(&mut self, other: DirtyPages) {
        debug_assert!(
            other.pages.keys().all(|id| !self.pages.contains_key(id)),
            "a dirty page belongs to one tree"
        );
        self.pages.extend(other.pages);
        self.sealed.extend(other.sealed);
        self.spilled.extend(other.spilled);
        self.runs.extend(other.runs);
        self.read_back += other.read_back;
    }

    /// A page of `pages` not in `sealed`, if any (`PageStore::unsealed_page`).
    pub(super) fn first_unsealed(&self) -> Option<PageId> {
        self.pages
            .keys()
            .find(|id| !self.sealed.contains(id))
            .map(|&id| PageId(id))
    }

    /// Seals page `id` (it must be in memory) and returns its checksum.
    pub(super) fn seal(&mut self, id: PageId) -> u32 {
        self.sealed.insert(id.0);
        seal(
            self.pages
                .get_mut(&id.0)
                .expect("only pages in memory are sealed"),
        )
    }
}

/// A new, empty node page `id` of `kind`, written by transaction `txn`.
pub(crate) fn empty_node(id: u64, kind: PageKind, txn: u64, page_size: usize) -> Box<[u8]> {
    let mut page = vec![0u8; page_size].into_boxed_slice();
    node::init(&mut page, kind);
    let header = PageHeader::of_mut(&mut page);
    header.page_id = id.into();
    header.txn_id = txn.into();
    page
}

/// Computes the page's checksum, stores it in its header and returns it: its content is final.
pub(crate) fn seal(page: &mut [u8]) -> u32 {
    let crc = page_checksum(page);
    PageHeader::of_mut(page).checksum = crc.into();
    crc
}
