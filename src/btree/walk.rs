//! Whole-tree walks over the pages of one transaction: sealing and freeing.

use super::{MAX_DEPTH, dirty_ptr, node_at, too_deep};
use crate::error::Result;
use crate::format::node::{self, LeafValue};
use crate::ids::{PageId, PageSet, Ptr};
use crate::pager::PageStore;

/// Computes the checksums of every page this transaction wrote in the tree, children before
/// parents, storing each child's checksum in the branch cell that points to it. Returns the
/// root pointer with its final checksum. Visits only dirty pages: a branch cell pointing at a
/// page of this transaction that is not sealed yet carries checksum 0 (every path that makes
/// a child dirty, or brings a spilled one back, writes it so; a spilled child's cell holds its
/// final checksum), so cells with any other checksum are skipped without a lookup. The commit
/// then checks that every dirty page was sealed (`PageStore::unsealed_page`).
pub(crate) fn seal_tree<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
) -> Result<Option<Ptr>> {
    match root {
        Some(ptr) if store.is_dirty(ptr.page) => Ok(Some(Ptr {
            page: ptr.page,
            crc: seal_page(store, ptr.page, 0)?,
        })),
        other => Ok(other),
    }
}

fn seal_page<S: PageStore + ?Sized>(store: &mut S, id: PageId, depth: usize) -> Result<u32> {
    if depth >= MAX_DEPTH {
        return Err(too_deep(id));
    }
    if let Some(crc) = store.sealed_crc(id) {
        return Ok(crc);
    }
    let children: Vec<(usize, Ptr)> = {
        let node = node_at(store, dirty_ptr(id))?;
        let mut dirty = Vec::new();
        if node.is_branch() {
            for i in 0..node.len() {
                let child = node.child(i)?;
                if child.is_unsealed() {
                    dirty.push((i, child));
                }
            }
        }
        dirty
    };
    for (i, child) in children {
        if store.is_dirty(child.page) {
            let crc = seal_page(store, child.page, depth + 1)?;
            node::set_child(
                store.page_mut(id),
                id,
                i,
                Ptr {
                    page: child.page,
                    crc,
                },
            )?;
        }
    }
    store.seal(id)
}

/// Frees every page of the tree at `root`, overflow runs included. A page reached twice (a
/// corrupt tree whose branches share a child) is `Corruption`, never freed twice.
pub(crate) fn free_tree<S: PageStore + ?Sized>(store: &mut S, root: Option<Ptr>) -> Result<()> {
    free_counting(store, root).map(|_| ())
}

/// `free_tree`, returning how many entries the tree held (counted from its leaves' headers).
pub(crate) fn free_counting<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
) -> Result<u64> {
    let mut seen = PageSet::default();
    match root {
        Some(ptr) => free_page(store, ptr, 0, &mut seen),
        None => Ok(0),
    }
}

fn free_page<S: PageStore + ?Sized>(
    store: &mut S,
    ptr: Ptr,
    depth: usize,
    seen: &mut PageSet,
) -> Result<u64> {
    if depth >= MAX_DEPTH {
        return Err(too_deep(ptr.page));
    }
    if !seen.insert(ptr.page.0) {
        return Err(crate::error::Error::corruption(
            ptr.page,
            "page reachable twice in one tree",
        ));
    }
    let mut children = Vec::new();
    let mut runs = Vec::new();
    let mut entries = 0;
    {
        let node = node_at(store, ptr)?;
        if !node.is_branch() {
            entries = node.len() as u64;
        }
        for i in 0..node.len() {
            if node.is_branch() {
                children.push(node.child(i)?);
            } else if let LeafValue::Overflow { ptr, len } = node.value(i)? {
                runs.push((ptr, len));
            }
        }
    }
    for child in children {
        entries += free_page(store, child, depth + 1, seen)?;
    }
    for (run, len) in runs {
        if !seen.insert(run.page.0) {
            return Err(crate::error::Error::corruption(
                run.page,
                "overflow run reachable twice",
            ));
        }
        store.free_overflow(run, len)?;
    }
    store.free(ptr.page)?;
    Ok(entries)
}
