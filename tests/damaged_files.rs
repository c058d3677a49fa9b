//! Damaged files (issue 3, part 5): small databases are damaged in thousands of ways (bit
//! flips, zeroed pages, a sector of 0xFF, a page copied over another, a stale older page, a
//! truncated file, damaged metas), and each variant is opened, read in full and checked.
//!
//! The rules: nothing panics or hangs; every successful read matches the model of the
//! committed state the open chose (the newest, or the previous one when the newest meta or
//! its pages are damaged, which `stats()` must report); and damage to a byte that state
//! depends on gives `Error::Corruption` from the open, a read or `check()`.
//!
//! Which bytes a state depends on is decided by a small walker of the file format written
//! here from DESIGN.md ("File format"), independent of the engine: the checksummed bytes of
//! its meta, every tree and freelist page it reaches, and the header and value of every
//! overflow run (not the padding after the value, which no checksum covers). Damage anywhere
//! else (free pages, pages past the high water, the other commit's pages) may go unnoticed.
//!
//! A failure prints its seed; `BOUGH_DAMAGE_SEED=<seed>` replays just that variant.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bough::testing::{SimDisk, SplitMix};
use bough::{CommitProtocol, Database, Error, Range};

type Table = BTreeMap<Vec<u8>, Vec<u8>>;
type Model = BTreeMap<String, Table>;

const META_CHECKED: usize = 76; // meta bytes 0..72 are checksummed; 72..76 hold the checksum
const META_RECORDS: usize = 80; // freelist records a meta holds start here
const HEADER: usize = 32;
const KIND_BRANCH: u8 = 1;
const KIND_LEAF: u8 = 2;
const KIND_OVERFLOW: u8 = 3;
const KIND_FREELIST: u8 = 4;

/// Set when replaying one seed: print what each open saw.
static DEBUG: AtomicBool = AtomicBool::new(false);

/// A watchdog declares a hang when one variant takes longer than this.
const HANG: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// The databases and their models

/// A committed state the damaged file holds: its transaction and the bytes it depends on.
struct State {
    txn: u64,
    layout: Layout,
}

/// One small database, with an image and a model after every commit.
struct Fixture {
    name: String,
    page_size: usize,
    /// The file as created and after each commit, oldest first (the last is the one
    /// damaged), and the transaction each holds.
    images: Vec<Vec<u8>>,
    txns: Vec<u64>,
    /// The content of each of those states, by transaction id.
    models: BTreeMap<u64, Model>,
    newest: State,
    previous: State,
    /// Keys each table held in some state: probes for gets of absent keys.
    ever: BTreeMap<String, Vec<Vec<u8>>>,
}

impl Fixture {
    fn base(&self) -> &[u8] {
        self.images.last().expect("committed at least once")
    }

    fn pages(&self) -> usize {
        self.base().len() / self.page_size
    }
}

fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = SplitMix(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

fn between(rng: &mut SplitMix, lo: usize, hi: usize) -> usize {
    lo + rng.below((hi - lo + 1) as u64) as usize
}

/// One transaction's changes, applied to the database and the model alike.
struct Batch<'m> {
    model: &'m mut Model,
    ops: Vec<(String, Vec<u8>, Option<Vec<u8>>)>,
    dropped: Vec<String>,
}

impl Batch<'_> {
    fn put(&mut self, table: &str, key: Vec<u8>, value: Vec<u8>) {
        let t = self.model.entry(table.to_string()).or_default();
        t.insert(key.clone(), value.clone());
        self.ops.push((table.to_string(), key, Some(value)));
    }

    fn remove(&mut self, table: &str, key: Vec<u8>) {
        if let Some(t) = self.model.get_mut(table) {
            t.remove(&key);
        }
        self.ops.push((table.to_string(), key, None));
    }

    fn drop_table(&mut self, table: &str) {
        self.model.remove(table);
        self.dropped.push(table.to_string());
    }
}

fn alpha(i: u64) -> Vec<u8> {
    format!("a{i:06}").into_bytes()
}
fn beta(i: u64) -> Vec<u8> {
    format!("b{i:05}").into_bytes()
}
fn blob(i: u64) -> Vec<u8> {
    format!("blob-{i}").into_bytes()
}

/// The five commits of every fixture: three tables of small and mid-size values, overflow
/// values of 10-60 KiB, deletes (with merges), a dropped table and an emptied one, so the
/// freelist is not empty (its records both in freelist pages and in the meta) and the newest
/// commit changes only part of the tree.
fn commit_plan(step: usize, batch: &mut Batch<'_>, rng: &mut SplitMix) {
    let small = |rng: &mut SplitMix| bytes(rng.next_u64(), between(rng, 20, 120));
    let mid = |rng: &mut SplitMix| bytes(rng.next_u64(), between(rng, 150, 600));
    let large = |rng: &mut SplitMix| bytes(rng.next_u64(), between(rng, 10 << 10, 60 << 10));
    match step {
        0 => {
            for i in 0..120 {
                batch.put("alpha", alpha(i), small(rng));
            }
            for i in 0..40 {
                batch.put("beta", beta(i), mid(rng));
            }
            for i in 0..2 {
                batch.put("blobs", blob(i), large(rng));
            }
            for i in 0..40 {
                batch.put("gamma", format!("g{i:04}").into_bytes(), bytes(i, 20));
            }
        }
        1 => {
            for i in 120..180 {
                batch.put("alpha", alpha(i), small(rng));
            }
            for i in 40..70 {
                batch.put("beta", beta(i), mid(rng));
            }
            batch.put("blobs", blob(2), large(rng));
        }
        2 => {
            for i in (1..180).step_by(4) {
                batch.remove("alpha", alpha(i));
            }
            for i in (0..70).step_by(6) {
                batch.put("beta", beta(i), mid(rng));
            }
            batch.remove("blobs", blob(0));
            batch.drop_table("gamma");
        }
        3 => {
            for i in 180..195 {
                batch.put("alpha", alpha(i), small(rng));
            }
            for i in (2..70).step_by(5) {
                batch.remove("beta", beta(i));
            }
            for i in [1, 3] {
                batch.put("blobs", blob(i), large(rng));
            }
            for i in 0..3 {
                batch.put("delta", format!("d{i}").into_bytes(), bytes(i, 12));
            }
        }
        _ => {
            for i in 195..200 {
                batch.put("alpha", alpha(i), small(rng));
            }
            for i in [0, 8, 100] {
                batch.put("alpha", alpha(i), bytes(rng.next_u64(), 33));
            }
            for i in [3, 20, 41] {
                batch.remove("beta", beta(i));
            }
            for i in 0..3 {
                batch.remove("delta", format!("d{i}").into_bytes());
            }
            // Enough pages change that the freelist records outgrow the meta page and go
            // to freelist pages, which the damage then reaches too.
            for i in 1..4 {
                batch.put("blobs", blob(i), large(rng));
            }
            for i in (0..200).step_by(3) {
                batch.put("alpha", alpha(i), small(rng));
            }
        }
    }
}

const COMMITS: usize = 5;

fn build(page_size: usize, protocol: CommitProtocol, seed: u64) -> Fixture {
    let name = format!("{page_size}/{protocol:?}");
    let disk = SimDisk::new();
    let db = Database::builder()
        .page_size(page_size)
        .commit_protocol(protocol)
        .open_simulated(disk.clone())
        .expect("create");
    let mut rng = SplitMix(seed);
    let mut model = Model::new();
    let mut images = Vec::new();
    let mut txns = Vec::new();
    let mut models = BTreeMap::new();
    let mut ever: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    // The new, empty database is a committed state too (transaction 0).
    let txn = db.begin_read().expect("begin_read").snapshot_id();
    images.push(disk.contents());
    txns.push(txn);
    models.insert(txn, model.clone());
    for step in 0..COMMITS {
        let mut batch = Batch {
            model: &mut model,
            ops: Vec::new(),
            dropped: Vec::new(),
        };
        commit_plan(step, &mut batch, &mut rng);
        let (ops, dropped) = (batch.ops, batch.dropped);
        let wtx = db.begin_write().expect("begin_write");
        for (table, key, value) in ops {
            ever.entry(table.clone()).or_default().push(key.clone());
            let mut t = wtx.open_table(&table).expect("open_table");
            match value {
                Some(value) => t.insert(&key, &value).expect("insert"),
                None => {
                    t.remove(&key).expect("remove");
                }
            }
        }
        for table in dropped {
            assert!(wtx.delete_table(&table).expect("delete_table"));
        }
        wtx.commit().expect("commit");
        let txn = db.begin_read().expect("begin_read").snapshot_id();
        images.push(disk.contents());
        txns.push(txn);
        models.insert(txn, model.clone());
    }
    db.check().expect("the undamaged database checks");
    drop(db);
    for keys in ever.values_mut() {
        keys.sort();
        keys.dedup();
    }
    let image = images.last().expect("committed");
    let txn_at = |slot: usize| le64(image, slot * page_size + 16);
    let newest_slot = if txn_at(0) > txn_at(1) { 0 } else { 1 };
    let newest = State {
        txn: txn_at(newest_slot),
        layout: layout(image, page_size, newest_slot),
    };
    let previous = State {
        txn: txn_at(1 - newest_slot),
        layout: layout(image, page_size, 1 - newest_slot),
    };
    assert_eq!(
        Some(&newest.txn),
        models.keys().last(),
        "{name}: newest meta"
    );
    assert!(models.contains_key(&previous.txn), "{name}: previous meta");
    assert!(
        newest.layout.pages.iter().any(|p| p.kind == KIND_BRANCH)
            && newest.layout.pages.iter().any(|p| p.kind == KIND_OVERFLOW)
            && (newest.layout.has_freelist_pages() || newest.layout.meta_records > 0),
        "{name}: the fixture should have branch and overflow pages, and freelist records"
    );
    Fixture {
        name,
        page_size,
        images,
        txns,
        models,
        newest,
        previous,
        ever,
    }
}

// ---------------------------------------------------------------------------------------
// An independent walker of the file format: what bytes a committed state depends on

fn le16(b: &[u8], at: usize) -> usize {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize
}
fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}
fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// A page a state reaches (for an overflow run, its first page).
#[derive(Clone, Debug)]
struct LivePage {
    id: usize,
    kind: u8,
    /// Offsets of the cells of a branch or leaf page, in slot order.
    cells: Vec<usize>,
}

/// The bytes a committed state depends on, found by walking an undamaged image.
struct Layout {
    /// Sorted, disjoint byte ranges: the meta's checked bytes, every tree and freelist page,
    /// and every overflow run's header and value.
    live: Vec<(usize, usize)>,
    /// The same with whole pages for overflow runs (the padding after a value is not
    /// checked, but the pages must exist): damage outside these is no reason for an error.
    extent: Vec<(usize, usize)>,
    pages: Vec<LivePage>,
    /// Bytes of freelist records the meta holds.
    meta_records: usize,
}

impl Layout {
    fn has_freelist_pages(&self) -> bool {
        self.pages.iter().any(|p| p.kind == KIND_FREELIST)
    }
}

/// `ranges` sorted, with overlapping and touching ranges merged.
fn merge(mut ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::new();
    for (start, end) in ranges {
        match merged.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => merged.push((start, end)),
        }
    }
    merged
}

fn layout(image: &[u8], page_size: usize, slot: usize) -> Layout {
    let meta = slot * page_size;
    // The fixed fields, then the freelist records the meta holds (their length at byte 64).
    let records = meta + META_RECORDS;
    let meta_records = le32(image, meta + 64);
    let mut live = vec![
        (meta, meta + META_CHECKED),
        (records, records + meta_records),
    ];
    let mut padding = Vec::new();
    let mut pages = Vec::new();
    let mut work: Vec<(usize, bool)> = Vec::new();
    let catalog = le64(image, meta + 24) as usize;
    if catalog != 0 {
        work.push((catalog, true));
    }
    while let Some((id, is_catalog)) = work.pop() {
        let start = id * page_size;
        let page = &image[start..start + page_size];
        live.push((start, start + page_size));
        let kind = page[4];
        assert!(
            kind == KIND_BRANCH || kind == KIND_LEAF,
            "walker: page {id} kind {kind}"
        );
        let cells: Vec<usize> = (0..le16(page, 6))
            .map(|i| le16(page, HEADER + 2 * i))
            .collect();
        for &cell in &cells {
            if kind == KIND_BRANCH {
                work.push((le64(page, cell + 2) as usize, is_catalog));
                continue;
            }
            let value = cell + 7 + le16(page, cell);
            if page[cell + 2] & 1 != 0 {
                let run = le64(page, value) as usize;
                let run_start = run * page_size;
                let value_end = run_start + HEADER + le32(page, cell + 3);
                live.push((run_start, value_end));
                padding.push((value_end, value_end.next_multiple_of(page_size)));
                pages.push(LivePage {
                    id: run,
                    kind: KIND_OVERFLOW,
                    cells: Vec::new(),
                });
            } else if is_catalog {
                let root = le64(page, value) as usize;
                if root != 0 {
                    work.push((root, false));
                }
            }
        }
        pages.push(LivePage { id, kind, cells });
    }
    let mut next = le64(image, meta + 40) as usize;
    while next != 0 {
        let start = next * page_size;
        live.push((start, start + page_size));
        pages.push(LivePage {
            id: next,
            kind: KIND_FREELIST,
            cells: Vec::new(),
        });
        next = le64(image, start + HEADER) as usize;
    }
    pages.sort_by_key(|p| p.id);
    let extent = merge(live.iter().chain(&padding).copied().collect());
    Layout {
        live: merge(live),
        extent,
        pages,
        meta_records,
    }
}

/// The byte ranges in which `damaged` differs from `base` (a shorter file differs in the
/// bytes it lost).
fn diff(base: &[u8], damaged: &[u8]) -> Vec<(usize, usize)> {
    let common = base.len().min(damaged.len());
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut chunk = 0;
    while chunk < common {
        let end = (chunk + 512).min(common);
        if base[chunk..end] != damaged[chunk..end] {
            for i in chunk..end {
                if base[i] != damaged[i] {
                    match out.last_mut() {
                        Some(last) if last.1 == i => last.1 = i + 1,
                        _ => out.push((i, i + 1)),
                    }
                }
            }
        }
        chunk = end;
    }
    if base.len() != damaged.len() {
        out.push((common, base.len().max(damaged.len())));
    }
    out
}

fn touches(live: &[(usize, usize)], changed: &[(usize, usize)]) -> bool {
    changed.iter().any(|&(start, end)| {
        let i = live.partition_point(|&(_, live_end)| live_end <= start);
        live.get(i).is_some_and(|&(live_start, _)| live_start < end)
    })
}

// ---------------------------------------------------------------------------------------
// Damage

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    FlipAnywhere,
    FlipHeader,
    FlipSlots,
    FlipCellHeader,
    FlipMeta,
    ZeroPage,
    SectorFf,
    CopyPage,
    StalePage,
    Truncate,
    DamageMeta,
}

impl Kind {
    const ALL: [(Kind, u64); 11] = [
        (Kind::FlipAnywhere, 550),
        (Kind::FlipHeader, 250),
        (Kind::FlipSlots, 250),
        (Kind::FlipCellHeader, 250),
        (Kind::FlipMeta, 150),
        (Kind::ZeroPage, 200),
        (Kind::SectorFf, 200),
        (Kind::CopyPage, 200),
        (Kind::StalePage, 300),
        (Kind::Truncate, 180),
        (Kind::DamageMeta, 150),
    ];

    /// Kinds that reach the page parsers with checksums off.
    fn targets_structure(self) -> bool {
        matches!(
            self,
            Kind::FlipHeader | Kind::FlipSlots | Kind::FlipCellHeader
        )
    }
}

struct Variant {
    image: Vec<u8>,
    what: String,
    /// An older, valid meta was written over a newer one: a lost meta write, which nothing
    /// in the file can reveal (the file is then exactly as after the previous commit).
    stale_meta: bool,
    /// A file of length 0 is opened read-only only: a read-write open of an empty file
    /// creates a new database (only a complete file is ever linked into place).
    read_only_only: bool,
}

fn flip_bits(image: &mut [u8], range: (usize, usize), rng: &mut SplitMix) -> String {
    let (start, end) = (range.0, range.1.min(image.len()));
    let flips = between(rng, 1, 8);
    let mut at = Vec::new();
    for _ in 0..flips {
        let byte = between(rng, start, end - 1);
        let bit = rng.below(8);
        image[byte] ^= 1 << bit;
        at.push(byte);
    }
    format!("{flips} bits flipped at bytes {at:?}")
}

/// Whether meta slot `slot` of an earlier image held a meta (copying it over the newer
/// file's is a lost meta write). A slot of zeros is no meta: it is only legitimate in a
/// new file, and counts as damage otherwise.
fn older_meta(old: &[u8], page_size: usize, slot: usize) -> bool {
    old[slot * page_size..slot * page_size + 80]
        .iter()
        .any(|&b| b != 0)
}

fn pick<'a, T>(items: &'a [T], rng: &mut SplitMix) -> &'a T {
    &items[rng.below(items.len() as u64) as usize]
}

fn make_variant(fx: &Fixture, kind: Kind, seed: u64) -> Variant {
    let mut rng = SplitMix(seed);
    let ps = fx.page_size;
    let base = fx.base();
    let mut image = base.to_vec();
    let pages = fx.pages();
    let live = &fx.newest.layout.pages;
    let tree_pages: Vec<&LivePage> = live.iter().filter(|p| !p.cells.is_empty()).collect();
    // Mostly pages of the newest state, sometimes of the previous one.
    let state_pages = |rng: &mut SplitMix| -> &[LivePage] {
        if rng.below(4) == 0 {
            &fx.previous.layout.pages
        } else {
            live
        }
    };
    let mut stale_meta = false;
    let mut read_only_only = false;
    let what = match kind {
        Kind::FlipAnywhere => flip_bits(&mut image, (0, base.len()), &mut rng),
        Kind::FlipHeader => {
            let page = pick(state_pages(&mut rng), &mut rng);
            let at = page.id * ps;
            let what = flip_bits(&mut image, (at, at + HEADER), &mut rng);
            format!("header of page {} (kind {}): {what}", page.id, page.kind)
        }
        Kind::FlipSlots => {
            let page = pick(&tree_pages, &mut rng);
            let at = page.id * ps + HEADER;
            let what = flip_bits(&mut image, (at, at + 2 * page.cells.len()), &mut rng);
            format!(
                "slot array of page {} (kind {}): {what}",
                page.id, page.kind
            )
        }
        Kind::FlipCellHeader => {
            let page = pick(&tree_pages, &mut rng);
            let cell = *pick(&page.cells, &mut rng);
            let at = page.id * ps + cell;
            // Key length, then (leaf) flags and value length or (branch) the child pointer.
            let field = if rng.below(2) == 0 {
                (at, at + 2)
            } else if page.kind == KIND_LEAF {
                (at + 2, at + 7)
            } else {
                (at + 2, at + 14)
            };
            let what = flip_bits(&mut image, field, &mut rng);
            format!(
                "cell header at {cell} of page {} (kind {}): {what}",
                page.id, page.kind
            )
        }
        Kind::FlipMeta => {
            let slots: &[usize] = match rng.below(5) {
                0 | 1 => &[0],
                2 | 3 => &[1],
                _ => &[0, 1],
            };
            let mut whats = Vec::new();
            for &slot in slots {
                let at = slot * ps;
                let end = if rng.below(5) == 0 { at + ps } else { at + 80 };
                whats.push(format!(
                    "meta {slot}: {}",
                    flip_bits(&mut image, (at, end), &mut rng)
                ));
            }
            whats.join("; ")
        }
        Kind::ZeroPage => {
            let id = if rng.below(5) < 3 {
                pick(state_pages(&mut rng), &mut rng).id
            } else {
                rng.below(pages as u64) as usize
            };
            image[id * ps..(id + 1) * ps].fill(0);
            format!("page {id} zeroed")
        }
        Kind::SectorFf => {
            let sector = if rng.below(2) == 0 {
                let page = pick(live, &mut rng);
                page.id * ps / 512 + rng.below((ps / 512) as u64) as usize
            } else {
                rng.below((base.len() / 512) as u64) as usize
            };
            image[sector * 512..(sector + 1) * 512].fill(0xff);
            format!("sector {sector} (page {}) set to 0xFF", sector * 512 / ps)
        }
        Kind::CopyPage => {
            let from = pick(state_pages(&mut rng), &mut rng).id;
            let to = if rng.below(5) < 3 {
                pick(live, &mut rng).id
            } else {
                rng.below(pages as u64) as usize
            };
            let page = base[from * ps..(from + 1) * ps].to_vec();
            image[to * ps..(to + 1) * ps].copy_from_slice(&page);
            format!("page {from} copied over page {to}")
        }
        Kind::StalePage => {
            // A lost write: a location keeps what an earlier commit left there. (The file
            // as created, two metas, is left to the damaged-meta variants.)
            let older = 1 + rng.below(fx.images.len() as u64 - 2) as usize;
            let old = &fx.images[older];
            let shared = old.len().min(base.len()) / ps;
            let differs = |id: &usize| old[id * ps..(id + 1) * ps] != base[id * ps..(id + 1) * ps];
            let live_ids: Vec<usize> = live
                .iter()
                .map(|p| p.id)
                .filter(|&id| id < shared)
                .filter(differs)
                .collect();
            let all_ids: Vec<usize> = (0..shared).filter(differs).collect();
            let candidates = if !live_ids.is_empty() && rng.below(10) < 7 {
                live_ids
            } else {
                all_ids
            };
            let first = *pick(&candidates, &mut rng);
            // Sometimes a whole coalesced write is lost: a few neighbours too.
            let count = if rng.below(5) == 0 {
                between(&mut rng, 2, 4)
            } else {
                1
            };
            let end = (first + count).min(shared);
            image[first * ps..end * ps].copy_from_slice(&old[first * ps..end * ps]);
            stale_meta = (first..end).any(|slot| slot < 2 && older_meta(old, ps, slot));
            format!(
                "pages {first}..{end} as transaction {} left them",
                fx.txns[older]
            )
        }
        Kind::Truncate => {
            let len = match rng.below(8) {
                0 => between(&mut rng, 1, 2 * ps),
                1 | 2 => between(&mut rng, 1, pages - 1) * ps,
                3 | 4 => between(&mut rng, 1, base.len() / 512 - 1) * 512,
                5 => {
                    // At or past the newest high water: only free tail pages are lost.
                    let high_water = le64(base, (fx.newest.txn as usize % 2) * ps + 56);
                    let lo = (high_water as usize * ps).min(base.len() - 1);
                    between(&mut rng, lo, base.len() - 1)
                }
                6 if rng.below(4) == 0 => {
                    read_only_only = true;
                    0
                }
                _ => between(&mut rng, 1, base.len() - 1),
            };
            image.truncate(len);
            format!("truncated to {len} of {} bytes", base.len())
        }
        Kind::DamageMeta => {
            let newest_slot = fx.newest.txn as usize % 2;
            let slot = match rng.below(3) {
                0 => newest_slot,
                1 => 1 - newest_slot,
                _ => 2, // both
            };
            let slots: Vec<usize> = if slot == 2 { vec![0, 1] } else { vec![slot] };
            let how = rng.below(5);
            for &s in &slots {
                let at = s * ps;
                match how {
                    0 => image[at..at + ps].fill(0),
                    1 => {
                        let garbage = bytes(rng.next_u64(), 80);
                        image[at..at + 80].copy_from_slice(&garbage);
                    }
                    2 => {
                        // A stale meta: the slot as an earlier commit left it.
                        let older = rng.below(fx.images.len() as u64 - 1) as usize;
                        let old = &fx.images[older];
                        image[at..at + ps].copy_from_slice(&old[at..at + ps]);
                        stale_meta |= older_meta(old, ps, s);
                    }
                    3 => {
                        // The other slot's meta (wrong parity and offset for this slot).
                        let other = (1 - s) * ps;
                        let page = base[other..other + ps].to_vec();
                        image[at..at + ps].copy_from_slice(&page);
                    }
                    _ => {
                        // Torn: only the first sector of the meta page is lost.
                        image[at..at + 512].fill(0);
                    }
                }
            }
            let how = ["zeroed", "garbage", "stale", "other slot's meta", "torn"][how as usize];
            format!("meta slot(s) {slots:?} {how}")
        }
    };
    Variant {
        image,
        what,
        stale_meta,
        read_only_only,
    }
}

// ---------------------------------------------------------------------------------------
// Opening and reading a variant

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    ReadWrite,
    ReadOnly,
    /// Read-write with checksum verification on reads off: flipped bits inside a page reach
    /// the page parsers, and wrong data may be read, but `check()` must still catch it.
    NoVerify,
}

/// What reads saw.
#[derive(Default)]
struct Probe {
    corruption: Option<String>,
    mismatch: Option<String>,
    other: Option<String>,
}

impl Probe {
    fn err(&mut self, what: &str, e: Error) {
        match e {
            Error::Corruption { .. } => {
                self.corruption
                    .get_or_insert_with(|| format!("{what}: {e}"));
            }
            other => {
                self.other
                    .get_or_insert_with(|| format!("{what} returned {other:?}, not Corruption"));
            }
        }
    }

    fn wrong(&mut self, what: String) {
        self.mismatch.get_or_insert(what);
    }
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(24)]).into_owned()
}

#[derive(Clone, Copy)]
enum Order {
    Forward,
    Backward,
    /// Alternately from the front and the back.
    Both,
}

/// Reads `range` in `order` and compares it with `expected`, stopping at the first error or
/// difference. Never takes more items than expected plus one, so damage cannot make it loop.
fn scan(
    probe: &mut Probe,
    what: &str,
    range: bough::Result<Range<'_>>,
    expected: &[(&Vec<u8>, &Vec<u8>)],
    order: Order,
) {
    let mut it = match range {
        Ok(it) => it,
        Err(e) => return probe.err(what, e),
    };
    let (mut front, mut back) = (0, expected.len());
    for step in 0..=expected.len() {
        let from_back = match order {
            Order::Forward => false,
            Order::Backward => true,
            Order::Both => step % 2 == 1,
        };
        let (item, want) = if from_back {
            (it.next_back(), back.checked_sub(1).filter(|&b| b >= front))
        } else {
            (it.next(), (front < back).then_some(front))
        };
        match (item, want) {
            (None, None) => return,
            (None, Some(_)) => {
                return probe.wrong(format!(
                    "{what}: ended after {step} of {} entries",
                    expected.len()
                ));
            }
            (Some(Ok((k, _))), None) => {
                return probe.wrong(format!("{what}: extra entry {:?}", show(k)));
            }
            (Some(Ok((k, v))), Some(i)) => {
                let (ek, ev) = expected[i];
                if k != ek.as_slice() || v != ev.as_slice() {
                    return probe.wrong(format!(
                        "{what}: entry {i} is {:?} ({} bytes), expected {:?} ({} bytes)",
                        show(k),
                        v.len(),
                        show(ek),
                        ev.len()
                    ));
                }
                if from_back {
                    back = i;
                } else {
                    front = i + 1;
                }
            }
            (Some(Err(e)), _) => return probe.err(what, e),
        }
    }
}

fn bound(key: &[u8], kind: u64) -> Bound<&[u8]> {
    match kind {
        0 => Bound::Included(key),
        1 => Bound::Excluded(key),
        _ => Bound::Unbounded,
    }
}

/// Reads every table of `model` fully: the table list, lengths, scans in both directions,
/// a get of every key and of absent keys, first and last, and a few ranges.
fn read_all(db: &Database, fx: &Fixture, model: &Model, rng: &mut SplitMix, probe: &mut Probe) {
    let rtx = match db.begin_read() {
        Ok(rtx) => rtx,
        Err(e) => return probe.err("begin_read", e),
    };
    match rtx.list_tables() {
        Ok(names) => {
            if !names.iter().eq(model.keys()) {
                probe.wrong(format!("list_tables gave {names:?}"));
            }
        }
        Err(e) => probe.err("list_tables", e),
    }
    for name in fx.ever.keys() {
        if !model.contains_key(name) {
            match rtx.open_table(name) {
                Ok(_) => probe.wrong(format!("dropped table {name} is back")),
                Err(Error::TableNotFound(_)) => {}
                Err(e) => probe.err(&format!("open_table({name})"), e),
            }
        }
    }
    for (name, table) in model {
        let t = match rtx.open_table(name) {
            Ok(t) => t,
            Err(Error::TableNotFound(_)) => {
                probe.wrong(format!("open_table({name}) says the table does not exist"));
                continue;
            }
            Err(e) => {
                probe.err(&format!("open_table({name})"), e);
                continue;
            }
        };
        match t.len() {
            Ok(n) if n == table.len() as u64 => {}
            Ok(n) => probe.wrong(format!("{name}: len {n}, expected {}", table.len())),
            Err(e) => probe.err(&format!("{name}: len"), e),
        }
        let all: Vec<(&Vec<u8>, &Vec<u8>)> = table.iter().collect();
        scan(
            probe,
            &format!("{name}: iter"),
            t.iter(),
            &all,
            Order::Forward,
        );
        scan(
            probe,
            &format!("{name}: rev iter"),
            t.iter(),
            &all,
            Order::Backward,
        );
        scan(
            probe,
            &format!("{name}: both ends"),
            t.iter(),
            &all,
            Order::Both,
        );
        for (key, value) in table {
            match t.get(key) {
                Ok(Some(v)) if v == value.as_slice() => {}
                Ok(Some(v)) => probe.wrong(format!(
                    "{name}: get({:?}) gave {} bytes, not the {} committed",
                    show(key),
                    v.len(),
                    value.len()
                )),
                Ok(None) => probe.wrong(format!("{name}: get({:?}) found nothing", show(key))),
                Err(e) => probe.err(&format!("{name}: get({:?})", show(key)), e),
            }
        }
        let mut absent: Vec<Vec<u8>> = fx.ever[name]
            .iter()
            .filter(|k| !table.contains_key(*k))
            .cloned()
            .collect();
        absent.extend([b"".to_vec(), b"zzz".to_vec(), b"a000000\0".to_vec()]);
        for key in absent.iter().filter(|k| !table.contains_key(*k)) {
            match t.get(key) {
                Ok(None) => {}
                Ok(Some(_)) => probe.wrong(format!("{name}: absent key {:?} found", show(key))),
                Err(e) => probe.err(&format!("{name}: get({:?})", show(key)), e),
            }
        }
        match t.first() {
            Ok(first) if first == all.first().map(|(k, v)| (k.as_slice(), v.as_slice())) => {}
            Ok(_) => probe.wrong(format!("{name}: first is wrong")),
            Err(e) => probe.err(&format!("{name}: first"), e),
        }
        match t.last() {
            Ok(last) if last == all.last().map(|(k, v)| (k.as_slice(), v.as_slice())) => {}
            Ok(_) => probe.wrong(format!("{name}: last is wrong")),
            Err(e) => probe.err(&format!("{name}: last"), e),
        }
        let probes = &fx.ever[name];
        for _ in 0..3 {
            let mut a = pick(probes, rng).as_slice();
            let mut b = pick(probes, rng).as_slice();
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            let (mut lo, mut hi) = (rng.below(3), rng.below(3));
            if a == b {
                (lo, hi) = (0, 0); // (a, a) excluded at both ends is not a range
            }
            let bounds = (bound(a, lo), bound(b, hi));
            let expected: Vec<(&Vec<u8>, &Vec<u8>)> = table.range::<[u8], _>(bounds).collect();
            let order = [Order::Forward, Order::Backward, Order::Both][rng.below(3) as usize];
            let what = format!("{name}: range {bounds:?}");
            scan(probe, &what, t.range(bounds), &expected, order);
        }
    }
}

/// How one open of one variant ended (when it broke no rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// The open refused the file (`Corruption`, `NotADatabase` or `IncompatibleVersion`).
    RejectedAtOpen,
    /// The previous commit was opened, reported by `stats()`, and read correctly.
    FellBack,
    /// An older valid meta replaced the newest: the previous commit was opened unreported.
    /// Nothing in the file can tell this from a commit that never happened.
    StaleMetaAccepted,
    /// A read returned `Corruption` (and `check()` did too).
    DetectedOnRead,
    /// Only `check()` returned `Corruption`.
    DetectedByCheck,
    /// No byte the opened state depends on changed; everything read correctly.
    Harmless,
}

struct Verdict {
    outcome: Outcome,
    /// An error reported although no byte of the newest or previous state changed.
    spurious: bool,
}

fn evaluate(
    fx: &Fixture,
    variant: &Variant,
    changed: &[(usize, usize)],
    mode: Mode,
    seed: u64,
) -> Result<Verdict, Broken> {
    let damaged_newest = touches(&fx.newest.layout.live, changed);
    // For judging whether an error had a cause: whole pages of the newest or previous state.
    let damaged_any =
        touches(&fx.newest.layout.extent, changed) || touches(&fx.previous.layout.extent, changed);
    let builder = Database::builder()
        .read_only(mode == Mode::ReadOnly)
        .verify_checksums(mode != Mode::NoVerify);
    let db = match builder.open_simulated(SimDisk::from_image(variant.image.clone())) {
        Ok(db) => db,
        Err(Error::Corruption { .. } | Error::NotADatabase | Error::IncompatibleVersion { .. }) => {
            return Ok(Verdict {
                outcome: Outcome::RejectedAtOpen,
                spurious: !damaged_any,
            });
        }
        Err(e) => {
            return Err(broken(
                "open returned an error other than Corruption or NotADatabase",
                format!("{e:?}"),
            ));
        }
    };
    let txn = match db.begin_read() {
        Ok(rtx) => rtx.snapshot_id(),
        Err(e) => return Err(broken("begin_read failed", format!("{e:?}"))),
    };
    // Whether a byte the opened state depends on differs from the file as that state's
    // commit left it.
    let damaged = if txn == fx.newest.txn {
        damaged_newest
    } else if txn == fx.previous.txn {
        touches(&fx.previous.layout.live, changed)
    } else if let Some(j) = fx.txns.iter().position(|&t| t == txn)
        && variant.stale_meta
    {
        // Both metas as an earlier commit left them: judged against that commit's file.
        let then = &fx.images[j];
        let live = layout(then, fx.page_size, txn as usize % 2).live;
        touches(&live, &diff(then, &variant.image))
    } else {
        return Err(broken(
            "opened a state that is neither the newest nor the previous commit",
            format!(
                "opened transaction {txn}; newest {}, previous {}",
                fx.newest.txn, fx.previous.txn
            ),
        ));
    };
    let older = txn != fx.newest.txn;
    let fell_back = match db.stats() {
        Ok(stats) => Some(stats.fell_back_to_older_meta),
        Err(Error::Corruption { .. }) => None,
        Err(e) => {
            return Err(broken(
                "stats returned an error other than Corruption",
                format!("{e:?}"),
            ));
        }
    };
    if older && fell_back == Some(false) && !variant.stale_meta {
        return Err(broken(
            "fell back to the previous commit without reporting it",
            format!(
                "opened transaction {txn} (newest {}), stats().fell_back_to_older_meta is false",
                fx.newest.txn
            ),
        ));
    }
    let mut probe = Probe::default();
    read_all(
        &db,
        fx,
        &fx.models[&txn],
        &mut SplitMix(seed ^ 0x5eed),
        &mut probe,
    );
    if let Some(other) = probe.other {
        return Err(broken(
            "a read returned an error other than Corruption",
            other,
        ));
    }
    let check = match db.check() {
        Ok(_) if DEBUG.load(Ordering::Relaxed) => {
            println!(
                "  txn {txn}, fell back {fell_back:?}, reads: {:?} / {:?}, check ok",
                probe.corruption, probe.mismatch
            );
            None
        }
        Err(e) if DEBUG.load(Ordering::Relaxed) => {
            println!(
                "  txn {txn}, fell back {fell_back:?}, reads: {:?} / {:?}, check: {e:?}",
                probe.corruption, probe.mismatch
            );
            match e {
                Error::Corruption { .. } => Some(e.to_string()),
                e => {
                    return Err(broken(
                        "check returned an error other than Corruption",
                        format!("{e:?}"),
                    ));
                }
            }
        }
        Ok(_) => None,
        Err(e @ Error::Corruption { .. }) => Some(e.to_string()),
        Err(e) => {
            return Err(broken(
                "check returned an error other than Corruption",
                format!("{e:?}"),
            ));
        }
    };
    if let Some(mismatch) = &probe.mismatch {
        if mode != Mode::NoVerify {
            return Err(broken(
                "wrong data without an error",
                format!("transaction {txn}: {mismatch}"),
            ));
        }
        if check.is_none() {
            return Err(broken(
                "wrong data read with checksums off, and check() passed",
                format!("transaction {txn}: {mismatch}"),
            ));
        }
        if !damaged {
            return Err(broken(
                "wrong data although no byte of the opened state changed",
                format!("transaction {txn}: {mismatch}"),
            ));
        }
    }
    if damaged && check.is_none() {
        let read = probe.corruption.as_deref().unwrap_or("nothing");
        return Err(broken(
            "damage to bytes the opened state depends on, and check() passed",
            format!("transaction {txn}; reads reported: {read}"),
        ));
    }
    let outcome = if older && !variant.stale_meta {
        Outcome::FellBack
    } else if older {
        if fell_back == Some(true) {
            Outcome::FellBack
        } else {
            Outcome::StaleMetaAccepted
        }
    } else if probe.corruption.is_some() || fell_back.is_none() {
        Outcome::DetectedOnRead
    } else if check.is_some() {
        Outcome::DetectedByCheck
    } else {
        Outcome::Harmless
    };
    let reported = probe.corruption.is_some() || check.is_some() || fell_back.is_none();
    let spurious = (reported && !damaged_any)
        || (older && !touches(&fx.newest.layout.extent, changed) && !variant.stale_meta);
    Ok(Verdict { outcome, spurious })
}

/// A rule an open broke: which, and the particulars.
struct Broken {
    rule: &'static str,
    detail: String,
}

fn broken(rule: &'static str, detail: String) -> Broken {
    Broken { rule, detail }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_string())
}

/// Declares a hang (and ends the process, naming the variant) when no variant finishes for
/// `HANG`.
struct Watchdog {
    beat: Arc<AtomicU64>,
    current: Arc<Mutex<String>>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    fn start() -> Self {
        let beat = Arc::new(AtomicU64::new(0));
        let current = Arc::new(Mutex::new(String::new()));
        let done = Arc::new(AtomicBool::new(false));
        let (b, c, d) = (beat.clone(), current.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            let (mut last, mut since) = (0, Instant::now());
            while !d.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let now = b.load(Ordering::Relaxed);
                if now != last {
                    (last, since) = (now, Instant::now());
                } else if since.elapsed() > HANG {
                    let what = c.lock().map(|s| s.clone()).unwrap_or_default();
                    eprintln!("damaged_files: HANG: no progress for {HANG:?} in {what}");
                    std::process::exit(2);
                }
            }
        });
        Watchdog {
            beat,
            current,
            done,
            thread: Some(thread),
        }
    }

    fn working_on(&self, what: String) {
        *self.current.lock().unwrap() = what;
        self.beat.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn damaged_files_never_panic_hang_or_lie() {
    let started = Instant::now();
    let only: Option<u64> = std::env::var("BOUGH_DAMAGE_SEED").ok().map(|s| {
        let s = s.trim_start_matches("0x");
        u64::from_str_radix(s, 16).expect("BOUGH_DAMAGE_SEED is a hex seed")
    });
    DEBUG.store(only.is_some(), Ordering::Relaxed);
    let fixtures: Vec<Fixture> = [
        (4096, CommitProtocol::OneSync),
        (4096, CommitProtocol::TwoSync),
        (16384, CommitProtocol::OneSync),
        (16384, CommitProtocol::TwoSync),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (page_size, protocol))| build(page_size, protocol, 0xb0_06 + i as u64))
    .collect();
    let built = started.elapsed();
    // Damage reaches the freelist's records in both places they live.
    assert!(
        fixtures
            .iter()
            .any(|f| f.newest.layout.has_freelist_pages()),
        "no fixture's newest state has freelist pages"
    );
    assert!(
        fixtures.iter().any(|f| f.newest.layout.meta_records > 0),
        "no fixture's newest meta holds freelist records"
    );

    let watchdog = Watchdog::start();
    let mut variants = 0u64;
    let mut unchanged = 0u64;
    let mut opens = 0u64;
    let mut by_outcome: BTreeMap<Outcome, u64> = BTreeMap::new();
    let mut by_kind: BTreeMap<Kind, BTreeMap<Outcome, u64>> = BTreeMap::new();
    let mut spurious: Vec<String> = Vec::new();
    let mut failures: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();

    for (f, fx) in fixtures.iter().enumerate() {
        for (k, &(kind, count)) in Kind::ALL.iter().enumerate() {
            for i in 0..count {
                let seed = ((f as u64) << 48) | ((k as u64) << 32) | i;
                if only.is_some_and(|only| only != seed) {
                    continue;
                }
                let variant = make_variant(fx, kind, seed);
                let changed = diff(fx.base(), &variant.image);
                variants += 1;
                if changed.is_empty() {
                    unchanged += 1;
                    continue;
                }
                let mut modes = Vec::new();
                if !variant.read_only_only {
                    modes.push(Mode::ReadWrite);
                    if kind.targets_structure() || i % 3 == 0 {
                        modes.push(Mode::NoVerify);
                    }
                }
                if variant.read_only_only || i % 4 == 1 {
                    modes.push(Mode::ReadOnly);
                }
                for mode in modes {
                    opens += 1;
                    let label = format!(
                        "{} {kind:?} seed {seed:#x} ({}), {mode:?}",
                        fx.name, variant.what
                    );
                    watchdog.working_on(label.clone());
                    let run = panic::catch_unwind(AssertUnwindSafe(|| {
                        evaluate(fx, &variant, &changed, mode, seed)
                    }));
                    match run {
                        Ok(Ok(verdict)) => {
                            *by_outcome.entry(verdict.outcome).or_default() += 1;
                            *by_kind
                                .entry(kind)
                                .or_default()
                                .entry(verdict.outcome)
                                .or_default() += 1;
                            if verdict.spurious {
                                spurious.push(format!("{label}: {:?}", verdict.outcome));
                            }
                        }
                        Ok(Err(Broken { rule, detail })) => failures
                            .entry(rule)
                            .or_default()
                            .push(format!("{label}: {detail}")),
                        Err(payload) => failures
                            .entry("panicked")
                            .or_default()
                            .push(format!("{label}: {}", panic_message(payload.as_ref()))),
                    }
                }
            }
        }
    }
    drop(watchdog);

    let failed: usize = failures.values().map(Vec::len).sum();
    println!(
        "damaged files: {} damaged variants (and {unchanged} that left the file unchanged), \
         {opens} opens, {failed} broke a rule, in {:.1?} (building the {} databases: {built:.1?})",
        variants - unchanged,
        started.elapsed(),
        fixtures.len()
    );
    for (outcome, n) in &by_outcome {
        println!("  {outcome:?}: {n}");
    }
    for (kind, outcomes) in &by_kind {
        println!("  {kind:?}: {outcomes:?}");
    }
    println!(
        "  errors or fall-backs with no damaged byte in the newest or previous state: {}",
        spurious.len()
    );
    for line in spurious.iter().take(10) {
        println!("    {line}");
    }
    let verbose = std::env::var_os("BOUGH_DAMAGE_VERBOSE").is_some();
    for (rule, cases) in &failures {
        let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for case in cases {
            let kind = case.split(' ').nth(1).unwrap_or("?");
            *kinds.entry(kind).or_default() += 1;
        }
        println!("FAILED ({} opens): {rule}; by kind: {kinds:?}", cases.len());
        for case in cases.iter().take(if verbose { usize::MAX } else { 8 }) {
            println!("    {case}");
        }
    }
    assert!(
        failures.is_empty(),
        "{failed} of {opens} opens broke a rule: {:?}",
        failures.keys().collect::<Vec<_>>()
    );
    if only.is_none() {
        assert!(
            variants - unchanged >= 10_000,
            "only {} damaged variants",
            variants - unchanged
        );
    }
}
