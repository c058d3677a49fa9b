//! The public range iterator: a tree's entries, merged with the write transaction's held
//! writes when it has some (DESIGN.md, "Held writes").

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

    /// The tree's entries as changed by `held`: a held value stands in for the tree's under
    /// the same key or beside them, a held removal hides the key.
    pub(crate) fn with_held(tree: RangeIter<'a>, held: HeldRange<'a>) -> Self {
        Range {
            tree: Ends::new(tree),
            held: Some(Ends::new(held)),
        }
    }

    /// The next entry from the front, or from the back if `back`.
    fn step(&mut self, back: bool) -> Option<Result<Entry<'a>>> {
        let Some(held) = &mut self.held else {
            // Without held writes nothing is looked at ahead, or a tree error ended the range.
            return match back {
                false => self.tree.iter.next(),
                true => self.tree.iter.next_back(),
            };
        };
        let towards = match back {
            false => Ordering::Less,
            true => Ordering::Greater,
        };
        loop {
            let picked = pick(self.tree.peek(back), held.peek(back), towards)?;
            if let Pick::Tree = picked {
                let entry = self.tree.pop(back);
                if matches!(entry, Some(Err(_))) {
                    // The tree's entries end at an error: so do the merged ones.
                    self.held = None;
                }
                return entry;
            }
            if let Pick::Both = picked {
                self.tree.pop(back);
            }
            if let Some((key, Some(value))) = held.pop(back) {
                return Some(Ok((key, value)));
            }
        }
    }
}

/// Which source the next entry comes from, at the end being consumed.
enum Pick {
    Tree,
    Held,
    /// The same key in both: the held write replaces the tree's entry.
    Both,
}

/// How the two sources' entries at one end compare; `towards` is the order in which that end
/// yields (`Less` from the front, `Greater` from the back).
fn pick(
    tree: Option<&Result<Entry<'_>>>,
    held: Option<&(&[u8], Option<&[u8]>)>,
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
        self.step(false)
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.step(true)
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

    /// The next item at the front, or at the back if `back`, left in place.
    fn peek(&mut self, back: bool) -> Option<&I::Item> {
        let (near, far) = match back {
            false => (&mut self.front, &mut self.back),
            true => (&mut self.back, &mut self.front),
        };
        if near.is_none() {
            let next = match back {
                false => self.iter.next(),
                true => self.iter.next_back(),
            };
            *near = next.or_else(|| far.take());
        }
        near.as_ref()
    }

    /// The next item at the front, or at the back if `back`, taken.
    fn pop(&mut self, back: bool) -> Option<I::Item> {
        self.peek(back);
        match back {
            false => self.front.take(),
            true => self.back.take(),
        }
    }
}

/// The bounds of `r` as plain byte-slice bounds.
pub(crate) fn bounds<'k>(r: &impl RangeBounds<&'k [u8]>) -> (Bound<&'k [u8]>, Bound<&'k [u8]>) {
    (r.start_bound().cloned(), r.end_bound().cloned())
}
