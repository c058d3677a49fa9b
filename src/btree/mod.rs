//! The B+ tree over a page store: search, cursors, insert with splits, delete with merges,
//! and whole-tree walks (sealing, freeing, checking). It sees only the pager's traits.

mod append;
mod check;
mod compact;
mod cursor;
mod delete;
mod insert;
mod lower;
mod merge;
mod pack;
mod path;
mod range_delete;
mod share;
#[cfg(test)]
mod test_store;
mod walk;

pub(crate) use append::{Edge, append_at_edge};
pub(crate) use check::{PageMarks, TreeSummary, check_tree};
pub(crate) use compact::{Relocated, leaves_to_pack, relocate_tree};
pub(crate) use cursor::RangeIter;
pub(crate) use delete::remove;
pub(crate) use insert::{insert, insert_noting_edge};
pub(crate) use lower::lower_changed_pages;
pub(crate) use merge::{Fill, Write, merge_sorted, merge_sorted_filling};
pub(crate) use pack::{pack_before_spilling, pack_changed_leaves};
pub(crate) use range_delete::delete_covered;
pub(crate) use walk::{free_tree, seal_tree};

use crate::error::{Error, Result};
use crate::format::node::{LeafValue, Node};
use crate::ids::{PageId, Ptr};
use crate::pager::{PageSource, PageStore};

/// Deeper trees are corrupt: a cycle among branch pages must not recurse forever. A tree
/// grows a level only when a full root splits, and a branch under a third full joins a
/// sibling, so 32 levels exceed any file that fits a 64-bit address space.
pub(crate) const MAX_DEPTH: usize = 32;

/// A pointer to a page of the current transaction, whose checksum is not known yet.
pub(crate) fn dirty_ptr(page: PageId) -> Ptr {
    Ptr {
        page,
        crc: Ptr::UNSEALED,
    }
}

pub(crate) fn too_deep(page: PageId) -> Error {
    Error::corruption(
        page,
        format!("tree deeper than {MAX_DEPTH} levels (cycle?)"),
    )
}

/// Whether page `id` is this transaction's and in memory (not written early): changing it
/// costs no read and no extra write.
pub(crate) fn in_memory_page<S: PageStore + ?Sized>(store: &S, id: PageId) -> bool {
    store.is_dirty(id) && store.sealed_crc(id).is_none()
}

/// The node at `ptr`, parsed.
pub(crate) fn node_at<S: PageSource + ?Sized>(src: &S, ptr: Ptr) -> Result<Node<'_>> {
    Node::parse(src.page(ptr)?, ptr.page)
}

/// The leaf value's bytes, following an overflow pointer if needed.
pub(crate) fn value_bytes<'a, S: PageSource + ?Sized>(
    src: &'a S,
    value: LeafValue<'a>,
) -> Result<&'a [u8]> {
    match value {
        LeafValue::Inline(bytes) => Ok(bytes),
        LeafValue::Overflow { ptr, len } => src.overflow(ptr, len),
    }
}

/// The leaf holding `key` and the key's index in it, if the tree has the key.
fn leaf_entry<'a, S: PageSource + ?Sized>(
    src: &'a S,
    root: Option<Ptr>,
    key: &[u8],
) -> Result<Option<(Node<'a>, usize)>> {
    let Some(mut ptr) = root else {
        return Ok(None);
    };
    for _ in 0..MAX_DEPTH {
        let node = node_at(src, ptr)?;
        if node.is_branch() {
            ptr = node.child(node.child_index(key)?)?;
            continue;
        }
        return Ok(node.search(key)?.ok().map(|i| (node, i)));
    }
    Err(too_deep(ptr.page))
}

/// About how many leaves the tree has: the fan-outs of the branches on the way to `key`,
/// multiplied (0 for no tree).
pub(crate) fn estimated_leaves<S: PageSource + ?Sized>(
    src: &S,
    root: Option<Ptr>,
    key: &[u8],
) -> Result<u64> {
    let Some(mut ptr) = root else {
        return Ok(0);
    };
    let mut leaves = 1u64;
    for _ in 0..MAX_DEPTH {
        let node = node_at(src, ptr)?;
        if !node.is_branch() {
            return Ok(leaves);
        }
        leaves = leaves.saturating_mul(node.len() as u64);
        ptr = node.child(node.child_index(key)?)?;
    }
    Err(too_deep(ptr.page))
}

/// The value stored under `key`, if any.
pub(crate) fn get<'a, S: PageSource + ?Sized>(
    src: &'a S,
    root: Option<Ptr>,
    key: &[u8],
) -> Result<Option<&'a [u8]>> {
    match leaf_entry(src, root, key)? {
        Some((leaf, i)) => Ok(Some(value_bytes(src, leaf.value(i)?)?)),
        None => Ok(None),
    }
}

/// Whether the tree has `key`; a large value's overflow run is not read.
pub(crate) fn contains<S: PageSource + ?Sized>(
    src: &S,
    root: Option<Ptr>,
    key: &[u8],
) -> Result<bool> {
    Ok(leaf_entry(src, root, key)?.is_some())
}
