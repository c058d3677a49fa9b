//! The public range iterator: a tree's entries, merged with the write transaction's held
//! writes when it has some (DESIGN.md, "Held writes").

use super::held::HeldRange;
use crate::btree::RangeIter;
use crate::error::Result;
use std::cmp::Ordering;
use std::ops::{Bound, RangeBounds, RangeFull};

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

/// A range of keys, for `range` and the other range operations: any of std's range types
/// (`a..b`, `a..=b`, `a..`, `..b`, `..=b`, `..`, or a pair of [`Bound`]s) over a key type
/// that is bytes: `&[u8]`, `Vec<u8>`, `[u8; N]`, `&str`, `String`.
pub trait KeyRange {
    /// The range's bounds as byte slices.
    fn byte_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>);
}

fn as_bytes<K: AsRef<[u8]>>(bound: Bound<&K>) -> Bound<&[u8]> {
    bound.map(|key| key.as_ref())
}

impl KeyRange for RangeFull {
    fn byte_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}

macro_rules! key_range {
    ($($range:ident),*) => {$(
        impl<K: AsRef<[u8]>> KeyRange for std::ops::$range<K> {
            fn byte_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
                (as_bytes(self.start_bound()), as_bytes(self.end_bound()))
            }
        }
    )*};
}

key_range!(Range, RangeInclusive, RangeFrom, RangeTo, RangeToInclusive);

impl<K: AsRef<[u8]>> KeyRange for (Bound<K>, Bound<K>) {
    fn byte_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (as_bytes(self.0.as_ref()), as_bytes(self.1.as_ref()))
    }
}

/// The first key after every key that starts with `prefix`: the prefix with trailing 0xFF
/// bytes dropped and the last other byte raised by one; `None` (no upper bound) if no byte
/// is left, as for the empty prefix.
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let kept = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut end = prefix[..=kept].to_vec();
    end[kept] += 1;
    Some(end)
}

/// The range of keys that start with `prefix`.
pub(crate) fn prefix_range(prefix: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let end = prefix_end(prefix).map_or(Bound::Unbounded, Bound::Excluded);
    (Bound::Included(prefix.to_vec()), end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_carries_past_0xff_and_unbounds_all_0xff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn every_range_type_gives_its_bounds() {
        use Bound::{Excluded, Included, Unbounded};
        let (a, b) = (b"a".to_vec(), b"b".to_vec());
        assert_eq!((..).byte_bounds(), (Unbounded, Unbounded));
        assert_eq!((&a..&b).byte_bounds(), (Included(&a[..]), Excluded(&b[..])));
        assert_eq!(
            ("a"..="b").byte_bounds(),
            (Included(&a[..]), Included(&b[..]))
        );
        assert_eq!(([1u8]..).byte_bounds(), (Included(&[1u8][..]), Unbounded));
        assert_eq!((..=a.clone()).byte_bounds(), (Unbounded, Included(&a[..])));
        let pair = (Excluded(&a[..]), Unbounded);
        assert_eq!(pair.byte_bounds(), (Excluded(&a[..]), Unbounded));
    }
}
