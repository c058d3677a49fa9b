//! Ordered iteration in both directions between two bounds.

use super::{MAX_DEPTH, node_at, too_deep, value_bytes};
use crate::error::{Error, Result};
use crate::format::node::Node;
use crate::ids::Ptr;
use crate::pager::PageSource;
use std::ops::Bound;

/// A position: the nodes from the root down to a leaf, with the index taken in each.
#[derive(Clone, Debug)]
struct Cursor<'a> {
    stack: Vec<(Node<'a>, usize)>,
}

impl<'a> Cursor<'a> {
    /// The deepest frame: the leaf, once the cursor has descended (a branch while it does).
    fn top(&self) -> (Node<'a>, usize) {
        *self.stack.last().expect("a cursor always holds a node")
    }

    /// Descends from the node on top of the stack along first (or last) children.
    fn descend(&mut self, src: &'a dyn PageSource, last: bool) -> Result<()> {
        loop {
            let (node, idx) = self.top();
            if !node.is_branch() {
                return Ok(());
            }
            if self.stack.len() > MAX_DEPTH {
                return Err(too_deep(node.id()));
            }
            let child = node_at(src, node.child(idx)?)?;
            if !child.is_branch() {
                child.prefetch();
            }
            let start = if last {
                child.len().saturating_sub(1)
            } else {
                0
            };
            self.stack.push((child, start));
        }
    }

    /// Moves to the next (or previous) leaf entry, skipping empty leaves. `false` at the end.
    fn step(&mut self, src: &'a dyn PageSource, forward: bool) -> Result<bool> {
        loop {
            // Climb while the level is exhausted in this direction.
            loop {
                let Some(&(node, idx)) = self.stack.last() else {
                    return Ok(false);
                };
                let can_move = if forward {
                    idx + 1 < node.len()
                } else {
                    idx > 0
                };
                if can_move {
                    let top = self.stack.last_mut().expect("checked above");
                    top.1 = if forward { idx + 1 } else { idx - 1 };
                    break;
                }
                self.stack.pop();
            }
            self.descend(src, !forward)?;
            let (leaf, idx) = self.top();
            if idx < leaf.len() {
                return Ok(true);
            }
        }
    }

    /// Positions at the first entry inside `bound` (a lower bound when `forward`, an upper
    /// bound otherwise). `None` if there is none.
    fn seek(
        src: &'a dyn PageSource,
        root: Ptr,
        bound: Bound<&[u8]>,
        forward: bool,
    ) -> Result<Option<Self>> {
        let mut cursor = Cursor { stack: Vec::new() };
        let mut ptr = root;
        loop {
            if cursor.stack.len() >= MAX_DEPTH {
                return Err(too_deep(ptr.page));
            }
            let node = node_at(src, ptr)?;
            if node.is_branch() {
                let idx = match bound {
                    Bound::Unbounded if forward => 0,
                    Bound::Unbounded => node.len() - 1,
                    Bound::Included(key) | Bound::Excluded(key) => node.child_index(key)?,
                };
                cursor.stack.push((node, idx));
                ptr = node.child(idx)?;
                continue;
            }
            // `pos` is where the first entry at or after the bound sits (forward), or one past
            // the last entry at or before it (backward).
            let pos = match (bound, forward) {
                (Bound::Unbounded, true) => 0,
                (Bound::Unbounded, false) => node.len(),
                (Bound::Included(key), true) => node.search(key)?.unwrap_or_else(|i| i),
                (Bound::Excluded(key), true) => node.search(key)?.map_or_else(|i| i, |i| i + 1),
                (Bound::Included(key), false) => node.search(key)?.map_or_else(|i| i, |i| i + 1),
                (Bound::Excluded(key), false) => node.search(key)?.unwrap_or_else(|i| i),
            };
            // The entries are read next, one cell after another.
            node.prefetch();
            return Ok(if forward {
                cursor.stack.push((node, pos));
                if pos < node.len() || cursor.step(src, true)? {
                    Some(cursor)
                } else {
                    None
                }
            } else if pos > 0 {
                cursor.stack.push((node, pos - 1));
                Some(cursor)
            } else {
                cursor.stack.push((node, 0));
                cursor.step(src, false)?.then_some(cursor)
            });
        }
    }

    fn same_position(&self, other: &Cursor) -> bool {
        let (a, i) = self.top();
        let (b, j) = other.top();
        a.id() == b.id() && i == j
    }
}

/// A double-ended iterator over the entries of a tree between two bounds.
pub(crate) struct RangeIter<'a> {
    src: &'a dyn PageSource,
    front: Option<Cursor<'a>>,
    back: Option<Cursor<'a>>,
    /// An error met while moving past the last item returned; reported next.
    failed: Option<Error>,
}

impl std::fmt::Debug for RangeIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeIter")
            .field("done", &self.front.is_none())
            .finish()
    }
}

impl<'a> RangeIter<'a> {
    pub(crate) fn new(
        src: &'a dyn PageSource,
        root: Option<Ptr>,
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<Self> {
        let empty = RangeIter {
            src,
            front: None,
            back: None,
            failed: None,
        };
        let Some(root) = root else {
            return Ok(empty);
        };
        if let (Bound::Included(s) | Bound::Excluded(s), Bound::Included(e) | Bound::Excluded(e)) =
            (start, end)
            && (s > e
                || (s == e
                    && !(matches!(start, Bound::Included(_)) && matches!(end, Bound::Included(_)))))
        {
            return Ok(empty);
        }
        let (Some(front), Some(back)) = (
            Cursor::seek(src, root, start, true)?,
            Cursor::seek(src, root, end, false)?,
        ) else {
            return Ok(empty);
        };
        let (f, i) = front.top();
        let (b, j) = back.top();
        if f.key(i)? > b.key(j)? {
            return Ok(empty);
        }
        Ok(RangeIter {
            src,
            front: Some(front),
            back: Some(back),
            failed: None,
        })
    }

    fn entry(&self, cursor: &Cursor<'a>) -> Result<(&'a [u8], &'a [u8])> {
        let (leaf, idx) = cursor.top();
        Ok((leaf.key(idx)?, value_bytes(self.src, leaf.value(idx)?)?))
    }

    fn advance(&mut self, forward: bool) -> Option<Result<(&'a [u8], &'a [u8])>> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        let (front, back) = (self.front.as_ref()?, self.back.as_ref()?);
        let item = self.entry(if forward { front } else { back });
        let last = item.is_err() || front.same_position(back);
        let src = self.src;
        let moved = match (
            last,
            if forward {
                &mut self.front
            } else {
                &mut self.back
            },
        ) {
            (false, Some(cursor)) => cursor.step(src, forward),
            _ => Ok(false),
        };
        match moved {
            Ok(true) => {}
            Ok(false) => self.finish(),
            Err(e) => {
                self.finish();
                self.failed = Some(e);
            }
        }
        Some(item)
    }

    fn finish(&mut self) {
        self.front = None;
        self.back = None;
    }
}

impl<'a> Iterator for RangeIter<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        self.advance(true)
    }
}

impl DoubleEndedIterator for RangeIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.advance(false)
    }
}
