//! The public range iterator: a tree's entries, merged with the write transaction's held
//! inserts when it has some (DESIGN.md, "Held inserts").

use super::held::HeldRange;
use crate::btree::RangeIter;
use crate::error::Result;
use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds};

type Entry<'a> = (&'a [u8], &'a [u8]);

/// Entries of a table in key order, from either end.
#[derive(Debug)]
pub struct Range<'a> {
    tree: Ends<RangeIter<'a>>,
    held: Option<Ends<HeldRange<'a>>>,
}

impl<'a> Range<'a> {
    pub(crate) fn new(tree: RangeIter<'a>) -> Self {
        Range {
            tree: Ends::new(tree),
            held: None,
        }
    }

    /// The tree's entries with `held` in place of those with the same keys, and beside them.
    pub(crate) fn with_held(tree: RangeIter<'a>, held: HeldRange<'a>) -> Self {
        Range {
            tree: Ends::new(tree),
            held: Some(Ends::new(held)),
        }
    }
}

/// Which source the next entry comes from, at the end being consumed.
enum Pick {
    Tree,
    Held,
    /// The same key in both: the held value replaces the tree's.
    Both,
}

/// How the two sources' entries at one end compare; `towards` is the order in which that end
/// yields (`Less` from the front, `Greater` from the back).
fn pick(
    tree: Option<&Result<Entry<'_>>>,
    held: Option<&Entry<'_>>,
    towards: Ordering,
) -> Option<Pick> {
    match (tree, held) {
        (None, None) => None,
        (Some(_), None) | (Some(Err(_)), _) => Some(Pick::Tree),
        (None, Some(_)) => Some(Pick::Held),
        (Some(Ok((tree_key, _))), Some((held_key, _))) => match held_key.cmp(tree_key) {
            Ordering::Equal => Some(Pick::Both),
            order if order == towards => Some(Pick::Held),
            _ => Some(Pick::Tree),
        },
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = Result<Entry<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(held) = &mut self.held else {
            // Nothing is ever looked at ahead without held entries.
            return self.tree.iter.next();
        };
        match pick(self.tree.peek_front(), held.peek_front(), Ordering::Less)? {
            Pick::Tree => {
                let entry = self.tree.pop_front();
                if matches!(entry, Some(Err(_))) {
                    // The tree's entries end at an error: so do the merged ones.
                    self.held = None;
                }
                entry
            }
            Pick::Held => held.pop_front().map(Ok),
            Pick::Both => {
                self.tree.pop_front();
                held.pop_front().map(Ok)
            }
        }
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let Some(held) = &mut self.held else {
            return self.tree.iter.next_back();
        };
        match pick(self.tree.peek_back(), held.peek_back(), Ordering::Greater)? {
            Pick::Tree => {
                let entry = self.tree.pop_back();
                if matches!(entry, Some(Err(_))) {
                    // The tree's entries end at an error: so do the merged ones.
                    self.held = None;
                }
                entry
            }
            Pick::Held => held.pop_back().map(Ok),
            Pick::Both => {
                self.tree.pop_back();
                held.pop_back().map(Ok)
            }
        }
    }
}

/// A double-ended iterator with one item looked at, not yet taken, at each end. When the
/// iterator runs dry, an end takes the item the other end looked at.
#[derive(Debug)]
struct Ends<I: Iterator> {
    iter: I,
    front: Option<I::Item>,
    back: Option<I::Item>,
}

impl<I: DoubleEndedIterator> Ends<I> {
    fn new(iter: I) -> Self {
        Ends {
            iter,
            front: None,
            back: None,
        }
    }

    fn peek_front(&mut self) -> Option<&I::Item> {
        if self.front.is_none() {
            self.front = self.iter.next().or_else(|| self.back.take());
        }
        self.front.as_ref()
    }

    fn peek_back(&mut self) -> Option<&I::Item> {
        if self.back.is_none() {
            self.back = self.iter.next_back().or_else(|| self.front.take());
        }
        self.back.as_ref()
    }

    fn pop_front(&mut self) -> Option<I::Item> {
        self.peek_front();
        self.front.take()
    }

    fn pop_back(&mut self) -> Option<I::Item> {
        self.peek_back();
        self.back.take()
    }
}

/// The bounds of `r` as plain byte-slice bounds.
pub(crate) fn bounds<'k>(r: &impl RangeBounds<&'k [u8]>) -> (Bound<&'k [u8]>, Bound<&'k [u8]>) {
    (r.start_bound().cloned(), r.end_bound().cloned())
}
