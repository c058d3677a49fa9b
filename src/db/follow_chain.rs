//! Following the chain of commit records from a meta at open (DESIGN.md, "Chained
//! commits").

use super::FallBack;
use super::open::{verify_recent, within_file};
use crate::error::Result;
use crate::format::Meta;
use crate::format::commit_record;
use crate::ids::PageId;
use crate::io::Mapping;
use crate::pager::ReadPages;
use crate::plant::{Bug, planted};
use crate::txn::MAX_CHAIN_RECORDS;

/// The state the open takes, the pages holding the records followed to it, and, if the
/// newest record's pages are not whole, the fall-back that says so.
pub(super) struct Followed {
    pub state: Meta,
    pub records: Vec<u64>,
    pub fell_back: Option<FallBack>,
}

/// One record found after a state: where it lies, the state it makes current, its link.
struct Found {
    page: u64,
    state: Meta,
}

/// The records chained after `meta`, in order, as far as each one is whole and names the
/// state before it as its predecessor; at most `MAX_CHAIN_RECORDS` (a chain is never
/// longer), so the open reads a bounded amount. Their trees are not looked at: the pages
/// of a record before the newest may since have been freed and written over.
fn records_after(map: &Mapping, meta: &Meta, file_len: u64) -> Vec<Found> {
    let page_size = meta.page_size;
    let pages = ReadPages {
        map,
        page_size: page_size as usize,
        high_water: file_len / u64::from(page_size),
        verify: false,
        wal: None,
        verified: None,
    };
    let mut link = meta.link();
    let (mut next, mut txn) = (meta.next_record, meta.txn_id.0);
    let mut found = Vec::new();
    while next != 0 && (found.len() as u64) < MAX_CHAIN_RECORDS {
        let Ok(page) = pages.raw(PageId(next), 1) else {
            break;
        };
        let Some((state, next_link)) = commit_record::decode(page, page_size, link, txn) else {
            break;
        };
        found.push(Found { page: next, state });
        let state = &found.last().expect("just pushed").state;
        (next, txn, link) = (state.next_record, state.txn_id.0, next_link);
    }
    found
}

/// Whether `meta` has a commit record chained after it: then `meta` was durable before the
/// record was written, and needs no verification.
pub(super) fn has_records(map: &Mapping, meta: &Meta, file_len: u64) -> bool {
    meta.next_record != 0 && !records_after(map, meta, file_len).is_empty()
}

/// The newest state chained from `meta`: the newest record, if its pages are whole, else
/// the state before it (which was durable before that record was written, and whose pages
/// are reused only once that record is durable). `verify_newest`: check the newest record;
/// else it is trusted.
pub(super) fn follow_chain(
    map: &Mapping,
    meta: Meta,
    file_len: u64,
    verify_newest: bool,
) -> Result<Followed> {
    let mut found = records_after(map, &meta, file_len);
    let Some(newest) = found.last() else {
        return Ok(Followed {
            state: meta,
            records: Vec::new(),
            fell_back: None,
        });
    };
    let before = match found.len() {
        1 => &meta,
        n => &found[n - 2].state,
    };
    let since = before.txn_id.0;
    let whole = match verify_newest && !planted(Bug::ChainRecordTrusted) {
        true => within_file(&newest.state, file_len)
            .and_then(|()| verify_recent(map, &newest.state, since)),
        false => Ok(()),
    };
    let mut fell_back = None;
    if let Err(e) = whole {
        let dropped = newest.state.txn_id.0;
        log::warn!(
            "bough: the newest commit (transaction {dropped}) did not reach the disk whole \
             ({e}); opened the previous one (transaction {since})"
        );
        fell_back = Some(FallBack {
            dropped_txn: dropped,
            opened_txn: since,
            reason: e.to_string(),
        });
        found.pop();
    }
    let records = found.iter().map(|f| f.page).collect();
    let state = found.pop().map_or(meta, |f| f.state);
    Ok(Followed {
        state,
        records,
        fell_back,
    })
}
