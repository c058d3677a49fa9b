//! The commit protocols (DESIGN.md, "Commit protocol" and "Write-ahead-log mode"): seal the
//! changed trees bottom-up, record the freelist, then either write the new pages and the meta
//! to the file (copy-on-write) or append them to the log (write-ahead-log), sync, publish.

use super::catalog::{TableState, TableTypes};
use super::chain::{self, ChainStep};
use super::group_commit::{self, Publication, QueueNow, Queued};
use super::{Shared, Snapshot, TableRecord, WriterGuard, WriterState};
use crate::btree;
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::ids::{Ptr, TxnId};
use crate::pager::wal::{WalIndex, checkpoint};
use crate::pager::{CowPager, DirtyPages, TxnPager, wal::WalPager};
use crate::plant::{Bug, planted};
use crate::{CommitProtocol, Durability, Mode};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, RwLock};

pub(crate) struct CommitInput<'a> {
    pub shared: &'a Shared,
    pub writer: &'a mut WriterGuard,
    pub pager: TxnPager,
    /// Every page the transaction changed.
    pub dirty: DirtyPages,
    pub txn: u64,
    pub catalog: Option<Ptr>,
    pub tables: BTreeMap<String, (TableState, TableTypes)>,
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

fn sync_failed(e: impl Into<Error>) -> Failure {
    Failure::Sync(e.into())
}

/// How a commit's meta reaches the disk.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Path {
    /// The writer writes and syncs it while holding the writer's state.
    Direct,
    /// The writer queues it and hands the writer's state on first ("Group commit").
    Queued,
}

pub(crate) fn commit(input: CommitInput) -> Result<()> {
    let CommitInput {
        shared,
        writer,
        mut pager,
        mut dirty,
        txn,
        ..
    } = input;
    let durable = input.durability == Durability::Immediate;
    let Some((path, txn)) = choose_path(shared, writer, txn, durable) else {
        // A group's write or sync failed: this writer's state may build on lost commits.
        writer.freelist = None;
        return Err(Error::Poisoned);
    };
    let state: &mut WriterState = writer;
    let durable_direct = durable && path == Path::Direct;
    let step = chain::step(shared, state, durable_direct);
    if let ChainStep::Continue { .. } = step {
        // A record under the next id may reach the disk even if the commit fails.
        state.last_txn = state.last_txn.max(txn + 1);
    }
    let outcome = prepare(
        shared,
        &mut pager,
        &mut dirty,
        txn,
        input.catalog,
        &input.tables,
        &input.deleted,
        durable,
        step,
    )
    .and_then(|prepared| persist(shared, state, &mut pager, &dirty, prepared, durable, path));
    state.last_txn = state.last_txn.max(txn);
    let mut grew = false;
    let mut withheld = (BTreeSet::new(), None);
    if let TxnPager::Cow(cow) = &pager {
        state.map = cow.map().clone();
        state.file_len = cow.file_len();
        grew = cow.length_unsynced() || state.length_unsynced;
        state.length_unsynced = grew && (outcome.is_err() || !durable || path == Path::Queued);
        withheld = (cow.alloc().withheld().clone(), cow.alloc().carved());
    }
    let (meta, link) = match outcome {
        Ok(done) => done,
        Err(failure) => {
            // The in-memory freelist was changed by the save: reload it from the last
            // committed meta when the next writer starts. The chain ends; what it withholds
            // stays withheld (the failed commit's record may have reached the disk).
            state.freelist = None;
            state.chain.live = None;
            return Err(match failure {
                Failure::BeforeSync(e) => e,
                Failure::Sync(e) => {
                    state.poisoned = true;
                    e
                }
            });
        }
    };
    state.last_txn = state.last_txn.max(meta.txn_id.0);
    let (now_withheld, carved) = withheld;
    if let Some(link) = link {
        chain::after_record(&mut state.chain, now_withheld, &meta, link);
        state.freelist = Some(pager.into_freelist());
        publish_chained(shared, state, meta);
        return Ok(());
    }
    let release = chain::after_meta(
        &mut state.chain,
        &now_withheld,
        carved,
        &meta,
        durable_direct,
    );
    if path == Path::Queued {
        let queued = Queued {
            meta,
            freelist: pager.into_freelist(),
            durable,
            grew,
        };
        return group_commit::commit_queued(shared, writer, queued);
    }
    let mut freelist = pager.into_freelist();
    freelist.release_withheld(release);
    state.freelist = Some(freelist);
    publish_direct(shared, state, meta, durable);
    Ok(())
}

/// How the commit's meta reaches the disk, and the id it commits as: the one begin chose,
/// or the next. `None`: a group's write or sync failed, and the commit must not be written.
fn choose_path(
    shared: &Shared,
    state: &mut WriterState,
    txn: u64,
    durable: bool,
) -> Option<(Path, u64)> {
    // One read of the queue decides: only the holder of the writer's state queues, so once
    // it finds the queue idle and not failed, no group can fail before its meta is written.
    let queue = shared.commits.now();
    if queue == QueueNow::Failed {
        return None;
    }
    // Queue when a sync runs or commits wait for one (the order of metas requires it), or
    // when a durable commit has writers waiting behind it (they will share the next sync).
    // Nothing else queues while this writer holds the writer's state, so the choice holds.
    if shared.mode == Mode::CopyOnWrite
        && shared.protocol == CommitProtocol::OneSync
        && (queue == QueueNow::Busy || (durable && shared.writer.has_waiters()))
    {
        return Some((Path::Queued, txn));
    }
    if shared.mode != Mode::CopyOnWrite {
        return Some((Path::Direct, txn));
    }
    // A non-durable group may have grown the file: this commit's sync covers it.
    state.length_unsynced |= shared.commits.take_length_unsynced();
    // Begin chose the id for the newest durable meta it saw; a group made durable since may
    // hold the slot that id names (I4). Nothing is queued now, so the newest durable meta is
    // final: if needed, the next id serves (no transaction began with it).
    let skip = txn % 2 == shared.published().durable_txn % 2 && !planted(Bug::StaleSlotAfterGroup);
    Some((Path::Direct, txn + skip as u64))
}

/// Writes the prepared commit: its pages only, when it is queued; its record and pages,
/// synced, when it is chained; its pages and `meta`, synced if `durable`, when it goes
/// directly (to the file or the log). Returns the meta and, for a chained commit, its
/// record's link.
fn persist(
    shared: &Shared,
    state: &mut WriterState,
    pager: &mut TxnPager,
    dirty: &DirtyPages,
    prepared: Prepared,
    durable: bool,
    path: Path,
) -> Result<(Meta, Option<u32>), Failure> {
    let Prepared { meta, record_at } = prepared;
    let txn = meta.txn_id.0;
    match pager {
        TxnPager::Cow(cow) if record_at.is_some() => {
            let at = record_at.expect("checked by the guard");
            let prev = state
                .chain
                .live
                .expect("a chained commit continues a chain")
                .link;
            let link = chain::write_chained(cow, dirty, at, &meta, prev)?;
            let grew = cow.length_unsynced() || state.length_unsynced;
            let grew = grew && !planted(Bug::NoSyncAfterGrowth);
            shared.storage.sync(grew).map_err(sync_failed)?;
            if !shared.storage.map_follows_writes() {
                cow.remap()?;
            }
            return Ok((meta, Some(link)));
        }
        TxnPager::Cow(cow) if path == Path::Queued => write_pages(shared, cow, dirty)?,
        TxnPager::Cow(cow) => {
            let grew = cow.length_unsynced() || state.length_unsynced;
            persist_in_file(shared, cow, dirty, &meta, durable, grew)?
        }
        TxnPager::Wal(_) => {
            let frames = WalPager::frames(dirty);
            persist_in_log(shared, state, txn, &frames, &meta, durable)?
        }
    }
    Ok((meta, None))
}

/// Publishes a chained commit: durable, and no meta slot changed.
fn publish_chained(shared: &Shared, state: &mut WriterState, meta: Meta) {
    let txn = meta.txn_id.0;
    state.meta = meta.clone();
    publication(shared, state, meta, true).apply(shared);
    shared.commits.published_directly(txn, true);
}

/// Publishes a commit written directly, then gives back the file's tail or checkpoints the
/// log if that is due.
fn publish_direct(shared: &Shared, state: &mut WriterState, meta: Meta, durable: bool) {
    let txn = meta.txn_id.0;
    state.meta = meta.clone();
    if shared.mode == Mode::CopyOnWrite {
        shared.commits.wrote_meta(&meta);
    }
    publication(shared, state, meta, durable).apply(shared);
    shared.commits.published_directly(txn, durable);
    if durable && shared.mode == Mode::CopyOnWrite {
        // Both metas are durable now: the tail past what they and the readers reach can go.
        super::give_back::give_back_tail(shared, state);
    }
    if shared.mode == Mode::Wal && checkpoint_due(shared, state) {
        // The commit is done; a checkpoint that fails leaves it in the log.
        let _ = try_checkpoint(shared, state);
    }
}

/// What publishing `meta` shows new readers.
fn publication(shared: &Shared, state: &WriterState, meta: Meta, durable: bool) -> Publication {
    let snapshot = Arc::new(Snapshot::new(
        meta,
        state.map.clone(),
        shared.verify,
        shared.verified.clone(),
        state.wal.as_ref(),
    ));
    // Log mode reuses freed pages at once: no reader holds any back.
    let pending_frees = match (&state.freelist, shared.mode) {
        (Some(freelist), Mode::CopyOnWrite) => freelist.pending_by_txn(),
        _ => Vec::new(),
    };
    Publication {
        snapshot,
        pending_frees,
        durable,
    }
}

/// A commit ready to be written: its meta (or, chained, the state its record holds) and,
/// chained, where its record goes.
struct Prepared {
    meta: Meta,
    record_at: Option<u64>,
}

/// Seals the changed trees, writes the catalog and the freelist records; returns the meta
/// the commit will publish. A chained `step` places every page the commit writes in the
/// chain's run after its record, if they fit (DESIGN.md, "Chained commits"); the commit is
/// then chained, under the id after `txn`, else it writes a meta as any other.
#[allow(clippy::too_many_arguments)]
fn prepare(
    shared: &Shared,
    pager: &mut TxnPager,
    dirty: &mut DirtyPages,
    txn: u64,
    catalog: Option<Ptr>,
    tables: &BTreeMap<String, (TableState, TableTypes)>,
    deleted: &BTreeSet<String>,
    durable: bool,
    step: ChainStep,
) -> Result<Prepared, Failure> {
    let mut catalog = catalog;
    let changed: Vec<_> = tables.iter().filter(|(_, (t, _))| t.changed).collect();
    // Pack every tree before moving any page down, so that no pack frees pages below one
    // moved (DESIGN.md, "Packing changed leaves").
    let mut roots = Vec::with_capacity(changed.len());
    {
        let mut txn_store = pager.with(dirty);
        let store = txn_store.store();
        for name in deleted {
            catalog = btree::remove(store, catalog, name.as_bytes())?.0;
        }
        for (_, (table, _)) in &changed {
            roots.push(btree::pack_changed_leaves(store, table.root)?);
        }
    }
    let placing = start_chain_step(pager, step);
    let mut txn_store = pager.with(dirty);
    let store = txn_store.store();
    for root in &mut roots {
        *root = btree::lower_changed_pages(store, *root)?;
    }
    for ((name, (table, types)), root) in changed.into_iter().zip(roots) {
        let record = TableRecord {
            root: btree::seal_tree(store, root)?,
            len: table.len,
            types: types.clone(),
        };
        catalog = Some(btree::insert(store, catalog, name.as_bytes(), &record.encode())?.0);
    }
    // A compaction step moves the catalog's pages from past its limit too (no-op otherwise).
    let catalog = btree::relocate_tree(store, catalog, u64::MAX)?.root;
    let catalog = btree::lower_changed_pages(store, catalog)?;
    let catalog = btree::seal_tree(store, catalog)?;
    if let Some(page) = store.unsealed_page() {
        return Err(Error::corruption(
            page,
            "a page this transaction changed was not sealed: no tree reaches it through a pointer \
             marked as changed (corrupt tree, or a bug)",
        )
        .into());
    }
    // Freelist pages are sealed as they are written, so the check above must come first.
    let (freelist, freelist_records) = pager.save_freelist(dirty)?;
    let (record_at, next_record) = end_chain_step(pager, step, placing);
    Ok(Prepared {
        meta: Meta {
            page_size: shared.page_size as u32,
            txn_id: TxnId(txn + record_at.is_some() as u64),
            catalog,
            freelist,
            freelist_records,
            high_water: pager.high_water(),
            pages_synced_first: durable && shared.protocol == CommitProtocol::TwoSync,
            wal_mode: shared.mode == Mode::Wal,
            next_record,
        },
        record_at,
    })
}

/// Before the pages are moved and the catalog written: a chained commit starts placing its
/// pages after its record; a commit that starts a chain asks for a run. Returns whether
/// pages are being placed. Compaction steps never chain.
fn start_chain_step(pager: &mut TxnPager, step: ChainStep) -> bool {
    let Some(cow) = pager.cow_mut() else {
        return false;
    };
    let alloc = cow.alloc_mut();
    if alloc.compacting().is_some() {
        return false;
    }
    match step {
        ChainStep::Continue { at, end, .. } => {
            alloc.start_placing(at + 1, end);
            true
        }
        ChainStep::Start => {
            alloc.want_run();
            false
        }
        ChainStep::None => false,
    }
}

/// After the freelist is saved: where the commit's record goes, if every page it writes
/// was placed after it (else it writes a meta), and the page the meta or record names for
/// the next record.
fn end_chain_step(pager: &mut TxnPager, step: ChainStep, placing: bool) -> (Option<u64>, u64) {
    let Some(cow) = pager.cow_mut() else {
        return (None, 0);
    };
    let alloc = cow.alloc_mut();
    if placing
        && let Some(placed) = alloc.stop_placing()
        && let ChainStep::Continue { at, end, records } = step
    {
        return (Some(at), chain::next_record(placed.end, end, records + 1));
    }
    (None, alloc.carved().map_or(0, |(start, _)| start))
}

/// Copy-on-write: the new pages go to the file (a queued commit's meta follows later).
fn write_pages(shared: &Shared, pager: &mut CowPager, dirty: &DirtyPages) -> Result<(), Failure> {
    pager.write_dirty(dirty)?;
    if !shared.storage.map_follows_writes() {
        pager.remap()?;
    }
    Ok(())
}

/// Copy-on-write: the new pages and the meta go to the file, with one sync or two. `grew`:
/// the file's length changed since it was last synced.
fn persist_in_file(
    shared: &Shared,
    pager: &mut CowPager,
    dirty: &DirtyPages,
    meta: &Meta,
    durable: bool,
    grew: bool,
) -> Result<(), Failure> {
    let two_phase = meta.pages_synced_first;
    pager.write_dirty(dirty)?;
    let storage = &shared.storage;
    // Growth must be durable before (two-phase) or with (one-sync) the meta that points
    // into it: fdatasync does not persist a new length on every filesystem.
    let grew = grew && !planted(Bug::NoSyncAfterGrowth);
    if two_phase && !planted(Bug::NoSyncBeforeMeta) {
        storage.sync(grew).map_err(sync_failed)?;
    }
    storage
        .write_at(&meta.encode(), meta.slot() * shared.page_size as u64)
        .map_err(Error::from)?;
    if durable {
        storage.sync(grew && !two_phase).map_err(sync_failed)?;
    }
    if !storage.map_follows_writes() {
        pager.remap()?;
    }
    Ok(())
}

/// Write-ahead log: the new page images and a commit frame holding the meta are appended to
/// the log, which is synced once.
fn persist_in_log(
    shared: &Shared,
    state: &mut WriterState,
    txn: u64,
    frames: &[(u64, &[u8])],
    meta: &Meta,
    durable: bool,
) -> Result<(), Failure> {
    let wal = state.wal.as_mut().expect("log mode has a log");
    let oldest_reader = shared.published().readers.oldest_id();
    if let Some(freed) = wal.log.release(oldest_reader) {
        // No reader looks at or below this floor any more (DESIGN.md, "Reusing the log's
        // space").
        let mut index = wal.index.write().unwrap_or_else(|e| e.into_inner());
        index.forget_through(freed);
    }
    // Readers take the index latch for every page: hold it only to add the new entries,
    // not for the write. Entries of transaction `txn` are invisible to every published
    // snapshot until the commit publishes one.
    let placed = wal.log.append(txn, frames, meta, shared.checkpoint_bytes)?;
    let page_size = meta.page_size as usize;
    let mut index = wal.index.write().unwrap_or_else(|e| e.into_inner());
    for (first, count, offset) in placed {
        index.add(txn, first, count, offset, page_size);
    }
    drop(index);
    if durable {
        wal.log.sync().map_err(sync_failed)?;
    }
    Ok(())
}

/// Copies the log into the main file up to the oldest live reader's snapshot, and starts the
/// log over if no reader is left at all. Returns whether every logged commit is in the file.
pub(crate) fn try_checkpoint(shared: &Shared, state: &mut WriterState) -> Result<bool> {
    let copied = copy_log(shared, state)?;
    if copied {
        // The file holds every logged commit now, durably, and no reader is older than the
        // newest: its tail past what the metas reach can go.
        super::give_back::give_back_tail(shared, state);
    }
    Ok(copied)
}

/// Whether a checkpoint is worth its syncs after a commit: the log holds more than
/// `checkpoint_bytes`, and at least half of that can be copied past the oldest reader.
pub(crate) fn checkpoint_due(shared: &Shared, state: &WriterState) -> bool {
    let Some(wal) = state.wal.as_ref() else {
        return false;
    };
    if wal.log.used() < shared.checkpoint_bytes {
        return false;
    }
    let oldest = shared.published().readers.oldest();
    match oldest {
        None => true,
        Some(oldest) => wal.log.space().bytes_through(oldest) >= shared.checkpoint_bytes / 2,
    }
}

/// Log space kept when compaction gives the log's space back.
const LOG_SLACK: u64 = 1 << 20;

/// `try_checkpoint`, then, if the log was started over, gives its space back down to a
/// small slack (compaction).
pub(crate) fn checkpoint_and_shrink_log(shared: &Shared, state: &mut WriterState) -> Result<bool> {
    let copied = try_checkpoint(shared, state)?;
    let idle = shared.published().readers.is_empty();
    if let Some(wal) = state.wal.as_mut()
        && copied
        && idle
    {
        wal.log.give_back(LOG_SLACK)?;
    }
    Ok(copied)
}

fn copy_log(shared: &Shared, state: &mut WriterState) -> Result<bool> {
    let newest = state.meta.txn_id.0;
    let Some(wal) = state.wal.as_mut() else {
        return Ok(true);
    };
    // A reader of snapshot S reads a page from the log if it has a version after its floor
    // and up to S, else from the file: copying the versions up to the oldest S changes no
    // byte any reader reads (DESIGN.md, "Reusing the log's space").
    let oldest = shared.published().readers.oldest();
    let target = oldest.map_or(newest, |oldest| oldest.min(newest));
    let Some(through) = wal
        .log
        .space()
        .newest_through(target)
        .map(|c| c.meta.clone())
    else {
        // Nothing the copy may reach is in the log.
        return Ok(!wal.log.space().has_commits());
    };
    let copied = {
        let index = wal.index.read().unwrap_or_else(|e| e.into_inner());
        checkpoint(
            &*shared.storage,
            state.file_len,
            &mut wal.log,
            &index,
            wal.floor,
            &through,
        )
    };
    match copied {
        Ok(len) => state.file_len = len,
        Err(e) if e.is_storage_full() => {
            // No room to copy: the log keeps every frame and the index still points readers
            // at them, so nothing is lost; the copy waits for room (the pages it wrote in
            // place have newer versions in the log, and the file's meta is unchanged).
            log::warn!("bough: checkpoint waits for room on the disk: {e}");
            state.file_len = shared.storage.len()?;
            return Err(e);
        }
        Err(e) => {
            state.poisoned = true;
            return Err(e);
        }
    }
    shared.commits.wrote_meta(&through);
    state.map = Arc::new(shared.storage.map(state.file_len)?);
    move_log_on(shared, state, &through, newest)
}

/// After a checkpoint copied the log up to `through`: republishes the snapshot so new
/// readers read the copied versions from the file, then starts the log over (every commit up
/// to `newest` copied, no reader left) or retires the copied commits' bytes. Returns whether
/// everything was copied.
fn move_log_on(
    shared: &Shared,
    state: &mut WriterState,
    through: &Meta,
    newest: u64,
) -> Result<bool> {
    let wal = state.wal.as_mut().expect("log mode has a log");
    let everything = through.txn_id.0 == newest;
    let mut published = shared.published();
    // No reader at all and every commit copied: the log starts over under a new salt.
    let restart = everything && published.readers.is_empty();
    if restart {
        wal.index = Arc::new(RwLock::new(WalIndex::default()));
    }
    // Readers that begin from now on read the copied versions from the file; those already
    // live may still read them from the log, so their bytes wait for them.
    wal.floor = through.txn_id.0;
    let epoch = published.readers.next_id();
    published.snapshot = Arc::new(Snapshot::new(
        published.snapshot.meta.clone(),
        state.map.clone(),
        shared.verify,
        shared.verified.clone(),
        state.wal.as_ref(),
    ));
    drop(published);
    let log = &mut state.wal.as_mut().expect("log mode has a log").log;
    let moved_on = match restart {
        true => log.reset(true, newest),
        false => log.forget_through(through.txn_id.0, epoch),
    };
    if let Err(e) = moved_on {
        // A failed sync: the kernel may have dropped the writes.
        state.poisoned = true;
        return Err(e);
    }
    Ok(everything)
}
