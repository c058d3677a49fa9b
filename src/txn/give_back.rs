//! Giving the file's free tail back to the filesystem (DESIGN.md, "Giving space back").

use super::{Shared, WriterState};
use std::sync::Arc;

/// The tail kept past the pages in use: a sixty-fourth of them, at least this many pages.
const MIN_SLACK_PAGES: u64 = 16;
const SLACK_DIVISOR: u64 = 64;

/// Cuts the file past every page that a meta on disk or a live snapshot can reach, plus a
/// small slack, once the tail is larger than that slack twice over. Called by the writer
/// right after a sync that made both metas durable (a durable commit, a checkpoint), so no
/// state an open can choose reaches past the new end; readers keep their maps, whose pages
/// past the end they never read (they read below their snapshot's high-water mark only). A
/// failure leaves the file as long as it was, which is harmless: it is only logged.
pub(crate) fn give_back_tail(shared: &Shared, state: &mut WriterState) {
    let page_size = shared.page_size as u64;
    let readers = shared.published().readers.highest_high_water();
    let slot_high_water = shared.commits.slot_high_water();
    let reached = slot_high_water[0]
        .max(slot_high_water[1])
        .max(state.meta.high_water)
        .max(readers.unwrap_or(0));
    let slack = (reached / SLACK_DIVISOR).max(MIN_SLACK_PAGES);
    let keep = (reached + slack) * page_size;
    if state.file_len <= keep + slack * page_size {
        return;
    }
    if let Err(error) = shared.storage.set_len(keep) {
        log::warn!("bough: could not give back the file's free tail: {error}");
        return;
    }
    state.file_len = keep;
    // The next durable commit syncs the new length with the rest.
    state.length_unsynced = true;
    match crate::io::map_resized(&*shared.storage, &state.map, keep) {
        Ok(map) => state.map = Arc::new(map),
        Err(error) => {
            // The old map stays valid for every page below the high-water mark; a map of the
            // shorter file is made when it next grows.
            log::warn!("bough: could not map the file after giving back its tail: {error}");
        }
    }
}
