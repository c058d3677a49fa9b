//! On-disk layouts: the page header, meta pages, slotted tree pages, overflow runs and
//! freelist pages. Byte diagrams live in DESIGN.md, "File format"; the `const` assertions
//! below keep the structs and the document from drifting.

pub(crate) mod commit_record;
pub(crate) mod freelist_page;
pub(crate) mod header;
pub(crate) mod meta;
pub(crate) mod node;
pub(crate) mod overflow;

pub(crate) use header::{HEADER_SIZE, PageHeader, PageKind};
pub(crate) use meta::Meta;

/// Smallest and largest page sizes accepted.
pub(crate) const MIN_PAGE_SIZE: usize = 4096;
pub(crate) const MAX_PAGE_SIZE: usize = 65536;

/// The newest on-disk format version this build writes (a meta with a chained commit
/// record); it also reads versions 1 and 2 (`format::meta`).
pub(crate) const FORMAT_VERSION: u32 = 3;

pub(crate) fn valid_page_size(size: usize) -> bool {
    size.is_power_of_two() && (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size)
}

/// crc32c of the bytes of a page or run after its checksum field.
pub(crate) fn page_checksum(bytes: &[u8]) -> u32 {
    crc32c::crc32c(&bytes[4..])
}
