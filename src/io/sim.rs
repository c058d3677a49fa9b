//! A simulated disk for crash and fault testing (DESIGN.md, "Fault model and the simulated disk"). Writes are
//! volatile until a sync; a crash image keeps, loses or tears (per 512-byte sector) each
//! unsynced write, applies the kept ones in any order, and keeps an unsynced change of length
//! only sometimes. Every choice comes from a seed, so any failure replays exactly.

use super::{Mapping, Storage};
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// The sector size at which unsynced writes tear.
pub const SECTOR: usize = 512;

/// One operation on one file of the disk, as recorded.
#[derive(Clone, Debug)]
pub struct Event {
    /// 0: the database file; 1: its write-ahead log.
    pub file: usize,
    /// The operation.
    pub op: Op,
}

/// What an operation did.
#[derive(Clone, Debug)]
pub enum Op {
    /// Bytes written at an offset.
    Write {
        /// Where the write starts.
        offset: u64,
        /// The bytes written.
        data: Vec<u8>,
    },
    /// The file's length set.
    SetLen(u64),
    /// A sync.
    Sync {
        /// Whether the size was forced out too (fsync, not fdatasync).
        with_metadata: bool,
    },
    /// The directory entry of a newly created file was made durable.
    SyncDirectory,
}

/// Faults to inject, counted in operations (writes, length changes, syncs) from the start.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    /// Every operation from this one on fails with EIO (the disk is gone: a crash).
    pub crash_at_op: Option<u64>,
    /// The sync that is this operation fails with EIO (and loses nothing yet).
    pub fail_sync_at_op: Option<u64>,
    /// The write that is this operation fails with EIO, writing nothing.
    pub fail_write_at_op: Option<u64>,
    /// The write that is this operation writes only its first half, then fails.
    pub short_write_at_op: Option<u64>,
    /// Writes and length changes reaching beyond this byte fail with ENOSPC.
    pub disk_full_at: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    /// What reads see, per file: the page cache. Shared with the maps taken of it: a write
    /// after a map copies the file once (maps are snapshots of the simulated disk).
    files: Vec<Arc<Vec<u8>>>,
    ops: u64,
    record: bool,
    events: Vec<Event>,
    faults: FaultPlan,
    /// How long a sync takes after it is recorded (writes made meanwhile come after it).
    sync_time: std::time::Duration,
}

/// A disk in memory holding a database file and its log; a handle names one of them.
/// Clones share the same disk. Operations on both files share one count, one recording and
/// one fault plan, so a crash point covers both.
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    state: Arc<Mutex<State>>,
    file: usize,
}

fn eio(what: &str) -> io::Error {
    io::Error::other(format!("simulated I/O error: {what}"))
}

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// A disk whose database file holds `image` (a crash image, or a damaged file).
    pub fn from_image(image: Vec<u8>) -> Self {
        Self::from_images(vec![image])
    }

    /// A disk holding one image per file (database file first).
    pub fn from_images(images: Vec<Vec<u8>>) -> Self {
        let disk = Self::default();
        disk.lock().files = images.into_iter().map(Arc::new).collect();
        disk
    }

    /// The handle of another file of the same disk (1: the log).
    pub fn sibling(&self, file: usize) -> SimDisk {
        SimDisk {
            state: self.state.clone(),
            file,
        }
    }

    /// The bytes of `file` (an empty file if there is none yet).
    fn bytes(state: &State, file: usize) -> &[u8] {
        state.files.get(file).map_or(&[], |bytes| bytes.as_slice())
    }

    /// The bytes of `file`, to change: copied first if a map shares them.
    fn bytes_mut(state: &mut State, file: usize) -> &mut Vec<u8> {
        if state.files.len() <= file {
            state.files.resize_with(file + 1, Default::default);
        }
        Arc::make_mut(&mut state.files[file])
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes every sync take `time` after the point it covers, so that commits made by
    /// other threads meanwhile can queue behind it (group commit).
    pub fn set_sync_time(&self, time: std::time::Duration) {
        self.lock().sync_time = time;
    }

    /// Starts recording every operation (see [`SimDisk::events`]).
    pub fn record(&self) {
        self.lock().record = true;
    }

    /// How many operations have been recorded.
    pub fn event_count(&self) -> usize {
        self.lock().events.len()
    }

    /// The operations recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.lock().events.clone()
    }

    /// How many operations the disk has seen.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Replaces the fault plan.
    pub fn set_faults(&self, faults: FaultPlan) {
        self.lock().faults = faults;
    }

    /// The bytes reads of this file see now.
    pub fn contents(&self) -> Vec<u8> {
        Self::bytes(&self.lock(), self.file).to_vec()
    }

    fn push(&self, state: &mut State, op: Op) {
        if state.record {
            state.events.push(Event {
                file: self.file,
                op,
            });
        }
    }

    /// Counts an operation and applies the plan: `Err` if it must fail.
    fn begin_op(state: &mut State) -> io::Result<u64> {
        let op = state.ops;
        state.ops += 1;
        if state.faults.crash_at_op.is_some_and(|at| op >= at) {
            return Err(eio("disk crashed"));
        }
        Ok(op)
    }

    fn check_space(state: &State, end: u64) -> io::Result<()> {
        if state.faults.disk_full_at.is_some_and(|limit| end > limit) {
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(())
    }
}

impl Storage for SimDisk {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let state = self.lock();
        let start = offset as usize;
        match Self::bytes(&state, self.file).get(start..start + buf.len()) {
            Some(bytes) => {
                buf.copy_from_slice(bytes);
                Ok(())
            }
            None => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
        }
    }

    fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut state = self.lock();
        let op = Self::begin_op(&mut state)?;
        let end = offset + buf.len() as u64;
        Self::check_space(&state, end)?;
        if state.faults.fail_write_at_op == Some(op) {
            return Err(eio("write failed"));
        }
        let short = state.faults.short_write_at_op == Some(op);
        let data = if short { &buf[..buf.len() / 2] } else { buf };
        let (start, stop) = (offset as usize, offset as usize + data.len());
        let bytes = Self::bytes_mut(&mut state, self.file);
        if bytes.len() < stop {
            bytes.resize(stop, 0);
        }
        bytes[start..stop].copy_from_slice(data);
        self.push(
            &mut state,
            Op::Write {
                offset,
                data: data.to_vec(),
            },
        );
        if short {
            return Err(eio("short write"));
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(Self::bytes(&self.lock(), self.file).len() as u64)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut state = self.lock();
        Self::begin_op(&mut state)?;
        Self::check_space(&state, len)?;
        Self::bytes_mut(&mut state, self.file).resize(len as usize, 0);
        self.push(&mut state, Op::SetLen(len));
        Ok(())
    }

    fn sync(&self, with_metadata: bool) -> io::Result<()> {
        let mut state = self.lock();
        let op = Self::begin_op(&mut state)?;
        let sync_time = state.sync_time;
        if state.faults.fail_sync_at_op == Some(op) {
            // A flush that fails takes its time too: writers run meanwhile.
            drop(state);
            std::thread::sleep(sync_time);
            return Err(eio("sync failed"));
        }
        self.push(&mut state, Op::Sync { with_metadata });
        drop(state);
        if !sync_time.is_zero() {
            // Like a disk's flush: other threads write meanwhile, after the sync's point.
            std::thread::sleep(sync_time);
        }
        Ok(())
    }

    fn map(&self, len: u64) -> io::Result<Mapping> {
        let state = self.lock();
        match state.files.get(self.file) {
            Some(bytes) if bytes.len() as u64 == len => Ok(Mapping::Memory(Arc::clone(bytes))),
            _ => {
                let mut bytes = Self::bytes(&state, self.file).to_vec();
                bytes.resize(len as usize, 0);
                Ok(Mapping::Memory(Arc::new(bytes)))
            }
        }
    }

    fn map_follows_writes(&self) -> bool {
        false
    }

    fn sync_directory(&self) -> io::Result<()> {
        let mut state = self.lock();
        Self::begin_op(&mut state)?;
        self.push(&mut state, Op::SyncDirectory);
        Ok(())
    }
}

/// Builds the disk images a crash can leave at each point of a recorded run, one per file.
#[derive(Debug, Clone)]
pub struct CrashImages {
    files: Vec<FileImages>,
}

impl CrashImages {
    /// Images for a run that starts from `initial`, durable images of each file (database
    /// file first); an empty image stands for a file not created yet.
    pub fn new(initial: Vec<Vec<u8>>) -> Self {
        CrashImages {
            files: initial.into_iter().map(FileImages::new).collect(),
        }
    }

    /// Advances past one recorded event.
    pub fn apply(&mut self, event: &Event) {
        while self.files.len() <= event.file {
            self.files.push(FileImages::new(Vec::new()));
        }
        self.files[event.file].apply(&event.op);
    }

    /// Unsynced writes now outstanding, over all files.
    pub fn pending(&self) -> usize {
        self.files.iter().map(|f| f.pending.len()).sum()
    }

    /// One set of images a crash now can leave, chosen by `seed` (see [`FileImages::image`]).
    pub fn images(&self, seed: u64) -> Vec<Vec<u8>> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| f.image(file_seed(seed, i)))
            .collect()
    }

    /// A hash of the images `seed` chooses, equal for two seeds exactly when their images
    /// are (barring hash collisions). It reads only the bytes unsynced writes cover, so a
    /// checker can skip a repeated image without building it.
    pub fn fingerprint(&self, seed: u64) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        for (i, f) in self.files.iter().enumerate() {
            f.fingerprint(file_seed(seed, i), &mut hasher);
        }
        std::hash::Hasher::finish(&hasher)
    }
}

fn file_seed(seed: u64, file: usize) -> u64 {
    seed.wrapping_add(file as u64 * 0x5851_f42d_4c95_7f2d)
}

/// The crash images of one file.
#[derive(Debug, Clone)]
pub struct FileImages {
    /// Bytes made durable by syncs (may extend past `durable_len`: data synced by a
    /// data-only sync beyond a length that is not durable yet).
    base: Vec<u8>,
    /// The file length as of the last metadata sync.
    durable_len: u64,
    /// The file length reads see now.
    volatile_len: u64,
    /// Writes since the last sync.
    pending: Vec<(u64, Vec<u8>)>,
    /// Whether the file's directory entry is durable (a new file vanishes in a crash until
    /// its directory is synced).
    exists: bool,
}

impl FileImages {
    fn new(initial: Vec<u8>) -> Self {
        let len = initial.len() as u64;
        FileImages {
            exists: !initial.is_empty(),
            base: initial,
            durable_len: len,
            volatile_len: len,
            pending: Vec::new(),
        }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Write { offset, data } => {
                self.volatile_len = self.volatile_len.max(offset + data.len() as u64);
                self.pending.push((*offset, data.clone()));
            }
            Op::SetLen(len) => self.volatile_len = *len,
            Op::Sync { with_metadata } => {
                for (offset, data) in std::mem::take(&mut self.pending) {
                    write_into(&mut self.base, offset, &data);
                }
                if *with_metadata {
                    self.durable_len = self.volatile_len;
                    // Bytes past a durable cut are gone, even where a data-only sync had
                    // covered them before.
                    self.base.truncate(self.durable_len as usize);
                }
            }
            Op::SyncDirectory => self.exists = true,
        }
    }

    /// One image of this file a crash now can leave, chosen by `seed`: each unsynced write is lost, kept,
    /// or torn per sector; kept writes land in a random order; a length change not yet synced
    /// with metadata survives or not, and bytes beyond the surviving length are gone.
    pub fn image(&self, seed: u64) -> Vec<u8> {
        if !self.exists {
            return Vec::new();
        }
        let mut landed = Vec::new();
        let len = self.land(seed, |offset, bytes| landed.push((offset as usize, bytes)));
        // Zeroed memory the allocator need not touch: a log's tail is mostly unwritten.
        let mut image = vec![0; len as usize];
        let kept = image.len().min(self.base.len());
        image[..kept].copy_from_slice(&self.base[..kept]);
        for (offset, bytes) in landed {
            let end = (offset + bytes.len()).min(image.len());
            if offset < end {
                image[offset..end].copy_from_slice(&bytes[..end - offset]);
            }
        }
        image
    }

    /// Feeds `hasher` what tells the image `seed` chooses apart from any other this file
    /// can leave now: its length and its bytes inside the unsynced writes' ranges. Outside
    /// them every image holds the base's bytes (zeros past the base), up to its length.
    fn fingerprint(&self, seed: u64, hasher: &mut impl std::hash::Hasher) {
        if !self.exists {
            hasher.write_u64(0);
            return;
        }
        let mut covered = self.covered_ranges();
        let len = self.land(seed, |offset, bytes| {
            // Each landed piece lies inside one pending write, so inside one range.
            let at = covered.partition_point(|(start, _)| *start <= offset) - 1;
            let (start, range) = &mut covered[at];
            let from = (offset - *start) as usize;
            range[from..from + bytes.len()].copy_from_slice(bytes);
        });
        hasher.write_u64(len);
        for (start, range) in &covered {
            let end = len.saturating_sub(*start).min(range.len() as u64) as usize;
            hasher.write(&range[..end]);
        }
    }

    /// The union of the pending writes' ranges, in order, each holding the base's bytes.
    fn covered_ranges(&self) -> Vec<(u64, Vec<u8>)> {
        let mut spans: Vec<(u64, u64)> = self
            .pending
            .iter()
            .map(|(offset, data)| (*offset, offset + data.len() as u64))
            .collect();
        spans.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (start, end) in spans {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        merged
            .into_iter()
            .map(|(start, end)| {
                let mut bytes = vec![0; (end - start) as usize];
                let base_end = (end as usize).min(self.base.len());
                if (start as usize) < base_end {
                    bytes[..base_end - start as usize]
                        .copy_from_slice(&self.base[start as usize..base_end]);
                }
                (start, bytes)
            })
            .collect()
    }

    /// Makes the fault choices of `seed`: hands each piece of an unsynced write that lands
    /// to `write`, in landing order, and returns the length the image keeps.
    fn land<'a>(&'a self, seed: u64, mut write: impl FnMut(u64, &'a [u8])) -> u64 {
        let mut rng = SplitMix(seed);
        let mut order: Vec<usize> = (0..self.pending.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for &i in &order {
            let (offset, data) = &self.pending[i];
            match rng.below(3) {
                0 => {}
                1 => write(*offset, data),
                _ => {
                    for (n, sector) in data.chunks(SECTOR).enumerate() {
                        if rng.below(2) == 0 {
                            write(offset + (n * SECTOR) as u64, sector);
                        }
                    }
                }
            }
        }
        if self.volatile_len != self.durable_len && rng.below(2) == 0 {
            self.volatile_len
        } else {
            self.durable_len
        }
    }
}

fn write_into(image: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let end = offset as usize + data.len();
    if image.len() < end {
        image.resize(end, 0);
    }
    image[offset as usize..end].copy_from_slice(data);
}

/// A small deterministic generator for fault choices.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 if `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two seeds' fingerprints agree exactly when their images do, over overlapping,
    /// adjacent and torn writes, a write past the base, and an unsynced change of length.
    #[test]
    fn fingerprints_tell_images_apart_exactly() {
        let mut images = CrashImages::new(vec![vec![7; 4 * SECTOR]]);
        let events = [
            Op::Write {
                offset: 0,
                data: vec![1; 2 * SECTOR],
            },
            Op::Write {
                offset: SECTOR as u64,
                data: vec![1; 2 * SECTOR],
            },
            Op::Write {
                offset: 3 * SECTOR as u64,
                data: vec![2; SECTOR],
            },
            Op::Write {
                offset: 5 * SECTOR as u64,
                data: vec![3; 2 * SECTOR],
            },
            Op::SetLen(6 * SECTOR as u64),
        ];
        for op in events {
            images.apply(&Event { file: 0, op });
        }
        let seeds: Vec<u64> = (0..400).collect();
        let built: Vec<_> = seeds.iter().map(|&s| images.images(s)).collect();
        let prints: Vec<_> = seeds.iter().map(|&s| images.fingerprint(s)).collect();
        let mut distinct = std::collections::HashSet::new();
        for a in 0..seeds.len() {
            distinct.insert(&built[a]);
            for b in 0..a {
                assert_eq!(
                    built[a] == built[b],
                    prints[a] == prints[b],
                    "seeds {a}, {b}"
                );
            }
        }
        assert!(
            distinct.len() > 20,
            "only {} distinct images",
            distinct.len()
        );
    }
}
