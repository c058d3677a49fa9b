//! Creating a file and opening one: choosing the meta (DESIGN.md, "Opening").

use super::Builder;
use crate::error::{Error, Result};
use crate::format::header::verify_page;
use crate::format::meta::MetaError;
use crate::format::node::{LeafValue, Node};
use crate::format::{FORMAT_VERSION, Meta, PageHeader, freelist_page, valid_page_size};
use crate::ids::{Ptr, TxnId};
use crate::io::{FileStorage, LockMode, Storage};
use crate::pager::ReadPages;
use crate::plant::{Bug, planted};
use crate::txn::{Published, Shared, Snapshot, TableRecord, WriterState};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};

pub(super) fn open_file(path: &Path, options: &Builder) -> Result<Shared> {
    if !options.read_only && !path.exists() {
        create(path, options.page_size)?;
    }
    let mode = if options.read_only {
        LockMode::Shared
    } else {
        LockMode::Exclusive
    };
    let storage = FileStorage::open(path, mode)?.ok_or(Error::AlreadyOpen)?;
    open_storage(Box::new(storage), options)
}

fn first_meta(page_size: usize) -> Meta {
    Meta {
        page_size: page_size as u32,
        txn_id: TxnId(0),
        catalog: None,
        freelist: None,
        high_water: 2,
        pages_synced_first: true,
    }
}

/// Writes the first meta of a new database (page 1 stays zero: an invalid meta).
fn initialise(storage: &dyn Storage, page_size: usize) -> Result<()> {
    storage.write_at(&first_meta(page_size).encode(), 0)?;
    storage.write_at(&vec![0u8; page_size], page_size as u64)?;
    storage.sync(true)?;
    Ok(())
}

pub(super) fn open_storage(storage: Box<dyn Storage>, options: &Builder) -> Result<Shared> {
    let mut file_len = storage.len()?;
    if file_len == 0 && !options.read_only {
        initialise(&*storage, options.page_size)?;
        if !planted(Bug::NoDirectorySync) {
            storage.sync_directory()?;
        }
        file_len = storage.len()?;
    }
    let (metas, damaged_meta) = read_metas(&*storage, file_len)?;
    let map = Arc::new(storage.map(file_len)?);
    let (meta, fell_back) = choose_meta(&map, &metas)?;
    if damaged_meta {
        log::warn!(
            "bough: one meta page is damaged or torn; opened the other (transaction {})",
            meta.txn_id.0
        );
    }
    let fell_back = fell_back || damaged_meta;
    let page_size = meta.page_size as usize;
    let last_txn = metas.iter().map(|m| m.txn_id.0).max().unwrap_or(0);
    let mut durable_txn = meta.txn_id.0;
    if !meta.pages_synced_first && !options.read_only {
        // Everything the chosen meta reaches is whole (verified above); one sync makes it
        // durable before any page it frees can be reused.
        storage.sync(true)?;
    } else if !meta.pages_synced_first {
        durable_txn = 0;
    }
    let snapshot = Arc::new(Snapshot {
        meta: meta.clone(),
        map: map.clone(),
        verify: options.verify_checksums,
    });
    Ok(Shared {
        storage,
        page_size,
        verify: options.verify_checksums,
        durability: options.durability,
        protocol: options.protocol,
        read_only: options.read_only,
        fell_back,
        published: Mutex::new(Published {
            snapshot,
            readers: BTreeMap::new(),
            durable_txn,
        }),
        writer: Mutex::new(WriterState {
            meta,
            freelist: None,
            last_txn,
            map,
            file_len,
            length_unsynced: false,
            poisoned: false,
        }),
    })
}

/// Writes a new database to a scratch file, syncs it, then links it into place and syncs
/// the directory: a crash leaves either no file or a complete one.
fn create(path: &Path, page_size: usize) -> Result<()> {
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
    initialise(&storage, page_size)?;
    let linked = match fs::hard_link(&scratch, path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    };
    fs::remove_file(&scratch)?;
    linked?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !planted(Bug::NoDirectorySync) {
        fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Every valid meta in the file (at most one per slot), all of one page size, newest first;
/// and whether a slot holds a meta that is damaged (written, but not valid).
fn read_metas(storage: &dyn Storage, file_len: u64) -> Result<(Vec<Meta>, bool)> {
    let mut found = Vec::new();
    let mut version = None;
    let mut read = |offset: u64, slot: u64| -> Result<Option<Meta>> {
        let mut buf = [0u8; crate::format::meta::META_SIZE];
        if file_len < offset + buf.len() as u64 {
            return Ok(None);
        }
        storage.read_at(&mut buf, offset)?;
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
        let fresh = found[0].txn_id.0 == 0
            && file_len >= size as u64 + buf.len() as u64
            && storage.read_at(&mut buf, size as u64).is_ok()
            && buf.iter().all(|&b| b == 0);
        damaged = !fresh;
    }
    Ok((found, damaged))
}

/// The newest meta whose tree is whole, and whether an older one had to be used.
fn choose_meta(map: &crate::io::Mapping, metas: &[Meta]) -> Result<(Meta, bool)> {
    let newest = &metas[0];
    let older = metas.get(1);
    if newest.pages_synced_first {
        return Ok((newest.clone(), false));
    }
    let since = older.map_or(0, |m| m.txn_id.0);
    match verify_recent(map, newest, since) {
        Ok(()) => Ok((newest.clone(), false)),
        Err(e) => match older {
            Some(older) => {
                log::warn!(
                    "bough: the newest commit (transaction {}) did not reach the disk whole ({e}); \
                     opened the previous one (transaction {})",
                    newest.txn_id.0,
                    older.txn_id.0
                );
                Ok((older.clone(), true))
            }
            None => Err(e),
        },
    }
}

/// Checks every page written after transaction `since` that `meta` reaches: each must carry
/// the checksum its parent recorded and hash to it. A page that carries the recorded checksum
/// but was written at or before `since` was synced by a durable commit: the walk stops there
/// without hashing it, so its cost is the size of the recent commits, and damage inside such
/// an old page is reported by the reads and `check()` that meet it, not mistaken for a torn
/// commit.
fn verify_recent(map: &crate::io::Mapping, meta: &Meta, since: u64) -> Result<()> {
    let pages = ReadPages {
        map,
        page_size: meta.page_size as usize,
        high_water: meta.high_water,
        verify: true,
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
    let mut steps = 0u64;
    let mut next = meta.freelist;
    while let Some(ptr) = next {
        steps += 1;
        if steps > meta.high_water {
            return Err(Error::corruption(ptr.page, "freelist chain loops"));
        }
        next = match recent(ptr)? {
            Some(page) => freelist_page::decode(page, ptr.page)?.next,
            None => None,
        };
    }
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
