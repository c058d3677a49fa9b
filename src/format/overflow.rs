//! Overflow runs: a value too large for a leaf lives in a contiguous run of pages with one
//! header (DESIGN.md, "Overflow runs"). The header's `lower` holds the run length in pages,
//! `upper` the value length; the checksum covers the whole run.

use super::header::{HEADER_SIZE, PageHeader, PageKind};
use crate::error::{Error, Result};
use crate::ids::PageId;

/// Pages needed for a value of `len` bytes.
pub(crate) fn run_pages(page_size: usize, len: u64) -> u64 {
    // Saturating: `len` may come from a damaged cell; callers bound the run by the file.
    (HEADER_SIZE as u64)
        .saturating_add(len)
        .div_ceil(page_size as u64)
}

/// Fills in the header of a run (checksum excluded) in `first_page`.
pub(crate) fn write_header(first_page: &mut [u8], id: PageId, txn: u64, pages: u64, len: u64) {
    let header = PageHeader::of_mut(first_page);
    header.kind = PageKind::Overflow as u8;
    header.count = 0.into();
    header.page_id = id.0.into();
    header.txn_id = txn.into();
    header.lower = (pages as u32).into();
    header.upper = (len as u32).into();
}

/// Checks the first page of a run against the leaf cell that points to it.
pub(crate) fn check_header(
    first_page: &[u8],
    id: PageId,
    page_size: usize,
    len: u64,
) -> Result<u64> {
    let header = PageHeader::of(first_page);
    if header.kind() != Some(PageKind::Overflow) {
        return Err(Error::corruption(
            id,
            format!("expected an overflow page, found kind {}", header.kind),
        ));
    }
    let pages = header.lower.get() as u64;
    if header.upper.get() as u64 != len || pages != run_pages(page_size, len) {
        return Err(Error::corruption(
            id,
            format!(
                "overflow run of {pages} pages holding {} bytes does not match its leaf ({len} bytes)",
                header.upper.get()
            ),
        ));
    }
    Ok(pages)
}
