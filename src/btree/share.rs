//! Sharing a full leaf's cells with a neighbour instead of splitting it (DESIGN.md, "Splits
//! and merges"). Only the cells that cross over are moved, in place: the two pages are never
//! rebuilt, so a share costs a few cell copies rather than two page rewrites.

use super::dirty_ptr;
use super::path::{Step, dirty_child};
use crate::error::{Error, Result};
use crate::format::node::{self, NewCell, Node};
use crate::ids::PageId;
use crate::pager::PageStore;

/// Before splitting the full `leaf`, moves cells across to a neighbour this transaction has
/// already made dirty so that `cell` (to go at `idx`) fits, if the two hold everything with a
/// sixteenth of a page to spare. The boundary moves to where the two pages hold about equal
/// bytes. Returns whether the cell went in; `false` leaves the tree's content unchanged (a
/// spilled neighbour may have been read back into memory).
pub(super) fn share_with_sibling<S: PageStore + ?Sized>(
    store: &mut S,
    parent: &Step,
    leaf: PageId,
    idx: usize,
    cell: &NewCell,
) -> Result<bool> {
    let usable = node::usable(store.page_size());
    let neighbours = [parent.idx.checked_sub(1), parent.idx.checked_add(1)];
    for sibling_idx in neighbours.into_iter().flatten() {
        let sibling = {
            let parent_node = Node::parse(store.page(dirty_ptr(parent.page))?, parent.page)?;
            if sibling_idx >= parent_node.len() {
                continue;
            }
            parent_node.child(sibling_idx)?
        };
        if !store.is_dirty(sibling.page) {
            continue;
        }
        // Pages hold no garbage, so the headers alone say whether everything fits.
        let leaf_bytes = node::occupied(store.page(dirty_ptr(leaf))?);
        let sibling_bytes = node::occupied(store.page(dirty_ptr(sibling.page))?);
        let total = leaf_bytes + sibling_bytes + cell.len() + node::SLOT;
        if total > usable * 2 - usable / 16 {
            continue;
        }
        // Dirty already, so this copies nothing (a page written early comes back to memory,
        // and is sealed again at commit).
        let sibling = dirty_child(store, parent.page, sibling_idx, sibling)?;
        let neighbour = Neighbour {
            page: sibling,
            idx: sibling_idx,
            bytes: sibling_bytes,
        };
        if share(store, parent, leaf, idx, cell, &neighbour, total)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The dirty leaf beside the full one: its id, its index in the parent and its bytes in use.
struct Neighbour {
    page: PageId,
    idx: usize,
    bytes: usize,
}

/// The cells that cross from the leaf to its sibling, chosen before anything changes.
struct Plan {
    /// Positions in the leaf-with-the-new-cell sequence that move (a contiguous run at the
    /// end facing the sibling), in key order.
    moved: std::ops::Range<usize>,
    /// The right page's first key after the move: the new separator.
    separator: Vec<u8>,
    /// Copies of the leaf's cells that move (the new cell is not among them).
    moved_cells: Vec<Vec<u8>>,
    /// Cells in the leaf and in the sibling before the move.
    leaf_len: usize,
    sibling_len: usize,
    sibling_is_right: bool,
    /// The parent's cell whose separator changes: the right page's.
    right_slot: usize,
}

/// Moves cells between the leaf and its sibling as `share_with_sibling` decided on, if a
/// boundary fits both pages and the parent; `total` is the bytes of both pages and the new
/// cell. Returns whether it did (nothing changes if not).
fn share<S: PageStore + ?Sized>(
    store: &mut S,
    parent: &Step,
    leaf: PageId,
    idx: usize,
    cell: &NewCell,
    neighbour: &Neighbour,
    total: usize,
) -> Result<bool> {
    match plan(store, parent, leaf, idx, cell, neighbour, total)? {
        Some(plan) => apply(store, parent, leaf, neighbour.page, idx, cell, &plan).map(|()| true),
        None => Ok(false),
    }
}

/// Chooses the cells that move, without changing anything: `None` if the pages are not two
/// leaves or no boundary leaves both pages and the parent within bounds.
fn plan<S: PageStore + ?Sized>(
    store: &S,
    parent: &Step,
    leaf: PageId,
    idx: usize,
    cell: &NewCell,
    neighbour: &Neighbour,
    total: usize,
) -> Result<Option<Plan>> {
    let usable = node::usable(store.page_size());
    let sibling = neighbour.page;
    let sibling_is_right = neighbour.idx > parent.idx;
    let right_slot = neighbour.idx.max(parent.idx);
    let sibling_len = {
        let s = Node::parse(store.page(dirty_ptr(sibling))?, sibling)?;
        if s.is_branch() {
            return Ok(None);
        }
        s.len()
    };
    let l = Node::parse(store.page(dirty_ptr(leaf))?, leaf)?;
    if l.is_branch() {
        return Ok(None);
    }
    // Position `j` of the leaf as it would be with the new cell at `idx`.
    let at = |j: usize| -> Result<NewCell> {
        Ok(match j.cmp(&idx) {
            std::cmp::Ordering::Less => NewCell::Raw(l.cell(j)?),
            std::cmp::Ordering::Equal => *cell,
            std::cmp::Ordering::Greater => NewCell::Raw(l.cell(j - 1)?),
        })
    };
    let count = l.len() + 1;
    let (moving, received) =
        cells_to_move(&at, count, sibling_is_right, neighbour.bytes, total, usable)?;
    if received > usable || total - received > usable {
        // Large cells: no boundary leaves both pages within bounds.
        return Ok(None);
    }
    let moved = if sibling_is_right {
        count - moving..count
    } else {
        0..moving
    };
    let first_of_right = if sibling_is_right {
        moved.start
    } else {
        moved.end
    };
    let separator = at(first_of_right)?.key(false).to_vec();
    let new_separator = NewCell::Branch {
        key: &separator,
        child: dirty_ptr(if sibling_is_right { sibling } else { leaf }),
    };
    let page = store.page(dirty_ptr(parent.page))?;
    if !node::fits_after_replace(page, parent.page, right_slot, new_separator.len())? {
        return Ok(None);
    }
    let mut moved_cells = Vec::with_capacity(moved.len());
    for j in moved.clone() {
        if j != idx {
            moved_cells.push(l.cell(if j < idx { j } else { j - 1 })?.to_vec());
        }
    }
    Ok(Some(Plan {
        moved,
        separator,
        moved_cells,
        leaf_len: l.len(),
        sibling_len,
        sibling_is_right,
        right_slot,
    }))
}

/// How many of the leaf's `count` cells (`at(j)`: the j-th, new cell included) move to the
/// sibling, which holds `received` bytes already, and the bytes it then holds: walking inwards
/// from the edge facing the sibling while the sibling stays within half of `total`, and past
/// half while the leaf would still overflow and the sibling has room.
fn cells_to_move<'c>(
    at: &impl Fn(usize) -> Result<NewCell<'c>>,
    count: usize,
    sibling_is_right: bool,
    mut received: usize,
    total: usize,
    usable: usize,
) -> Result<(usize, usize)> {
    let mut moving = 0;
    while moving + 1 < count {
        let j = if sibling_is_right {
            count - 1 - moving
        } else {
            moving
        };
        let size = at(j)?.len() + node::SLOT;
        let past_half = received + size > total / 2;
        let leaf_fits = total - received <= usable;
        if moving > 0 && past_half && (leaf_fits || received + size > usable) {
            break;
        }
        received += size;
        moving += 1;
    }
    Ok((moving, received))
}

/// Carries out `plan`: every step is sure to fit.
fn apply<S: PageStore + ?Sized>(
    store: &mut S,
    parent: &Step,
    leaf: PageId,
    sibling: PageId,
    idx: usize,
    cell: &NewCell,
    plan: &Plan,
) -> Result<()> {
    let moved = plan.moved.len();
    let new_cell_moves = plan.moved.contains(&idx);
    // Into the sibling, at its edge facing the leaf, in key order.
    let base = if plan.sibling_is_right {
        0
    } else {
        plan.sibling_len
    };
    let mut raw = plan.moved_cells.iter();
    for (offset, j) in plan.moved.clone().enumerate() {
        let bytes;
        let to_insert = if j == idx {
            cell
        } else {
            bytes = NewCell::Raw(raw.next().expect("one copy per moved cell"));
            &bytes
        };
        if !node::try_insert(store.page_mut(sibling), base + offset, to_insert) {
            return Err(Error::corruption(
                sibling,
                "page header disagrees with its cells",
            ));
        }
    }
    // Out of the leaf: the moved cells it held.
    let leaving = moved - usize::from(new_cell_moves);
    let leaf_page = store.page_mut(leaf);
    for gone in 0..leaving {
        let at = if plan.sibling_is_right {
            plan.leaf_len - 1 - gone
        } else {
            0
        };
        node::remove(leaf_page, leaf, at)?;
    }
    if !new_cell_moves {
        let at = if plan.sibling_is_right {
            idx
        } else {
            idx - moved
        };
        if !node::try_insert(leaf_page, at, cell) {
            return Err(Error::corruption(
                leaf,
                "page header disagrees with its cells",
            ));
        }
    }
    let new_separator = NewCell::Branch {
        key: &plan.separator,
        child: dirty_ptr(if plan.sibling_is_right { sibling } else { leaf }),
    };
    let parent_page = store.page_mut(parent.page);
    node::remove(parent_page, parent.page, plan.right_slot)?;
    let fitted = node::try_insert(parent_page, plan.right_slot, &new_separator);
    debug_assert!(fitted, "the parent had room for the new separator");
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The contract: a share happens only with a neighbour the transaction has made dirty
    //! already, leaves the tree holding every key in order, and so keeps leaves fuller than
    //! splitting alone does.
    use super::super::test_store::TestStore;
    use super::super::{get, insert};
    use crate::ids::Ptr;

    /// Inserts keys in a scattered order, committing every `per_commit`; returns the store and
    /// the root.
    fn build(per_commit: usize) -> (TestStore, Option<Ptr>) {
        let mut store = TestStore::new(4096);
        let mut root = None;
        for n in 0..4_000u32 {
            let key = ((u64::from(n) * 2_654_435_761 % 4_000) as u32).to_be_bytes();
            root = Some(insert(&mut store, root, &key, &[n as u8; 60]).unwrap().0);
            if (n as usize + 1) % per_commit == 0 {
                root = store.commit(root).unwrap();
            }
        }
        (store, root)
    }

    #[test]
    fn shares_with_dirty_neighbours_keep_leaves_fuller_than_splits_alone() {
        // One transaction: every page is dirty once written, so full leaves share.
        let (mut shared, root) = build(usize::MAX);
        let shared_root = shared.commit(root).unwrap();
        // A commit after every insert: no neighbour is ever dirty, so full leaves split.
        let (mut split, root) = build(1);
        let split_root = split.commit(root).unwrap();
        let (with, without) = (
            shared.reachable(shared_root).len(),
            split.reachable(split_root).len(),
        );
        assert!(
            with * 10 < without * 9,
            "sharing left {with} pages, splitting alone {without}"
        );
        for (store, root) in [(&shared, shared_root), (&split, split_root)] {
            for n in 0..4_000u32 {
                let value = get(store, root, &n.to_be_bytes()).unwrap();
                assert!(value.is_some_and(|v| v.len() == 60), "key {n}");
            }
        }
    }
}
