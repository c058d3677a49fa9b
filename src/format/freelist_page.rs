//! Freelist pages: one record of the freelist's log each (DESIGN.md, "Freelist").

use super::header::{HEADER_SIZE, PageHeader, PageKind};
use crate::error::{Error, Result};
use crate::ids::{PageId, Ptr};

const BODY_HEADER: usize = 24;

/// What a freelist record says about its page ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordKind {
    /// The ids became free in transaction `tag` (tag 0: free for any reader).
    Freed = 1,
    /// The ids were taken from the free set and are in use.
    Consumed = 2,
}

/// A decoded freelist page.
#[derive(Debug)]
pub(crate) struct Record {
    pub next: Option<Ptr>,
    pub kind: RecordKind,
    pub tag: u64,
    pub ids: Vec<u64>,
}

/// How many page ids one freelist page holds.
pub(crate) fn capacity(page_size: usize) -> usize {
    (page_size - HEADER_SIZE - BODY_HEADER) / 8
}

/// Writes a record into `page` (header fields other than kind and count are the pager's).
pub(crate) fn encode(page: &mut [u8], next: Option<Ptr>, kind: RecordKind, tag: u64, ids: &[u64]) {
    assert!(ids.len() <= capacity(page.len()));
    let header = PageHeader::of_mut(page);
    header.kind = PageKind::Freelist as u8;
    header.lower = (ids.len() as u32).into();
    header.upper = 0.into();
    let body = &mut page[HEADER_SIZE..];
    body[0..8].copy_from_slice(&next.map_or(0, |p| p.page.0).to_le_bytes());
    body[8..12].copy_from_slice(&next.map_or(0, |p| p.crc).to_le_bytes());
    body[12..16].copy_from_slice(&(kind as u32).to_le_bytes());
    body[16..24].copy_from_slice(&tag.to_le_bytes());
    for (i, id) in ids.iter().enumerate() {
        let at = BODY_HEADER + 8 * i;
        body[at..at + 8].copy_from_slice(&id.to_le_bytes());
    }
}

pub(crate) fn decode(page: &[u8], id: PageId) -> Result<Record> {
    let header = PageHeader::of(page);
    if header.kind() != Some(PageKind::Freelist) {
        return Err(Error::corruption(
            id,
            format!("expected a freelist page, found kind {}", header.kind),
        ));
    }
    let count = header.lower.get() as usize;
    if count > capacity(page.len()) {
        return Err(Error::corruption(
            id,
            format!("freelist page claims {count} ids"),
        ));
    }
    let body = &page[HEADER_SIZE..];
    let word = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let next_page = word(0);
    let next_crc = u32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
    let kind = match u32::from_le_bytes(body[12..16].try_into().expect("4 bytes")) {
        1 => RecordKind::Freed,
        2 => RecordKind::Consumed,
        other => {
            return Err(Error::corruption(
                id,
                format!("unknown freelist record kind {other}"),
            ));
        }
    };
    Ok(Record {
        next: (next_page != 0).then_some(Ptr {
            page: PageId(next_page),
            crc: next_crc,
        }),
        kind,
        tag: word(16),
        ids: (0..count).map(|i| word(BODY_HEADER + 8 * i)).collect(),
    })
}
