//! Delete with merge and redistribution (DESIGN.md, "Splits and merges"). A page is
//! rebalanced when its cells fill less than a third of it: a split leaves two halves of
//! about one half each, so a page that just split cannot immediately merge again.

use super::insert::balanced_split;
use super::path::{dirty_child, dirty_path_by};
use super::{MAX_DEPTH, dirty_ptr, node_at, too_deep};
use crate::error::{Error, Result};
use crate::format::PageKind;
use crate::format::node::{self, LeafValue, NewCell};
use crate::ids::{PageId, Ptr};
use crate::pager::{PageSource, PageStore};

/// The child taken in each branch from the root down to a leaf.
struct Route {
    taken: [usize; MAX_DEPTH],
    len: usize,
}

/// Where the tree holds `key`: the route from the root down, and the index in the leaf.
/// `None` if it does not hold it. Reads only: nothing is copied for a key that is not there.
fn find<S: PageSource + ?Sized>(src: &S, root: Ptr, key: &[u8]) -> Result<Option<(Route, usize)>> {
    let mut ptr = root;
    let mut route = Route {
        taken: [0; MAX_DEPTH],
        len: 0,
    };
    for _ in 0..MAX_DEPTH {
        let node = node_at(src, ptr)?;
        if !node.is_branch() {
            return Ok(node.search(key)?.ok().map(|idx| (route, idx)));
        }
        let idx = node.child_index(key)?;
        route.taken[route.len] = idx;
        route.len += 1;
        ptr = node.child(idx)?;
    }
    Err(too_deep(ptr.page))
}

/// Removes `key`. Returns the new root (`None` once the tree is empty) and whether the key
/// was there. A missing key changes nothing.
pub(crate) fn remove<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
    key: &[u8],
) -> Result<(Option<Ptr>, bool)> {
    let Some(root) = root else {
        return Ok((None, false));
    };
    let Some((route, idx)) = find(store, root, key)? else {
        return Ok((Some(root), false));
    };
    // The same route again, copying: the copies hold the same cells, so no key is compared.
    let (root_id, path, leaf, _) = dirty_path_by(store, root, |node, depth| {
        route.taken[..route.len]
            .get(depth)
            .copied()
            .filter(|&idx| idx < node.len())
            .ok_or_else(|| Error::corruption(node.id(), "tree changed between two walks"))
    })?;
    {
        let node = node_at(store, dirty_ptr(leaf))?;
        if idx >= node.len() || node.key(idx)? != key {
            return Err(Error::corruption(leaf, "tree changed between two walks"));
        }
        if let LeafValue::Overflow { ptr, len } = node.value(idx)? {
            store.free_overflow(ptr, len)?;
        }
    }
    node::remove(store.page_mut(leaf), leaf, idx)?;
    rebalance(store, path, leaf)?;
    collapse_root(store, dirty_ptr(root_id))
}

pub(super) fn rebalance<S: PageStore + ?Sized>(
    store: &mut S,
    mut path: Vec<super::path::Step>,
    leaf: PageId,
) -> Result<()> {
    let usable = node::usable(store.page_size());
    let mut current = leaf;
    while let Some(parent) = path.pop() {
        let node = node_at(store, dirty_ptr(current))?;
        if node.len() > 0 && node.occupied() >= usable / 3 {
            return Ok(());
        }
        let parent_node = node_at(store, dirty_ptr(parent.page))?;
        if parent_node.len() >= 2 {
            let (left_idx, right_idx) = if parent.idx > 0 {
                (parent.idx - 1, parent.idx)
            } else {
                (0, 1)
            };
            let left_ptr = parent_node.child(left_idx)?;
            let right_ptr = parent_node.child(right_idx)?;
            let separator = parent_node.key(right_idx)?.to_vec();
            let left = dirty_child(store, parent.page, left_idx, left_ptr)?;
            let right = dirty_child(store, parent.page, right_idx, right_ptr)?;
            join_siblings(store, parent.page, right_idx, left, right, &separator)?;
        }
        current = parent.page;
    }
    Ok(())
}

/// Merges `right` into `left` if their cells fit one page, else shares the cells evenly
/// (unless the new separator would not fit the parent, in which case both stay as they are).
fn join_siblings<S: PageStore + ?Sized>(
    store: &mut S,
    parent: PageId,
    right_idx: usize,
    left: PageId,
    right: PageId,
    separator: &[u8],
) -> Result<()> {
    let usable = node::usable(store.page_size());
    // Copies of the two pages; the cells are slices of them (no allocation per cell).
    let left_copy = store.page(dirty_ptr(left))?.to_vec();
    let right_copy = store.page(dirty_ptr(right))?.to_vec();
    let l = node::Node::parse(&left_copy, left)?;
    let r = node::Node::parse(&right_copy, right)?;
    if l.is_branch() != r.is_branch() {
        return Err(crate::error::Error::corruption(
            right,
            "sibling pages of different kinds",
        ));
    }
    let is_branch = l.is_branch();
    let cells = joined_cells(&l, &r, separator)?;
    let kind = if is_branch {
        PageKind::Branch
    } else {
        PageKind::Leaf
    };
    if node::cells_size(&cells) <= usable {
        node::rebuild(store.page_mut(left), kind, &cells);
        store.free(right)?;
        node::remove(store.page_mut(parent), parent, right_idx)?;
        return Ok(());
    }
    let at = balanced_split(&cells, usable);
    let new_separator = cells[at].key(is_branch).to_vec();
    let new_cell = NewCell::Branch {
        key: &new_separator,
        child: dirty_ptr(right),
    };
    if !node::fits_after_replace(
        store.page(dirty_ptr(parent))?,
        parent,
        right_idx,
        new_cell.len(),
    )? {
        return Ok(());
    }
    let mut right_part = cells[at..].to_vec();
    if is_branch {
        right_part[0] = NewCell::Branch {
            key: b"",
            child: cells[at].child(),
        };
    }
    node::rebuild(store.page_mut(left), kind, &cells[..at]);
    node::rebuild(store.page_mut(right), kind, &right_part);
    let parent_page = store.page_mut(parent);
    node::remove(parent_page, parent, right_idx)?;
    let fitted = node::try_insert(parent_page, right_idx, &new_cell);
    debug_assert!(fitted, "fits_after_replace promised room");
    Ok(())
}

/// The cells of sibling pages `l` and `r` in order, as one page would hold them: between
/// branches, the right page's keyless first child takes `separator` from the parent.
fn joined_cells<'a>(
    l: &node::Node<'a>,
    r: &node::Node<'a>,
    separator: &'a [u8],
) -> Result<Vec<NewCell<'a>>> {
    let mut cells: Vec<NewCell> = Vec::with_capacity(l.len() + r.len());
    for i in 0..l.len() {
        cells.push(NewCell::Raw(l.cell(i)?));
    }
    for i in 0..r.len() {
        let cell = r.cell(i)?;
        cells.push(if l.is_branch() && i == 0 {
            NewCell::Branch {
                key: separator,
                child: node::raw_child(cell),
            }
        } else {
            NewCell::Raw(cell)
        });
    }
    Ok(cells)
}

/// Replaces a root branch with a single child by that child, and an empty root leaf by no
/// tree at all.
pub(super) fn collapse_root<S: PageStore + ?Sized>(
    store: &mut S,
    mut root: Ptr,
) -> Result<(Option<Ptr>, bool)> {
    for _ in 0..MAX_DEPTH {
        let node = node_at(store, root)?;
        if node.is_branch() && node.len() == 1 {
            let child = node.child(0)?;
            store.free(root.page)?;
            root = child;
        } else if !node.is_branch() && node.len() == 0 {
            store.free(root.page)?;
            return Ok((None, true));
        } else {
            return Ok((Some(root), true));
        }
    }
    Err(too_deep(root.page))
}

#[cfg(test)]
mod tests {
    use super::super::test_store::TestStore;
    use super::super::{get, insert};
    use super::*;

    #[test]
    fn removals_merge_pages_until_the_tree_is_one_leaf_then_none() {
        let mut store = TestStore::new(4096);
        let mut root = None;
        for i in 0..3_000u32 {
            root = Some(
                insert(&mut store, root, &i.to_be_bytes(), &[5; 100])
                    .unwrap()
                    .0,
            );
        }
        root = store.commit(root).unwrap();
        let pages_full = store.reachable(root).len();
        for i in (0..3_000u32).filter(|i| i % 100 != 0) {
            let (new_root, found) = remove(&mut store, root, &i.to_be_bytes()).unwrap();
            assert!(found);
            root = new_root;
        }
        assert!(
            !remove(&mut store, root, &1u32.to_be_bytes()).unwrap().1,
            "gone already"
        );
        root = store.commit(root).unwrap();
        // 30 entries of about 110 bytes fit one leaf: merges brought the tree down to it.
        let pages = store.reachable(root);
        assert_eq!(pages.len(), 1, "from {pages_full} pages to one leaf");
        for i in 0..3_000u32 {
            let value = get(&store, root, &i.to_be_bytes()).unwrap();
            assert_eq!(value.is_some(), i % 100 == 0, "key {i}");
        }
        for i in (0..3_000u32).step_by(100) {
            root = remove(&mut store, root, &i.to_be_bytes()).unwrap().0;
        }
        assert_eq!(root, None, "an emptied leaf leaves no tree");
    }
}
