//! The integrity check and statistics.

use super::Database;
use crate::btree::{PageMarks, TreeSummary, check_tree};
use crate::error::{Error, Result};
use crate::ids::Ptr;
use crate::pager::{FreeList, ReadPages};
use crate::txn::{ReadTransaction, list_tables};

/// What `Database::check` verified.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckReport {
    /// Tables in the catalog.
    pub tables: u64,
    /// Entries in all tables.
    pub entries: u64,
    /// Branch pages of every tree, the catalog's included.
    pub branch_pages: u64,
    /// Leaf pages of every tree, the catalog's included.
    pub leaf_pages: u64,
    /// Pages of overflow runs (large values).
    pub overflow_pages: u64,
    /// Pages of the freelist's chain.
    pub freelist_pages: u64,
    /// Page ids the freelist records as free (reusable now or later).
    pub free_pages: u64,
    /// Pages `[0, high_water)` are in use or free.
    pub high_water: u64,
}

/// A summary of the file and its pages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// The page size the file was created with.
    pub page_size: usize,
    /// The file's length in bytes.
    pub file_size: u64,
    /// The transaction the newest snapshot was committed by.
    pub txn_id: u64,
    /// Levels of the deepest table (1 = a single leaf).
    pub depth: u32,
    /// Branch pages of every tree, the catalog's included.
    pub branch_pages: u64,
    /// Leaf pages of every tree, the catalog's included.
    pub leaf_pages: u64,
    /// Pages of overflow runs (large values).
    pub overflow_pages: u64,
    /// Pages of the freelist's chain.
    pub freelist_pages: u64,
    /// Free pages reusable now.
    pub free_pages: u64,
    /// Freed pages a live reader or a not-yet-durable commit still holds.
    pub pending_pages: u64,
    /// Pages `[0, high_water)` are in use or free.
    pub high_water: u64,
    /// The newest meta was not whole at open and the previous commit was used instead.
    pub fell_back_to_older_meta: bool,
    /// The storage mode.
    pub mode: crate::Mode,
    /// How long the oldest live read transaction has been open (`None` without one).
    pub oldest_reader_age: Option<std::time::Duration>,
    /// Freed pages the oldest live read transaction holds back from reuse.
    pub oldest_reader_pinned_pages: u64,
    /// Durable commits since the database was opened.
    pub durable_commits: u64,
    /// Syncs those commits made: fewer than the commits when commits made at once shared a
    /// sync (DESIGN.md, "Group commit").
    pub commit_syncs: u64,
    /// Write-ahead-log mode: frames of log the open replayed.
    pub recovered_frames: u64,
    /// Write-ahead-log mode: bytes of log the open replayed.
    pub recovered_bytes: u64,
    /// Write-ahead-log mode: how long the replay (scan, copy into the file, sync) took.
    pub recovery_time: std::time::Duration,
}

/// Walks every tree of the snapshot, marking pages. Returns per-tree summaries added up
/// and the table count.
fn walk_trees(
    pages: &ReadPages,
    catalog: Option<Ptr>,
    marks: &mut PageMarks,
    read_values: bool,
) -> Result<(TreeSummary, u64)> {
    let mut total = check_tree(pages, catalog, marks, read_values)?;
    let records = list_tables(pages, catalog)?;
    let mut entries = 0;
    total.depth = 0;
    for (name, record) in &records {
        let summary = check_tree(pages, record.root, marks, read_values)?;
        if summary.entries != record.len {
            return Err(Error::corruption(
                record.root.map_or(0, |r| r.page.0),
                format!(
                    "table {name:?} records {} entries but holds {}",
                    record.len, summary.entries
                ),
            ));
        }
        entries += summary.entries;
        total.branch_pages += summary.branch_pages;
        total.leaf_pages += summary.leaf_pages;
        total.overflow_pages += summary.overflow_pages;
        total.depth = total.depth.max(summary.depth);
    }
    total.entries = entries;
    Ok((total, records.len() as u64))
}

impl Database {
    /// A meta whose high-water mark lies far beyond the file (a damaged or crafted one) is
    /// reported before a walk sizes its tables by it. In log mode pages may live only in the
    /// log, so only an absurd mark (past 2^28 pages and the file) is refused there.
    fn plausible_high_water(&self, high_water: u64) -> Result<()> {
        let file_pages = self.shared.storage.len()? / self.shared.page_size as u64;
        let limit = match self.shared.mode {
            crate::Mode::CopyOnWrite => file_pages,
            crate::Mode::Wal => file_pages.max(1 << 28),
        };
        if high_water > limit {
            return Err(Error::corruption(
                0u64,
                format!("high-water mark {high_water} lies beyond the file ({file_pages} pages)"),
            ));
        }
        Ok(())
    }

    /// Verifies the newest snapshot: every page up to the high-water mark is reachable
    /// exactly once (from a table, the catalog or the freelist) or free, every checksum
    /// holds, keys are in order within and across pages, separators bound their children,
    /// leaves share one depth and entry counts match. `Err(Corruption)` on the first
    /// problem.
    pub fn check(&self) -> Result<CheckReport> {
        let rtx = self.begin_read()?;
        let snapshot = rtx.snapshot();
        let pages = snapshot.pages_all_hashed();
        let meta = &snapshot.meta;
        self.plausible_high_water(meta.high_water)?;
        let mut marks = PageMarks::new(meta.high_water);
        marks.mark(0, "meta")?;
        marks.mark(1, "meta")?;
        let (summary, tables) = walk_trees(&pages, meta.catalog, &mut marks, true)?;
        let freelist = FreeList::load(&pages, meta)?;
        for &id in freelist.chain_pages() {
            marks.mark(id, "freelist")?;
        }
        let mut free_pages = 0;
        for id in freelist.free_ids() {
            marks.mark(id, "free")?;
            free_pages += 1;
        }
        if let Some(id) = marks.first_unmarked() {
            return Err(Error::corruption(
                id,
                "page is neither reachable nor free (leaked)",
            ));
        }
        Ok(CheckReport {
            tables,
            entries: summary.entries,
            branch_pages: summary.branch_pages,
            leaf_pages: summary.leaf_pages,
            overflow_pages: summary.overflow_pages,
            freelist_pages: freelist.chain_pages().len() as u64,
            free_pages,
            high_water: meta.high_water,
        })
    }

    /// Every live read transaction, oldest snapshot first: the snapshot it sees, how long it
    /// has been open and how many freed pages it holds back from reuse. A reader that lives
    /// long (or was leaked with `std::mem::forget`) shows here with a growing count; the
    /// file grows by what it pins. Cheap: no tree is walked.
    pub fn readers(&self) -> Vec<crate::ReaderInfo> {
        self.shared.published().readers.list()
    }

    /// Page counts by kind, sizes and depth of the newest snapshot. Walks every tree (without
    /// reading overflow values), so its cost grows with the database.
    pub fn stats(&self) -> Result<Stats> {
        // Before this call's own reader registers.
        let oldest = self.readers().into_iter().next();
        let rtx = self.begin_read()?;
        let snapshot = rtx.snapshot();
        let pages = snapshot.pages();
        let meta = &snapshot.meta;
        self.plausible_high_water(meta.high_water)?;
        let mut marks = PageMarks::new(meta.high_water);
        let (summary, _) = walk_trees(&pages, meta.catalog, &mut marks, false)?;
        let mut freelist = FreeList::load(&pages, meta)?;
        let (reader_bound, durable_bound) = self.shared.reuse_thresholds();
        freelist.release(reader_bound, durable_bound);
        let counts = self.shared.commits.counts();
        Ok(Stats {
            page_size: meta.page_size as usize,
            file_size: self.shared.storage.len()?,
            txn_id: meta.txn_id.0,
            depth: summary.depth,
            branch_pages: summary.branch_pages,
            leaf_pages: summary.leaf_pages,
            overflow_pages: summary.overflow_pages,
            freelist_pages: freelist.chain_pages().len() as u64,
            free_pages: freelist.ready_count(),
            pending_pages: freelist.pending_count(),
            high_water: meta.high_water,
            fell_back_to_older_meta: self.shared.fell_back.is_some(),
            mode: self.shared.mode,
            oldest_reader_age: oldest.as_ref().map(|r| r.age),
            oldest_reader_pinned_pages: oldest.map_or(0, |r| r.pinned_pages),
            durable_commits: counts.durable_commits,
            commit_syncs: counts.syncs,
            recovered_frames: self.shared.recovery.frames,
            recovered_bytes: self.shared.recovery.bytes,
            recovery_time: self.shared.recovery.time,
        })
    }
}

/// One table as a snapshot holds it: what `ReadTransaction::table_summaries` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableSummary {
    /// The table's name.
    pub name: String,
    /// Its entries.
    pub entries: u64,
    /// Levels of its tree (0 for an empty table, 1 for a single leaf).
    pub depth: u32,
    /// Its branch pages.
    pub branch_pages: u64,
    /// Its leaf pages.
    pub leaf_pages: u64,
    /// Pages of its overflow runs.
    pub overflow_pages: u64,
    /// The names of its key and value encodings (`bytes` for tables of bytes).
    pub key_type: String,
    /// See `key_type`.
    pub value_type: String,
}

impl ReadTransaction {
    /// Every table of this snapshot with its entries, depth, pages and recorded types, sorted
    /// by name. Walks every tree (pages checked against their parents' checksums, overflow
    /// values not read), so its cost grows with the database.
    pub fn table_summaries(&self) -> Result<Vec<TableSummary>> {
        let snapshot = self.snapshot();
        let pages = snapshot.pages();
        let mut marks = PageMarks::new(snapshot.meta.high_water);
        list_tables(&pages, snapshot.meta.catalog)?
            .into_iter()
            .map(|(name, record)| {
                let summary = check_tree(&pages, record.root, &mut marks, false)?;
                Ok(TableSummary {
                    name,
                    entries: record.len,
                    depth: summary.depth,
                    branch_pages: summary.branch_pages,
                    leaf_pages: summary.leaf_pages,
                    overflow_pages: summary.overflow_pages,
                    key_type: record.types.key,
                    value_type: record.types.value,
                })
            })
            .collect()
    }

    pub(crate) fn snapshot(&self) -> &crate::txn::Snapshot {
        self.snapshot_ref()
    }
}
