//! Deleting a range a subtree at a time (DESIGN.md, "Range deletion"): children of a branch
//! whose whole key span lies in the range are freed page by page, without reading their
//! cells (but for overflow pointers), and the branch drops their pointers. What is left of
//! the range then lies in at most the two leaves at its ends.

use super::delete::{collapse_root, rebalance};
use super::merge::{Replaced, replace_children};
use super::path::dirty_branches_by;
use super::walk::free_counting;
use super::{MAX_DEPTH, dirty_ptr, node_at, too_deep};
use crate::error::{Error, Result};
use crate::format::node::Node;
use crate::ids::Ptr;
use crate::pager::{PageSource, PageStore};
use std::ops::{Bound, Range};

/// Whether every key of a span `[lower, upper)` (`None`: unbounded) lies in `start..end`.
fn covered(
    lower: Option<&[u8]>,
    upper: Option<&[u8]>,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> bool {
    let from = match start {
        Bound::Unbounded => true,
        Bound::Included(s) => lower.is_some_and(|l| l >= s),
        Bound::Excluded(s) => lower.is_some_and(|l| l > s),
    };
    // Keys of the span are below `upper`, so `upper <= e` keeps them below or at `e`.
    let to = match end {
        Bound::Unbounded => true,
        Bound::Included(e) | Bound::Excluded(e) => upper.is_some_and(|u| u <= e),
    };
    from && to
}

/// The first run of children of `node` (whose span is `[lower, upper)`) that the range
/// covers whole.
fn covered_run(
    node: &Node,
    lower: Option<&[u8]>,
    upper: Option<&[u8]>,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> Result<Option<Range<usize>>> {
    let mut run: Option<Range<usize>> = None;
    for i in 0..node.len() {
        let child_lower = match i {
            0 => lower,
            _ => Some(node.key(i)?),
        };
        let child_upper = match i + 1 < node.len() {
            true => Some(node.key(i + 1)?),
            false => upper,
        };
        if covered(child_lower, child_upper, start, end) {
            run = Some(run.map_or(i..i + 1, |r| r.start..i + 1));
        } else if run.is_some() {
            break;
        }
    }
    Ok(run)
}

/// Where a covered run is: the children taken from the root down to its branch, and the run.
struct Found {
    route: Vec<usize>,
    run: Range<usize>,
}

/// Looks for a covered run along the path to `toward`'s end of the range (the start if
/// `!at_end`), highest branch first.
fn find_run<S: PageSource + ?Sized>(
    src: &S,
    root: Ptr,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
    at_end: bool,
) -> Result<Option<Found>> {
    let mut ptr = root;
    let mut route = Vec::new();
    let (mut lower, mut upper): (Option<Vec<u8>>, Option<Vec<u8>>) = (None, None);
    for _ in 0..MAX_DEPTH {
        let node = node_at(src, ptr)?;
        if !node.is_branch() {
            return Ok(None);
        }
        if let Some(run) = covered_run(&node, lower.as_deref(), upper.as_deref(), start, end)? {
            return Ok(Some(Found { route, run }));
        }
        let toward = if at_end { end } else { start };
        let idx = match toward {
            Bound::Included(k) | Bound::Excluded(k) => node.child_index(k)?,
            Bound::Unbounded if at_end => node.len() - 1,
            Bound::Unbounded => 0,
        };
        if idx > 0 {
            lower = Some(node.key(idx)?.to_vec());
        }
        if idx + 1 < node.len() {
            upper = Some(node.key(idx + 1)?.to_vec());
        }
        route.push(idx);
        ptr = node.child(idx)?;
    }
    Err(too_deep(ptr.page))
}

/// Frees one run of subtrees that `start..end` covers whole, if the tree has one. Returns the
/// new root and how many entries went, or `None` when no run is left: the rest of the range
/// then lies in the two leaves at its ends.
pub(crate) fn delete_covered<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
    start: Bound<&[u8]>,
    end: Bound<&[u8]>,
) -> Result<Option<(Option<Ptr>, u64)>> {
    let Some(root) = root else {
        return Ok(None);
    };
    let found = match find_run(store, root, start, end, false)? {
        Some(found) => found,
        None => match find_run(store, root, start, end, true)? {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    let depth = found.route.len();
    // Copy the branches down to the run's branch (and, harmlessly, into the run's first
    // child, which is freed next).
    let mut path = dirty_branches_by(store, root, |node, at| match found.route.get(at) {
        Some(&idx) if idx < node.len() => Ok(idx),
        Some(_) => Err(Error::corruption(
            node.id(),
            "tree changed between two walks",
        )),
        None => Ok(if at == depth { found.run.start } else { 0 }),
    })?;
    if path.len() <= depth {
        return Err(Error::corruption(
            root.page,
            "tree changed between two walks",
        ));
    }
    path.truncate(depth + 1);
    let branch = path[depth].page;
    let children: Vec<Ptr> = {
        let node = node_at(store, dirty_ptr(branch))?;
        if found.run.end > node.len() {
            return Err(Error::corruption(branch, "tree changed between two walks"));
        }
        found
            .run
            .clone()
            .map(|i| node.child(i))
            .collect::<Result<_>>()?
    };
    let mut removed = 0;
    for child in children {
        removed += free_counting(store, Some(child))?;
    }
    let root = match replace_children(store, &path, found.run, Vec::new())? {
        Replaced::Root(root) => root,
        Replaced::InPlace { depth } => {
            rebalance(store, path[..depth].to_vec(), path[depth].page)?;
            Some(dirty_ptr(path[0].page))
        }
    };
    let root = match root {
        Some(root) => collapse_root(store, root)?.0,
        None => None,
    };
    Ok(Some((root, removed)))
}
