//! Paths from the root: descending while making each page on the way dirty, and the one
//! way a dirty child is repointed in its parent. Insert, delete, share, merge and range
//! deletion all change a tree along such a path.

use super::{MAX_DEPTH, dirty_ptr, node_at, too_deep};
use crate::error::Result;
use crate::format::node;
use crate::ids::{PageId, Ptr};
use crate::pager::PageStore;

/// A branch on the path from the root: its (dirty) id, the child index taken, and whether it
/// lies on the tree's rightmost edge.
#[derive(Clone, Copy, Debug)]
pub(super) struct Step {
    pub page: PageId,
    pub idx: usize,
    pub rightmost: bool,
}

/// Makes the path from `root` to the leaf for `key` dirty. Returns the new root id, the
/// branches walked and the leaf.
pub(super) fn dirty_path<S: PageStore + ?Sized>(
    store: &mut S,
    root: Ptr,
    key: &[u8],
) -> Result<(PageId, Vec<Step>, PageId, bool)> {
    dirty_path_by(store, root, |node, _| node.child_index(key))
}

/// Makes a path from `root` to a leaf dirty, taking in each branch the child `choose` picks
/// (given the branch and its depth).
pub(super) fn dirty_path_by<S: PageStore + ?Sized>(
    store: &mut S,
    root: Ptr,
    choose: impl FnMut(&node::Node, usize) -> Result<usize>,
) -> Result<(PageId, Vec<Step>, PageId, bool)> {
    descend_copying(store, root, true, choose)
}

/// Makes the branches from `root` down to the leaf for `key` dirty, but not the leaf (its
/// caller copies the leaf itself, or not at all). The path is empty for a tree that is a
/// single leaf.
pub(super) fn dirty_branches<S: PageStore + ?Sized>(
    store: &mut S,
    root: Ptr,
    key: &[u8],
) -> Result<Vec<Step>> {
    let (_, path, _, _) = descend_copying(store, root, false, |node, _| node.child_index(key))?;
    Ok(path)
}

/// Makes the branches `choose` leads through dirty, but not the leaf (see `dirty_branches`).
pub(super) fn dirty_branches_by<S: PageStore + ?Sized>(
    store: &mut S,
    root: Ptr,
    choose: impl FnMut(&node::Node, usize) -> Result<usize>,
) -> Result<Vec<Step>> {
    let (_, path, _, _) = descend_copying(store, root, false, choose)?;
    Ok(path)
}

/// The descent behind `dirty_path_by` and `dirty_branches`: copies every branch on the way
/// down, and the leaf too if `copy_leaf` (else the leaf id returned may be a clean page, and
/// so may the root id when the root is that leaf).
fn descend_copying<S: PageStore + ?Sized>(
    store: &mut S,
    root: Ptr,
    copy_leaf: bool,
    mut choose: impl FnMut(&node::Node, usize) -> Result<usize>,
) -> Result<(PageId, Vec<Step>, PageId, bool)> {
    let mut path = Vec::with_capacity(8);
    if !copy_leaf && !node_at(store, root)?.is_branch() {
        return Ok((root.page, path, root.page, true));
    }
    let root_id = store.make_dirty(root)?;
    let mut current = root_id;
    let mut rightmost = true;
    loop {
        let node = node_at(store, dirty_ptr(current))?;
        if !node.is_branch() {
            return Ok((root_id, path, current, rightmost));
        }
        if path.len() >= MAX_DEPTH {
            return Err(too_deep(current));
        }
        let idx = choose(&node, path.len())?;
        let child = node.child(idx)?;
        let last = idx + 1 == node.len();
        path.push(Step {
            page: current,
            idx,
            rightmost,
        });
        rightmost &= last;
        if !copy_leaf && !node_at(store, child)?.is_branch() {
            return Ok((root_id, path, child.page, rightmost));
        }
        current = dirty_child(store, current, idx, child)?;
    }
}

/// Makes the child at `idx` of dirty branch `parent` dirty and points the cell at it with
/// `Ptr::UNSEALED` (also when the page keeps its id: log mode, a page written early), so
/// that sealing enters it (`walk::seal_tree`). Returns the child's id now.
pub(super) fn dirty_child<S: PageStore + ?Sized>(
    store: &mut S,
    parent: PageId,
    idx: usize,
    child: Ptr,
) -> Result<PageId> {
    let id = store.make_dirty(child)?;
    if id != child.page || !child.is_unsealed() {
        node::set_child(store.page_mut(parent), parent, idx, dirty_ptr(id))?;
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::super::test_store::TestStore;
    use super::*;

    /// A committed tree of `n` keys deep enough to have branches.
    fn tree(store: &mut TestStore, n: u32) -> Ptr {
        let mut root = None;
        for i in 0..n {
            root = Some(
                super::super::insert(store, root, &i.to_be_bytes(), &[7; 100])
                    .unwrap()
                    .0,
            );
        }
        store.commit(root).unwrap().unwrap()
    }

    #[test]
    fn a_dirty_path_copies_each_page_once_and_points_at_the_copies_unsealed() {
        let mut store = TestStore::new(4096);
        let root = tree(&mut store, 3_000);
        let key = 1_234u32.to_be_bytes();
        let (new_root, steps, leaf, _) = dirty_path(&mut store, root, &key).unwrap();
        assert!(!steps.is_empty(), "a tree with branches");
        assert_ne!(new_root, root.page, "the root was copied");
        // Every page on the path is this transaction's, and each cell on it points at the
        // next copy with the unsealed checksum, so sealing reaches them all.
        let mut dirty = store.dirty_ids();
        dirty.sort_unstable();
        assert_eq!(
            dirty.len(),
            steps.len() + 1,
            "the branches and the leaf, once each"
        );
        for (i, step) in steps.iter().enumerate() {
            let node = node_at(&store, dirty_ptr(step.page)).unwrap();
            let child = node.child(step.idx).unwrap();
            assert!(child.is_unsealed());
            let below = steps.get(i + 1).map_or(leaf, |s| s.page);
            assert_eq!(child.page, below);
        }
        // Descending again copies nothing more.
        let again = dirty_path(&mut store, dirty_ptr(new_root), &key).unwrap();
        assert_eq!(again.2, leaf);
        assert_eq!(store.dirty_ids().len(), dirty.len());
    }

    #[test]
    fn dirty_branches_leave_the_leaf_alone() {
        let mut store = TestStore::new(4096);
        let root = tree(&mut store, 3_000);
        let steps = dirty_branches(&mut store, root, &5u32.to_be_bytes()).unwrap();
        assert_eq!(store.dirty_ids().len(), steps.len(), "branches only");
    }
}
