//! Copies the newest version of every page in the log into the main file.

use super::{WalIndex, WalLog};
use crate::error::Result;
use crate::format::Meta;
use crate::io::Storage;
use crate::pager::page_runs::write_page_runs;

/// Makes the main file hold the state of `meta`, a transaction in the log: syncs the log (its
/// frames must be durable before any page they replace is overwritten), writes in place the
/// newest version up to `meta` of each page logged after `floor` (the file holds the state of
/// `floor` already), syncs, then writes the meta and syncs again. A crash at any point leaves
/// the log whole, and the next open repeats the copy. Returns the main file's new length.
pub(crate) fn checkpoint(
    main: &dyn Storage,
    main_len: u64,
    log: &mut WalLog,
    index: &WalIndex,
    floor: u64,
    meta: &Meta,
) -> Result<u64> {
    log.sync()?;
    let page_size = meta.page_size as u64;
    let mut main_len = main_len;
    let need = meta.high_water * page_size;
    let grew = need > main_len;
    if grew {
        main.set_len(need)?;
        main_len = need;
    }
    // Pages at or past the high-water mark are free, and may lie past the file's end once
    // its tail was given back (DESIGN.md, "Giving space back"): writing them would grow it.
    let mut pages: Vec<(u64, u64)> = index
        .newest_versions(floor, meta.txn_id.0)
        .filter(|&(page, _)| page < meta.high_water)
        .collect();
    pages.sort_unstable();
    let pages = pages
        .into_iter()
        .map(|(page, offset)| Ok((page, log.read(offset, page_size as usize)?)));
    write_page_runs(main, page_size as usize, pages)?;
    // The pages are synced before the meta that names them, so the meta is written with
    // "pages synced first" truthfully (and an open redoes the copy anyway while the log holds
    // the transaction).
    main.sync(true)?;
    let settled = Meta {
        pages_synced_first: true,
        ..meta.clone()
    };
    main.write_at(&settled.encode(), settled.slot() * page_size)?;
    main.sync(false)?;
    Ok(main_len)
}
