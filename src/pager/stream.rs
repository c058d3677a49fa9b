//! The allocation streams: which kind of page an allocation is for, so that pages likely
//! to die together are placed together.

/// Where a single page goes (DESIGN.md, "Freelist and reader tracking"). Pages that die
/// together are kept together, so that they leave whole runs behind for later commits to
/// write as one extent, instead of holes between pages that live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stream {
    /// A copy of a page one of the last few commits wrote (a root, an upper branch, the
    /// catalog): likely to be copied again by the next one.
    Hot = 0,
    /// Any other page: likely to live long, so it fills the smallest free holes.
    Cold = 1,
    /// The freelist's own pages: they live until the log is next rewritten, then go together.
    Freelist = 2,
}

/// How many streams there are.
pub(crate) const STREAMS: usize = 3;
