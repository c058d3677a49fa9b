//! Applying a sorted batch of writes a span of leaves at a time (DESIGN.md, "Held writes"):
//! the neighbouring leaves the batch reaches under one branch are read once, merged with their
//! writes and repacked, and the branches above take the new separators, splitting or emptying
//! as needed. One call applies a prefix of the batch.

use super::delete::{collapse_root, rebalance};
use super::path::{Step, dirty_branches};
use super::{dirty_ptr, node_at};
use crate::error::{Error, Result};
use crate::format::PageKind;
use crate::format::node::{self, LeafValue, NewCell, Node};
use crate::ids::{PageId, Ptr};
use crate::pager::PageStore;
use std::ops::Range;

/// Leaves a run takes at most (a leaf beside it on either side may join it too), which bounds
/// the memory one call takes beyond the budget.
const MAX_SPAN: usize = 16;

/// One write of a sorted batch: a value to insert, or `None` to remove the key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Write<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
}

/// What one call applied.
#[derive(Debug)]
pub(crate) struct Merged {
    /// The new root (`None` once the tree is empty).
    pub root: Option<Ptr>,
    /// How many writes from the start of the batch were applied: at least one.
    pub consumed: usize,
    /// Entries the tree gained (negative if it lost some).
    pub len_change: i64,
}

/// A child for a branch: the separator before it (`None`: the one already in place) and the
/// pointer.
pub(super) type Child = (Option<Vec<u8>>, Ptr);

/// Applies a prefix of `batch` (sorted by key, each key once): the writes that fall into
/// consecutive leaves under one branch, each of which receives at least one, up to
/// `MAX_SPAN` leaves. Those leaves are replaced by new ones holding their entries merged with
/// the writes, filled to fifteen sixteenths (underfull leaves are packed together too).
pub(crate) fn merge_sorted<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
    batch: &[Write],
) -> Result<Merged> {
    merge_sorted_filling(store, root, batch, Fill::RoomToGrow)
}

/// How full `merge_sorted` packs the leaves it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fill {
    /// Fifteen sixteenths: room for a few inserts before a leaf splits.
    RoomToGrow,
    /// As full as the cells allow (compaction).
    Full,
}

impl Fill {
    /// The bytes a leaf of `usable` bytes holds on average when packed this way.
    pub(super) fn target(self, usable: usize) -> usize {
        match self {
            Fill::RoomToGrow => usable - usable / 16,
            Fill::Full => usable,
        }
    }
}

/// `merge_sorted`, packing the new leaves as `fill` says.
pub(crate) fn merge_sorted_filling<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
    batch: &[Write],
    fill: Fill,
) -> Result<Merged> {
    debug_assert!(!batch.is_empty());
    debug_assert!(batch.windows(2).all(|w| w[0].key < w[1].key));
    let usable = node::usable(store.page_size());
    let root = match root {
        Some(root) => root,
        None => dirty_ptr(store.allocate(PageKind::Leaf)?),
    };
    let path = dirty_branches(store, root, batch[0].key)?;
    let target = fill.target(usable);
    let (span, consumed, leaves) = match path.last() {
        None => (
            0..1,
            fitting_prefix(batch, batch.len(), store.page_size()),
            vec![root],
        ),
        Some(parent) => {
            let (span, consumed, leaves) = reach(store, &path, parent, batch)?;
            let run = (span, leaves);
            let next = batch.get(consumed).map(|write| write.key);
            let (span, leaves) =
                take_room_beside(store, parent, run, (&batch[..consumed], next), target)?;
            (span, consumed, leaves)
        }
    };
    let writes = &batch[..consumed];

    let (children, len_change) = rebuild_leaves(store, &leaves, writes, target)?;
    let lone_leaf = match children.as_slice() {
        [(_, leaf)] => Some(leaf.page),
        _ => None,
    };
    let root = match replace_children(store, &path, span, children)? {
        Replaced::Root(root) => root,
        Replaced::InPlace { depth } => {
            // The page left changed lowest: the run's leaf when it became one, else the
            // branch rebuilt. Underfull, it joins a sibling as a removal's would.
            match lone_leaf.filter(|_| depth + 1 == path.len()) {
                Some(leaf) if node::occupied(store.page(dirty_ptr(leaf))?) < usable / 3 => {
                    rebalance(store, path.clone(), leaf)?;
                }
                _ => rebalance(store, path[..depth].to_vec(), path[depth].page)?,
            }
            Some(dirty_ptr(path[0].page))
        }
    };
    let root = match root {
        Some(root) => collapse_root(store, root)?.0,
        None => None,
    };
    Ok(Merged {
        root,
        consumed,
        len_change,
    })
}

/// Frees `leaves` and writes their cells merged with `writes` into new leaves holding at
/// most `target` bytes each on average; returns them as children (with their separators)
/// and the change in entries.
pub(super) fn rebuild_leaves<S: PageStore + ?Sized>(
    store: &mut S,
    leaves: &[Ptr],
    writes: &[Write],
    target: usize,
) -> Result<(Vec<Child>, i64)> {
    // Copies of the leaves: the new ones may reuse their pages.
    let mut copies = Vec::with_capacity(leaves.len());
    for ptr in leaves {
        copies.push(store.page(*ptr)?.to_vec());
    }
    let mut nodes = Vec::with_capacity(leaves.len());
    for (copy, ptr) in copies.iter().zip(leaves) {
        let node = Node::parse(copy, ptr.page)?;
        if node.is_branch() {
            return Err(Error::corruption(ptr.page, "a branch among leaves"));
        }
        nodes.push(node);
    }
    let (cells, len_change) = merge_cells(store, &nodes, writes)?;
    for ptr in leaves {
        store.free(ptr.page)?;
    }
    let usable = node::usable(store.page_size());
    let mut children: Vec<Child> = Vec::new();
    for (j, group) in pack(&cells, target, usable).into_iter().enumerate() {
        let id = store.allocate(PageKind::Leaf)?;
        node::rebuild(store.page_mut(id), PageKind::Leaf, &cells[group.clone()]);
        let separator = (j > 0).then(|| cells[group.start].key(false).to_vec());
        children.push((separator, dirty_ptr(id)));
    }
    Ok((children, len_change))
}

/// How many writes from the start of `batch` (at most `limit`) bring at most `MAX_SPAN`
/// pages of new cells: at least one.
fn fitting_prefix(batch: &[Write], limit: usize, page_size: usize) -> usize {
    let usable = node::usable(page_size);
    let mut bytes = 0;
    let mut count = 0;
    for write in &batch[..limit] {
        bytes += new_cell_bytes(write, page_size);
        if count > 0 && bytes > MAX_SPAN * usable {
            break;
        }
        count += 1;
    }
    count
}

/// The bytes of the cell `write` stores and its slot (a removal's as if its value were empty).
fn new_cell_bytes(write: &Write, page_size: usize) -> usize {
    let value = write.value.map_or(0, <[u8]>::len);
    node::SLOT
        + match node::value_fits_inline(page_size, write.key.len(), value) {
            true => NewCell::Leaf {
                key: write.key,
                value: write.value.unwrap_or_default(),
            }
            .len(),
            false => NewCell::LeafOverflow {
                key: write.key,
                ptr: dirty_ptr(PageId(0)),
                len: value as u64,
            }
            .len(),
        }
}

/// Widens a run whose merged cells need more leaves than it has by the leaves beside it under
/// the same branch (the right one, then the left), when their cells fit in the room the
/// run's new leaves leave: a split then fills a neighbour instead of adding a leaf about half
/// empty, so leaves stay full under writes spread thin over a large tree (DESIGN.md, "Held
/// writes"). The right leaf is left alone if `next`, the write after the run, may fall into
/// it: the next step rewrites it anyway. Returns the run's span and leaves.
fn take_room_beside<S: PageStore + ?Sized>(
    store: &S,
    parent: &Step,
    (mut span, mut leaves): (Range<usize>, Vec<Ptr>),
    (writes, next): (&[Write], Option<&[u8]>),
    target: usize,
) -> Result<(Range<usize>, Vec<Ptr>)> {
    let nodes = leaves
        .iter()
        .map(|ptr| leaf_at(store, *ptr))
        .collect::<Result<Vec<_>>>()?;
    // Cheap first: the leaves' bytes and every write as a new cell bound what the merge holds.
    let page_size = store.page_size();
    let most = nodes.iter().map(Node::occupied).sum::<usize>()
        + writes
            .iter()
            .map(|write| new_cell_bytes(write, page_size))
            .sum::<usize>();
    if most.div_ceil(target) <= leaves.len() {
        return Ok((span, leaves));
    }
    let mut bytes = merged_bytes(&nodes, writes, page_size)?;
    if bytes.div_ceil(target) <= leaves.len() {
        return Ok((span, leaves));
    }
    let branch = node_at(store, dirty_ptr(parent.page))?;
    let mut beside: Vec<(bool, Ptr)> = Vec::with_capacity(2);
    if span.end < branch.len() && !next_reaches(&branch, span.end, next)? {
        beside.push((true, branch.child(span.end)?));
    }
    if let Some(idx) = span.start.checked_sub(1) {
        beside.push((false, branch.child(idx)?));
    }
    for (taken, &(_, ptr)) in beside.iter().enumerate() {
        if leaves.iter().any(|seen| seen.page == ptr.page) {
            return Err(Error::corruption(
                parent.page,
                "two children point at one page",
            ));
        }
        bytes += leaf_at(store, ptr)?.occupied();
        if bytes.div_ceil(target) <= leaves.len() + taken + 1 {
            // Taking these neighbours saves the new leaf.
            for &(on_right, ptr) in &beside[..=taken] {
                match on_right {
                    true => {
                        span.end += 1;
                        leaves.push(ptr);
                    }
                    false => {
                        span.start -= 1;
                        leaves.insert(0, ptr);
                    }
                }
            }
            break;
        }
    }
    Ok((span, leaves))
}

/// Whether the write after the run (`next`) may fall into child `idx` of `branch`, the one
/// right of the run: the next step then rewrites that leaf anyway, so the run leaves it.
fn next_reaches(branch: &Node, idx: usize, next: Option<&[u8]>) -> Result<bool> {
    let Some(next) = next else {
        return Ok(false);
    };
    Ok(idx + 1 >= branch.len() || next < branch.key(idx + 1)?)
}

/// The leaf at `ptr`, parsed.
fn leaf_at<S: PageStore + ?Sized>(store: &S, ptr: Ptr) -> Result<Node<'_>> {
    let node = node_at(store, ptr)?;
    match node.is_branch() {
        true => Err(Error::corruption(ptr.page, "a branch among leaves")),
        false => Ok(node),
    }
}

/// The leaves under `parent` the batch reaches, from the one its first key descended to:
/// consecutive children each receiving a write, at most `MAX_SPAN`, and within the parent's
/// key range. Returns their indices in the parent, how many writes they receive, and their
/// pointers.
fn reach<S: PageStore + ?Sized>(
    store: &S,
    path: &[Step],
    parent: &Step,
    batch: &[Write],
) -> Result<(Range<usize>, usize, Vec<Ptr>)> {
    let branch = node_at(store, dirty_ptr(parent.page))?;
    let first = parent.idx;
    let mut child = first;
    let mut consumed = 0;
    let mut upper: Option<Option<Vec<u8>>> = None;
    'writes: for write in batch {
        let mut holder = child;
        while holder + 1 < branch.len() && write.key >= branch.key(holder + 1)? {
            holder += 1;
            if holder > child + 1 {
                // The leaf before it would receive nothing: the span stops short of it.
                break 'writes;
            }
        }
        if holder + 1 - first > MAX_SPAN {
            break;
        }
        if holder + 1 == branch.len() {
            // The last child: its range ends where the parent's does.
            let bound = match &upper {
                Some(bound) => bound,
                None => upper.insert(upper_bound(store, path)?),
            };
            if bound.as_deref().is_some_and(|bound| write.key >= bound) {
                break;
            }
        }
        child = holder;
        consumed += 1;
    }
    if consumed == 0 {
        return Err(Error::corruption(
            parent.page,
            "a key descended to a child whose range excludes it",
        ));
    }
    let consumed = fitting_prefix(batch, consumed, store.page_size());
    let last = branch.child_index(batch[consumed - 1].key)?;
    if last < first {
        return Err(Error::corruption(parent.page, "separators out of order"));
    }
    let mut leaves: Vec<Ptr> = Vec::with_capacity(last + 1 - first);
    for idx in first..=last {
        let leaf = branch.child(idx)?;
        if leaves.iter().any(|seen| seen.page == leaf.page) {
            // Freed twice, a page would end up both in use and free.
            return Err(Error::corruption(
                parent.page,
                "two children point at one page",
            ));
        }
        leaves.push(leaf);
    }
    Ok((first..last + 1, consumed, leaves))
}

/// The first key above the range of the lowest branch on `path`: the nearest separator to
/// the right of the path among its ancestors. `None` on the tree's right edge.
fn upper_bound<S: PageStore + ?Sized>(store: &S, path: &[Step]) -> Result<Option<Vec<u8>>> {
    for step in path[..path.len() - 1].iter().rev() {
        let node = node_at(store, dirty_ptr(step.page))?;
        if step.idx + 1 < node.len() {
            return Ok(Some(node.key(step.idx + 1)?.to_vec()));
        }
    }
    Ok(None)
}

/// One step of merging a run's cells with its writes in key order.
enum Merging<'w, 'a> {
    /// A cell of the run no write touches.
    Keep(&'a [u8]),
    /// A write to a key the run lacks.
    New(&'w Write<'a>),
    /// A write to a key the run holds, with the value it replaces or removes.
    Over(LeafValue<'a>, &'w Write<'a>),
}

/// Walks the cells of `leaves` (in key order) and `writes` together, calling `step` for each
/// key in order.
fn merge_walk<'w, 'a>(
    leaves: &[Node<'a>],
    writes: &'w [Write<'a>],
    mut step: impl FnMut(Merging<'w, 'a>) -> Result<()>,
) -> Result<()> {
    let mut next = 0;
    let mut previous: Option<&[u8]> = None;
    for leaf in leaves {
        for i in 0..leaf.len() {
            let key = leaf.key(i)?;
            if previous.is_some_and(|previous| previous >= key) {
                return Err(Error::corruption(leaf.id(), "keys out of order"));
            }
            previous = Some(key);
            while let Some(write) = writes.get(next).filter(|write| write.key < key) {
                step(Merging::New(write))?;
                next += 1;
            }
            match writes.get(next).filter(|write| write.key == key) {
                Some(write) => {
                    step(Merging::Over(leaf.value(i)?, write))?;
                    next += 1;
                }
                None => step(Merging::Keep(leaf.cell(i)?))?,
            }
        }
    }
    writes[next..]
        .iter()
        .try_for_each(|write| step(Merging::New(write)))
}

/// The cells of `leaves` merged with `writes`, in key order, and the change in entry count.
/// Values that replace or remove one stored in an overflow run free the run.
fn merge_cells<'a, S: PageStore + ?Sized>(
    store: &mut S,
    leaves: &[Node<'a>],
    writes: &[Write<'a>],
) -> Result<(Vec<NewCell<'a>>, i64)> {
    let count = leaves.iter().map(Node::len).sum::<usize>() + writes.len();
    let mut cells = Vec::with_capacity(count);
    let mut len_change = 0;
    merge_walk(leaves, writes, |merging| {
        match merging {
            Merging::Keep(cell) => cells.push(NewCell::Raw(cell)),
            Merging::New(write) => {
                if let Some(value) = write.value {
                    cells.push(new_cell(store, write.key, value)?);
                    len_change += 1;
                }
            }
            Merging::Over(old, write) => {
                if let LeafValue::Overflow { ptr, len } = old {
                    store.free_overflow(ptr, len)?;
                }
                match write.value {
                    Some(value) => cells.push(new_cell(store, write.key, value)?),
                    None => len_change -= 1,
                }
            }
        }
        Ok(())
    })?;
    Ok((cells, len_change))
}

/// The bytes (cells and slots) `merge_cells` would return, without its effects.
fn merged_bytes(leaves: &[Node], writes: &[Write], page_size: usize) -> Result<usize> {
    let mut bytes = 0;
    merge_walk(leaves, writes, |merging| {
        bytes += match merging {
            Merging::Keep(cell) => cell.len() + node::SLOT,
            Merging::New(write) | Merging::Over(_, write) => match write.value {
                Some(_) => new_cell_bytes(write, page_size),
                None => 0,
            },
        };
        Ok(())
    })?;
    Ok(bytes)
}

/// The leaf cell for `key` and `value`, storing a large value in an overflow run.
fn new_cell<'a, S: PageStore + ?Sized>(
    store: &mut S,
    key: &'a [u8],
    value: &'a [u8],
) -> Result<NewCell<'a>> {
    Ok(
        if node::value_fits_inline(store.page_size(), key.len(), value.len()) {
            NewCell::Leaf { key, value }
        } else {
            NewCell::LeafOverflow {
                key,
                ptr: store.write_overflow(value)?,
                len: value.len() as u64,
            }
        },
    )
}

/// Splits `cells` into runs of about equal bytes, as few as hold at most `target` bytes each
/// on average, none over `usable`. Empty for no cells.
fn pack(cells: &[NewCell], target: usize, usable: usize) -> Vec<Range<usize>> {
    let sizes: Vec<usize> = cells.iter().map(|cell| cell.len() + node::SLOT).collect();
    let total: usize = sizes.iter().sum();
    let mut pages = total.div_ceil(target.max(1));
    loop {
        let mut groups: Vec<Range<usize>> = Vec::with_capacity(pages);
        let mut last_page = usize::MAX;
        let mut before = 0;
        for (i, &size) in sizes.iter().enumerate() {
            // Each cell goes to the page its middle byte falls in.
            let page = (before + size / 2) * pages / total;
            match groups.last_mut() {
                Some(group) if page == last_page => group.end = i + 1,
                _ => groups.push(i..i + 1),
            }
            last_page = page;
            before += size;
        }
        if groups
            .iter()
            .all(|group| sizes[group.clone()].iter().sum::<usize>() <= usable)
        {
            return groups;
        }
        pages += 1;
    }
}

/// Where `replace_children` stopped.
pub(super) enum Replaced {
    /// The branch `path[depth]` took the change in place; the root is unchanged.
    InPlace { depth: usize },
    /// The change reached the root: the new one (before collapsing), `None` if empty.
    Root(Option<Ptr>),
}

/// Replaces the children `span` of the lowest branch on `path` by `children`, and carries
/// any split or emptied branch up the path.
pub(super) fn replace_children<S: PageStore + ?Sized>(
    store: &mut S,
    path: &[Step],
    mut span: Range<usize>,
    mut children: Vec<Child>,
) -> Result<Replaced> {
    for depth in (0..path.len()).rev() {
        let page = path[depth].page;
        let carried = replace_in_branch(store, page, &span, &children)?;
        match carried {
            None => return Ok(Replaced::InPlace { depth }),
            Some(carried) => {
                children = carried;
                if depth > 0 {
                    let idx = path[depth - 1].idx;
                    span = idx..idx + 1;
                }
            }
        }
    }
    // The root itself was replaced: by nothing, one page, or several under a new root.
    new_root(store, children)
}

/// Replaces the children `span` of branch `page` with `children`. Returns `None` if the
/// result fits the page, else the pages that now stand for it (none if it became empty) as
/// children for the level above.
fn replace_in_branch<S: PageStore + ?Sized>(
    store: &mut S,
    page: PageId,
    span: &Range<usize>,
    children: &[Child],
) -> Result<Option<Vec<Child>>> {
    replace_spans(store, page, &[(span.clone(), children)])
}

/// `replace_in_branch` for several spans at once (in order, disjoint), each replaced by its
/// children.
pub(super) fn replace_spans<S: PageStore + ?Sized>(
    store: &mut S,
    page: PageId,
    replacements: &[(Range<usize>, &[Child])],
) -> Result<Option<Vec<Child>>> {
    let copy = store.page(dirty_ptr(page))?.to_vec();
    let branch = Node::parse(&copy, page)?;
    let mut cells = Vec::with_capacity(branch.len());
    let mut next = 0;
    for (span, children) in replacements {
        if !branch.is_branch() || span.start < next || span.end > branch.len() || span.is_empty() {
            return Err(Error::corruption(page, "tree changed under a rewrite"));
        }
        for i in next..span.start {
            cells.push(NewCell::Raw(branch.cell(i)?));
        }
        let span_key = branch.key(span.start)?;
        for (separator, child) in children.iter() {
            cells.push(NewCell::Branch {
                key: separator.as_deref().unwrap_or(span_key),
                child: *child,
            });
        }
        next = span.end;
    }
    for i in next..branch.len() {
        cells.push(NewCell::Raw(branch.cell(i)?));
    }
    if let Some(first) = cells.first_mut() {
        // The first child of a branch has no key (see `insert::split`).
        *first = NewCell::Branch {
            key: b"",
            child: first.child(),
        };
    }
    if cells.is_empty() {
        store.free(page)?;
        Ok(Some(Vec::new()))
    } else if node::cells_size(&cells) <= node::usable(store.page_size()) {
        node::rebuild(store.page_mut(page), PageKind::Branch, &cells);
        Ok(None)
    } else {
        split_branch(store, Some(page), &cells).map(Some)
    }
}

/// The root for `children`, the pages that replaced the old root: none, the one page, or a
/// new branch level (or several) above them.
pub(super) fn new_root<S: PageStore + ?Sized>(
    store: &mut S,
    mut children: Vec<Child>,
) -> Result<Replaced> {
    loop {
        match children.len() {
            0 => return Ok(Replaced::Root(None)),
            1 => return Ok(Replaced::Root(Some(children[0].1))),
            _ => {}
        }
        let carried = {
            let cells: Vec<NewCell> = children
                .iter()
                .enumerate()
                .map(|(j, (separator, child))| NewCell::Branch {
                    key: if j == 0 {
                        b""
                    } else {
                        separator.as_deref().unwrap_or(b"")
                    },
                    child: *child,
                })
                .collect();
            split_branch(store, None, &cells)?
        };
        children = carried;
    }
}

/// Writes branch `cells` (the first keyless) into as few pages of about equal bytes as hold
/// them, the first into `reuse` if given, and returns the pages as children for the level
/// above.
pub(super) fn split_branch<S: PageStore + ?Sized>(
    store: &mut S,
    reuse: Option<PageId>,
    cells: &[NewCell],
) -> Result<Vec<Child>> {
    let usable = node::usable(store.page_size());
    let mut children = Vec::new();
    for (j, group) in pack(cells, usable, usable).into_iter().enumerate() {
        let id = match (j, reuse) {
            (0, Some(id)) => id,
            _ => store.allocate(PageKind::Branch)?,
        };
        let mut part = cells[group].to_vec();
        let separator = (j > 0).then(|| part[0].key(true).to_vec());
        part[0] = NewCell::Branch {
            key: b"",
            child: part[0].child(),
        };
        node::rebuild(store.page_mut(id), PageKind::Branch, &part);
        children.push((separator, dirty_ptr(id)));
    }
    Ok(children)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf_cells<'a>(values: &'a [Vec<u8>], key: &'a [u8]) -> Vec<NewCell<'a>> {
        values
            .iter()
            .map(|value| NewCell::Leaf { key, value })
            .collect()
    }

    fn check_groups(cells: &[NewCell], groups: &[Range<usize>], usable: usize) {
        let mut next = 0;
        for group in groups {
            assert_eq!(group.start, next, "groups cover the cells in order");
            assert!(!group.is_empty());
            assert!(node::cells_size(&cells[group.clone()]) <= usable);
            next = group.end;
        }
        assert_eq!(next, cells.len());
    }

    #[test]
    fn pack_shares_bytes_evenly_in_as_few_pages_as_the_target_allows() {
        let usable = node::usable(4096);
        let target = usable - usable / 16;
        assert!(pack(&[], target, usable).is_empty());
        let key = [7u8; 24];
        for count in [1, 5, 20, 21, 22, 50, 333] {
            let values = vec![vec![1u8; 150]; count];
            let cells = leaf_cells(&values, &key);
            let groups = pack(&cells, target, usable);
            check_groups(&cells, &groups, usable);
            let total = node::cells_size(&cells);
            assert_eq!(groups.len(), total.div_ceil(target), "{count} cells");
            let sizes: Vec<usize> = groups.iter().map(|g| g.len()).collect();
            let (least, most) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
            assert!(most - least <= 1, "{count} cells: {sizes:?}");
        }
    }

    #[test]
    fn pack_keeps_every_page_within_bounds_with_cells_of_any_size() {
        let usable = node::usable(4096);
        let largest = node::max_cell(4096) - 7 - 1;
        let key = [1u8];
        let mut values = Vec::new();
        let mut seed = 5u64;
        for _ in 0..300 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = match seed >> 61 {
                0 => largest,
                1 => 0,
                _ => (seed >> 20) as usize % 600,
            };
            values.push(vec![0u8; len]);
        }
        for take in [1, 2, 3, 7, 40, 300] {
            let cells = leaf_cells(&values[..take], &key);
            for target in [usable / 3, usable / 2, usable - usable / 16, usable] {
                check_groups(&cells, &pack(&cells, target, usable), usable);
            }
        }
    }
}
