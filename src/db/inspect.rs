//! Page inspection, for the people who debug a file: one page decoded, and a census of every
//! page of a snapshot by kind and fill (DESIGN.md, "Page inspection"). Read-only, through
//! the public API: damage is reported, never repaired.

use crate::error::{Error, Result};
use crate::format::node::{self, LeafValue, Node};
use crate::format::{PageHeader, PageKind, page_checksum};
use crate::ids::{PageId, Ptr};
use crate::pager::{FreeList, ReadPages};
use crate::txn::{ReadTransaction, list_tables};

/// One cell of a decoded page.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CellInfo {
    /// A branch cell: the separator key and the child it points to, with the checksum the
    /// child must carry.
    Branch {
        /// The separator (empty in cell 0, which stands for minus infinity).
        key: Vec<u8>,
        /// The child page.
        child: u64,
        /// The crc32c recorded for the child.
        child_checksum: u32,
    },
    /// A leaf cell whose value is stored inline.
    Leaf {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// A leaf cell whose value lives in an overflow run.
    Overflow {
        /// The key.
        key: Vec<u8>,
        /// The run's first page.
        run: u64,
        /// The value's length in bytes.
        len: u64,
        /// The crc32c recorded for the run.
        checksum: u32,
    },
}

/// One page, decoded as far as it can be.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct PageInfo {
    /// The page's id.
    pub id: u64,
    /// `meta`, `branch`, `leaf`, `overflow`, `freelist`, or `unknown (N)`.
    pub kind: String,
    /// The id the page's header names (a misdirected write names another).
    pub header_id: u64,
    /// The transaction that wrote it.
    pub txn_id: u64,
    /// The checksum in its header (0 for a meta page, whose layout checks itself).
    pub checksum: u32,
    /// Whether its bytes hash to that checksum (for a meta page: whether it is valid).
    pub checksum_ok: bool,
    /// Branch and leaf pages: the fraction of the usable space its cells take.
    pub fill: Option<f64>,
    /// Branch and leaf pages: its cells; empty if they do not parse.
    pub cells: Vec<CellInfo>,
    /// Why the cells could not be read, if they could not.
    pub problem: Option<String>,
}

/// Every page of a snapshot, by kind, with a fill histogram of tree pages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PageCensus {
    /// The two meta pages.
    pub meta: u64,
    /// Branch pages of every tree, the catalog's included.
    pub branch: u64,
    /// Leaf pages of every tree, the catalog's included.
    pub leaf: u64,
    /// Pages of overflow runs.
    pub overflow: u64,
    /// Pages of the freelist's chain.
    pub freelist: u64,
    /// Free page ids, reusable now or once no reader needs them.
    pub free: u64,
    /// Pages up to the high-water mark.
    pub high_water: u64,
    /// Branch and leaf pages by fill: bucket `i` counts pages `i`/10 to (`i`+1)/10 full.
    pub fill_histogram: [u64; 10],
}

fn decode_cells(page: &[u8], id: PageId) -> Result<(f64, Vec<CellInfo>)> {
    let node = Node::parse(page, id)?;
    let fill = node.occupied() as f64 / node::usable(page.len()) as f64;
    let mut cells = Vec::with_capacity(node.len());
    for i in 0..node.len() {
        let key = node.key(i)?.to_vec();
        cells.push(match node.is_branch() {
            true => {
                let Ptr { page, crc } = node.child(i)?;
                CellInfo::Branch {
                    key,
                    child: page.0,
                    child_checksum: crc,
                }
            }
            false => match node.value(i)? {
                LeafValue::Inline(value) => CellInfo::Leaf {
                    key,
                    value: value.to_vec(),
                },
                LeafValue::Overflow { ptr, len } => CellInfo::Overflow {
                    key,
                    run: ptr.page.0,
                    len,
                    checksum: ptr.crc,
                },
            },
        });
    }
    Ok((fill, cells))
}

impl ReadTransaction {
    /// Page `id` of this snapshot's file, decoded: header, checksum, and cells of branch and
    /// leaf pages (a damaged page is decoded as far as it goes, with the problem named). A
    /// page at or past the high-water mark is refused with [`Error::Io`] of kind
    /// `InvalidInput`.
    pub fn inspect_page(&self, id: u64) -> Result<PageInfo> {
        let snapshot = self.snapshot();
        let page_size = snapshot.meta.page_size as usize;
        if id >= snapshot.meta.high_water.max(2) {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "page {id} lies past the high-water mark {}",
                    snapshot.meta.high_water
                ),
            )));
        }
        let logged = snapshot.wal.as_ref().is_some_and(|wal| {
            let index = wal.index.read().unwrap_or_else(|e| e.into_inner());
            index
                .lookup(id, wal.floor, snapshot.meta.txn_id.0)
                .is_some()
        });
        let bytes = match logged {
            true => snapshot.pages().raw(PageId(id), 1)?.to_vec(),
            // Read, not touched through the map: a free page may never have been written,
            // and touching such a hole through a map can raise SIGBUS on a full filesystem
            // (DESIGN.md, "A full disk").
            false => {
                let mut page = vec![0u8; page_size];
                self.read_main_file(&mut page, id * page_size as u64)
                    .map_err(|_| Error::corruption(id, "page lies beyond the end of the file"))?;
                page
            }
        };
        let bytes = &bytes[..];
        if id < 2 {
            return Ok(meta_info(id, bytes));
        }
        let header = PageHeader::of(bytes);
        let kind = match header.kind() {
            Some(PageKind::Branch) => "branch".to_owned(),
            Some(PageKind::Leaf) => "leaf".to_owned(),
            Some(PageKind::Overflow) => "overflow".to_owned(),
            Some(PageKind::Freelist) => "freelist".to_owned(),
            None => format!("unknown ({})", header.kind),
        };
        let mut info = PageInfo {
            id,
            kind,
            header_id: header.page_id.get(),
            txn_id: header.txn_id.get(),
            checksum: header.checksum.get(),
            checksum_ok: page_checksum(bytes) == header.checksum.get(),
            fill: None,
            cells: Vec::new(),
            problem: None,
        };
        if matches!(header.kind(), Some(PageKind::Branch | PageKind::Leaf)) {
            match decode_cells(bytes, PageId(id)) {
                Ok((fill, cells)) => {
                    info.fill = Some(fill);
                    info.cells = cells;
                }
                Err(e) => info.problem = Some(e.to_string()),
            }
        }
        Ok(info)
    }

    /// Every page of this snapshot counted by kind, with a fill histogram of tree pages.
    /// Walks every tree (overflow values not read).
    pub fn page_census(&self) -> Result<PageCensus> {
        let snapshot = self.snapshot();
        let pages = snapshot.pages();
        let mut census = PageCensus {
            meta: 2,
            high_water: snapshot.meta.high_water,
            ..PageCensus::default()
        };
        let catalog = snapshot.meta.catalog;
        count_tree(&pages, catalog, &mut census)?;
        for (_, record) in list_tables(&pages, catalog)? {
            count_tree(&pages, record.root, &mut census)?;
        }
        let freelist = FreeList::load(&pages, &snapshot.meta)?;
        census.freelist = freelist.chain_pages().len() as u64;
        census.free = freelist.free_ids().count() as u64;
        Ok(census)
    }
}

/// A meta page (its own layout, "Meta page (pages 0 and 1)"): its transaction, and whether it
/// is valid.
fn meta_info(id: u64, bytes: &[u8]) -> PageInfo {
    let decoded = crate::format::Meta::decode(bytes);
    PageInfo {
        id,
        kind: "meta".to_owned(),
        header_id: id,
        txn_id: decoded.as_ref().map_or(0, |meta| meta.txn_id.0),
        checksum: 0,
        checksum_ok: decoded.is_ok(),
        fill: None,
        cells: Vec::new(),
        problem: decoded.err().map(|e| format!("not a valid meta: {e:?}")),
    }
}

/// Adds the pages of the tree at `root` to `census`.
fn count_tree(pages: &ReadPages, root: Option<Ptr>, census: &mut PageCensus) -> Result<()> {
    let usable = node::usable(pages.page_size) as f64;
    let mut todo: Vec<(Ptr, usize)> = root.into_iter().map(|r| (r, 0)).collect();
    while let Some((ptr, depth)) = todo.pop() {
        if depth >= crate::btree::MAX_DEPTH {
            return Err(crate::btree::too_deep(ptr.page));
        }
        let node = Node::parse(pages.checked_page(ptr)?, ptr.page)?;
        let bucket = ((node.occupied() as f64 / usable) * 10.0) as usize;
        census.fill_histogram[bucket.min(9)] += 1;
        match node.is_branch() {
            true => {
                census.branch += 1;
                for i in 0..node.len() {
                    todo.push((node.child(i)?, depth + 1));
                }
            }
            false => {
                census.leaf += 1;
                for i in 0..node.len() {
                    if let LeafValue::Overflow { len, .. } = node.value(i)? {
                        let run = crate::format::overflow::run_pages(pages.page_size, len);
                        census.overflow = census.overflow.saturating_add(run);
                    }
                }
            }
        }
    }
    Ok(())
}
