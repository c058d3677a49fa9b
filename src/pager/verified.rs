//! Which page versions this process has already hashed and found whole (DESIGN.md,
//! "Checksums"). A page reachable from a snapshot never changes while it is reachable, so
//! hashing one version once is enough; a new version of a page carries a new checksum, which
//! its parent records, and is hashed again.

use crate::io::ZeroedWords;
use std::sync::atomic::{AtomicU64, Ordering};

/// Slots: one per page id below this, so a file of up to 8 GiB of 4 KiB pages never has two
/// pages share one. The table lives in an anonymous map, which takes memory only for the
/// parts of it written: about 8 bytes per page of the file, not 16 MiB (DESIGN.md,
/// "Checksums").
const SLOTS: usize = 1 << 21;

/// A direct-mapped table of (page id, checksum) pairs. A slot holds the low 32 bits of the id
/// and the checksum in one atomic word, so a reader never sees half of an entry; ids of 2^32
/// and above, and the metas' ids 0 and 1, are never cached, so no entry is 0, which marks an
/// empty slot, and no version is taken for hashed before it is.
#[derive(Debug)]
pub(crate) struct VerifiedPages {
    slots: ZeroedWords,
}

impl VerifiedPages {
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(VerifiedPages {
            slots: ZeroedWords::new(SLOTS)?,
        })
    }

    fn slot(&self, page: u64, crc: u32) -> Option<(&AtomicU64, u64)> {
        let low = u32::try_from(page).ok().filter(|&low| low > 1)?;
        let entry = (u64::from(low) << 32) | u64::from(crc);
        Some((&self.slots.words()[page as usize % SLOTS], entry))
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
        let cache = VerifiedPages::new().unwrap();
        assert!(!cache.contains(7, 0xabc));
        cache.insert(7, 0xabc);
        assert!(cache.contains(7, 0xabc));
        assert!(!cache.contains(7, 0xabd));
        assert!(!cache.contains(7 + SLOTS as u64, 0xabc));
        cache.insert(7 + SLOTS as u64, 0x1);
        assert!(!cache.contains(7, 0xabc), "a slot holds one version");
        // No page version is taken for hashed before it is, whatever its id and checksum.
        let fresh = VerifiedPages::new().unwrap();
        for page in [0, 1, SLOTS as u64 - 1, 0xFFFF_FFFF] {
            for crc in [0, 1, 0xFFFF_FFFF] {
                assert!(!fresh.contains(page, crc), "page {page:#x} crc {crc:#x}");
            }
        }
        // Pages 65,536 apart, as in a file of a few hundred MiB, keep a slot each.
        cache.insert(70_000, 3);
        cache.insert(70_000 - 65_536, 4);
        assert!(cache.contains(70_000, 3) && cache.contains(70_000 - 65_536, 4));
        // Every page of a file of 8 GiB of 4 KiB pages keeps its own slot.
        let whole = VerifiedPages::new().unwrap();
        let pages = 2..SLOTS as u64;
        for page in pages.clone().step_by(7) {
            whole.insert(page, page as u32 ^ 0x5555);
        }
        assert!(
            pages
                .step_by(7)
                .all(|page| whole.contains(page, page as u32 ^ 0x5555))
        );
        cache.insert(1 << 33, 5);
        assert!(
            !cache.contains(1 << 33, 5),
            "ids past 32 bits are not cached"
        );
    }
}
