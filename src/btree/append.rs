//! Appending at the tree's right edge without a descent (DESIGN.md, "Splits and merges"): an
//! insert that ends at the end of the rightmost leaf leaves an [`Edge`], and the next insert
//! of a larger key goes straight into that leaf while nothing else changed the tree.

use super::{dirty_ptr, node_at};
use crate::error::Result;
use crate::format::node::{self, NewCell, compare_keys};
use crate::ids::{PageId, Ptr};
use crate::pager::PageStore;
use std::cmp::Ordering;

/// The tree's root and rightmost leaf, both dirty, as an insert at the end of that leaf left
/// them. Valid only until another operation changes the tree: whoever keeps one drops it on
/// any other change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Edge {
    pub(super) root: PageId,
    pub(super) leaf: PageId,
}

/// Inserts `key` at the end of the leaf `edge` names, if the tree's root is still `edge`'s,
/// the leaf is still in memory (not written early), `key` sorts after its last key, the
/// value is stored inline and the cell fits. Returns whether it did; `false` changes nothing.
pub(crate) fn append_at_edge<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
    edge: Edge,
    key: &[u8],
    value: &[u8],
) -> Result<bool> {
    if root != Some(dirty_ptr(edge.root))
        || !node::value_fits_inline(store.page_size(), key.len(), value.len())
        || !store.is_dirty(edge.leaf)
        || store.sealed_crc(edge.leaf).is_some()
    {
        return Ok(false);
    }
    let count = {
        let leaf = node_at(store, dirty_ptr(edge.leaf))?;
        if leaf.is_branch() || leaf.len() == 0 {
            return Ok(false);
        }
        if compare_keys(key, leaf.key(leaf.len() - 1)?) != Ordering::Greater {
            return Ok(false);
        }
        leaf.len()
    };
    let cell = NewCell::Leaf { key, value };
    Ok(node::try_insert(store.page_mut(edge.leaf), count, &cell))
}
