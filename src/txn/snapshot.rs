//! One committed state: its meta and a map that covers every page it can reach.

use crate::error::Result;
use crate::format::Meta;
use crate::ids::Ptr;
use crate::io::Mapping;
use crate::pager::{LogView, PageSource, ReadPages, VerifiedPages};
use crate::txn::WalState;
use std::sync::Arc;

#[derive(Debug)]
pub(crate) struct Snapshot {
    pub meta: Meta,
    pub map: Arc<Mapping>,
    pub verify: bool,
    pub verified: Arc<VerifiedPages>,
    /// Write-ahead-log mode: the log and its index, read up to `meta`'s transaction.
    pub wal: Option<LogView>,
}

impl Snapshot {
    /// The snapshot of `meta`, read through `map` and, in log mode, `wal`'s log as it is
    /// now.
    pub(crate) fn new(
        meta: Meta,
        map: Arc<Mapping>,
        verify: bool,
        verified: Arc<VerifiedPages>,
        wal: Option<&WalState>,
    ) -> Self {
        Snapshot {
            meta,
            map,
            verify,
            verified,
            wal: wal.map(WalState::view),
        }
    }

    pub(crate) fn pages(&self) -> ReadPages<'_> {
        ReadPages {
            map: &self.map,
            page_size: self.meta.page_size as usize,
            high_water: self.meta.high_water,
            verify: self.verify,
            wal: self.wal.as_ref().map(|wal| wal.read(self.meta.txn_id.0)),
            verified: Some(&self.verified),
        }
    }

    /// The same pages, every one hashed whatever the database's setting and whatever was
    /// hashed before (the integrity check).
    pub(crate) fn pages_all_hashed(&self) -> ReadPages<'_> {
        ReadPages {
            verify: true,
            verified: None,
            ..self.pages()
        }
    }
}

impl PageSource for Snapshot {
    fn page_size(&self) -> usize {
        self.meta.page_size as usize
    }

    fn page(&self, ptr: Ptr) -> Result<&[u8]> {
        self.pages().checked_page(ptr)
    }

    fn overflow(&self, ptr: Ptr, len: u64) -> Result<&[u8]> {
        self.pages().checked_overflow(ptr, len)
    }
}
