//! Compaction's tree walks (DESIGN.md, "Giving space back"): moving every page of a tree
//! that lies at or past the compaction limit onto a free page below it, and finding the
//! leaves worth packing together.

use super::{MAX_DEPTH, dirty_ptr, node_at, too_deep};
use crate::error::Result;
use crate::format::node::{self, LeafValue};
use crate::format::overflow;
use crate::ids::{PageId, Ptr};
use crate::pager::{PageSource, PageStore};

/// What one relocation walk did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Relocated {
    /// The tree's root now.
    pub root: Option<Ptr>,
    /// Pages moved below the limit (an overflow run counts its pages).
    pub moved: u64,
    /// Pages past the limit were left where they are: the budget ran out, or no free page
    /// below the limit was left.
    pub left: bool,
}

struct Walk {
    limit: u64,
    budget: u64,
    moved: u64,
    left: bool,
}

/// Moves the pages of the tree at `root` that lie at or past the store's compaction limit,
/// overflow runs included, up to `budget` pages; the branches above a moved page are copied
/// to point at it. Without a compaction under way it changes nothing.
pub(crate) fn relocate_tree<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
    budget: u64,
) -> Result<Relocated> {
    let (Some(ptr), Some((limit, _))) = (root, store.compaction()) else {
        return Ok(Relocated {
            root,
            ..Relocated::default()
        });
    };
    let mut walk = Walk {
        limit,
        budget,
        moved: 0,
        left: false,
    };
    let root = match visit(store, ptr, 0, &mut walk)? {
        Some(id) => Some(dirty_ptr(id)),
        None => root,
    };
    Ok(Relocated {
        root,
        moved: walk.moved,
        left: walk.left,
    })
}

/// Whether one more page may move now; if not, the walk records that pages were left.
fn may_move<S: PageStore + ?Sized>(store: &S, walk: &mut Walk) -> bool {
    let room = store.compaction().is_some_and(|(_, room)| room);
    if walk.budget == 0 || !room {
        walk.left = true;
        return false;
    }
    true
}

/// Visits the page at `ptr` and everything below it; returns its id if this walk changed
/// it (then the parent's cell must point at it with checksum 0, as for any dirty child).
fn visit<S: PageStore + ?Sized>(
    store: &mut S,
    ptr: Ptr,
    depth: usize,
    walk: &mut Walk,
) -> Result<Option<PageId>> {
    if depth >= MAX_DEPTH {
        return Err(too_deep(ptr.page));
    }
    let page_size = store.page_size();
    let (children, runs) = {
        let node = node_at(store, ptr)?;
        let mut children = Vec::new();
        let mut runs = Vec::new();
        for i in 0..node.len() {
            if node.is_branch() {
                children.push((i, node.child(i)?));
            } else if let LeafValue::Overflow { ptr: run, len } = node.value(i)? {
                let pages = overflow::run_pages(page_size, len);
                if run.page.0.saturating_add(pages) > walk.limit {
                    runs.push((i, run, len, pages));
                }
            }
        }
        (children, runs)
    };
    let mut mine: Option<PageId> = None;
    for (i, child) in children {
        if walk.budget == 0 {
            walk.left = true;
            break;
        }
        if let Some(new) = visit(store, child, depth + 1, walk)? {
            let id = own(store, ptr, &mut mine, walk)?;
            node::set_child(store.page_mut(id), id, i, dirty_ptr(new))?;
        }
    }
    for (i, run, len, pages) in runs {
        if !may_move(store, walk) {
            break;
        }
        let value = store.overflow(run, len)?.to_vec();
        let moved = store.write_overflow(&value)?;
        store.free_overflow(run, len)?;
        let id = own(store, ptr, &mut mine, walk)?;
        node::set_overflow(store.page_mut(id), id, i, moved)?;
        walk.moved += pages;
        walk.budget = walk.budget.saturating_sub(pages);
    }
    if mine.is_none() && ptr.page.0 >= walk.limit && may_move(store, walk) {
        own(store, ptr, &mut mine, walk)?;
    }
    Ok(mine)
}

/// This walk's copy of the page at `ptr`, made on first need: moved below the limit if it
/// lies past it and may move, else copied where the allocator puts it.
fn own<S: PageStore + ?Sized>(
    store: &mut S,
    ptr: Ptr,
    mine: &mut Option<PageId>,
    walk: &mut Walk,
) -> Result<PageId> {
    if let Some(id) = *mine {
        return Ok(id);
    }
    let id = if ptr.page.0 >= walk.limit && may_move(store, walk) {
        walk.moved += 1;
        walk.budget = walk.budget.saturating_sub(1);
        store.relocate(ptr)?
    } else {
        store.make_dirty(ptr)?
    };
    *mine = Some(id);
    Ok(id)
}

/// Entries chosen to pack their leaves, and the first key of the next leaf to scan.
pub(crate) type PackPlan = (Vec<(Vec<u8>, Vec<u8>)>, Option<Vec<u8>>);

/// Leaves fuller than this many sixteenths are left as they are by a packing pass.
const WELL_FILLED_SIXTEENTHS: usize = 15;

/// An entry of each leaf worth packing with its neighbours (filled to at most fifteen
/// sixteenths), in key order from the leaf holding `from`, for up to `max_leaves` leaves;
/// and the first key of the next leaf, where the next pass starts (`None` at the end). The
/// entry is one with an inline value (leaves holding only large values are skipped): written
/// back unchanged through `merge_sorted`, it makes that leaf part of a span that is packed.
pub(crate) fn leaves_to_pack<S: PageSource + ?Sized>(
    src: &S,
    root: Option<Ptr>,
    from: Option<&[u8]>,
    max_leaves: usize,
) -> Result<PackPlan> {
    let mut found = Vec::new();
    let Some(root) = root else {
        return Ok((found, None));
    };
    let mut scan = Scan {
        usable: node::usable(src.page_size()),
        max_leaves,
        leaves: 0,
        found: &mut found,
    };
    let next = scan.visit(src, root, from, 0)?;
    Ok((found, next))
}

struct Scan<'a> {
    usable: usize,
    max_leaves: usize,
    leaves: usize,
    found: &'a mut Vec<(Vec<u8>, Vec<u8>)>,
}

impl Scan<'_> {
    /// Scans the subtree at `ptr` from `from`; returns the first key of the leaf where it
    /// stopped, if it stopped before the subtree's end.
    fn visit<S: PageSource + ?Sized>(
        &mut self,
        src: &S,
        ptr: Ptr,
        from: Option<&[u8]>,
        depth: usize,
    ) -> Result<Option<Vec<u8>>> {
        if depth >= MAX_DEPTH {
            return Err(too_deep(ptr.page));
        }
        let node = node_at(src, ptr)?;
        if node.is_branch() {
            let start = match from {
                Some(key) => node.child_index(key)?,
                None => 0,
            };
            for i in start..node.len() {
                let from = if i == start { from } else { None };
                if let Some(stop) = self.visit(src, node.child(i)?, from, depth + 1)? {
                    return Ok(Some(stop));
                }
            }
            return Ok(None);
        }
        if node.len() == 0 {
            return Ok(None);
        }
        if self.leaves >= self.max_leaves {
            return Ok(Some(node.key(0)?.to_vec()));
        }
        self.leaves += 1;
        if node.occupied() * 16 > self.usable * WELL_FILLED_SIXTEENTHS {
            return Ok(None);
        }
        for i in 0..node.len() {
            if let LeafValue::Inline(value) = node.value(i)? {
                self.found.push((node.key(i)?.to_vec(), value.to_vec()));
                break;
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_store::TestStore;
    use super::*;

    #[test]
    fn pages_past_the_limit_move_below_it_and_the_tree_reads_the_same() {
        let mut store = TestStore::new(4096);
        // The tree lives high in the "file"; the ids below it are free.
        store.spread(10_000, []);
        let mut root = None;
        for i in 0..2_000u32 {
            let value = if i % 400 == 0 {
                vec![3; 9_000]
            } else {
                vec![7; 100]
            };
            root = Some(
                super::super::insert(&mut store, root, &i.to_be_bytes(), &value)
                    .unwrap()
                    .0,
            );
        }
        let root = store.commit(root).unwrap();
        let before = store.reachable(root);
        assert!(before.iter().all(|&id| id >= 10_000));
        let limit = 2 + 2 * before.len() as u64;
        store.spread(0, 2..limit);
        store.limit = Some(limit);
        let moved = relocate_tree(&mut store, root, u64::MAX).unwrap();
        assert!(!moved.left, "room for everything");
        assert!(moved.moved as usize >= before.len() - 5 * 2, "{moved:?}");
        let root = store.commit(moved.root).unwrap();
        let after = store.reachable(root);
        assert!(
            after.iter().all(|&id| id < 10_000),
            "every page moved down: {after:?}"
        );
        for i in 0..2_000u32 {
            let value = super::super::get(&store, root, &i.to_be_bytes())
                .unwrap()
                .unwrap();
            assert_eq!(value.len(), if i % 400 == 0 { 9_000 } else { 100 });
        }
    }

    #[test]
    fn without_room_below_the_limit_nothing_moves() {
        let mut store = TestStore::new(4096);
        let mut root = None;
        for i in 0..500u32 {
            root = Some(
                super::super::insert(&mut store, root, &i.to_be_bytes(), &[1; 100])
                    .unwrap()
                    .0,
            );
        }
        let root = store.commit(root).unwrap();
        store.limit = Some(2);
        let moved = relocate_tree(&mut store, root, u64::MAX).unwrap();
        assert!(moved.left);
        assert_eq!(moved.moved, 0);
        assert_eq!(moved.root, root);
    }
}
