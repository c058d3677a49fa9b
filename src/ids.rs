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

impl Ptr {
    /// The checksum a branch cell carries while its child is a page of the current
    /// transaction that is not sealed yet (DESIGN.md, "Commit protocol", step 1): sealing
    /// enters only cells that carry it, and skips any whose child is not dirty (a sealed page
    /// whose checksum happens to be 0).
    pub(crate) const UNSEALED: u32 = 0;

    /// Whether the pointer carries `UNSEALED`.
    pub(crate) fn is_unsealed(&self) -> bool {
        self.crc == Self::UNSEALED
    }
}

/// A hasher for page ids and other integer keys the engine generates itself: one folded
/// multiply instead of SipHash, whose resistance to chosen keys buys nothing here (page ids
/// come from the allocator, not from users) and costs a tenth of every tree operation.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let product = u128::from(self.0) * 0x9E37_79B9_7F4A_7C15;
        (product as u64) ^ ((product >> 64) as u64)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(29) ^ n;
    }
}

/// A map keyed by page id (or another engine-made integer).
pub(crate) type PageMap<V> =
    std::collections::HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A set of page ids (or other engine-made integers).
pub(crate) type PageSet = std::collections::HashSet<u64, std::hash::BuildHasherDefault<IdHasher>>;
