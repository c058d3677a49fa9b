//! Sealing at a clean close (DESIGN.md, "Sealing at close"): once the last handle of a
//! copy-on-write database is gone no commit is in flight, so the close makes the newest
//! commit durable and writes it again, under a new id, as a meta the next open trusts without
//! verification. Damage to that commit's pages is then `Corruption`, never a silent fall-back
//! to the commit before it.

use super::{Shared, WriterState};
use crate::error::Result;
use crate::ids::TxnId;

/// Seals the newest commit of `state`, if it is not trusted already.
pub(crate) fn seal(shared: &Shared, state: &mut WriterState) -> Result<()> {
    if state.meta.pages_synced_first {
        // A two-sync commit, the first meta of a new file, or a seal: trusted as it is.
        return Ok(());
    }
    let storage = &shared.storage;
    // Everything written so far, the newest commit's pages and meta included, is durable
    // after this sync, so that commit is the newest durable one.
    storage.sync(state.length_unsynced)?;
    state.length_unsynced = false;
    let newest = state.meta.txn_id.0;
    // The seal must not overwrite the newest commit's slot (I4).
    let mut txn = state.last_txn + 1;
    if txn % 2 == newest % 2 {
        txn += 1;
    }
    let mut sealed = state.meta.clone();
    sealed.txn_id = TxnId(txn);
    // Its pages were synced before it: the next open takes it without a walk, as it takes a
    // two-sync commit's.
    sealed.pages_synced_first = true;
    // It covers every chained commit: the next open follows no chain.
    sealed.next_record = 0;
    storage.write_at(&sealed.encode(), sealed.slot() * shared.page_size as u64)?;
    storage.sync(false)?;
    shared.commits.wrote_meta(&sealed);
    state.last_txn = txn;
    state.meta = sealed;
    Ok(())
}
