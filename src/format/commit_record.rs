//! Commit records (DESIGN.md, "Commit record"): the state a chained commit makes current,
//! written as the first page of that commit's one extent instead of into a meta slot.

use super::FORMAT_VERSION;
use super::freelist_page::{self, Record};
use super::meta::Meta;
use crate::ids::{PageId, Ptr, TxnId};
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub(crate) const RECORD_MAGIC: [u8; 8] = *b"BOUGHREC";
pub(crate) const RECORD_SIZE: usize = 88;

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Debug)]
#[repr(C)]
struct RawRecord {
    magic: [u8; 8],
    version: U32,
    page_size: U32,
    txn_id: U64,
    catalog_root: U64,
    catalog_crc: U32,
    prev_link: U32,
    freelist_head: U64,
    freelist_crc: U32,
    reserved: U32,
    high_water: U64,
    next_record: U64,
    records_len: U32,
    records_crc: U32,
    checksum: U32,
    reserved2: U32,
}

const _: () = assert!(size_of::<RawRecord>() == RECORD_SIZE);

fn ptr(page: u64, crc: u32) -> Option<Ptr> {
    (page != 0).then_some(Ptr {
        page: PageId(page),
        crc,
    })
}

/// The record of `state`, whose predecessor (the meta or record before it) has `prev_link`,
/// as a full page; returns the page and the record's own link. The state's freelist records
/// must fit the page (the allocator holds them to `Meta::records_capacity`).
pub(crate) fn encode(state: &Meta, prev_link: u32) -> (Vec<u8>, u32) {
    let mut records = Vec::new();
    freelist_page::encode_records(&mut records, &state.freelist_records);
    let mut raw = RawRecord {
        magic: RECORD_MAGIC,
        version: FORMAT_VERSION.into(),
        page_size: state.page_size.into(),
        txn_id: state.txn_id.0.into(),
        catalog_root: state.catalog.map_or(0, |p| p.page.0).into(),
        catalog_crc: state.catalog.map_or(0, |p| p.crc).into(),
        prev_link: prev_link.into(),
        freelist_head: state.freelist.map_or(0, |p| p.page.0).into(),
        freelist_crc: state.freelist.map_or(0, |p| p.crc).into(),
        reserved: 0.into(),
        high_water: state.high_water.into(),
        next_record: state.next_record.into(),
        records_len: (records.len() as u32).into(),
        records_crc: crc32c::crc32c(&records).into(),
        checksum: 0.into(),
        reserved2: 0.into(),
    };
    let link = crc32c::crc32c(&raw.as_bytes()[..RECORD_SIZE - 8]);
    raw.checksum = link.into();
    let mut page = vec![0u8; state.page_size as usize];
    page[..RECORD_SIZE].copy_from_slice(raw.as_bytes());
    page[RECORD_SIZE..RECORD_SIZE + records.len()].copy_from_slice(&records);
    (page, link)
}

/// A record read from a page of `page_size` bytes, if it is whole and follows the state
/// whose link is `prev_link` and whose id is `prev_txn`: returns the state it makes
/// current and its own link. Anything else (another kind of page, a torn or stale record,
/// one of an older chain) is `None`: the chain ends before it.
pub(crate) fn decode(
    page: &[u8],
    page_size: u32,
    prev_link: u32,
    prev_txn: u64,
) -> Option<(Meta, u32)> {
    let (raw, _) = RawRecord::read_from_prefix(page).ok()?;
    let link = crc32c::crc32c(&page[..RECORD_SIZE - 8]);
    let whole = raw.magic == RECORD_MAGIC
        && link == raw.checksum.get()
        && raw.version.get() == FORMAT_VERSION
        && raw.page_size.get() == page_size
        && raw.prev_link.get() == prev_link
        && raw.txn_id.get() > prev_txn;
    if !whole {
        return None;
    }
    let end = RECORD_SIZE.checked_add(raw.records_len.get() as usize)?;
    let records = page.get(RECORD_SIZE..end)?;
    if crc32c::crc32c(records) != raw.records_crc.get() {
        return None;
    }
    let freelist_records: Vec<Record> =
        freelist_page::decode_records(records, None, PageId(0)).ok()?;
    let state = Meta {
        page_size,
        txn_id: TxnId(raw.txn_id.get()),
        catalog: ptr(raw.catalog_root.get(), raw.catalog_crc.get()),
        freelist: ptr(raw.freelist_head.get(), raw.freelist_crc.get()),
        freelist_records,
        high_water: raw.high_water.get(),
        pages_synced_first: false,
        wal_mode: false,
        next_record: raw.next_record.get(),
    };
    Some((state, link))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::freelist_page::RecordKind;

    fn state() -> Meta {
        Meta {
            page_size: 4096,
            txn_id: TxnId(12),
            catalog: Some(Ptr {
                page: PageId(40),
                crc: 0x1234_5678,
            }),
            freelist: None,
            freelist_records: vec![Record::new(RecordKind::Freed, 12, vec![3, 9])],
            high_water: 90,
            pages_synced_first: false,
            wal_mode: false,
            next_record: 46,
        }
    }

    #[test]
    fn a_record_round_trips_after_its_predecessor() {
        let (page, link) = encode(&state(), 0xabcd);
        assert_eq!(decode(&page, 4096, 0xabcd, 11), Some((state(), link)));
    }

    #[test]
    fn a_record_of_another_chain_or_an_older_one_is_the_end() {
        let (page, _) = encode(&state(), 0xabcd);
        assert_eq!(decode(&page, 4096, 0xabce, 11), None, "other predecessor");
        assert_eq!(decode(&page, 4096, 0xabcd, 12), None, "not newer");
        assert_eq!(decode(&page, 8192, 0xabcd, 11), None, "other page size");
    }

    #[test]
    fn any_flipped_bit_ends_the_chain() {
        let (page, _) = encode(&state(), 7);
        let len = RECORD_SIZE + 16 + 2 * 8;
        for byte in (0..RECORD_SIZE - 4).chain(RECORD_SIZE..len) {
            let mut damaged = page.clone();
            damaged[byte] ^= 0x04;
            assert_eq!(decode(&damaged, 4096, 7, 11), None, "flip in byte {byte}");
        }
    }

    #[test]
    fn a_meta_is_no_record() {
        let meta = Meta {
            next_record: 0,
            ..state()
        };
        assert_eq!(decode(&meta.encode(), 4096, 0, 0), None);
    }
}
