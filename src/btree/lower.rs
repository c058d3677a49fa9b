//! Moving the pages a transaction changed in memory down into the pages it allocated and
//! freed again, at commit (DESIGN.md, "Packing changed leaves"), so that the free pages
//! gather at the top of the file, where the commit can cut them off.

use super::{MAX_DEPTH, dirty_ptr, in_memory_page, node_at, too_deep};
use crate::error::{Error, Result};
use crate::format::node;
use crate::ids::{PageId, Ptr};
use crate::pager::PageStore;

/// Moves every page of the tree at `root` that is in memory onto a lower free page of this
/// transaction where there is one, children before their parents, and returns the root
/// afterwards. Each page takes the lowest such page below it, and the page it leaves joins
/// them, so afterwards no such page lies below any page moved or visited. Does nothing unless
/// the store finds it worthwhile.
pub(crate) fn lower_changed_pages<S: PageStore + ?Sized>(
    store: &mut S,
    root: Option<Ptr>,
) -> Result<Option<Ptr>> {
    let Some(root) = root else {
        return Ok(None);
    };
    if !store.worth_lowering() || !in_memory_page(store, root.page) {
        return Ok(Some(root));
    }
    lower_children(store, root.page, 0)?;
    Ok(Some(match store.lower_page(root.page)? {
        Some(moved) => dirty_ptr(moved),
        None => root,
    }))
}

/// Moves the in-memory pages below page `page` (in memory, at `depth`), repointing it.
fn lower_children<S: PageStore + ?Sized>(store: &mut S, page: PageId, depth: usize) -> Result<()> {
    if depth >= MAX_DEPTH {
        return Err(too_deep(page));
    }
    let children = {
        let node = node_at(store, dirty_ptr(page))?;
        if !node.is_branch() {
            return Ok(());
        }
        (0..node.len())
            .map(|i| node.child(i))
            .collect::<Result<Vec<Ptr>>>()?
    };
    for (idx, child) in children.iter().enumerate() {
        if !in_memory_page(store, child.page) {
            continue;
        }
        if children[..idx].iter().any(|seen| seen.page == child.page) {
            // Moved once, the page's other pointer would name a free page.
            return Err(Error::corruption(page, "two children point at one page"));
        }
        lower_children(store, child.page, depth + 1)?;
        if let Some(moved) = store.lower_page(child.page)? {
            node::set_child(store.page_mut(page), page, idx, dirty_ptr(moved))?;
        }
    }
    Ok(())
}
