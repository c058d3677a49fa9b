//! Slotted tree pages (DESIGN.md, "Branch and leaf pages"): a sorted array of u16 cell
//! offsets after the header, cells packed from the end of the page. Every offset and length
//! read from a page is bounds-checked; a bad one is `Error::Corruption` naming the page.

use super::header::{HEADER_SIZE, PageHeader, PageKind};
use crate::error::{Error, Result};
use crate::ids::{PageId, Ptr};
use std::cmp::Ordering;

pub(crate) const SLOT: usize = 2;
const LEAF_CELL_HEADER: usize = 7;
const OVERFLOW_REF: usize = 12;
const BRANCH_CELL_HEADER: usize = 14;
const FLAG_OVERFLOW: u8 = 1;

/// The largest cell (without its slot) a page of `page_size` holds. A third of the usable
/// space guarantees that a full page plus one cell always splits into two pages that fit
/// (DESIGN.md, "Splits and merges").
pub(crate) fn max_cell(page_size: usize) -> usize {
    (page_size - HEADER_SIZE) / 3 - SLOT
}

/// Whether a value of `value_len` bytes is stored in the leaf beside its key.
pub(crate) fn value_fits_inline(page_size: usize, key_len: usize, value_len: usize) -> bool {
    LEAF_CELL_HEADER + key_len + value_len <= max_cell(page_size)
}

/// The bytes a node may use: everything after the header.
pub(crate) fn usable(page_size: usize) -> usize {
    page_size - HEADER_SIZE
}

/// A value as stored in a leaf cell.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LeafValue<'a> {
    Inline(&'a [u8]),
    Overflow { ptr: Ptr, len: u64 },
}

/// A cell to be written into a page.
#[derive(Clone, Copy, Debug)]
pub(crate) enum NewCell<'a> {
    Leaf {
        key: &'a [u8],
        value: &'a [u8],
    },
    LeafOverflow {
        key: &'a [u8],
        ptr: Ptr,
        len: u64,
    },
    Branch {
        key: &'a [u8],
        child: Ptr,
    },
    /// An existing cell moved as is (splits, merges).
    Raw(&'a [u8]),
}

impl NewCell<'_> {
    pub(crate) fn len(&self) -> usize {
        match self {
            NewCell::Leaf { key, value } => LEAF_CELL_HEADER + key.len() + value.len(),
            NewCell::LeafOverflow { key, .. } => LEAF_CELL_HEADER + key.len() + OVERFLOW_REF,
            NewCell::Branch { key, .. } => BRANCH_CELL_HEADER + key.len(),
            NewCell::Raw(bytes) => bytes.len(),
        }
    }

    /// The cell's key; `is_branch` says how to read a raw cell.
    pub(crate) fn key(&self, is_branch: bool) -> &[u8] {
        match self {
            NewCell::Leaf { key, .. }
            | NewCell::LeafOverflow { key, .. }
            | NewCell::Branch { key, .. } => key,
            NewCell::Raw(bytes) => raw_key(bytes, is_branch),
        }
    }

    /// The child pointer of a branch cell.
    pub(crate) fn child(&self) -> Ptr {
        match self {
            NewCell::Branch { child, .. } => *child,
            NewCell::Raw(bytes) => raw_child(bytes),
            NewCell::Leaf { .. } | NewCell::LeafOverflow { .. } => {
                unreachable!("child() is only asked of branch cells")
            }
        }
    }

    fn write(&self, out: &mut [u8]) {
        match self {
            NewCell::Leaf { key, value } => {
                write_leaf_header(out, key, 0, value.len() as u32);
                out[LEAF_CELL_HEADER + key.len()..].copy_from_slice(value);
            }
            NewCell::LeafOverflow { key, ptr, len } => {
                write_leaf_header(out, key, FLAG_OVERFLOW, *len as u32);
                let at = LEAF_CELL_HEADER + key.len();
                out[at..at + 8].copy_from_slice(&ptr.page.0.to_le_bytes());
                out[at + 8..at + 12].copy_from_slice(&ptr.crc.to_le_bytes());
            }
            NewCell::Branch { key, child } => {
                out[0..2].copy_from_slice(&(key.len() as u16).to_le_bytes());
                out[2..10].copy_from_slice(&child.page.0.to_le_bytes());
                out[10..14].copy_from_slice(&child.crc.to_le_bytes());
                out[BRANCH_CELL_HEADER..].copy_from_slice(key);
            }
            NewCell::Raw(bytes) => out.copy_from_slice(bytes),
        }
    }
}

fn write_leaf_header(out: &mut [u8], key: &[u8], flags: u8, value_len: u32) {
    out[0..2].copy_from_slice(&(key.len() as u16).to_le_bytes());
    out[2] = flags;
    out[3..7].copy_from_slice(&value_len.to_le_bytes());
    out[LEAF_CELL_HEADER..LEAF_CELL_HEADER + key.len()].copy_from_slice(key);
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// A validated read-only view of a branch or leaf page.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Node<'a> {
    page: &'a [u8],
    id: PageId,
    count: usize,
    upper: usize,
    is_branch: bool,
}

impl<'a> Node<'a> {
    pub(crate) fn parse(page: &'a [u8], id: PageId) -> Result<Node<'a>> {
        let header = PageHeader::of(page);
        let is_branch = match header.kind() {
            Some(PageKind::Branch) => true,
            Some(PageKind::Leaf) => false,
            _ => {
                return Err(Error::corruption(
                    id,
                    format!("expected a branch or leaf page, found kind {}", header.kind),
                ));
            }
        };
        let count = header.count.get() as usize;
        let lower = header.lower.get() as usize;
        let upper = header.upper.get() as usize;
        if lower != HEADER_SIZE + SLOT * count || lower > upper || upper > page.len() {
            return Err(Error::corruption(
                id,
                format!("bad bounds: {count} cells, lower {lower}, upper {upper}"),
            ));
        }
        if is_branch && count == 0 {
            return Err(Error::corruption(id, "branch page without children"));
        }
        Ok(Node {
            page,
            id,
            count,
            upper,
            is_branch,
        })
    }

    pub(crate) fn id(&self) -> PageId {
        self.id
    }

    /// Starts loading the cells a binary search probes after `mid`, whichever way it goes,
    /// so that two levels of the search wait for memory at once instead of one by one.
    #[inline]
    fn prefetch_probes(&self, lo: usize, mid: usize, hi: usize) {
        for next in [(lo + mid) / 2, (mid + 1 + hi) / 2] {
            if next < self.count {
                let offset = u16_at(self.page, HEADER_SIZE + SLOT * next) as usize;
                if let Some(first_byte) = self.page.get(offset..offset + 1) {
                    crate::io::prefetch(first_byte);
                }
            }
        }
    }

    /// Starts loading the page into the CPU caches (see `io::prefetch`): all of a page of up
    /// to 4 KiB; of a larger one, the header and slots and the last 4 KiB (where cells are
    /// packed from), so as not to flood the first-level cache.
    pub(crate) fn prefetch(&self) {
        const MOST: usize = 4096;
        let len = self.page.len();
        if len <= MOST {
            crate::io::prefetch(self.page);
        } else {
            let slots = (HEADER_SIZE + SLOT * self.count).min(MOST);
            crate::io::prefetch(&self.page[..slots]);
            crate::io::prefetch(&self.page[len - MOST..]);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Bytes taken by slots and cells (see `occupied`).
    pub(crate) fn occupied(&self) -> usize {
        occupied(self.page)
    }

    pub(crate) fn is_branch(&self) -> bool {
        self.is_branch
    }

    fn bad(&self, reason: String) -> Error {
        Error::corruption(self.id, reason)
    }

    /// The bytes of cell `i`, bounds-checked against the page.
    pub(crate) fn cell(&self, i: usize) -> Result<&'a [u8]> {
        debug_assert!(i < self.count);
        let offset = u16_at(self.page, HEADER_SIZE + SLOT * i) as usize;
        let fixed = if self.is_branch {
            BRANCH_CELL_HEADER
        } else {
            LEAF_CELL_HEADER
        };
        if offset < self.upper || offset + fixed > self.page.len() {
            return Err(self.bad(format!("cell {i} offset {offset} out of bounds")));
        }
        let key_len = u16_at(self.page, offset) as usize;
        let len = if self.is_branch {
            fixed + key_len
        } else if self.page[offset + 2] & FLAG_OVERFLOW != 0 {
            fixed + key_len + OVERFLOW_REF
        } else {
            fixed + key_len + u32_at(self.page, offset + 3) as usize
        };
        if offset + len > self.page.len() {
            return Err(self.bad(format!("cell {i} of {len} bytes runs past the page")));
        }
        Ok(&self.page[offset..offset + len])
    }

    /// The key of cell `i`, bounds-checked; reads only the slot, the key length and the key
    /// (searches call this on every probe).
    pub(crate) fn key(&self, i: usize) -> Result<&'a [u8]> {
        debug_assert!(i < self.count);
        let offset = u16_at(self.page, HEADER_SIZE + SLOT * i) as usize;
        let start = offset
            + if self.is_branch {
                BRANCH_CELL_HEADER
            } else {
                LEAF_CELL_HEADER
            };
        if offset < self.upper || start > self.page.len() {
            return Err(self.bad(format!("cell {i} offset {offset} out of bounds")));
        }
        let end = start + u16_at(self.page, offset) as usize;
        self.page
            .get(start..end)
            .ok_or_else(|| self.bad(format!("key of cell {i} runs past the page")))
    }

    pub(crate) fn value(&self, i: usize) -> Result<LeafValue<'a>> {
        debug_assert!(!self.is_branch);
        let cell = self.cell(i)?;
        let key_end = LEAF_CELL_HEADER + u16_at(cell, 0) as usize;
        let len = u32_at(cell, 3) as u64;
        if cell[2] & FLAG_OVERFLOW != 0 {
            let page = PageId(u64_at(cell, key_end));
            let crc = u32_at(cell, key_end + 8);
            Ok(LeafValue::Overflow {
                ptr: Ptr { page, crc },
                len,
            })
        } else {
            Ok(LeafValue::Inline(&cell[key_end..]))
        }
    }

    pub(crate) fn child(&self, i: usize) -> Result<Ptr> {
        debug_assert!(self.is_branch);
        let cell = self.cell(i)?;
        Ok(Ptr {
            page: PageId(u64_at(cell, 2)),
            crc: u32_at(cell, 10),
        })
    }

    /// Leaf search: `Ok(i)` if cell `i` holds `key`, else `Err(i)` where it would go.
    pub(crate) fn search(&self, key: &[u8]) -> Result<std::result::Result<usize, usize>> {
        let (mut lo, mut hi) = (0, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            self.prefetch_probes(lo, mid, hi);
            match compare_keys(self.key(mid)?, key) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(Ok(mid)),
            }
        }
        Ok(Err(lo))
    }

    /// Branch search: the child whose subtree holds `key`. Cell 0's key is ignored (it
    /// stands for minus infinity); child `i` holds keys in `[key(i), key(i + 1))`.
    pub(crate) fn child_index(&self, key: &[u8]) -> Result<usize> {
        let (mut lo, mut hi) = (1, self.count);
        while lo < hi {
            let mid = (lo + hi) / 2;
            self.prefetch_probes(lo, mid, hi);
            if compare_keys(self.key(mid)?, key) != Ordering::Greater {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo - 1)
    }

    /// Header, slots and live cells, in bytes.
    #[cfg(test)]
    fn used_bytes(&self) -> Result<usize> {
        let mut used = HEADER_SIZE + SLOT * self.count;
        for i in 0..self.count {
            used += self.cell(i)?.len();
        }
        Ok(used)
    }
}

/// Bytewise order of two keys. The first eight bytes, compared as one big-endian word, decide
/// most probes of a search without a call to `memcmp`.
#[inline]
pub(crate) fn compare_keys(a: &[u8], b: &[u8]) -> Ordering {
    if let (Some(a8), Some(b8)) = (a.first_chunk::<8>(), b.first_chunk::<8>()) {
        let order = u64::from_be_bytes(*a8).cmp(&u64::from_be_bytes(*b8));
        if order != Ordering::Equal {
            return order;
        }
    }
    a.cmp(b)
}

/// Makes `page` an empty node of `kind` (header fields other than kind and bounds are set by
/// the pager).
pub(crate) fn init(page: &mut [u8], kind: PageKind) {
    let len = page.len() as u32;
    let header = PageHeader::of_mut(page);
    header.kind = kind as u8;
    header.count = 0.into();
    header.lower = (HEADER_SIZE as u32).into();
    header.upper = len.into();
}

/// Inserts `cell` at slot `idx`. Returns `false` (page unchanged) if it does not fit. Pages
/// hold no garbage (see `remove`), so the gap between slots and cells is all the free space.
pub(crate) fn try_insert(page: &mut [u8], idx: usize, cell: &NewCell) -> bool {
    let need = cell.len() + SLOT;
    let (count, lower, upper) = bounds(page);
    if upper.saturating_sub(lower) < need {
        return false;
    }
    debug_assert!(idx <= count);
    let at = upper - cell.len();
    cell.write(&mut page[at..upper]);
    let slots = HEADER_SIZE + SLOT * idx;
    page.copy_within(slots..lower, slots + SLOT);
    page[slots..slots + SLOT].copy_from_slice(&(at as u16).to_le_bytes());
    let header = PageHeader::of_mut(page);
    header.count = ((count + 1) as u16).into();
    header.lower = ((lower + SLOT) as u32).into();
    header.upper = (at as u32).into();
    true
}

/// Removes cell `idx` and its slot, sliding the cells stored below it up over its bytes, so
/// a page never holds garbage and its header alone tells how full it is.
pub(crate) fn remove(page: &mut [u8], id: PageId, idx: usize) -> Result<()> {
    let node = Node::parse(page, id)?;
    if idx >= node.count {
        return Err(node.bad(format!("no cell {idx} to remove among {}", node.count)));
    }
    let cell = node.cell(idx)?;
    let (offset, len) = (cell.as_ptr() as usize - page.as_ptr() as usize, cell.len());
    let (count, lower, upper) = (node.count, HEADER_SIZE + SLOT * node.count, node.upper);
    page.copy_within(upper..offset, upper + len);
    let slots = HEADER_SIZE + SLOT * idx;
    page.copy_within(slots + SLOT..lower, slots);
    for slot in page[HEADER_SIZE..lower - SLOT].chunks_exact_mut(SLOT) {
        let at = u16::from_le_bytes([slot[0], slot[1]]) as usize;
        if at < offset {
            slot.copy_from_slice(&((at + len) as u16).to_le_bytes());
        }
    }
    let header = PageHeader::of_mut(page);
    header.count = ((count - 1) as u16).into();
    header.lower = ((lower - SLOT) as u32).into();
    header.upper = ((upper + len) as u32).into();
    Ok(())
}

/// Points branch cell `idx` at `child` (same size, rewritten in place).
pub(crate) fn set_child(page: &mut [u8], id: PageId, idx: usize, child: Ptr) -> Result<()> {
    let node = Node::parse(page, id)?;
    let cell = node.cell(idx)?;
    let at = cell.as_ptr() as usize - page.as_ptr() as usize;
    page[at + 2..at + 10].copy_from_slice(&child.page.0.to_le_bytes());
    page[at + 10..at + 14].copy_from_slice(&child.crc.to_le_bytes());
    Ok(())
}

/// Points leaf cell `idx`, which holds a value in an overflow run, at the run `run` (same
/// size, rewritten in place).
pub(crate) fn set_overflow(page: &mut [u8], id: PageId, idx: usize, run: Ptr) -> Result<()> {
    let node = Node::parse(page, id)?;
    let cell = node.cell(idx)?;
    if node.is_branch() || cell[2] & FLAG_OVERFLOW == 0 {
        return Err(Error::corruption(
            id,
            format!("cell {idx} holds no overflow pointer"),
        ));
    }
    let at = cell.as_ptr() as usize - page.as_ptr() as usize + LEAF_CELL_HEADER;
    let at = at + u16_at(cell, 0) as usize;
    page[at..at + 8].copy_from_slice(&run.page.0.to_le_bytes());
    page[at + 8..at + 12].copy_from_slice(&run.crc.to_le_bytes());
    Ok(())
}

/// Rewrites `page` as a node of `kind` holding exactly `cells`, in order. The caller
/// guarantees they fit.
pub(crate) fn rebuild(page: &mut [u8], kind: PageKind, cells: &[NewCell]) {
    init(page, kind);
    let lower = HEADER_SIZE + SLOT * cells.len();
    let mut upper = page.len();
    for (i, cell) in cells.iter().enumerate() {
        let at = upper
            .checked_sub(cell.len())
            .filter(|&at| at >= lower)
            .expect("rebuild given more cells than fit a page");
        cell.write(&mut page[at..upper]);
        let slot = HEADER_SIZE + SLOT * i;
        page[slot..slot + SLOT].copy_from_slice(&(at as u16).to_le_bytes());
        upper = at;
    }
    let header = PageHeader::of_mut(page);
    header.count = (cells.len() as u16).into();
    header.lower = (lower as u32).into();
    header.upper = (upper as u32).into();
}

fn bounds(page: &[u8]) -> (usize, usize, usize) {
    let header = PageHeader::of(page);
    (
        header.count.get() as usize,
        header.lower.get() as usize,
        header.upper.get() as usize,
    )
}

/// The key of a raw cell taken from a branch (`is_branch`) or leaf page.
pub(crate) fn raw_key(cell: &[u8], is_branch: bool) -> &[u8] {
    let start = if is_branch {
        BRANCH_CELL_HEADER
    } else {
        LEAF_CELL_HEADER
    };
    &cell[start..start + u16_at(cell, 0) as usize]
}

/// The child pointer of a raw branch cell.
pub(crate) fn raw_child(cell: &[u8]) -> Ptr {
    Ptr {
        page: PageId(u64_at(cell, 2)),
        crc: u32_at(cell, 10),
    }
}

/// Whether replacing cell `idx` by one of `new_len` bytes fits the page.
pub(crate) fn fits_after_replace(
    page: &[u8],
    id: PageId,
    idx: usize,
    new_len: usize,
) -> Result<bool> {
    let old_len = Node::parse(page, id)?.cell(idx)?.len();
    Ok(occupied(page) - old_len + new_len <= usable(page.len()))
}

/// Bytes taken by slots and cells (the `cells_size` of the live cells), read from the header
/// alone: pages hold no garbage (see `remove`).
pub(crate) fn occupied(page: &[u8]) -> usize {
    let (_, lower, upper) = bounds(page);
    (lower.saturating_sub(HEADER_SIZE) + page.len().saturating_sub(upper)).min(page.len())
}

/// Total size of cells plus their slots, the measure splits and merges balance.
pub(crate) fn cells_size(cells: &[NewCell]) -> usize {
    cells.iter().map(|c| c.len() + SLOT).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf() -> Vec<u8> {
        let mut page = vec![0u8; 4096];
        init(&mut page, PageKind::Leaf);
        page
    }

    #[test]
    fn key_order_is_bytewise() {
        let keys: [&[u8]; 9] = [
            b"",
            b"\x00",
            b"abc",
            b"abcdefgh",
            b"abcdefgh\x00",
            b"abcdefgi",
            b"abcdefh",
            b"\xff\x00\x00\x00\x00\x00\x00\x00\x01",
            b"\xff\xff",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(compare_keys(a, b), a.cmp(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn insert_search_remove() {
        let mut page = leaf();
        let id = PageId(0);
        for (i, k) in [b"b", b"d", b"a", b"c"].iter().enumerate() {
            let node = Node::parse(&page, id).unwrap();
            let idx = node.search(&k[..]).unwrap().unwrap_err();
            let value = [i as u8; 3];
            let cell = NewCell::Leaf {
                key: &k[..],
                value: &value,
            };
            assert!(try_insert(&mut page, idx, &cell));
        }
        let node = Node::parse(&page, id).unwrap();
        let keys: Vec<_> = (0..node.len()).map(|i| node.key(i).unwrap()).collect();
        assert_eq!(keys, vec![b"a", b"b", b"c", b"d"]);
        assert!(matches!(node.value(2).unwrap(), LeafValue::Inline(v) if v == [3, 3, 3]));
        remove(&mut page, id, 1).unwrap();
        let node = Node::parse(&page, id).unwrap();
        assert_eq!(node.search(b"b").unwrap(), Err(1));
        assert_eq!(node.search(b"c").unwrap(), Ok(1));
    }

    #[test]
    fn remove_reclaims_the_cell_bytes_and_keeps_the_others_whole() {
        let mut page = leaf();
        let id = PageId(0);
        // Inserted out of key order, so cell bytes and slots are in different orders.
        let entries: Vec<(u8, Vec<u8>)> = [3u8, 0, 4, 1, 2]
            .iter()
            .map(|&k| (k, vec![k; 100 + 150 * k as usize]))
            .collect();
        for (k, value) in &entries {
            let node = Node::parse(&page, id).unwrap();
            let idx = node.search(&[*k]).unwrap().unwrap_err();
            let key = [*k];
            assert!(try_insert(
                &mut page,
                idx,
                &NewCell::Leaf { key: &key, value }
            ));
        }
        let mut live: Vec<u8> = vec![0, 1, 2, 3, 4];
        for gone in [2u8, 0, 4, 1, 3] {
            let idx = live.iter().position(|&k| k == gone).unwrap();
            remove(&mut page, id, idx).unwrap();
            live.remove(idx);
            let node = Node::parse(&page, id).unwrap();
            assert_eq!(occupied(&page) + HEADER_SIZE, node.used_bytes().unwrap());
            for (i, &k) in live.iter().enumerate() {
                assert_eq!(node.key(i).unwrap(), [k]);
                let expect = vec![k; 100 + 150 * k as usize];
                assert!(matches!(node.value(i).unwrap(), LeafValue::Inline(v) if v == expect));
            }
        }
        assert_eq!(occupied(&page), 0);
    }

    #[test]
    fn space_of_a_removed_cell_takes_a_new_one() {
        let mut page = leaf();
        let id = PageId(0);
        let value = vec![7u8; 1200];
        for i in 0..3u8 {
            let key = [i];
            let cell = NewCell::Leaf {
                key: &key,
                value: &value,
            };
            assert!(try_insert(&mut page, i as usize, &cell));
        }
        let key = [9u8];
        let big = NewCell::Leaf {
            key: &key,
            value: &value,
        };
        assert!(!try_insert(&mut page, 3, &big));
        remove(&mut page, id, 0).unwrap();
        assert!(try_insert(&mut page, 2, &big));
        assert_eq!(Node::parse(&page, id).unwrap().len(), 3);
    }

    #[test]
    fn bad_offsets_are_corruption_not_panics() {
        let mut page = leaf();
        let cell = NewCell::Leaf {
            key: b"k",
            value: b"v",
        };
        assert!(try_insert(&mut page, 0, &cell));
        let mut corrupt = page.clone();
        corrupt[HEADER_SIZE] = 0xff;
        corrupt[HEADER_SIZE + 1] = 0xff;
        assert!(matches!(
            remove(&mut corrupt, PageId(5), 0),
            Err(Error::Corruption { page: 5, .. })
        ));
        page[HEADER_SIZE] = 0xff;
        page[HEADER_SIZE + 1] = 0xff;
        let node = Node::parse(&page, PageId(5)).unwrap();
        assert!(matches!(
            node.key(0),
            Err(Error::Corruption { page: 5, .. })
        ));
    }

    #[test]
    fn branch_child_index_treats_first_key_as_minus_infinity() {
        let mut page = vec![0u8; 4096];
        init(&mut page, PageKind::Branch);
        let id = PageId(0);
        for (i, key) in [&b""[..], b"m", b"t"].iter().enumerate() {
            let child = Ptr {
                page: PageId(10 + i as u64),
                crc: 0,
            };
            assert!(try_insert(&mut page, i, &NewCell::Branch { key, child }));
        }
        let node = Node::parse(&page, id).unwrap();
        assert_eq!(node.child_index(b"a").unwrap(), 0);
        assert_eq!(node.child_index(b"m").unwrap(), 1);
        assert_eq!(node.child_index(b"s").unwrap(), 1);
        assert_eq!(node.child_index(b"z").unwrap(), 2);
        assert_eq!(node.child(2).unwrap().page, PageId(12));
    }
}
