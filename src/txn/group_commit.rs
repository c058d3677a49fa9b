//! Group commit (DESIGN.md, "Group commit"): a copy-on-write commit made while other writers
//! wait writes its pages, queues its meta and hands the writer's state on before its sync,
//! so the commits that follow while that sync runs share the next one. Every commit returns
//! only once it is published, and a durable one only once its meta and pages are synced.

use super::{Shared, Snapshot, WriterGuard};
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::ids::TxnId;
use crate::plant::{Bug, planted};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// What becomes visible to new readers when a commit is published.
#[derive(Debug)]
pub(crate) struct Publication {
    pub snapshot: Arc<Snapshot>,
    /// Freed pages not reusable yet, by freeing transaction (reader statistics).
    pub pending_frees: Vec<(u64, u64)>,
    /// The commit is durable once published: readers' reuse bound moves up to it.
    pub durable: bool,
}

impl Publication {
    /// Makes the snapshot the one new readers see.
    pub(crate) fn apply(self, shared: &Shared) {
        let txn = self.snapshot.meta.txn_id.0;
        let mut published = shared.published();
        published.snapshot = self.snapshot;
        published.readers.set_pending(self.pending_frees);
        if self.durable {
            published.durable_txn = txn;
        }
    }
}

/// Commits whose meta waits for the sync in flight: the newest one's meta covers them all.
#[derive(Debug)]
struct Group {
    meta: Meta,
    publication: Publication,
    /// The file's length changed since it was last synced.
    grew: bool,
}

/// The group whose meta is being written (and synced, if `durable`).
#[derive(Debug, Clone, Copy)]
struct InFlight {
    txn: u64,
    durable: bool,
}

#[derive(Debug)]
struct QueueState {
    /// A group's meta is being written and synced (no other meta may be written until that
    /// ends: one slot holds the newest durable meta, the other the meta being synced).
    in_flight: Option<InFlight>,
    pending: Option<Group>,
    /// The newest transaction whose commit is published.
    published: u64,
    /// A queued meta's write or sync failed: the handle is poisoned.
    failed: bool,
    /// A non-durable group grew the file and no sync has covered the new length yet.
    length_unsynced: bool,
    /// The high-water mark of the meta each slot holds (0 for none): the file keeps every
    /// page either could reach, should the open ever take it ("Giving space back").
    slot_high_water: [u64; 2],
    durable_commits: u64,
    syncs: u64,
}

/// The queue as a committing writer sees it. Failure and business are read together: a
/// group whose sync failed after a separate check for failure would look idle, and a commit
/// built on that group's lost pages would then write its meta directly and return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueNow {
    /// A queued meta's write or sync failed: the handle is poisoned.
    Failed,
    /// A group's sync runs or commits wait for one: the next commit must queue.
    Busy,
    /// Nothing is queued or being written.
    Idle,
}

/// The queue as a transaction found it when it began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueAtBegin {
    /// A group's sync runs or commits wait for one.
    pub busy: bool,
    /// The newest durable transaction.
    pub durable_txn: u64,
    /// While a group waits: the newest transaction whose meta was written. The pages of
    /// later transactions belong to commits of that group ("Recycling within a group").
    pub unwritten_after: Option<u64>,
}

/// The queue of commits waiting for a sync, shared by all writers of one database.
#[derive(Debug)]
pub(crate) struct CommitQueue {
    state: Mutex<QueueState>,
    changed: Condvar,
}

/// Durable commits since the open, and the syncs that made them durable.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CommitCounts {
    pub durable_commits: u64,
    pub syncs: u64,
}

impl CommitQueue {
    pub(crate) fn new(published: u64, slot_high_water: [u64; 2]) -> Self {
        CommitQueue {
            state: Mutex::new(QueueState {
                in_flight: None,
                pending: None,
                published,
                failed: false,
                length_unsynced: false,
                slot_high_water,
                durable_commits: 0,
                syncs: 0,
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Every update under this lock is a few assignments: a panic cannot leave it torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the queue holds as a commit chooses how to write its meta, read under one lock.
    pub(crate) fn now(&self) -> QueueNow {
        let queue = self.lock();
        if queue.failed {
            QueueNow::Failed
        } else if queue.in_flight.is_some() || queue.pending.is_some() {
            QueueNow::Busy
        } else {
            QueueNow::Idle
        }
    }

    /// What a beginning transaction needs to know of the queue, read together: a group is
    /// published (and becomes the newest durable) under the queue's lock.
    pub(crate) fn view_at_begin(&self, shared: &Shared) -> QueueAtBegin {
        let queue = self.lock();
        let busy = queue.in_flight.is_some() || queue.pending.is_some();
        // Every commit after the newest meta written waits in the pending group: no meta
        // that reaches its pages will ever be written once a later commit replaces it.
        let newest_written = queue.in_flight.map_or(queue.published, |f| f.txn);
        QueueAtBegin {
            busy,
            durable_txn: shared.published().durable_txn,
            unwritten_after: queue.pending.as_ref().map(|_| newest_written),
        }
    }

    /// Whether a queued meta's write or sync failed.
    pub(crate) fn failed(&self) -> bool {
        self.lock().failed
    }

    /// Takes the flag that a non-durable group grew the file: the caller's sync covers it.
    pub(crate) fn take_length_unsynced(&self) -> bool {
        std::mem::take(&mut self.lock().length_unsynced)
    }

    pub(crate) fn slot_high_water(&self) -> [u64; 2] {
        self.lock().slot_high_water
    }

    /// Records the meta just written to its slot, by a writer holding the writer's state
    /// while nothing is queued.
    pub(crate) fn wrote_meta(&self, meta: &Meta) {
        self.lock().slot_high_water[meta.slot() as usize] = meta.high_water;
    }

    /// Records a commit published by a writer that synced it itself (`synced`) or made it
    /// without a sync.
    pub(crate) fn published_directly(&self, txn: u64, synced: bool) {
        let mut queue = self.lock();
        queue.published = queue.published.max(txn);
        if synced {
            queue.durable_commits += 1;
            queue.syncs += 1;
        }
    }

    pub(crate) fn counts(&self) -> CommitCounts {
        let queue = self.lock();
        CommitCounts {
            durable_commits: queue.durable_commits,
            syncs: queue.syncs,
        }
    }
}

/// What a queued commit hands over: its pages are written, its meta is not.
pub(crate) struct Queued {
    pub meta: Meta,
    pub freelist: crate::pager::FreeList,
    pub durable: bool,
    pub grew: bool,
}

/// Queues the commit, hands the writer's state to the next writer, and returns once the
/// commit is published (and, if durable, synced). Every failure from here on poisons the
/// handle: the writer's state already moved past the commit.
pub(crate) fn commit_queued(
    shared: &Shared,
    writer: &mut WriterGuard,
    commit: Queued,
) -> Result<()> {
    let Queued {
        mut meta,
        mut freelist,
        durable,
        grew,
    } = commit;
    let queue = &shared.commits;
    let mut state = queue.lock();
    if state.failed {
        writer.freelist = None;
        return Err(Error::Poisoned);
    }
    // The group this commit began beside still waits (no other commit can have joined it),
    // so the meta this one replaces is never written: the pages of that group it freed
    // are unreachable from every meta on disk or to come ("Recycling within a group").
    if state.pending.is_some() || planted(Bug::RecycleAfterGroupWritten) {
        freelist.recycle_superseded();
    }
    if meta.txn_id.0 % 2 != queued_slot(shared, &state) {
        meta.txn_id = TxnId(meta.txn_id.0 + 1);
    }
    let txn = meta.txn_id.0;
    writer.last_txn = writer.last_txn.max(txn);
    writer.meta = meta.clone();
    writer.freelist = Some(freelist);
    let publication = Publication {
        snapshot: Arc::new(Snapshot::new(
            meta.clone(),
            writer.map.clone(),
            shared.verify,
            shared.verified.clone(),
            None,
        )),
        pending_frees: writer
            .freelist
            .as_ref()
            .map(|f| f.pending_by_txn())
            .unwrap_or_default(),
        durable,
    };
    // The group's sync covers the growth; the writer's next commit need not repeat it.
    let grew = grew || std::mem::take(&mut writer.length_unsynced);
    let group = match state.pending.take() {
        Some(older) => Group {
            meta,
            publication: Publication {
                durable: durable || older.publication.durable,
                ..publication
            },
            grew: grew || older.grew,
        },
        None => Group {
            meta,
            publication,
            grew,
        },
    };
    if durable {
        state.durable_commits += 1;
    }
    state.pending = Some(group);
    drop(state);
    writer.release();
    if planted(Bug::GroupReturnsBeforeSync) {
        return Ok(());
    }
    wait_until_published(shared, txn)
}

/// The meta slot a queued commit's meta goes to. I4: not the slot of the meta being synced,
/// or else of the newest durable one (a non-durable group being written goes to the other
/// slot, which this meta then overwrites); a waiting group's meta it replaces had the slot
/// right already. Begin chose the id for the state it saw: if a group was written since, the
/// next id serves (no transaction began after this one, which holds the writer's state, so
/// none carries it).
fn queued_slot(shared: &Shared, state: &QueueState) -> u64 {
    match (&state.pending, state.in_flight) {
        (Some(group), _) => group.meta.txn_id.0 % 2,
        (None, Some(InFlight { txn, durable: true })) => 1 - txn % 2,
        (None, _) => 1 - shared.published().durable_txn % 2,
    }
}

/// Waits until `txn` is published, writing and syncing the waiting group's meta whenever no
/// sync runs (whichever waiter sees that first leads).
fn wait_until_published(shared: &Shared, txn: u64) -> Result<()> {
    let queue = &shared.commits;
    let mut state = queue.lock();
    loop {
        if state.published >= txn {
            return Ok(());
        }
        if state.failed {
            return Err(Error::Poisoned);
        }
        if state.in_flight.is_none()
            && let Some(group) = state.pending.take()
        {
            state = lead(shared, state, group)?;
            continue;
        }
        state = queue.changed.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

/// Writes the group's meta and, if any of its commits is durable, syncs it, both without the
/// lock; then publishes it. Returns the lock again.
fn lead<'a>(
    shared: &'a Shared,
    mut state: MutexGuard<'a, QueueState>,
    group: Group,
) -> Result<MutexGuard<'a, QueueState>> {
    let queue = &shared.commits;
    let Group {
        meta,
        publication,
        grew,
    } = group;
    let txn = meta.txn_id.0;
    let durable = publication.durable;
    // A durable group's sync covers growth by non-durable groups before it.
    let grew = grew || (durable && std::mem::take(&mut state.length_unsynced));
    // No other meta is written until this one is, and synced if durable.
    state.in_flight = Some(InFlight { txn, durable });
    drop(state);
    let offset = meta.slot() * shared.page_size as u64;
    let written = shared
        .storage
        .write_at(&meta.encode(), offset)
        .and_then(|()| match durable {
            true => shared
                .storage
                .sync(grew && !planted(Bug::NoSyncAfterGrowth)),
            false => Ok(()),
        });
    let mut state = queue.lock();
    state.in_flight = None;
    if durable {
        state.syncs += 1;
    }
    if let Err(error) = written {
        return Err(fail(queue, state, error.into()));
    }
    if !durable {
        state.length_unsynced |= grew;
    }
    state.slot_high_water[meta.slot() as usize] = meta.high_water;
    // Under the queue's lock: groups are published in the order they were written.
    publication.apply(shared);
    state.published = txn;
    queue.changed.notify_all();
    Ok(state)
}

/// Poisons the handle after a failed write or sync of a queued meta and wakes every waiter.
fn fail(queue: &CommitQueue, mut state: MutexGuard<'_, QueueState>, error: Error) -> Error {
    state.failed = true;
    state.pending = None;
    drop(state);
    queue.changed.notify_all();
    error
}
