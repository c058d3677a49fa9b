//! The one page writer of commits and checkpoints: pages go to their places in the file in
//! runs of contiguous ids, one storage write per run, so a commit or a copy costs as few
//! extents as its page ids allow (a file splits the run into page-sized writes, DESIGN.md,
//! "Page-sized writes"; writeback still sends contiguous pages to the disk together).

use crate::error::Result;
use crate::io::Storage;

/// A run is written in pieces of at most this many bytes.
const MAX_WRITE: usize = 1 << 20;

/// Writes each `(page id, bytes)` at `id * page_size` in `storage`; `pages` come in
/// ascending id order. Contiguous pages are written together, straight from their bytes.
pub(crate) fn write_page_runs<'a>(
    storage: &dyn Storage,
    page_size: usize,
    pages: impl IntoIterator<Item = Result<(u64, &'a [u8])>>,
) -> Result<()> {
    let pages_per_write = (MAX_WRITE / page_size).max(1);
    let mut run: Vec<&[u8]> = Vec::new();
    let mut run_start = 0;
    for page in pages {
        let (id, bytes) = page?;
        debug_assert!(
            run.is_empty() || id >= run_start + run.len() as u64,
            "pages out of order"
        );
        let extends =
            !run.is_empty() && id == run_start + run.len() as u64 && run.len() < pages_per_write;
        if !extends {
            flush(storage, page_size, run_start, &mut run)?;
            run_start = id;
        }
        run.push(bytes);
    }
    flush(storage, page_size, run_start, &mut run)
}

/// Writes the pages of `run`, which begins at page `start`, and empties it.
fn flush(storage: &dyn Storage, page_size: usize, start: u64, run: &mut Vec<&[u8]>) -> Result<()> {
    if !run.is_empty() {
        storage.write_pages(run, start * page_size as u64)?;
    }
    run.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::sim::SimDisk;

    #[test]
    fn contiguous_pages_go_in_one_write_each_run() {
        let disk = SimDisk::new();
        disk.record();
        let page = |n: u8| vec![n; 64];
        let pages: Vec<(u64, Vec<u8>)> = [2, 3, 4, 9, 11, 12]
            .iter()
            .map(|&id| (id, page(id as u8)))
            .collect();
        write_page_runs(
            &disk,
            64,
            pages.iter().map(|(id, bytes)| Ok((*id, bytes.as_slice()))),
        )
        .unwrap();
        assert_eq!(disk.event_count(), 3, "runs 2-4, 9, 11-12");
        let contents = disk.contents();
        for (id, bytes) in &pages {
            let at = *id as usize * 64;
            assert_eq!(&contents[at..at + 64], bytes.as_slice());
        }
    }
}
