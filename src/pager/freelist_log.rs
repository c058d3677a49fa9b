//! The freelist's log on disk (DESIGN.md, "Freelist and reader tracking"), in one place: a
//! chain of freelist pages, newest first, each holding records, and the newest records in the
//! meta page itself. The walk that reads the chain, and the two ways a commit writes the log
//! (appending its own records, or a snapshot of the whole state), live here; what the records
//! say is replayed by [`super::FreeList`], and which pages the log is written on is the
//! allocator's choice.

use super::ReadPages;
use crate::error::{Error, Result};
use crate::format::freelist_page::{self, FreelistPage, Record};
use crate::format::{Meta, PageHeader};
use crate::ids::{PageId, Ptr};

/// Freelist pages written by a commit, to be added to its dirty pages.
pub(crate) type FreelistPages = Vec<(u64, Box<[u8]>)>;

/// Where a commit's freelist log ends: the head of its chain of pages, the records its meta
/// holds after them, and the pages it wrote for the chain.
pub(crate) struct SavedFreelist {
    pub head: Option<Ptr>,
    pub records_in_meta: Vec<Record>,
    pub pages: FreelistPages,
}

/// The log as the last commit left it.
#[derive(Debug, Default, Clone)]
pub(crate) struct FreelistLog {
    /// The chain's pages, head first.
    chain: Vec<u64>,
    /// For each page of `chain`, the transaction that wrote it.
    chain_written: Vec<u64>,
    head: Option<Ptr>,
    /// The newest records, which the meta page holds after the chain's (oldest first).
    records_in_meta: Vec<Record>,
}

/// Walks a freelist chain from `head`, newest page first. `page_of` gives a page's checked
/// bytes, or `None` to stop before it; `each` sees every page read. A chain longer than
/// `high_water` pages loops: `Corruption`.
pub(crate) fn walk_chain<'a>(
    head: Option<Ptr>,
    high_water: u64,
    mut page_of: impl FnMut(Ptr) -> Result<Option<&'a [u8]>>,
    mut each: impl FnMut(Ptr, &'a [u8], FreelistPage),
) -> Result<()> {
    let mut next = head;
    let mut walked = 0u64;
    while let Some(ptr) = next {
        walked += 1;
        if walked > high_water {
            return Err(Error::corruption(ptr.page, "freelist chain loops"));
        }
        let Some(bytes) = page_of(ptr)? else {
            return Ok(());
        };
        let page = freelist_page::decode(bytes, ptr.page)?;
        next = page.next;
        each(ptr, bytes, page);
    }
    Ok(())
}

impl FreelistLog {
    /// Reads the log `meta` ends. Returns it and its records in the order they are replayed
    /// (oldest first), each with the page it was read from (the meta's own for its records).
    pub(crate) fn load(
        pages: &ReadPages,
        meta: &Meta,
    ) -> Result<(FreelistLog, Vec<(PageId, Record)>)> {
        let mut log = FreelistLog {
            head: meta.freelist,
            records_in_meta: meta.freelist_records.clone(),
            ..FreelistLog::default()
        };
        let mut newest_first = Vec::new();
        walk_chain(
            meta.freelist,
            pages.high_water,
            |ptr| pages.checked_page(ptr).map(Some),
            |ptr, bytes, page| {
                log.chain.push(ptr.page.0);
                log.chain_written.push(PageHeader::of(bytes).txn_id.get());
                newest_first.push((ptr.page, page.records));
            },
        )?;
        let meta_page = PageId(meta.txn_id.0 % 2);
        let records = newest_first
            .into_iter()
            .rev()
            .flat_map(|(page, records)| records.into_iter().map(move |r| (page, r)))
            .chain(meta.freelist_records.iter().map(|r| (meta_page, r.clone())))
            .collect();
        Ok((log, records))
    }

    /// The chain's pages, head first.
    pub(crate) fn pages(&self) -> &[u64] {
        &self.chain
    }

    /// Appends `own` to the records the meta page holds if the meta's `capacity` bytes fit
    /// them all (no freelist page is written); else hands `own` back.
    pub(crate) fn append_in_meta(
        &mut self,
        own: Vec<Record>,
        capacity: usize,
    ) -> Result<SavedFreelist, Vec<Record>> {
        let held = &mut self.records_in_meta;
        let own_bytes = freelist_page::records_len(&own);
        if own_bytes > 0 && freelist_page::records_len(held.iter()) + own_bytes > capacity {
            return Err(own);
        }
        held.extend(own.into_iter().filter(|r| !r.ids.is_empty()));
        Ok(SavedFreelist {
            head: self.head,
            records_in_meta: held.clone(),
            pages: Vec::new(),
        })
    }

    /// Takes the records the meta page holds, to be written to pages.
    pub(crate) fn take_meta_records(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.records_in_meta)
    }

    /// Gives up the chain, which a snapshot replaces: its pages, each with the transaction
    /// that wrote it.
    pub(crate) fn take_chain(&mut self) -> impl Iterator<Item = (u64, u64)> + use<> {
        let chain = std::mem::take(&mut self.chain);
        let written = std::mem::take(&mut self.chain_written);
        chain.into_iter().zip(written)
    }

    /// Writes `records` onto `pages` as the new head of the chain (the whole chain if
    /// `snapshot`), as transaction `txn`, and returns where the log now ends.
    pub(crate) fn write(
        &mut self,
        mut pages: Vec<u64>,
        records: &[Record],
        snapshot: bool,
        txn: u64,
        page_size: usize,
    ) -> SavedFreelist {
        let packed = freelist_page::pack(records, page_size);
        let mut next = if snapshot { None } else { self.head };
        let mut written = Vec::with_capacity(pages.len());
        // Built from the tail: `pages[0]` becomes the head. The log replays oldest first, so
        // the head holds the newest pieces and the tail the oldest (records a meta held are
        // older than this commit's own, and may name the same pages).
        for (i, &id) in pages.iter().enumerate().rev() {
            let pieces = packed
                .get(pages.len() - 1 - i)
                .map_or(&[][..], Vec::as_slice);
            let mut page = vec![0u8; page_size].into_boxed_slice();
            let header = PageHeader::of_mut(&mut page);
            header.page_id = id.into();
            header.txn_id = txn.into();
            freelist_page::encode(&mut page, next, pieces);
            let crc = super::dirty::seal(&mut page);
            written.push((id, page));
            next = Some(Ptr {
                page: PageId(id),
                crc,
            });
        }
        let mut written_by = vec![txn; pages.len()];
        if !snapshot {
            pages.extend_from_slice(&self.chain);
            written_by.extend_from_slice(&self.chain_written);
        }
        self.chain = pages;
        self.chain_written = written_by;
        self.head = next;
        SavedFreelist {
            head: next,
            records_in_meta: Vec::new(),
            pages: written,
        }
    }
}
