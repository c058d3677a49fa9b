//! Meta pages 0 and 1 (DESIGN.md, "Meta page (pages 0 and 1)").

use super::FORMAT_VERSION;
use super::freelist_page::{self, Record};
use crate::ids::{PageId, Ptr, TxnId};
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub(crate) const MAGIC: [u8; 8] = *b"BOUGHDB\0";
pub(crate) const META_SIZE: usize = 80;
const FLAG_PAGES_SYNCED_FIRST: u32 = 1;
/// See [`Meta::records_capacity`].
const MAX_RECORDS_IN_META: usize = 1024;
const FLAG_WAL_MODE: u32 = 2;

#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Debug)]
#[repr(C)]
struct RawMeta {
    magic: [u8; 8],
    version: U32,
    page_size: U32,
    txn_id: U64,
    catalog_root: U64,
    catalog_crc: U32,
    flags: U32,
    freelist_head: U64,
    freelist_crc: U32,
    next_record: U32,
    high_water: U64,
    records_len: U32,
    records_crc: U32,
    checksum: U32,
    reserved2: U32,
}

const _: () = assert!(size_of::<RawMeta>() == META_SIZE);

/// A decoded, checksum-verified meta page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub page_size: u32,
    pub txn_id: TxnId,
    pub catalog: Option<Ptr>,
    pub freelist: Option<Ptr>,
    /// The newest records of the freelist's log, held in the meta page itself after the
    /// fixed fields (DESIGN.md, "Freelist and reader tracking"); always empty in log mode.
    pub freelist_records: Vec<Record>,
    /// Pages `[0, high_water)` are in use or free; none beyond.
    pub high_water: u64,
    /// Written after its pages were synced (two-phase commit): its tree is whole whenever the
    /// meta is. Otherwise the open verifies the tree (DESIGN.md, "Commit protocol").
    pub pages_synced_first: bool,
    /// The file is used in write-ahead-log mode (its log may hold newer commits).
    pub wal_mode: bool,
    /// The page where the commit record after this state goes, 0 for none (DESIGN.md,
    /// "Chained commits"). Below 2^32: a meta holds it in 32 bits.
    pub next_record: u64,
}

/// Why bytes did not decode as a meta.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MetaError {
    NoMagic,
    BadChecksum,
    Version(u32),
    /// The fields check out but the freelist records after them do not (torn or damaged).
    BadRecords,
}

/// Files of format version 1 hold no freelist records in their metas (those bytes are zero);
/// they read as version 2 files, and version 2 metas as version 3 metas with no chained
/// commit record.
const OLDEST_READABLE_VERSION: u32 = 1;

/// The version a meta without a chained commit record is written as, so that builds which
/// know no chains still open files that hold none.
const UNCHAINED_VERSION: u32 = 2;

fn ptr(page: u64, crc: u32) -> Option<Ptr> {
    (page != 0).then_some(Ptr {
        page: PageId(page),
        crc,
    })
}

impl Meta {
    /// Bytes of the meta page to read for [`Meta::decode`]: the fixed fields and the
    /// freelist records they announce, as far as the unverified header says (at most a page).
    pub(crate) fn encoded_len(header: &[u8]) -> usize {
        RawMeta::read_from_prefix(header).map_or(META_SIZE, |(raw, _)| {
            META_SIZE + (raw.records_len.get() as usize).min(super::MAX_PAGE_SIZE - META_SIZE)
        })
    }

    /// Decodes a meta from the start of its page; `bytes` must hold [`Meta::encoded_len`]
    /// bytes (fewer leave the records unverifiable: `BadRecords`).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Meta, MetaError> {
        let Ok((raw, _)) = RawMeta::read_from_prefix(bytes) else {
            return Err(MetaError::NoMagic);
        };
        if raw.magic != MAGIC {
            return Err(MetaError::NoMagic);
        }
        let crc = crc32c::crc32c(&bytes[..META_SIZE - 8]);
        if crc != raw.checksum.get() {
            return Err(MetaError::BadChecksum);
        }
        let version = raw.version.get();
        if !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(MetaError::Version(version));
        }
        let records_len = raw.records_len.get() as usize;
        let page_size = raw.page_size.get() as usize;
        let records_end = META_SIZE.saturating_add(records_len);
        let Some(records) = bytes
            .get(META_SIZE..records_end)
            .filter(|_| records_end <= page_size)
            .filter(|records| crc32c::crc32c(records) == raw.records_crc.get())
        else {
            return Err(MetaError::BadRecords);
        };
        let freelist_records = freelist_page::decode_records(records, None, PageId(0))
            .map_err(|_| MetaError::BadRecords)?;
        Ok(Meta {
            page_size: raw.page_size.get(),
            txn_id: TxnId(raw.txn_id.get()),
            catalog: ptr(raw.catalog_root.get(), raw.catalog_crc.get()),
            freelist: ptr(raw.freelist_head.get(), raw.freelist_crc.get()),
            freelist_records,
            high_water: raw.high_water.get(),
            pages_synced_first: raw.flags.get() & FLAG_PAGES_SYNCED_FIRST != 0,
            wal_mode: raw.flags.get() & FLAG_WAL_MODE != 0,
            next_record: u64::from(raw.next_record.get()),
        })
    }

    /// The meta as a full page of `page_size` bytes. Its freelist records must fit the page
    /// (the allocator holds them to `records_capacity`).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut records = Vec::new();
        freelist_page::encode_records(&mut records, &self.freelist_records);
        let mut flags = 0;
        if self.pages_synced_first {
            flags |= FLAG_PAGES_SYNCED_FIRST;
        }
        if self.wal_mode {
            flags |= FLAG_WAL_MODE;
        }
        let next_record =
            u32::try_from(self.next_record).expect("chains start below page 2^32 (allocator)");
        let version = match next_record {
            0 => UNCHAINED_VERSION,
            _ => FORMAT_VERSION,
        };
        let mut raw = RawMeta {
            magic: MAGIC,
            version: version.into(),
            page_size: self.page_size.into(),
            txn_id: self.txn_id.0.into(),
            catalog_root: self.catalog.map_or(0, |p| p.page.0).into(),
            catalog_crc: self.catalog.map_or(0, |p| p.crc).into(),
            flags: flags.into(),
            freelist_head: self.freelist.map_or(0, |p| p.page.0).into(),
            freelist_crc: self.freelist.map_or(0, |p| p.crc).into(),
            next_record: next_record.into(),
            high_water: self.high_water.into(),
            records_len: (records.len() as u32).into(),
            records_crc: crc32c::crc32c(&records).into(),
            checksum: 0.into(),
            reserved2: 0.into(),
        };
        raw.checksum = crc32c::crc32c(&raw.as_bytes()[..META_SIZE - 8]).into();
        let mut page = vec![0u8; self.page_size as usize];
        page[..META_SIZE].copy_from_slice(raw.as_bytes());
        page[META_SIZE..META_SIZE + records.len()].copy_from_slice(&records);
        page
    }

    /// Bytes of freelist records a meta page holds: the records of about ten single-insert
    /// commits. More would only make a commit that moves them to freelist pages rarer, while
    /// every meta write and the freelist log's warm-up (DESIGN.md, "Freelist and reader
    /// tracking") grow with it. Decoding accepts up to the page's end.
    pub(crate) fn records_capacity(page_size: usize) -> usize {
        (page_size - META_SIZE).min(MAX_RECORDS_IN_META)
    }

    /// The checksum of this meta's fixed fields as [`Meta::encode`] writes them: what the
    /// first commit record chained to it names as its predecessor.
    pub(crate) fn link(&self) -> u32 {
        let page = self.encode();
        u32::from_le_bytes(
            page[META_SIZE - 8..META_SIZE - 4]
                .try_into()
                .expect("4 bytes"),
        )
    }

    /// The meta slot (page 0 or 1) this transaction writes: transaction N writes N % 2.
    pub(crate) fn slot(&self) -> u64 {
        if crate::plant::planted(crate::plant::Bug::SameMetaSlot) {
            return 0;
        }
        self.txn_id.0 % 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::freelist_page::RecordKind;

    fn sample() -> Meta {
        Meta {
            page_size: 4096,
            txn_id: TxnId(7),
            catalog: Some(Ptr {
                page: PageId(9),
                crc: 0xdead_beef,
            }),
            freelist: None,
            freelist_records: vec![
                Record::new(RecordKind::Consumed, 0, vec![5, 6]),
                Record::new(RecordKind::Freed, 7, vec![3, 4, 8]),
            ],
            high_water: 12,
            pages_synced_first: true,
            wal_mode: false,
            next_record: 0,
        }
    }

    #[test]
    fn round_trips() {
        let meta = sample();
        assert_eq!(Meta::decode(&meta.encode()), Ok(meta));
    }

    #[test]
    fn any_flipped_bit_is_rejected() {
        let bytes = sample().encode();
        let len = Meta::encoded_len(&bytes);
        assert_eq!(len, META_SIZE + 2 * 16 + 5 * 8);
        assert!(bytes[len..].iter().all(|&b| b == 0));
        for byte in (0..META_SIZE - 4).chain(META_SIZE..len) {
            let mut damaged = bytes.clone();
            damaged[byte] ^= 0x10;
            assert!(
                Meta::decode(&damaged).is_err(),
                "flip in byte {byte} accepted"
            );
        }
        assert_eq!(
            Meta::decode(&bytes[..len - 1]),
            Err(MetaError::BadRecords),
            "records cut short (a meta read before its records)"
        );
    }

    #[test]
    fn a_version_1_meta_reads_with_no_records() {
        let meta = Meta {
            freelist_records: Vec::new(),
            ..sample()
        };
        let mut bytes = meta.encode();
        bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
        let crc = crc32c::crc32c(&bytes[..META_SIZE - 8]);
        bytes[META_SIZE - 8..META_SIZE - 4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Meta::decode(&bytes), Ok(meta));
        bytes[8..12].copy_from_slice(&4u32.to_le_bytes());
        let crc = crc32c::crc32c(&bytes[..META_SIZE - 8]);
        bytes[META_SIZE - 8..META_SIZE - 4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Meta::decode(&bytes), Err(MetaError::Version(4)));
    }

    #[test]
    fn only_a_meta_with_a_chain_is_written_as_version_3() {
        let plain = sample().encode();
        assert_eq!(plain[8..12], UNCHAINED_VERSION.to_le_bytes());
        let chained = Meta {
            next_record: 77,
            ..sample()
        };
        let bytes = chained.encode();
        assert_eq!(bytes[8..12], FORMAT_VERSION.to_le_bytes());
        assert_eq!(Meta::decode(&bytes), Ok(chained.clone()));
        assert_ne!(chained.link(), sample().link());
    }
}
