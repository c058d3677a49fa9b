//! Insert and overwrite, splitting full pages bottom-up (DESIGN.md, "Splits and merges").

use super::append::Edge;
use super::path::{Step, dirty_path};
use super::share::share_with_sibling;
use super::{dirty_ptr, node_at};
use crate::error::Result;
use crate::format::PageKind;
use crate::format::node::{self, LeafValue, NewCell};
use crate::ids::{PageId, Ptr};
use crate::pager::PageStore;

/// Inserts or overwrites `key`. Returns the new root and whether the key existed.
pub(crate) fn insert<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
    key: &[u8],
    value: &[u8],
) -> Result<(Ptr, bool)> {
    insert_noting_edge(store, root, key, value).map(|(root, existed, _)| (root, existed))
}

/// `insert`, also returning the tree's [`Edge`] if the key went in at the end of the
/// rightmost leaf (a sorted load: the next key can be appended there).
pub(crate) fn insert_noting_edge<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
    key: &[u8],
    value: &[u8],
) -> Result<(Ptr, bool, Option<Edge>)> {
    let page_size = store.page_size();
    let overflow = if node::value_fits_inline(page_size, key.len(), value.len()) {
        None
    } else {
        Some(store.write_overflow(value)?)
    };
    let cell = match overflow {
        None => NewCell::Leaf { key, value },
        Some(ptr) => NewCell::LeafOverflow {
            key,
            ptr,
            len: value.len() as u64,
        },
    };
    let Some(root) = root else {
        let leaf = store.allocate(PageKind::Leaf)?;
        node::try_insert(store.page_mut(leaf), 0, &cell);
        return Ok((dirty_ptr(leaf), false, Some(Edge { root: leaf, leaf })));
    };
    let (root_id, path, leaf, rightmost) = dirty_path(store, root, key)?;
    let (idx, existed, count) = {
        let node = node_at(store, dirty_ptr(leaf))?;
        let count = node.len();
        match node.search(key)? {
            Ok(i) => {
                if let LeafValue::Overflow { ptr, len } = node.value(i)? {
                    store.free_overflow(ptr, len)?;
                }
                (i, true, count)
            }
            Err(i) => (i, false, count),
        }
    };
    // The cell goes last in the tree's last leaf, here or (on a split) in the new right one.
    let at_edge = rightmost && !existed && idx == count;
    if existed {
        node::remove(store.page_mut(leaf), leaf, idx)?;
    }
    if node::try_insert(store.page_mut(leaf), idx, &cell) {
        let edge = at_edge.then_some(Edge {
            root: root_id,
            leaf,
        });
        return Ok((dirty_ptr(root_id), existed, edge));
    }
    if let Some(parent) = path.last()
        && share_with_sibling(store, parent, leaf, idx, &cell)?
    {
        return Ok((dirty_ptr(root_id), existed, None));
    }
    let (new_root, right) = split_upwards(store, path, leaf, idx, cell, rightmost)?;
    let root_id = new_root.unwrap_or(root_id);
    let edge = at_edge.then_some(Edge {
        root: root_id,
        leaf: right,
    });
    Ok((dirty_ptr(root_id), existed, edge))
}

/// Splits `page` to make room for `cell` at `idx`, pushing separators up the path; returns
/// a new root if the old one split, and the leaf's new right sibling.
fn split_upwards<S: PageStore + ?Sized>(
    store: &mut S,
    mut path: Vec<Step>,
    leaf: PageId,
    idx: usize,
    cell: NewCell,
    rightmost: bool,
) -> Result<(Option<PageId>, PageId)> {
    let (mut separator, mut right) = split(store, leaf, idx, &cell, rightmost)?;
    let right_leaf = right;
    let mut left = leaf;
    loop {
        let carry = NewCell::Branch {
            key: &separator,
            child: dirty_ptr(right),
        };
        let Some(parent) = path.pop() else {
            let root = store.allocate(PageKind::Branch)?;
            let first = NewCell::Branch {
                key: b"",
                child: dirty_ptr(left),
            };
            node::rebuild(store.page_mut(root), PageKind::Branch, &[first, carry]);
            return Ok((Some(root), right_leaf));
        };
        if node::try_insert(store.page_mut(parent.page), parent.idx + 1, &carry) {
            return Ok((None, right_leaf));
        }
        let (next_separator, next_right) =
            split(store, parent.page, parent.idx + 1, &carry, parent.rightmost)?;
        separator = next_separator;
        right = next_right;
        left = parent.page;
    }
}

/// Splits `page` plus `cell` (to go at `idx`) into `page` and a new right sibling. Returns
/// the separator (the right sibling's first key) and the sibling.
fn split<S: PageStore + ?Sized>(
    store: &mut S,
    page: PageId,
    idx: usize,
    cell: &NewCell,
    rightmost: bool,
) -> Result<(Vec<u8>, PageId)> {
    // A copy of the page; the cells are slices of it (no allocation per cell).
    let copy = store.page(dirty_ptr(page))?.to_vec();
    let node = node::Node::parse(&copy, page)?;
    let is_branch = node.is_branch();
    let mut cells: Vec<NewCell> = Vec::with_capacity(node.len() + 1);
    for i in 0..node.len() {
        cells.push(NewCell::Raw(node.cell(i)?));
    }
    cells.insert(idx, *cell);
    let usable = node::usable(store.page_size());
    // Appending at the right edge of the tree (a sorted load) keeps the left page full.
    let at = if rightmost && idx + 1 == cells.len() {
        idx
    } else {
        balanced_split(&cells, usable)
    };
    let separator = cells[at].key(is_branch).to_vec();
    let kind = if is_branch {
        PageKind::Branch
    } else {
        PageKind::Leaf
    };
    let right = store.allocate(kind)?;
    let mut right_cells = cells[at..].to_vec();
    if is_branch {
        // The first child of a branch has no key: it stands for everything below the rest.
        right_cells[0] = NewCell::Branch {
            key: b"",
            child: cells[at].child(),
        };
    }
    node::rebuild(store.page_mut(page), kind, &cells[..at]);
    node::rebuild(store.page_mut(right), kind, &right_cells);
    Ok((separator, right))
}

/// The index that splits `cells` into two halves of about equal bytes, each fitting a page.
pub(super) fn balanced_split(cells: &[NewCell], usable: usize) -> usize {
    let total = node::cells_size(cells);
    let mut at = 0;
    let mut left = 0;
    while at < cells.len() && left + node::cells_size(&cells[at..=at]) <= total / 2 {
        left += node::cells_size(&cells[at..=at]);
        at += 1;
    }
    let mut at = at.clamp(1, cells.len() - 1);
    while at + 1 < cells.len() && node::cells_size(&cells[at..]) > usable {
        at += 1;
    }
    while at > 1 && node::cells_size(&cells[..at]) > usable {
        at -= 1;
    }
    at
}
