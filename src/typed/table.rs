//! Typed handles: the byte tables of `txn`, with keys and values encoded on the way in and
//! decoded on the way out (zero-copy for borrowed types).

use super::key::Key;
use super::value::Value;
use crate::error::Result;
use crate::txn::{Range, ReadTable, Table};
use std::borrow::Borrow;
use std::marker::PhantomData;
use std::ops::{Bound, RangeBounds};

fn encoded<T: Value + ?Sized>(value: &T::SelfType<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    T::encode(value, &mut out)?;
    Ok(out)
}

/// A range's bounds, encoded.
type ByteBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The byte bounds of a typed range.
fn byte_bounds<'k, K: Key + 'k>(range: &impl RangeBounds<K::SelfType<'k>>) -> Result<ByteBounds> {
    let encode = |bound: Bound<&K::SelfType<'k>>| -> Result<Bound<Vec<u8>>> {
        Ok(match bound {
            Bound::Included(key) => Bound::Included(encoded::<K>(key)?),
            Bound::Excluded(key) => Bound::Excluded(encoded::<K>(key)?),
            Bound::Unbounded => Bound::Unbounded,
        })
    };
    Ok((encode(range.start_bound())?, encode(range.end_bound())?))
}

fn decode_entry<'a, K: Key + 'a, V: Value + 'a>(
    (key, value): (&'a [u8], &'a [u8]),
) -> Result<(K::SelfType<'a>, V::SelfType<'a>)> {
    Ok((K::decode(key)?, V::decode(value)?))
}

/// A typed table's entries in key order, from either end.
pub struct TypedRange<'a, K: Key + 'static, V: Value + 'static> {
    bytes: Range<'a>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<'a, K: Key + 'static, V: Value + 'static> TypedRange<'a, K, V> {
    fn new(bytes: Range<'a>) -> Self {
        TypedRange {
            bytes,
            types: PhantomData,
        }
    }
}

impl<K: Key + 'static, V: Value + 'static> std::fmt::Debug for TypedRange<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TypedRange").finish_non_exhaustive()
    }
}

impl<'a, K: Key + 'static, V: Value + 'static> Iterator for TypedRange<'a, K, V> {
    type Item = Result<(K::SelfType<'a>, V::SelfType<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.bytes.next()?.and_then(decode_entry::<K, V>))
    }
}

impl<K: Key + 'static, V: Value + 'static> DoubleEndedIterator for TypedRange<'_, K, V> {
    fn next_back(&mut self) -> Option<Self::Item> {
        Some(self.bytes.next_back()?.and_then(decode_entry::<K, V>))
    }
}

/// A typed table inside a write transaction (see [`Table`] for the byte API it wraps).
pub struct TypedTable<'txn, K: Key + 'static, V: Value + 'static> {
    bytes: Table<'txn>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key + 'static, V: Value + 'static> std::fmt::Debug for TypedTable<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TypedTable({:?})", self.bytes)
    }
}

impl<'txn, K: Key + 'static, V: Value + 'static> TypedTable<'txn, K, V> {
    pub(super) fn new(bytes: Table<'txn>) -> Self {
        TypedTable {
            bytes,
            types: PhantomData,
        }
    }

    /// The table of bytes underneath (the encodings as stored).
    pub fn as_bytes(&mut self) -> &mut Table<'txn> {
        &mut self.bytes
    }

    /// The value stored under `key`, including this transaction's writes.
    pub fn get<'k>(&self, key: impl Borrow<K::SelfType<'k>>) -> Result<Option<V::SelfType<'_>>> {
        let key = encoded::<K>(key.borrow())?;
        self.bytes.get(&key)?.map(V::decode).transpose()
    }

    /// Whether `key` is in the table.
    pub fn contains_key<'k>(&self, key: impl Borrow<K::SelfType<'k>>) -> Result<bool> {
        self.bytes.contains_key(&encoded::<K>(key.borrow())?)
    }

    /// Inserts `value` under `key`, replacing any value there.
    pub fn insert<'k, 'v>(
        &mut self,
        key: impl Borrow<K::SelfType<'k>>,
        value: impl Borrow<V::SelfType<'v>>,
    ) -> Result<()> {
        let key = encoded::<K>(key.borrow())?;
        self.bytes.insert(&key, &encoded::<V>(value.borrow())?)
    }

    /// Removes `key`; `true` if it was there.
    pub fn remove<'k>(&mut self, key: impl Borrow<K::SelfType<'k>>) -> Result<bool> {
        self.bytes.remove(&encoded::<K>(key.borrow())?)
    }

    /// Entries with keys in `range`, in key order; iterate from either end.
    pub fn range<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> Result<TypedRange<'_, K, V>> {
        Ok(TypedRange::new(
            self.bytes.range(byte_bounds::<K>(&range)?)?,
        ))
    }

    /// All entries, in key order.
    pub fn iter(&self) -> Result<TypedRange<'_, K, V>> {
        Ok(TypedRange::new(self.bytes.iter()?))
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(K::SelfType<'_>, V::SelfType<'_>)>> {
        self.iter()?.next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(K::SelfType<'_>, V::SelfType<'_>)>> {
        self.iter()?.next_back().transpose()
    }

    /// The number of entries.
    pub fn len(&self) -> Result<u64> {
        self.bytes.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        self.bytes.is_empty()
    }

    /// Keeps the entries for which `keep(key, value)` is true; returns how many it removed.
    /// An entry that does not decode is kept and its error returned once the pass ends.
    pub fn retain(
        &mut self,
        mut keep: impl for<'a> FnMut(K::SelfType<'a>, V::SelfType<'a>) -> bool,
    ) -> Result<u64> {
        let mut failed = None;
        let removed = self
            .bytes
            .retain(|k, v| match decode_entry::<K, V>((k, v)) {
                Ok((k, v)) => keep(k, v),
                Err(e) => {
                    failed.get_or_insert(e);
                    true
                }
            })?;
        failed.map_or(Ok(removed), Err)
    }

    /// Removes every entry with a key in `range`; returns how many.
    pub fn delete_range<'k>(&mut self, range: impl RangeBounds<K::SelfType<'k>>) -> Result<u64> {
        self.bytes.delete_range(byte_bounds::<K>(&range)?)
    }

    /// Removes every entry; returns how many.
    pub fn clear(&mut self) -> Result<u64> {
        self.bytes.clear()
    }
}

/// A typed table as a read transaction sees it; reads borrow the snapshot's map.
pub struct TypedReadTable<'txn, K: Key + 'static, V: Value + 'static> {
    bytes: ReadTable<'txn>,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K: Key + 'static, V: Value + 'static> std::fmt::Debug for TypedReadTable<'_, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TypedReadTable({:?})", self.bytes)
    }
}

impl<'txn, K: Key + 'static, V: Value + 'static> TypedReadTable<'txn, K, V> {
    pub(super) fn new(bytes: ReadTable<'txn>) -> Self {
        TypedReadTable {
            bytes,
            types: PhantomData,
        }
    }

    /// The table of bytes underneath (the encodings as stored).
    pub fn as_bytes(&self) -> &ReadTable<'txn> {
        &self.bytes
    }

    /// The value stored under `key`, borrowed from the map where the type allows.
    pub fn get<'k>(&self, key: impl Borrow<K::SelfType<'k>>) -> Result<Option<V::SelfType<'txn>>> {
        let key = encoded::<K>(key.borrow())?;
        self.bytes.get(&key)?.map(V::decode).transpose()
    }

    /// Whether `key` is in the table.
    pub fn contains_key<'k>(&self, key: impl Borrow<K::SelfType<'k>>) -> Result<bool> {
        self.bytes.contains_key(&encoded::<K>(key.borrow())?)
    }

    /// Entries with keys in `range`, in key order; iterate from either end.
    pub fn range<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> Result<TypedRange<'txn, K, V>> {
        Ok(TypedRange::new(
            self.bytes.range(byte_bounds::<K>(&range)?)?,
        ))
    }

    /// All entries, in key order.
    pub fn iter(&self) -> Result<TypedRange<'txn, K, V>> {
        Ok(TypedRange::new(self.bytes.iter()?))
    }

    /// The entry with the smallest key.
    pub fn first(&self) -> Result<Option<(K::SelfType<'txn>, V::SelfType<'txn>)>> {
        self.iter()?.next().transpose()
    }

    /// The entry with the largest key.
    pub fn last(&self) -> Result<Option<(K::SelfType<'txn>, V::SelfType<'txn>)>> {
        self.iter()?.next_back().transpose()
    }

    /// The number of entries.
    pub fn len(&self) -> Result<u64> {
        self.bytes.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        self.bytes.is_empty()
    }
}
