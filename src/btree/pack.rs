//! Packing the leaves a transaction changed in memory (DESIGN.md, "Packing changed
//! leaves"): runs of neighbouring leaves under one branch, all still in memory, that fit in
//! fewer leaves at fifteen sixteenths full are rewritten into those fewer leaves, at commit
//! and before pages are written early. Pages the transaction did not change, or wrote early,
//! are never read or rewritten.

use super::delete::collapse_root;
use super::merge::{Child, Fill, Replaced, new_root, rebuild_leaves, replace_spans};
use super::{MAX_DEPTH, dirty_ptr, in_memory_page, node_at, too_deep};
use crate::error::{Error, Result};
use crate::format::node;
use crate::ids::{PageId, Ptr};
use crate::pager::PageStore;
use std::ops::Range;

/// Leaves packed together at most: their copies are the memory packing takes beyond the
/// budget. A longer stretch of leaves in memory is packed in runs of this many.
const MAX_RUN: usize = 32;

/// Packs the runs of in-memory leaves of the tree at `root` and returns its root afterwards.
/// Nothing happens while the transaction compacts: compaction packs leaves full itself.
pub(crate) fn pack_changed_leaves<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
) -> Result<Option<Ptr>> {
    let Some(root) = root else {
        return Ok(None);
    };
    if store.compaction().is_some() || !in_memory_page(store, root.page) {
        return Ok(Some(root));
    }
    if !node_at(store, root)?.is_branch() {
        return Ok(Some(root));
    }
    match pack_branch(store, root.page, 0)? {
        // Rebuilt in place, the root may be left with one child.
        None => Ok(collapse_root(store, root)?.0),
        Some(children) => match new_root(store, children)? {
            Replaced::Root(Some(root)) => Ok(collapse_root(store, root)?.0),
            Replaced::Root(None) => Ok(None),
            Replaced::InPlace { .. } => Err(Error::corruption(root.page, "root kept in place")),
        },
    }
}

/// `pack_changed_leaves` when the store is about to write pages early (over its budget), so
/// that it writes fewer and fuller leaves; else nothing. Between tree operations only.
pub(crate) fn pack_before_spilling<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
) -> Result<Option<Ptr>> {
    match store.over_budget() {
        true => pack_changed_leaves(store, root),
        false => Ok(root),
    }
}

/// Packs the leaves under the in-memory branch `page` at `depth`. Returns `None` when the
/// branch kept its place (changed or not), else the pages that now stand for it (none if it
/// lost every child), as children for its parent.
fn pack_branch<S: PageStore + ?Sized>(
    store: &mut S,
    page: PageId,
    depth: usize,
) -> Result<Option<Vec<Child>>> {
    if depth >= MAX_DEPTH {
        return Err(too_deep(page));
    }
    let children = {
        let branch = node_at(store, dirty_ptr(page))?;
        if !branch.is_branch() {
            return Err(Error::corruption(page, "a leaf among branches"));
        }
        (0..branch.len())
            .map(|i| branch.child(i))
            .collect::<Result<Vec<Ptr>>>()?
    };
    let changed: Vec<bool> = children
        .iter()
        .map(|c| in_memory_page(store, c.page))
        .collect();
    let Some(first) = changed.iter().position(|&c| c) else {
        return Ok(None);
    };
    // Every leaf of a tree is at the same depth: one child tells what all of them are.
    let replacements = match node_at(store, children[first])?.is_branch() {
        true => pack_branches_below(store, &children, &changed, depth)?,
        false => pack_leaf_runs(store, page, &children, &changed)?,
    };
    if replacements.is_empty() {
        return Ok(None);
    }
    let spans: Vec<(Range<usize>, &[Child])> = (replacements.iter())
        .map(|(span, children)| (span.clone(), children.as_slice()))
        .collect();
    replace_spans(store, page, &spans)
}

/// The replacements for the in-memory branches among `children`.
fn pack_branches_below<S: PageStore + ?Sized>(
    store: &mut S,
    children: &[Ptr],
    changed: &[bool],
    depth: usize,
) -> Result<Vec<(Range<usize>, Vec<Child>)>> {
    let mut replacements = Vec::new();
    for (idx, child) in children.iter().enumerate() {
        if changed[idx]
            && let Some(new) = pack_branch(store, child.page, depth + 1)?
        {
            replacements.push((idx..idx + 1, new));
        }
    }
    Ok(replacements)
}

/// The replacements for runs of in-memory leaves among `children` (of branch `parent`) that
/// fit in fewer leaves.
fn pack_leaf_runs<S: PageStore + ?Sized>(
    store: &mut S,
    parent: PageId,
    children: &[Ptr],
    changed: &[bool],
) -> Result<Vec<(Range<usize>, Vec<Child>)>> {
    let target = Fill::RoomToGrow.target(node::usable(store.page_size()));
    let mut replacements = Vec::new();
    let mut start = 0;
    while start < children.len() {
        let in_memory = changed[start..].iter().take_while(|&&c| c).count();
        let run = start..start + in_memory.min(MAX_RUN);
        start = run.end.max(start + 1);
        if run.len() < 2 {
            continue;
        }
        let leaves = &children[run.clone()];
        let mut bytes = 0;
        for (i, leaf) in leaves.iter().enumerate() {
            if leaves[..i].iter().any(|seen| seen.page == leaf.page) {
                // Freed twice, a page would end up both in use and free.
                return Err(Error::corruption(parent, "two children point at one page"));
            }
            let node = node_at(store, *leaf)?;
            if node.is_branch() {
                return Err(Error::corruption(leaf.page, "a branch among leaves"));
            }
            bytes += node.occupied();
        }
        if bytes.div_ceil(target) < run.len() {
            let (new, _) = rebuild_leaves(store, leaves, &[], target)?;
            replacements.push((run, new));
        }
    }
    Ok(replacements)
}

#[cfg(test)]
mod tests {
    use super::super::test_store::TestStore;
    use super::super::{PageMarks, check_tree, get, insert, remove};
    use super::*;

    /// The occupied bytes of each leaf of the tree at `root`, in key order.
    fn leaf_fill(store: &TestStore, root: Option<Ptr>) -> Vec<usize> {
        fn visit(store: &TestStore, ptr: Ptr, fill: &mut Vec<usize>) {
            let node = node_at(store, ptr).unwrap();
            match node.is_branch() {
                true => (0..node.len()).for_each(|i| visit(store, node.child(i).unwrap(), fill)),
                false => fill.push(node.occupied()),
            }
        }
        let mut fill = Vec::new();
        if let Some(root) = root {
            visit(store, root, &mut fill);
        }
        fill
    }

    fn key(i: u64) -> [u8; 8] {
        // A fixed permutation of 0..2^20 spreads the keys over the tree in random order.
        ((i * 741_457) % (1 << 20)).to_be_bytes()
    }

    fn check(store: &TestStore, root: Option<Ptr>) {
        check_tree(store, root, &mut PageMarks::new(1 << 20), true).unwrap();
    }

    #[test]
    fn leaves_changed_in_memory_are_packed_into_fewer_and_read_the_same() {
        let mut store = TestStore::new(4096);
        let mut root = None;
        for i in 0..4_000 {
            root = Some(
                insert(&mut store, root, &key(i), &[i as u8; 100])
                    .unwrap()
                    .0,
            );
        }
        let before = leaf_fill(&store, root);
        let root = pack_changed_leaves(&mut store, root).unwrap();
        let after = leaf_fill(&store, root);
        let bytes: usize = before.iter().sum();
        assert_eq!(after.iter().sum::<usize>(), bytes);
        // Runs pack to fifteen sixteenths; the last leaf of each is partly filled.
        let fill = |leaves: &[usize]| bytes as f64 / (leaves.len() * node::usable(4096)) as f64;
        assert!(after.len() < before.len(), "{before:?}");
        assert!(fill(&after) > 0.9, "{after:?}");
        let root = store.commit(root).unwrap();
        check(&store, root);
        for i in 0..4_000 {
            assert_eq!(get(&store, root, &key(i)).unwrap().unwrap(), [i as u8; 100]);
        }
    }

    #[test]
    fn a_small_change_to_a_committed_tree_writes_nothing_more() {
        let mut store = TestStore::new(4096);
        let mut root = None;
        for i in 0..4_000 {
            root = Some(insert(&mut store, root, &key(i), &[1; 100]).unwrap().0);
        }
        let root = store.commit(root).unwrap();
        // Neighbouring leaves each half full, both changed: one split does it.
        let mut root = root;
        for i in 4_000..4_020 {
            root = Some(insert(&mut store, root, &key(i), &[2; 100]).unwrap().0);
        }
        let dirty = store.dirty_ids();
        let packed = pack_changed_leaves(&mut store, root).unwrap();
        assert_eq!(store.dirty_ids(), dirty, "packing changed no page");
        assert_eq!(packed, root);
    }

    #[test]
    fn leaves_emptied_by_removals_join_their_neighbours() {
        let mut store = TestStore::new(4096);
        let mut root = None;
        for i in 0..4_000u64 {
            root = Some(
                insert(&mut store, root, &i.to_be_bytes(), &[3; 100])
                    .unwrap()
                    .0,
            );
        }
        let mut root = store.commit(root).unwrap();
        let full = leaf_fill(&store, root).len();
        for i in (0..4_000u64).filter(|i| i % 4 != 0) {
            root = remove(&mut store, root, &i.to_be_bytes()).unwrap().0;
        }
        let thinned = leaf_fill(&store, root).len();
        let root = pack_changed_leaves(&mut store, root).unwrap();
        let packed = leaf_fill(&store, root).len();
        assert!(
            packed * 3 < full,
            "{full} leaves, {thinned} after removals, {packed} packed"
        );
        let root = store.commit(root).unwrap();
        check(&store, root);
        for i in 0..4_000u64 {
            let found = get(&store, root, &i.to_be_bytes()).unwrap();
            assert_eq!(found.is_some(), i % 4 == 0, "key {i}");
        }
    }

    #[test]
    fn a_root_left_with_one_leaf_is_replaced_by_it() {
        let mut store = TestStore::new(4096);
        let mut root = None;
        // In scattered order, so that the full leaf splits in two halves.
        for i in 0..40u64 {
            let key = (i * 17 % 40).to_be_bytes();
            root = Some(insert(&mut store, root, &key, &[4; 100]).unwrap().0);
        }
        assert!(node_at(&store, root.unwrap()).unwrap().is_branch());
        // Two leaves left about two fifths full each: one holds them.
        for i in (0..40u64).filter(|i| i % 5 == 0) {
            root = remove(&mut store, root, &i.to_be_bytes()).unwrap().0;
        }
        assert_eq!(leaf_fill(&store, root).len(), 2);
        let root = pack_changed_leaves(&mut store, root).unwrap();
        assert!(!node_at(&store, root.unwrap()).unwrap().is_branch());
        let root = store.commit(root).unwrap();
        check(&store, root);
        for i in 0..40u64 {
            let found = get(&store, root, &i.to_be_bytes()).unwrap();
            assert_eq!(found.is_some(), i % 5 != 0, "key {i}");
        }
    }

    #[test]
    fn nothing_is_packed_while_compacting() {
        let mut store = TestStore::new(4096);
        let mut root = None;
        for i in 0..4_000 {
            root = Some(insert(&mut store, root, &key(i), &[1; 100]).unwrap().0);
        }
        store.limit = Some(1 << 30);
        let dirty = store.dirty_ids();
        assert_eq!(pack_changed_leaves(&mut store, root).unwrap(), root);
        assert_eq!(store.dirty_ids(), dirty);
    }
}
