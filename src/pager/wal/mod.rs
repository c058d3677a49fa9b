//! Write-ahead-log mode (DESIGN.md, "Write-ahead-log mode"): pages are changed in place, but
//! only in the main file at a checkpoint; a commit appends the changed pages to the log and
//! syncs it once. Readers find a page's version for their snapshot through the log index.

mod checkpoint;
mod index;
mod log;
mod pager;
mod space;

pub(crate) use checkpoint::checkpoint;
pub(crate) use index::WalIndex;
pub(crate) use log::{Recovered, WalLog};
pub(crate) use pager::{WalPager, WalPagerStart, WalStore};
