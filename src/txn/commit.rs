//! The commit protocol (DESIGN.md, "Commit protocol"): seal the changed trees bottom-up,
//! record the freelist, write the new pages, sync, write the meta, sync, publish.

use super::write::TableState;
use super::{Shared, Snapshot, TableRecord, WriterState};
use crate::btree;
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::ids::{Ptr, TxnId};
use crate::pager::CowPager;
use crate::plant::{Bug, planted};
use crate::{CommitProtocol, Durability};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub(crate) struct CommitInput<'a, 'db> {
    pub shared: &'db Shared,
    pub state: &'a mut WriterState,
    pub pager: CowPager<'db>,
    pub txn: u64,
    pub catalog: Option<Ptr>,
    pub tables: BTreeMap<String, TableState>,
    pub deleted: BTreeSet<String>,
    pub durability: Durability,
}

/// How a commit failed: a failed sync poisons the handle, anything else leaves the
/// database at the previous commit.
enum Failure {
    BeforeSync(Error),
    Sync(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::BeforeSync(e)
    }
}

pub(crate) fn commit(input: CommitInput) -> Result<()> {
    let CommitInput {
        shared,
        state,
        mut pager,
        txn,
        ..
    } = input;
    let durable = input.durability == Durability::Immediate;
    let outcome = write(
        shared,
        &mut pager,
        txn,
        input.catalog,
        &input.tables,
        &input.deleted,
        durable,
    );
    state.last_txn = txn;
    state.map = pager.map().clone();
    state.file_len = pager.file_len();
    state.length_unsynced = pager.grew() && (outcome.is_err() || !durable);
    match outcome {
        Ok(meta) => {
            state.meta = meta.clone();
            state.freelist = Some(pager.into_freelist());
            let snapshot = Arc::new(Snapshot {
                meta,
                map: state.map.clone(),
                verify: shared.verify,
            });
            let mut published = shared.published();
            published.snapshot = snapshot;
            if durable {
                published.durable_txn = txn;
            }
            Ok(())
        }
        Err(failure) => {
            // The in-memory freelist was changed by the save: reload it from the last
            // committed meta when the next writer starts.
            state.freelist = None;
            match failure {
                Failure::BeforeSync(e) => Err(e),
                Failure::Sync(e) => {
                    state.poisoned = true;
                    Err(e)
                }
            }
        }
    }
}

fn write(
    shared: &Shared,
    pager: &mut CowPager,
    txn: u64,
    catalog: Option<Ptr>,
    tables: &BTreeMap<String, TableState>,
    deleted: &BTreeSet<String>,
    durable: bool,
) -> Result<Meta, Failure> {
    let mut catalog = catalog;
    for name in deleted {
        catalog = btree::remove(pager, catalog, name.as_bytes())?.0;
    }
    for (name, table) in tables.iter().filter(|(_, t)| t.changed) {
        let record = TableRecord {
            root: btree::seal_tree(pager, table.root)?,
            len: table.len,
        };
        catalog = Some(btree::insert(pager, catalog, name.as_bytes(), &record.encode())?.0);
    }
    let catalog = btree::seal_tree(pager, catalog)?;
    let freelist = pager.save_freelist()?;
    let two_phase = durable && shared.protocol == CommitProtocol::TwoSync;
    let meta = Meta {
        page_size: shared.page_size as u32,
        txn_id: TxnId(txn),
        catalog,
        freelist,
        high_water: pager.high_water(),
        pages_synced_first: two_phase,
    };
    pager.write_dirty()?;
    let storage = &shared.storage;
    // Growth must be durable before (two-phase) or with (one-sync) the meta that points
    // into it: fdatasync does not persist a new length on every filesystem.
    let grew = pager.grew() && !planted(Bug::NoSyncAfterGrowth);
    if two_phase && !planted(Bug::NoSyncBeforeMeta) {
        storage.sync(grew).map_err(|e| Failure::Sync(e.into()))?;
    }
    storage
        .write_at(&meta.encode(), meta.slot() * shared.page_size as u64)
        .map_err(Error::from)?;
    if durable {
        storage
            .sync(grew && !two_phase)
            .map_err(|e| Failure::Sync(e.into()))?;
    }
    if !storage.map_follows_writes() {
        pager.remap()?;
    }
    Ok(meta)
}
