//! The structural check of one tree: every page verified, keys in order within and across
//! pages, separators bounding their children, leaves at one depth, every page reached once.

use super::{MAX_DEPTH, node_at, too_deep};
use crate::error::{Error, Result};
use crate::format::node::LeafValue;
use crate::format::overflow;
use crate::ids::Ptr;
use crate::pager::PageSource;

/// Which pages a walk has reached; a page reached twice is corruption. One bit a page.
#[derive(Debug)]
pub(crate) struct PageMarks {
    bits: Vec<u64>,
    high_water: u64,
}

impl PageMarks {
    pub(crate) fn new(high_water: u64) -> Self {
        PageMarks {
            bits: vec![0; high_water.div_ceil(64) as usize],
            high_water,
        }
    }

    pub(crate) fn mark(&mut self, id: u64, what: &str) -> Result<()> {
        if id >= self.high_water {
            return Err(Error::corruption(
                id,
                format!("{what} page lies beyond the high-water mark"),
            ));
        }
        let (word, bit) = ((id / 64) as usize, 1u64 << (id % 64));
        if self.bits[word] & bit != 0 {
            return Err(Error::corruption(
                id,
                format!("{what} page is reachable twice"),
            ));
        }
        self.bits[word] |= bit;
        Ok(())
    }

    /// The first page neither reached nor free, if any.
    pub(crate) fn first_unmarked(&self) -> Option<u64> {
        (0..self.high_water).find(|&id| self.bits[(id / 64) as usize] & (1 << (id % 64)) == 0)
    }
}

/// What a tree holds.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TreeSummary {
    pub entries: u64,
    pub depth: u32,
    pub branch_pages: u64,
    pub leaf_pages: u64,
    pub overflow_pages: u64,
}

struct Walk<'a, S: PageSource + ?Sized> {
    src: &'a S,
    marks: &'a mut PageMarks,
    summary: TreeSummary,
    leaf_depth: Option<u32>,
    previous_key: Option<Vec<u8>>,
    read_values: bool,
}

/// Checks the tree at `root`, marking its pages. With `read_values`, overflow values are
/// read (and so checksummed) too.
pub(crate) fn check_tree<S: PageSource + ?Sized>(
    src: &S,
    root: Option<Ptr>,
    marks: &mut PageMarks,
    read_values: bool,
) -> Result<TreeSummary> {
    let mut walk = Walk {
        src,
        marks,
        summary: TreeSummary::default(),
        leaf_depth: None,
        previous_key: None,
        read_values,
    };
    if let Some(root) = root {
        walk.page(root, 1, None, None)?;
    }
    walk.summary.depth = walk.leaf_depth.unwrap_or(0);
    Ok(walk.summary)
}

impl<S: PageSource + ?Sized> Walk<'_, S> {
    /// Checks the subtree at `ptr`, whose keys must lie in `[low, high)`.
    fn page(
        &mut self,
        ptr: Ptr,
        depth: u32,
        low: Option<&[u8]>,
        high: Option<&[u8]>,
    ) -> Result<()> {
        if depth as usize > MAX_DEPTH {
            return Err(too_deep(ptr.page));
        }
        let node = node_at(self.src, ptr)?;
        self.marks
            .mark(ptr.page.0, if node.is_branch() { "branch" } else { "leaf" })?;
        let bad = |reason: String| Error::corruption(ptr.page, reason);
        if node.is_branch() {
            self.summary.branch_pages += 1;
            for i in 0..node.len() {
                let child_low = if i == 0 { low } else { Some(node.key(i)?) };
                if i > 0 {
                    let key = node.key(i)?;
                    if low.is_some_and(|low| key < low) || high.is_some_and(|high| key >= high) {
                        return Err(bad(format!(
                            "separator {i} lies outside the bounds of its parent"
                        )));
                    }
                    if i > 1 && node.key(i - 1)? >= key {
                        return Err(bad(format!("separators {} and {i} out of order", i - 1)));
                    }
                }
                let child_high = if i + 1 < node.len() {
                    Some(node.key(i + 1)?)
                } else {
                    high
                };
                self.page(node.child(i)?, depth + 1, child_low, child_high)?;
            }
            return Ok(());
        }
        self.summary.leaf_pages += 1;
        match self.leaf_depth {
            None => self.leaf_depth = Some(depth),
            Some(d) if d != depth => {
                return Err(bad(format!("leaf at depth {depth}, others at depth {d}")));
            }
            Some(_) => {}
        }
        if node.len() == 0 && depth == 1 {
            return Err(bad("empty root leaf".into()));
        }
        for i in 0..node.len() {
            let key = node.key(i)?;
            if low.is_some_and(|low| key < low) || high.is_some_and(|high| key >= high) {
                return Err(bad(format!(
                    "key {i} lies outside the bounds set by its parent"
                )));
            }
            if self.previous_key.as_deref().is_some_and(|prev| prev >= key) {
                return Err(bad(format!(
                    "key {i} is not greater than the key before it"
                )));
            }
            self.previous_key = Some(key.to_vec());
            if let LeafValue::Overflow { ptr: run, len } = node.value(i)? {
                self.overflow(run, len)?;
            }
            self.summary.entries += 1;
        }
        Ok(())
    }

    fn overflow(&mut self, run: Ptr, len: u64) -> Result<()> {
        let pages = overflow::run_pages(self.src.page_size(), len);
        if self.read_values {
            self.src.overflow(run, len)?;
        }
        for id in run.page.0..run.page.0.saturating_add(pages) {
            self.marks.mark(id, "overflow")?;
        }
        self.summary.overflow_pages += pages;
        Ok(())
    }
}
