//! Newtypes for the two kinds of number that must never be swapped.

use std::fmt;

/// The index of a page in the file (byte offset = id * page size).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PageId(pub u64);

/// A transaction id; committed transactions have strictly increasing ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TxnId(pub u64);

impl From<PageId> for u64 {
    fn from(id: PageId) -> u64 {
        id.0
    }
}

impl fmt::Display for PageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A pointer to a page together with the checksum the page must carry. Storing the child's
/// checksum beside every pointer lets a reader detect a stale or misdirected page
/// (DESIGN.md, "Checksums").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ptr {
    pub page: PageId,
    pub crc: u32,
}
