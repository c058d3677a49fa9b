//! The public range iterator.

use crate::btree::RangeIter;
use crate::error::Result;
use std::ops::{Bound, RangeBounds};

/// Entries of a table in key order, from either end.
#[derive(Debug)]
pub struct Range<'a> {
    inner: RangeIter<'a>,
}

impl<'a> Range<'a> {
    pub(crate) fn new(inner: RangeIter<'a>) -> Self {
        Range { inner }
    }
}

impl<'a> Iterator for Range<'a> {
    type Item = Result<(&'a [u8], &'a [u8])>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next()
    }
}

impl DoubleEndedIterator for Range<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner.next_back()
    }
}

/// The bounds of `r` as plain byte-slice bounds.
pub(crate) fn bounds<'k>(r: &impl RangeBounds<&'k [u8]>) -> (Bound<&'k [u8]>, Bound<&'k [u8]>) {
    (r.start_bound().cloned(), r.end_bound().cloned())
}
