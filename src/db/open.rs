//! Creating a file and opening one: choosing the meta (DESIGN.md, "Why a crash at any instant leaves the old or the new transaction").

use super::follow_chain::{Followed, follow_chain, has_records};
use super::{Builder, FallBack};
use crate::Mode;
use crate::error::{Error, Result};
use crate::format::header::verify_page;
use crate::format::meta::MetaError;
use crate::format::node::{LeafValue, Node};
use crate::format::{FORMAT_VERSION, Meta, PageHeader, valid_page_size};
use crate::ids::{PageId, Ptr, TxnId};
use crate::io::{FileStorage, LockMode, Mapping, Storage};
use crate::pager::wal::{Recovered, WalIndex, WalLog, checkpoint};
use crate::pager::{ReadPages, VerifiedPages, walk_chain};
use crate::plant::{Bug, planted};
use crate::txn::{
    CommitQueue, Published, Recovery, Shared, Snapshot, TableRecord, WalState, WriterSlot,
    WriterState,
};
use std::fs;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::Instant;

pub(super) fn open_file(path: &Path, options: &Builder) -> Result<Shared> {
    if !path.exists() {
        if options.read_only || !options.create {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no database at {}", path.display()),
            )));
        }
        create(path, options.page_size, options.mode)?;
    }
    let lock = if options.read_only {
        LockMode::Shared
    } else {
        LockMode::Exclusive
    };
    let storage = FileStorage::open(path, lock)?.ok_or(Error::AlreadyOpen)?;
    let log = match options.mode {
        Mode::CopyOnWrite => None,
        Mode::Wal => Some(open_log_file(path, options.read_only)?),
    };
    open_storage(Box::new(storage), log, options)
}

/// The log beside the file at `path` (`<name>-wal`), created (and its directory synced) if
/// missing. The main file's lock covers it.
fn open_log_file(path: &Path, read_only: bool) -> Result<Box<dyn Storage>> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push("-wal");
    let log_path = path.with_file_name(name);
    let existed = log_path.exists();
    let storage = FileStorage::open_unlocked(&log_path, !read_only)?;
    if !existed {
        sync_parent(path)?;
    }
    Ok(Box::new(storage))
}

fn first_meta(page_size: usize, mode: Mode) -> Meta {
    Meta {
        page_size: page_size as u32,
        txn_id: TxnId(0),
        catalog: None,
        freelist: None,
        freelist_records: Vec::new(),
        high_water: 2,
        pages_synced_first: true,
        wal_mode: mode == Mode::Wal,
        next_record: 0,
    }
}

/// Writes the first meta of a new database (page 1 stays zero: an invalid meta).
fn initialise(storage: &dyn Storage, page_size: usize, mode: Mode) -> Result<()> {
    storage.write_at(&first_meta(page_size, mode).encode(), 0)?;
    storage.write_at(&vec![0u8; page_size], page_size as u64)?;
    storage.sync(true)?;
    Ok(())
}

fn mode_of(meta: &Meta) -> Mode {
    if meta.wal_mode {
        Mode::Wal
    } else {
        Mode::CopyOnWrite
    }
}

/// The newest state the main file holds (a meta, or a commit record chained to one), the
/// records followed to it and, if the open did not take the newest commit the file names,
/// why; every valid meta.
fn main_meta(storage: &dyn Storage, file_len: u64, map: &Mapping) -> Result<(Followed, Vec<Meta>)> {
    let (metas, damaged_meta) = read_metas(storage, file_len)?;
    // A record chained after the newest meta shows that meta durable: the newest record is
    // what the open verifies then. Without one, the newest meta is verified as ever.
    let followed = match has_records(map, &metas[0], file_len) {
        true => follow_chain(map, metas[0].clone(), file_len, true)?,
        false => {
            let (meta, fell_back) = choose_meta(map, &metas, file_len)?;
            // The older meta's newest record may be one never synced (in flight at an earlier
            // crash, or its write failed): it is verified too.
            let mut followed = follow_chain(map, meta, file_len, true)?;
            followed.fell_back = fell_back.map(|fell_back| FallBack {
                opened_txn: followed.state.txn_id.0,
                ..fell_back
            });
            followed
        }
    };
    let Followed {
        state: meta,
        records,
        fell_back,
    } = followed;
    if damaged_meta {
        log::warn!(
            "bough: one meta page is damaged or torn; opened the other (transaction {})",
            meta.txn_id.0
        );
    }
    let fell_back = fell_back.or_else(|| {
        damaged_meta.then(|| FallBack {
            dropped_txn: meta.txn_id.0 + 1,
            opened_txn: meta.txn_id.0,
            reason: "the other meta page is damaged or torn (its commit, if any, was lost)"
                .to_owned(),
        })
    });
    let followed = Followed {
        state: meta,
        records,
        fell_back,
    };
    Ok((followed, metas))
}

/// What the open knows of the main file: its length and map, the meta chosen, every valid
/// meta.
struct MainFile {
    len: u64,
    map: Arc<Mapping>,
    meta: Meta,
    metas: Vec<Meta>,
    /// The pages of the commit records followed from the meta chosen (DESIGN.md, "Chained
    /// commits").
    records: Vec<u64>,
}

pub(super) fn open_storage(
    storage: Box<dyn Storage>,
    log_storage: Option<Box<dyn Storage>>,
    options: &Builder,
) -> Result<Shared> {
    let mut len = storage.len()?;
    if len == 0 && !options.read_only {
        initialise(&*storage, options.page_size, options.mode)?;
        if !planted(Bug::NoDirectorySync) {
            storage.sync_directory()?;
        }
        len = storage.len()?;
    }
    let map = Arc::new(storage.map(len)?);
    let (followed, metas) = main_meta(&*storage, len, &map)?;
    let (meta, fell_back, records) = (followed.state, followed.fell_back, followed.records);
    if mode_of(&meta) != options.mode {
        return Err(Error::ModeMismatch {
            file: mode_of(&meta),
            requested: options.mode,
        });
    }
    let mut main = MainFile {
        len,
        map,
        meta,
        metas,
        records,
    };
    let mut recovery = Recovery::default();
    let mut fell_back = fell_back;
    let wal = match log_storage {
        Some(log_storage) => Some(recover_log(
            &*storage,
            log_storage,
            options,
            &mut main,
            &mut recovery,
            &mut fell_back,
        )?),
        None => None,
    };
    if options.refuse_fallback
        && let Some(fell_back) = &fell_back
    {
        return Err(Error::FallBackRefused {
            dropped_txn: fell_back.dropped_txn,
            reason: fell_back.reason.clone(),
        });
    }
    let mut durable_txn = main.meta.txn_id.0;
    if !options.read_only {
        // Everything the chosen meta reaches is whole (verified above, or written by a
        // two-sync commit), but the previous process may have died before its last sync, and
        // may have grown the file: one fsync makes the meta, its pages and the length durable
        // before any page the meta frees can be reused.
        storage.sync(true)?;
    } else if !main.meta.pages_synced_first {
        durable_txn = 0;
    }
    shared(
        storage,
        options,
        main,
        wal,
        recovery,
        fell_back,
        durable_txn,
    )
}

/// What the end of the log's scan says, given `reached`, the newest commit the file or the
/// log holds (DESIGN.md, "Sealing at close"): damage, if a clean close sealed a newer commit;
/// a visible fall-back, if the log ends inside the next commit; and no fall-back at all if
/// the file's damaged meta is a commit the log still holds.
fn judge_log_end(
    recovered: &Recovered,
    reached: u64,
    fell_back: &mut Option<FallBack>,
) -> Result<()> {
    if recovered.sealed > reached {
        // A clean close found commit `sealed` whole in the log (DESIGN.md, "Sealing at
        // close"): a scan that ends before it met damage, not the log's end.
        let (offset, page) = recovered.ended_at;
        return Err(Error::corruption(
            page,
            format!(
                "the log frame at offset {offset} is damaged: a clean close sealed the log with \
                 commit {} whole, but its whole frames end at commit {reached}",
                recovered.sealed
            ),
        ));
    }
    if fell_back.as_ref().is_some_and(|f| reached >= f.dropped_txn) {
        // A damaged meta of the file (a checkpoint's, torn): the log still holds that
        // commit, so nothing was dropped.
        *fell_back = None;
    }
    if let Some(dropped) = recovered.unfinished.filter(|&txn| txn == reached + 1)
        && fell_back.is_none()
    {
        // The log ends inside the next commit: torn by an unclean stop, or damaged. Falling
        // back is right, and visible (DESIGN.md, "Sealing at close").
        *fell_back = Some(FallBack {
            dropped_txn: dropped,
            opened_txn: reached,
            reason: format!(
                "the log ends inside commit {dropped}, at offset {}: its frames are torn (it \
                 was in flight at an unclean stop, or its commit failed) or damaged",
                recovered.ended_at.0
            ),
        });
    }
    Ok(())
}

/// Replays the log beside the file (log mode): a logged commit the file already names may
/// still be missing pages in the file (a checkpoint interrupted before its sync), so the
/// newest logged commit is copied into the file again (the copy is idempotent) and the log
/// starts over; a read-only open, or one without room for the copy, serves the logged
/// commits from the log instead.
fn recover_log(
    storage: &dyn Storage,
    log_storage: Box<dyn Storage>,
    options: &Builder,
    main: &mut MainFile,
    recovery: &mut Recovery,
    fell_back: &mut Option<FallBack>,
) -> Result<WalState> {
    let started = Instant::now();
    let (mut log, recovered) = WalLog::open(log_storage, main.meta.page_size as usize)?;
    recovery.frames = recovered.frames;
    recovery.bytes = recovered.bytes;
    let reached = recovered
        .meta
        .as_ref()
        .map_or(0, |m| m.txn_id.0)
        .max(main.meta.txn_id.0);
    judge_log_end(&recovered, reached, fell_back)?;
    let mut index = recovered.index;
    let logged = recovered.meta.filter(|m| m.txn_id >= main.meta.txn_id);
    // Until a copy succeeds every logged version is read from the log.
    let mut floor = 0;
    match logged {
        Some(logged) if options.read_only => main.meta = logged,
        Some(logged) => match checkpoint(storage, main.len, &mut log, &index, 0, &logged) {
            Ok(len) => {
                log.reset(true, logged.txn_id.0)?;
                floor = logged.txn_id.0;
                index = WalIndex::default();
                main.len = len;
                main.map = Arc::new(storage.map(len)?);
                let (followed, metas) = main_meta(storage, len, &main.map)?;
                (main.meta, main.metas, main.records) = (followed.state, metas, followed.records);
            }
            Err(e) if e.is_storage_full() => {
                // An open never needs room (DESIGN.md, "A full disk"): the copy waits for a
                // later checkpoint. The pages it wrote in place have newer versions in the log.
                log::warn!(
                    "bough: no room to copy the log into the file at open ({e}); \
                     serving the log, the checkpoint waits for room"
                );
                main.len = storage.len()?;
                main.map = Arc::new(storage.map(main.len)?);
                main.meta = logged;
                // The log keeps its salt for now, so the next commit announces a new one:
                // frames a crash left past the chain's end can then never pass for commits
                // after it (DESIGN.md, "Log format").
                log.renew_salt();
            }
            Err(e) => return Err(e),
        },
        None => {
            // The file holds every commit the log does: read nothing from it.
            index = WalIndex::default();
            if !options.read_only {
                // Start over under a new salt, synced, so frames a crash left behind can
                // never be taken for part of a later transaction with a reused id.
                log.reset(true, main.meta.txn_id.0)?;
            }
        }
    }
    recovery.time = started.elapsed();
    Ok(WalState {
        log,
        index: Arc::new(RwLock::new(index)),
        floor,
    })
}

/// The state every transaction of the open database shares.
fn shared(
    storage: Box<dyn Storage>,
    options: &Builder,
    main: MainFile,
    wal: Option<WalState>,
    recovery: Recovery,
    fell_back: Option<FallBack>,
    durable_txn: u64,
) -> Result<Shared> {
    let MainFile {
        len,
        map,
        meta,
        metas,
        records,
    } = main;
    // A chained commit in flight at the crash may have left a record under the id after
    // the state opened, beyond the records followed: new ids start past it.
    let in_flight = match meta.next_record {
        0 => 0,
        _ => meta.txn_id.0.saturating_add(2),
    };
    let last_txn = metas
        .iter()
        .map(|m| m.txn_id.0)
        .max()
        .unwrap_or(0)
        .max(meta.txn_id.0)
        .max(in_flight);
    // The records followed stay as they are until a durable meta covers them; the chain
    // itself ends here: the next commit writes a meta.
    let chain = crate::txn::ChainState {
        withheld: records.into_iter().collect(),
        live: None,
    };
    let mut slot_high_water = [0; 2];
    for m in &metas {
        slot_high_water[m.slot() as usize] = m.high_water;
    }
    let verified = Arc::new(VerifiedPages::new()?);
    let snapshot_txn = meta.txn_id.0;
    let snapshot = Arc::new(Snapshot::new(
        meta.clone(),
        map.clone(),
        options.verify_checksums,
        verified.clone(),
        wal.as_ref(),
    ));
    Ok(Shared {
        storage: Arc::from(storage),
        page_size: meta.page_size as usize,
        verify: options.verify_checksums,
        verified,
        durability: options.durability,
        protocol: options.protocol,
        mode: options.mode,
        checkpoint_bytes: options.checkpoint_bytes,
        dirty_budget: options.dirty_budget,
        recovery,
        read_only: options.read_only,
        fell_back,
        published: Mutex::new(Published {
            snapshot,
            readers: Default::default(),
            durable_txn,
            compaction_waiting: false,
        }),
        writer: WriterSlot::new(WriterState {
            meta,
            freelist: None,
            last_txn,
            map,
            file_len: len,
            length_unsynced: false,
            poisoned: false,
            wal,
            chain,
        }),
        reader_left: Condvar::new(),
        commits: CommitQueue::new(snapshot_txn, slot_high_water),
    })
}

/// Makes the directory entries of `path`'s directory durable.
pub(super) fn sync_parent(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Writes a new database to a scratch file, syncs it, then links it into place and syncs
/// the directory: a crash leaves either no file or a complete one.
fn create(path: &Path, page_size: usize, mode: Mode) -> Result<()> {
    let name = path.file_name().ok_or_else(|| {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "database path has no file name",
        ))
    })?;
    let mut scratch_name = name.to_owned();
    scratch_name.push(".bough-creating");
    let scratch = path.with_file_name(scratch_name);
    let storage = FileStorage::create_scratch(&scratch)?.ok_or(Error::AlreadyOpen)?;
    if let Err(e) = initialise(&storage, page_size, mode) {
        // A full disk, say: nothing is left behind that could be taken for a database.
        drop(storage);
        let _ = fs::remove_file(&scratch);
        return Err(e);
    }
    let linked = match fs::hard_link(&scratch, path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    };
    fs::remove_file(&scratch)?;
    linked?;
    if !planted(Bug::NoDirectorySync) {
        sync_parent(path)?;
    }
    Ok(())
}

/// Every valid meta in the file (at most one per slot), all of one page size, newest first;
/// and whether a slot holds a meta that is damaged (written, but not valid).
fn read_metas(storage: &dyn Storage, file_len: u64) -> Result<(Vec<Meta>, bool)> {
    let mut found = Vec::new();
    let mut version = None;
    let mut read = |offset: u64, slot: u64| -> Result<Option<Meta>> {
        let mut buf = vec![0u8; crate::format::meta::META_SIZE];
        if file_len < offset + buf.len() as u64 {
            return Ok(None);
        }
        storage.read_at(&mut buf, offset)?;
        let len = Meta::encoded_len(&buf);
        if len > buf.len() && file_len >= offset + len as u64 {
            buf.resize(len, 0);
            storage.read_at(&mut buf, offset)?;
        }
        match Meta::decode(&buf) {
            Ok(meta)
                if valid_page_size(meta.page_size as usize)
                    && meta.txn_id.0 % 2 == slot
                    && (slot == 0 || meta.page_size as u64 == offset) =>
            {
                Ok(Some(meta))
            }
            Err(MetaError::Version(v)) => {
                version = Some(v);
                Ok(None)
            }
            _ => Ok(None),
        }
    };
    let first = read(0, 0)?;
    let sizes: Vec<u64> = match &first {
        Some(meta) => vec![meta.page_size as u64],
        None => (12..=16).map(|shift| 1u64 << shift).collect(),
    };
    for size in sizes {
        if let Some(meta) = read(size, 1)? {
            found.push(meta);
            break;
        }
    }
    found.extend(first);
    if found.is_empty() {
        return Err(match version {
            Some(found) => Error::IncompatibleVersion {
                found,
                supported: FORMAT_VERSION,
            },
            None => Error::NotADatabase,
        });
    }
    let size = found
        .iter()
        .max_by_key(|m| m.txn_id)
        .expect("non-empty")
        .page_size;
    found.retain(|m| m.page_size == size);
    found.sort_by_key(|m| std::cmp::Reverse(m.txn_id));
    // Both slots hold a valid meta once the first commit is written (transaction 1, slot 1),
    // so a lone valid meta means the other slot was damaged or torn, unless the file is new:
    // transaction 0 beside a slot never written (all zeros).
    let mut damaged = false;
    if found.len() < 2 {
        let mut buf = [0u8; crate::format::meta::META_SIZE];
        // In write-ahead-log mode the file's metas are written by checkpoints only, which
        // may all land in one slot.
        let fresh = (found[0].txn_id.0 == 0 || found[0].wal_mode)
            && file_len >= size as u64 + buf.len() as u64
            && storage.read_at(&mut buf, size as u64).is_ok()
            && buf.iter().all(|&b| b == 0);
        damaged = !fresh;
    }
    Ok((found, damaged))
}

/// The newest meta whose tree is whole, and whether an older one had to be used.
fn choose_meta(
    map: &crate::io::Mapping,
    metas: &[Meta],
    file_len: u64,
) -> Result<(Meta, Option<FallBack>)> {
    let newest = &metas[0];
    let older = metas.get(1);
    let since = older.map_or(0, |m| m.txn_id.0);
    let whole = within_file(newest, file_len).and_then(|()| {
        if newest.pages_synced_first {
            Ok(())
        } else {
            verify_recent(map, newest, since)
        }
    });
    match whole {
        Ok(()) => Ok((newest.clone(), None)),
        Err(e) => match older {
            Some(older) => {
                log::warn!(
                    "bough: the newest commit (transaction {}) did not reach the disk whole ({e}); \
                     opened the previous one (transaction {})",
                    newest.txn_id.0,
                    older.txn_id.0
                );
                let fell_back = FallBack {
                    dropped_txn: newest.txn_id.0,
                    opened_txn: older.txn_id.0,
                    reason: e.to_string(),
                };
                Ok((older.clone(), Some(fell_back)))
            }
            None => Err(e),
        },
    }
}

/// Whether the file holds every page below `meta`'s high-water mark: a commit grows the file
/// before writing its meta, so a shorter file lost that growth at a crash, and the commit
/// did not reach the disk whole (even when nothing it reaches lies beyond the end: an empty
/// tree whose freelist records the meta holds).
pub(super) fn within_file(meta: &Meta, file_len: u64) -> Result<()> {
    let pages = file_len / u64::from(meta.page_size);
    if meta.high_water > pages {
        return Err(Error::corruption(
            PageId(meta.txn_id.0 % 2),
            format!(
                "high-water mark {} lies beyond the file ({pages} pages)",
                meta.high_water
            ),
        ));
    }
    Ok(())
}

/// Checks every page written after transaction `since` that `meta` reaches: each must carry
/// the checksum its parent recorded and hash to it. A page that carries the recorded checksum
/// but was written at or before `since` was synced by a durable commit: the walk stops there
/// without hashing it, so its cost is the size of the recent commits, and damage inside such
/// an old page is reported by the reads and `check()` that meet it, not mistaken for a torn
/// commit.
pub(super) fn verify_recent(map: &crate::io::Mapping, meta: &Meta, since: u64) -> Result<()> {
    let pages = ReadPages {
        map,
        page_size: meta.page_size as usize,
        high_water: meta.high_water,
        verify: true,
        wal: None,
        verified: None,
    };
    // Whether the page at `ptr` was written after `since`; `Err` if it is not the page
    // its parent recorded or, being recent, does not hash to its checksum.
    let recent = |ptr: Ptr| -> Result<Option<&[u8]>> {
        let page = pages.raw(ptr.page, 1)?;
        verify_page(page, ptr.page, Some(ptr.crc), false)?;
        if PageHeader::of(page).txn_id.get() <= since {
            return Ok(None);
        }
        Ok(Some(pages.checked_page(ptr)?))
    };
    walk_chain(meta.freelist, meta.high_water, recent, |_, _, _| {})?;
    let mut steps = 0u64;
    let mut work: Vec<(Ptr, bool)> = meta.catalog.map(|p| (p, true)).into_iter().collect();
    while let Some((ptr, is_catalog)) = work.pop() {
        steps += 1;
        if steps > meta.high_water.saturating_mul(2) {
            return Err(Error::corruption(ptr.page, "tree loops"));
        }
        let Some(page) = recent(ptr)? else {
            continue;
        };
        let node = Node::parse(page, ptr.page)?;
        for i in 0..node.len() {
            if node.is_branch() {
                work.push((node.child(i)?, is_catalog));
                continue;
            }
            match node.value(i)? {
                LeafValue::Inline(bytes) if is_catalog => {
                    let record = TableRecord::decode(bytes, ptr.page)?;
                    work.extend(record.root.map(|root| (root, false)));
                }
                LeafValue::Overflow { ptr: run, len } => {
                    let first = pages.raw(run.page, 1)?;
                    verify_page(first, run.page, Some(run.crc), false)?;
                    if PageHeader::of(first).txn_id.get() > since {
                        pages.checked_overflow(run, len)?;
                    }
                }
                LeafValue::Inline(_) => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(txn: u64, high_water: u64, trusted: bool) -> Meta {
        Meta {
            txn_id: TxnId(txn),
            high_water,
            pages_synced_first: trusted,
            ..first_meta(4096, Mode::CopyOnWrite)
        }
    }

    #[test]
    fn the_newest_meta_is_taken_when_whole() {
        let metas = [meta(7, 10, true), meta(6, 10, false)];
        let (chosen, fell_back) = choose_meta(&Mapping::Empty, &metas, 10 * 4096).unwrap();
        assert_eq!(chosen.txn_id, TxnId(7));
        assert!(fell_back.is_none());
    }

    #[test]
    fn a_newest_meta_past_the_file_end_lost_its_growth_and_the_older_one_is_opened() {
        let metas = [meta(7, 20, true), meta(6, 10, false)];
        let (chosen, fell_back) = choose_meta(&Mapping::Empty, &metas, 10 * 4096).unwrap();
        assert_eq!(chosen.txn_id, TxnId(6));
        let fell_back = fell_back.expect("the fall-back is reported");
        assert_eq!((fell_back.dropped_txn, fell_back.opened_txn), (7, 6));
        assert!(!fell_back.reason.is_empty());
    }

    #[test]
    fn a_lone_meta_that_is_not_whole_fails_the_open() {
        let metas = [meta(7, 20, true)];
        assert!(choose_meta(&Mapping::Empty, &metas, 10 * 4096).is_err());
    }

    /// A file of two durable commits on a simulated disk: its image, its newest meta, the
    /// pages the second commit wrote and those written before.
    fn two_commits() -> (Vec<u8>, Meta, Vec<u64>, Vec<u64>) {
        let disk = crate::io::sim::SimDisk::new();
        let db = crate::Database::builder()
            .open_simulated(disk.clone())
            .unwrap();
        for (round, table) in ["a", "b"].into_iter().enumerate() {
            let wtx = db.begin_write().unwrap();
            let mut t = wtx.open_table(table).unwrap();
            for n in 0..300u32 {
                t.insert(&n.to_be_bytes(), &[round as u8; 50]).unwrap();
            }
            drop(t);
            wtx.commit().unwrap();
        }
        drop(db);
        let image = disk.contents();
        let newest = [0usize, 4096]
            .iter()
            .filter_map(|&at| Meta::decode(&image[at..at + 4096]).ok())
            .max_by_key(|m| m.txn_id)
            .unwrap();
        let written_by = |txn: u64| -> Vec<u64> {
            (2..image.len() as u64 / 4096)
                .filter(|&id| {
                    let page = &image[id as usize * 4096..][..4096];
                    PageHeader::of(page).txn_id.get() == txn
                })
                .collect()
        };
        // The close's seal wrote a meta under a later id, and no page.
        let newest_pages = (2..image.len() as u64 / 4096)
            .map(|id| {
                PageHeader::of(&image[id as usize * 4096..][..4096])
                    .txn_id
                    .get()
            })
            .max()
            .unwrap();
        let older = (1..newest_pages).flat_map(written_by).collect();
        let newer = written_by(newest_pages);
        (image, newest, newer, older)
    }

    fn newer_txn(image: &[u8], page: u64) -> u64 {
        PageHeader::of(&image[page as usize * 4096..][..4096])
            .txn_id
            .get()
    }

    fn damaged(image: &[u8], page: u64) -> Mapping {
        let mut image = image.to_vec();
        image[page as usize * 4096 + 2000] ^= 0x40;
        let disk = crate::io::sim::SimDisk::from_image(image.clone());
        disk.map(image.len() as u64).unwrap()
    }

    #[test]
    fn recovery_verification_hashes_the_pages_of_recent_commits_only() {
        let (image, newest, newer, older) = two_commits();
        assert!(!newer.is_empty() && !older.is_empty());
        let since = newer_txn(&image, newer[0]) - 1;
        let whole = crate::io::sim::SimDisk::from_image(image.clone());
        verify_recent(&whole.map(image.len() as u64).unwrap(), &newest, since).unwrap();
        // Damage inside a page of the newest commit: the commit is not whole.
        for &page in &newer {
            match verify_recent(&damaged(&image, page), &newest, since) {
                Err(Error::Corruption { page: named, .. }) => assert_eq!(named, page),
                other => panic!("damage to page {page} of the newest commit: {other:?}"),
            }
        }
        // Damage inside an older page is left to the reads and check() that meet it.
        for &page in &older {
            verify_recent(&damaged(&image, page), &newest, since).unwrap();
        }
    }
}
