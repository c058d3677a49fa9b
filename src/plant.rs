//! Known protocol bugs that the crash simulation must catch, planted one at a time behind
//! the `planted-bugs` feature (tests/crash_plants.rs). Without the feature every check is a
//! constant `false`.

/// A bug to plant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Bug {
    /// Two-phase commit without the sync between the pages and the meta.
    NoSyncBeforeMeta = 1,
    /// Every transaction writes meta slot 0.
    SameMetaSlot = 2,
    /// A changed page is rewritten in place instead of copied.
    UpdateInPlace = 3,
    /// A freed page is reused before the commit that freed it is durable.
    ReuseBeforeDurable = 4,
    /// A commit that grew the file syncs data only, not the new length.
    NoSyncAfterGrowth = 5,
    /// Creating a file does not sync its directory.
    NoDirectorySync = 6,
    /// A commit queued behind a sync in flight returns without waiting for its own sync.
    GroupReturnsBeforeSync = 7,
    /// A transaction begun while a group's sync runs treats that group's pages as written
    /// after the newest durable commit, so pages it frees are reused at once.
    GroupPagesVolatile = 8,
    /// A commit begun during a group's sync and made after it writes its meta into the slot
    /// its id named at begin, which may now hold the group's durable meta.
    StaleSlotAfterGroup = 9,
    /// A queued commit reuses at once the pages of the group it began beside even when that
    /// group's meta was written while it ran (its sync may make them durable).
    RecycleAfterGroupWritten = 10,
    /// The open takes the newest commit record of a chain without verifying its pages.
    ChainRecordTrusted = 11,
    /// Any meta written after a chain gives the chain's withheld pages back, durable or not.
    ChainPagesReleasedEarly = 12,
}

#[cfg(feature = "planted-bugs")]
static PLANTED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Plants `bug` (or none) for the whole process.
#[cfg(feature = "planted-bugs")]
pub fn plant(bug: Option<Bug>) {
    PLANTED.store(
        bug.map_or(0, |b| b as u8),
        std::sync::atomic::Ordering::SeqCst,
    );
}

/// Without the `planted-bugs` feature nothing can be planted.
#[cfg(not(feature = "planted-bugs"))]
pub fn plant(_bug: Option<Bug>) {}

#[cfg(feature = "planted-bugs")]
pub(crate) fn planted(bug: Bug) -> bool {
    PLANTED.load(std::sync::atomic::Ordering::SeqCst) == bug as u8
}

#[cfg(not(feature = "planted-bugs"))]
#[inline(always)]
pub(crate) fn planted(_bug: Bug) -> bool {
    false
}
