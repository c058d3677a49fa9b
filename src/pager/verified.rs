//! Which page versions this process has already hashed and found whole (DESIGN.md,
//! "Checksums"). A page reachable from a snapshot never changes while it is reachable, so
//! hashing one version once is enough; a new version of a page carries a new checksum, which
//! its parent records, and is hashed again.

use std::sync::atomic::{AtomicU64, Ordering};

const SLOTS: usize = 1 << 16;

/// A direct-mapped table of (page id, checksum) pairs. A slot holds the low 32 bits of the id
/// and the checksum in one atomic word, so a reader never sees half of an entry; ids of 2^32
/// and above are never cached.
#[derive(Debug)]
pub(crate) struct VerifiedPages {
    slots: Box<[AtomicU64]>,
}

/// What an empty slot holds: an entry no page can have in that slot (slot `i` holds ids equal
/// to `i` modulo `SLOTS`; this names id `i + 1`), so no version is taken for hashed before it
/// is. (`u64::MAX` would have been page `0xFFFF_FFFF` with checksum `0xFFFF_FFFF`.)
fn empty(slot: usize) -> u64 {
    (((slot + 1) % SLOTS) as u64) << 32
}

impl Default for VerifiedPages {
    fn default() -> Self {
        VerifiedPages {
            slots: (0..SLOTS).map(|i| AtomicU64::new(empty(i))).collect(),
        }
    }
}

impl VerifiedPages {
    fn slot(&self, page: u64, crc: u32) -> Option<(&AtomicU64, u64)> {
        let low = u32::try_from(page).ok()?;
        let entry = (u64::from(low) << 32) | u64::from(crc);
        Some((&self.slots[page as usize % SLOTS], entry))
    }

    /// Whether the version of `page` with checksum `crc` was hashed and found whole.
    pub(crate) fn contains(&self, page: u64, crc: u32) -> bool {
        self.slot(page, crc)
            .is_some_and(|(slot, entry)| slot.load(Ordering::Relaxed) == entry)
    }

    /// Records that the version of `page` with checksum `crc` hashed to `crc`.
    pub(crate) fn insert(&self, page: u64, crc: u32) {
        if let Some((slot, entry)) = self.slot(page, crc) {
            slot.store(entry, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_exact_versions_only() {
        let cache = VerifiedPages::default();
        assert!(!cache.contains(7, 0xabc));
        cache.insert(7, 0xabc);
        assert!(cache.contains(7, 0xabc));
        assert!(!cache.contains(7, 0xabd));
        assert!(!cache.contains(7 + SLOTS as u64, 0xabc));
        cache.insert(7 + SLOTS as u64, 0x1);
        assert!(!cache.contains(7, 0xabc), "a slot holds one version");
        // No page version is taken for hashed before it is, whatever its id and checksum.
        let fresh = VerifiedPages::default();
        for page in [0, 1, SLOTS as u64 - 1, 0xFFFF_FFFF] {
            for crc in [0, 1, 0xFFFF_FFFF] {
                assert!(!fresh.contains(page, crc), "page {page:#x} crc {crc:#x}");
            }
        }
        cache.insert(1 << 33, 5);
        assert!(
            !cache.contains(1 << 33, 5),
            "ids past 32 bits are not cached"
        );
    }
}
