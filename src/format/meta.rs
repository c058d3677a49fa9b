//! Meta pages 0 and 1 (DESIGN.md, "Meta page").

use super::FORMAT_VERSION;
use crate::ids::{PageId, Ptr, TxnId};
use zerocopy::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

pub(crate) const MAGIC: [u8; 8] = *b"BOUGHDB\0";
pub(crate) const META_SIZE: usize = 80;
const FLAG_PAGES_SYNCED_FIRST: u32 = 1;
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
    reserved: U32,
    high_water: U64,
    reserved_b: U64,
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
    /// Pages `[0, high_water)` are in use or free; none beyond.
    pub high_water: u64,
    /// Written after its pages were synced (two-phase commit): its tree is whole whenever the
    /// meta is. Otherwise the open verifies the tree (DESIGN.md, "Commit protocol").
    pub pages_synced_first: bool,
    /// The file is used in write-ahead-log mode (its log may hold newer commits).
    pub wal_mode: bool,
}

/// Why bytes did not decode as a meta.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum MetaError {
    NoMagic,
    BadChecksum,
    Version(u32),
}

fn ptr(page: u64, crc: u32) -> Option<Ptr> {
    (page != 0).then_some(Ptr {
        page: PageId(page),
        crc,
    })
}

impl Meta {
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
        if raw.version.get() != FORMAT_VERSION {
            return Err(MetaError::Version(raw.version.get()));
        }
        Ok(Meta {
            page_size: raw.page_size.get(),
            txn_id: TxnId(raw.txn_id.get()),
            catalog: ptr(raw.catalog_root.get(), raw.catalog_crc.get()),
            freelist: ptr(raw.freelist_head.get(), raw.freelist_crc.get()),
            high_water: raw.high_water.get(),
            pages_synced_first: raw.flags.get() & FLAG_PAGES_SYNCED_FIRST != 0,
            wal_mode: raw.flags.get() & FLAG_WAL_MODE != 0,
        })
    }

    /// The meta as a full page of `page_size` bytes.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut flags = 0;
        if self.pages_synced_first {
            flags |= FLAG_PAGES_SYNCED_FIRST;
        }
        if self.wal_mode {
            flags |= FLAG_WAL_MODE;
        }
        let mut raw = RawMeta {
            magic: MAGIC,
            version: FORMAT_VERSION.into(),
            page_size: self.page_size.into(),
            txn_id: self.txn_id.0.into(),
            catalog_root: self.catalog.map_or(0, |p| p.page.0).into(),
            catalog_crc: self.catalog.map_or(0, |p| p.crc).into(),
            flags: flags.into(),
            freelist_head: self.freelist.map_or(0, |p| p.page.0).into(),
            freelist_crc: self.freelist.map_or(0, |p| p.crc).into(),
            reserved: 0.into(),
            high_water: self.high_water.into(),
            reserved_b: 0.into(),
            checksum: 0.into(),
            reserved2: 0.into(),
        };
        raw.checksum = crc32c::crc32c(&raw.as_bytes()[..META_SIZE - 8]).into();
        let mut page = vec![0u8; self.page_size as usize];
        page[..META_SIZE].copy_from_slice(raw.as_bytes());
        page
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

    fn sample() -> Meta {
        Meta {
            page_size: 4096,
            txn_id: TxnId(7),
            catalog: Some(Ptr {
                page: PageId(9),
                crc: 0xdead_beef,
            }),
            freelist: None,
            high_water: 12,
            pages_synced_first: true,
            wal_mode: false,
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
        for byte in 0..META_SIZE - 4 {
            let mut damaged = bytes.clone();
            damaged[byte] ^= 0x10;
            assert!(
                Meta::decode(&damaged).is_err(),
                "flip in byte {byte} accepted"
            );
        }
    }
}
