//! Freelist pages: records of the freelist's log, packed (DESIGN.md, "Freelist pages").

use super::header::{HEADER_SIZE, PageHeader, PageKind};
use crate::error::{Error, Result};
use crate::ids::{PageId, Ptr};

/// Next pointer (page, checksum) and reserved bytes before the first record.
const BODY_HEADER: usize = 16;
/// Kind, id count and tag before each record's ids.
const RECORD_HEADER: usize = 16;

/// What a freelist record says about its page ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecordKind {
    /// The ids became free in transaction `tag` (tag 0: free for any reader).
    Freed = 1,
    /// The ids were taken from the free set and are in use.
    Consumed = 2,
}

/// One record of the freelist's log: a kind, a tag and page ids. The one type for records
/// read from pages or the meta and records a commit builds (its id lists grow in place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub kind: RecordKind,
    pub tag: u64,
    pub ids: Vec<u64>,
}

impl Record {
    pub(crate) fn new(kind: RecordKind, tag: u64, ids: Vec<u64>) -> Record {
        Record { kind, tag, ids }
    }
}

/// A piece of a record that lands on one page.
pub(crate) type Piece<'a> = (RecordKind, u64, &'a [u64]);

/// A decoded freelist page.
#[derive(Debug)]
pub(crate) struct FreelistPage {
    pub next: Option<Ptr>,
    pub records: Vec<Record>,
}

fn body_capacity(page_size: usize) -> usize {
    page_size - HEADER_SIZE - BODY_HEADER
}

/// Splits `records` (kind, tag, ids) into the pieces each page holds, filling pages in order.
/// Records without ids take no space.
pub(crate) fn pack<'a>(records: &'a [Record], page_size: usize) -> Vec<Vec<Piece<'a>>> {
    let capacity = body_capacity(page_size);
    let mut pages: Vec<Vec<Piece>> = Vec::new();
    let mut used = capacity;
    for Record { kind, tag, ids } in records {
        let mut rest: &[u64] = ids;
        while !rest.is_empty() {
            if used + RECORD_HEADER + 8 > capacity {
                pages.push(Vec::new());
                used = 0;
            }
            let fits = ((capacity - used - RECORD_HEADER) / 8).min(rest.len());
            let (piece, tail) = rest.split_at(fits);
            pages
                .last_mut()
                .expect("a page was pushed")
                .push((*kind, *tag, piece));
            used += RECORD_HEADER + 8 * fits;
            rest = tail;
        }
    }
    pages
}

/// How many pages [`pack`] fills with records of these id counts, without building them, in
/// time linear in the number of records (not of ids).
pub(crate) fn pages_for(counts: impl IntoIterator<Item = usize>, page_size: usize) -> usize {
    let capacity = body_capacity(page_size);
    let per_page = (capacity - RECORD_HEADER) / 8;
    let (mut pages, mut used) = (0, capacity);
    for count in counts {
        if count == 0 {
            continue;
        }
        if used + RECORD_HEADER + 8 > capacity {
            pages += 1;
            used = 0;
        }
        let fits = ((capacity - used - RECORD_HEADER) / 8).min(count);
        used += RECORD_HEADER + 8 * fits;
        let rest = count - fits;
        if rest > 0 {
            // The current page is full: the rest fills whole pages and part of one more.
            pages += rest.div_ceil(per_page);
            let last = rest - (rest - 1) / per_page * per_page;
            used = RECORD_HEADER + 8 * last;
        }
    }
    pages
}

/// Writes `pieces` into `page` (header fields other than kind and count are the pager's).
pub(crate) fn encode(page: &mut [u8], next: Option<Ptr>, pieces: &[Piece]) {
    let header = PageHeader::of_mut(page);
    header.kind = PageKind::Freelist as u8;
    header.lower = (pieces.len() as u32).into();
    header.upper = 0.into();
    let body = &mut page[HEADER_SIZE..];
    body[0..8].copy_from_slice(&next.map_or(0, |p| p.page.0).to_le_bytes());
    body[8..12].copy_from_slice(&next.map_or(0, |p| p.crc).to_le_bytes());
    let mut at = BODY_HEADER;
    for (kind, tag, ids) in pieces {
        body[at..at + 4].copy_from_slice(&(*kind as u32).to_le_bytes());
        body[at + 4..at + 8].copy_from_slice(&(ids.len() as u32).to_le_bytes());
        body[at + 8..at + 16].copy_from_slice(&tag.to_le_bytes());
        at += RECORD_HEADER;
        for id in ids.iter() {
            body[at..at + 8].copy_from_slice(&id.to_le_bytes());
            at += 8;
        }
    }
}

pub(crate) fn decode(page: &[u8], id: PageId) -> Result<FreelistPage> {
    let header = PageHeader::of(page);
    if header.kind() != Some(PageKind::Freelist) {
        return Err(Error::corruption(
            id,
            format!("expected a freelist page, found kind {}", header.kind),
        ));
    }
    let body = &page[HEADER_SIZE..];
    let word = |at: usize| u64::from_le_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u32::from_le_bytes(body[at..at + 4].try_into().expect("4 bytes"));
    let next_page = word(0);
    let next = (next_page != 0).then_some(Ptr {
        page: PageId(next_page),
        crc: half(8),
    });
    let count = header.lower.get() as usize;
    let records = decode_records(&body[BODY_HEADER..], Some(count), id)?;
    Ok(FreelistPage { next, records })
}

/// Bytes `records` take when packed one after another (records without ids take none).
pub(crate) fn records_len<'a>(records: impl IntoIterator<Item = &'a Record>) -> usize {
    records
        .into_iter()
        .filter(|r| !r.ids.is_empty())
        .map(|r| RECORD_HEADER + 8 * r.ids.len())
        .sum()
}

/// Appends `records` to `out`, packed as on a freelist page (records without ids are left
/// out): the layout of the records a meta page holds.
pub(crate) fn encode_records(out: &mut Vec<u8>, records: &[Record]) {
    for Record { kind, tag, ids } in records.iter().filter(|r| !r.ids.is_empty()) {
        out.extend_from_slice(&(*kind as u32).to_le_bytes());
        out.extend_from_slice(&(ids.len() as u32).to_le_bytes());
        out.extend_from_slice(&tag.to_le_bytes());
        for id in ids {
            out.extend_from_slice(&id.to_le_bytes());
        }
    }
}

/// Decodes packed records: `count` of them, or (`None`) as many as fill `bytes` exactly.
/// Errors name page `id`, where the records were read.
pub(crate) fn decode_records(
    bytes: &[u8],
    count: Option<usize>,
    id: PageId,
) -> Result<Vec<Record>> {
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let half = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    let mut records = Vec::with_capacity(count.unwrap_or(4).min(64));
    let mut at = 0;
    while count.map_or(at < bytes.len(), |count| records.len() < count) {
        if at + RECORD_HEADER > bytes.len() {
            return Err(Error::corruption(
                id,
                "freelist records run past their space",
            ));
        }
        let kind = match half(at) {
            1 => RecordKind::Freed,
            2 => RecordKind::Consumed,
            other => {
                return Err(Error::corruption(
                    id,
                    format!("unknown freelist record kind {other}"),
                ));
            }
        };
        let ids = half(at + 4) as usize;
        let tag = word(at + 8);
        at += RECORD_HEADER;
        if ids > (bytes.len() - at) / 8 {
            return Err(Error::corruption(
                id,
                format!("freelist record claims {ids} ids"),
            ));
        }
        records.push(Record {
            kind,
            tag,
            ids: (0..ids).map(|i| word(at + 8 * i)).collect(),
        });
        at += 8 * ids;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_records_densely_and_round_trips() {
        let records = vec![
            Record::new(RecordKind::Consumed, 0, vec![5, 6]),
            Record::new(RecordKind::Freed, 0, vec![]),
            Record::new(RecordKind::Freed, 9, (100..700).collect::<Vec<u64>>()),
        ];
        let pages = pack(&records, 4096);
        assert_eq!(pages.len(), 2, "608 ids in 4 KiB pages");
        assert_eq!(pages_for(records.iter().map(|r| r.ids.len()), 4096), 2);
        for n in [0, 1, 500, 502, 503, 1006, 5000] {
            let one = vec![Record::new(
                RecordKind::Freed,
                1,
                (0..n as u64).collect::<Vec<_>>(),
            )];
            assert_eq!(pages_for([n], 4096), pack(&one, 4096).len(), "{n} ids");
        }
        // Mixed record sizes, some ending exactly at a page boundary, at two page sizes.
        let mut x = 1u64;
        for page_size in [512, 4096] {
            for _ in 0..300 {
                let records: Vec<_> = (0..1 + x % 6)
                    .map(|_| {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                        let n = [0, 1, 59, 60, 61, 119, 503, 504, 1007][(x >> 33) as usize % 9]
                            + (x >> 50) as usize % 3;
                        Record::new(RecordKind::Freed, 1, vec![7u64; n])
                    })
                    .collect();
                assert_eq!(
                    pages_for(records.iter().map(|r| r.ids.len()), page_size),
                    pack(&records, page_size).len(),
                    "{:?} at {page_size}",
                    records.iter().map(|r| r.ids.len()).collect::<Vec<_>>()
                );
            }
        }
        let mut decoded = Vec::new();
        for pieces in &pages {
            let mut page = vec![0u8; 4096];
            encode(&mut page, None, pieces);
            decoded.extend(decode(&page, PageId(3)).unwrap().records);
        }
        let ids: Vec<u64> = decoded.iter().flat_map(|r| r.ids.clone()).collect();
        let expected: Vec<u64> = records.iter().flat_map(|r| r.ids.clone()).collect();
        assert_eq!(ids, expected);
        assert_eq!(decoded[0].kind, RecordKind::Consumed);
        assert!(
            decoded[1..]
                .iter()
                .all(|r| r.kind == RecordKind::Freed && r.tag == 9)
        );
    }
}
