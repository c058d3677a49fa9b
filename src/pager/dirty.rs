//! Building and sealing pages a write transaction writes, the same in both storage modes.

use crate::format::{PageHeader, PageKind, node, page_checksum};
use crate::ids::{PageId, PageMap, PageSet};

/// A new, empty node page `id` of `kind`, written by transaction `txn`.
pub(crate) fn empty_node(id: u64, kind: PageKind, txn: u64, page_size: usize) -> Box<[u8]> {
    let mut page = vec![0u8; page_size].into_boxed_slice();
    node::init(&mut page, kind);
    let header = PageHeader::of_mut(&mut page);
    header.page_id = id.into();
    header.txn_id = txn.into();
    page
}

/// A page of `dirty` not in `sealed`, if any (`PageStore::unsealed_page`).
pub(crate) fn first_unsealed(dirty: &PageMap<Box<[u8]>>, sealed: &PageSet) -> Option<PageId> {
    dirty
        .keys()
        .find(|id| !sealed.contains(id))
        .map(|&id| PageId(id))
}

/// Computes the page's checksum, stores it in its header and returns it: its content is final.
pub(crate) fn seal(page: &mut [u8]) -> u32 {
    let crc = page_checksum(page);
    PageHeader::of_mut(page).checksum = crc.into();
    crc
}
