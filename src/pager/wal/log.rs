//! The log file (DESIGN.md, "Log format"): a header, then frames. A frame holds the images of
//! one page or of one overflow run; a commit frame holds the meta of the transaction it ends.
//! Every frame carries a crc32c that also covers the log's salt, so frames left over from
//! before the last reset, or torn ones, end the scan.

use super::WalIndex;
use super::space::{FRAME_HEADER, LOG_START, LogSpace, LoggedCommit, Placement};
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::format::meta::META_SIZE;
use crate::io::{Mapping, Storage};
use std::sync::Arc;

const MAGIC: [u8; 8] = *b"BOUGHWAL";
/// Version 3 added salt frames.
const VERSION: u32 = 3;
/// The two header slots: a header is written to the slot the current one is not in.
const HEADER_SLOTS: [u64; 2] = [0, 4096];
const HEADER_LEN: usize = 64;
const FLAG_COMMIT: u32 = 1;
const FLAG_JUMP: u32 = 2;
const FLAG_SALT: u32 = 4;

/// The open log and where the next frame goes.
#[derive(Debug)]
pub(crate) struct WalLog {
    storage: Box<dyn Storage>,
    page_size: usize,
    /// The salt the frames of the next commit are checked with (after a salt frame, with
    /// `next_salt`).
    salt: u64,
    /// A salt the next commit switches to, announced by a salt frame at its start.
    next_salt: Option<u64>,
    /// The newest header's sequence number and slot.
    seq: u64,
    slot: usize,
    /// The newest commit a clean close found whole in the log, 0 if none (a seal).
    sealed: u64,
    /// Commits up to this one are in the file: the scan takes a frame of one for the past.
    through: u64,
    space: LogSpace,
    file_len: u64,
    map: Arc<Mapping>,
    length_unsynced: bool,
}

/// What a scan of the log found.
#[derive(Debug, Default)]
pub(crate) struct Recovered {
    pub index: WalIndex,
    /// The meta of the last whole transaction in the log.
    pub meta: Option<Meta>,
    pub frames: u64,
    pub bytes: u64,
    /// The newest commit the header says a clean close found whole (0 if none).
    pub sealed: u64,
    /// Where the scan ended: the offset, and the first page of the frame there (0 if it had
    /// none).
    pub ended_at: (u64, u64),
    /// The transaction of the frame the scan ended at, if that frame's header is one a writer
    /// could have written (its checksum, or its commit's other frames, failed).
    pub unfinished: Option<u64>,
}

/// A header slot's fields.
#[derive(Debug, Clone, Copy)]
struct Header {
    salt: u64,
    seq: u64,
    start: u64,
    sealed: u64,
    through: u64,
}

/// A frame's header, as read (DESIGN.md, "Log format").
#[derive(Debug, Clone, Copy)]
struct FrameHeader {
    txn: u64,
    /// The first page; in a jump frame the next frame's offset, in a salt frame the new salt.
    first: u64,
    count: u32,
    flags: u32,
    crc: u32,
}

impl FrameHeader {
    fn decode(bytes: &[u8]) -> FrameHeader {
        FrameHeader {
            txn: word(bytes, 0),
            first: word(bytes, 8),
            count: half(bytes, 16),
            flags: half(bytes, 20),
            crc: half(bytes, 24),
        }
    }

    /// Whether its fields are ones a writer writes, at the start of a commit (`starts_commit`)
    /// or after its first frames (`before_pages`: none of them a page frame yet).
    fn well_formed(&self, starts_commit: bool, before_pages: bool) -> bool {
        match self.flags {
            0 => self.count > 0 && self.first >= 2,
            FLAG_COMMIT => self.count == 0,
            FLAG_JUMP => self.count == 0 && starts_commit && self.first >= LOG_START,
            FLAG_SALT => self.count == 0 && before_pages && self.first != 0,
            _ => false,
        }
    }

    /// Whether a writer could have written a frame with these flags: the frame a scan ends
    /// at then names a commit in flight.
    fn could_be_written(&self) -> bool {
        matches!(self.flags, 0 | FLAG_COMMIT | FLAG_JUMP | FLAG_SALT)
    }

    /// The first page of its images, 0 for a frame without any.
    fn page(&self) -> u64 {
        if self.flags == 0 || self.flags == FLAG_COMMIT {
            self.first
        } else {
            0
        }
    }

    fn data_len(&self, page_size: usize) -> usize {
        match self.flags {
            FLAG_COMMIT => META_SIZE,
            0 => self.count as usize * page_size,
            _ => 0,
        }
    }
}

fn frame_crc(salt: u64, header: &[u8], data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(&salt.to_le_bytes());
    crc32c::crc32c_append(crc32c::crc32c_append(crc, &header[..24]), data)
}

fn new_salt(previous: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    // Never repeat the previous salt, whatever the clock says.
    (nanos ^ previous.rotate_left(17)).wrapping_add(0x9e37_79b9_7f4a_7c15) | 1
}

fn word(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

fn half(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// The header in one slot's bytes: `Ok(None)` if the slot holds no valid header (never
/// written, torn, or foreign), an error if it is a Bough log of a version this build cannot
/// read. Version 2 has the same header and lacks only salt frames: it is read as it is.
fn decode_header(bytes: &[u8], page_size: usize) -> Result<Option<Header>> {
    if bytes[..8] != MAGIC {
        return Ok(None);
    }
    let version = half(bytes, 8);
    let known = version == VERSION || version == 2;
    let v1 = version == 1 && crc32c::crc32c(&bytes[..32]) == half(bytes, 32);
    let whole = crc32c::crc32c(&bytes[..56]) == half(bytes, 56);
    if v1 || (!known && whole) {
        return Err(Error::IncompatibleVersion {
            found: version,
            supported: VERSION,
        });
    }
    let whole = known && whole && half(bytes, 12) as usize == page_size;
    Ok(whole.then(|| Header {
        salt: word(bytes, 16),
        seq: word(bytes, 24),
        start: word(bytes, 32),
        sealed: word(bytes, 40),
        through: word(bytes, 48),
    }))
}

/// The commit a scan is in the middle of: what its frames so far hold.
#[derive(Debug)]
struct Reading {
    txn: u64,
    /// The salt its first frame was checked with.
    salt: u64,
    /// Its page frames: (first page, pages, offset of the images).
    pages: Vec<(u64, u64, u64)>,
    /// Its bytes before the current segment (a jump frame).
    ranges: Vec<(u64, u64)>,
    /// Where its current stretch of frames began.
    segment: u64,
}

impl Reading {
    fn new(txn: u64, salt: u64, at: u64) -> Reading {
        Reading {
            txn,
            salt,
            pages: Vec::new(),
            ranges: Vec::new(),
            segment: at,
        }
    }

    /// Ends it with its commit frame, which ends at `end` and holds `meta`: its pages go
    /// into the index, and it becomes the newest commit found.
    fn finish(
        mut self,
        meta: Meta,
        end: u64,
        recovered: &mut Recovered,
        page_size: usize,
    ) -> LoggedCommit {
        for &(first, count, at) in &self.pages {
            recovered.index.add(self.txn, first, count, at, page_size);
        }
        recovered.frames += self.pages.len() as u64 + 1;
        self.ranges.push((self.segment, end));
        recovered.bytes += self.ranges.iter().map(|(a, b)| b - a).sum::<u64>();
        recovered.meta = Some(meta.clone());
        LoggedCommit {
            txn: self.txn,
            meta,
            salt: self.salt,
            ranges: self.ranges,
        }
    }
}

impl WalLog {
    /// Opens the log in `storage` and scans it. A log with no valid header starts over.
    pub(crate) fn open(storage: Box<dyn Storage>, page_size: usize) -> Result<(WalLog, Recovered)> {
        let file_len = storage.len()?;
        let map = Arc::new(storage.map(file_len)?);
        let mut log = WalLog {
            storage,
            page_size,
            salt: 0,
            next_salt: None,
            seq: 0,
            slot: 1,
            sealed: 0,
            through: 0,
            space: LogSpace::new(LOG_START),
            file_len,
            map,
            length_unsynced: false,
        };
        let mut newest: Option<(usize, Header)> = None;
        for (slot, &at) in HEADER_SLOTS.iter().enumerate() {
            let Some(bytes) = log.read_exact_at(at, HEADER_LEN) else {
                continue;
            };
            if let Some(header) = decode_header(&bytes, page_size)?
                && newest.is_none_or(|(_, n)| header.seq > n.seq)
            {
                newest = Some((slot, header));
            }
        }
        let Some((slot, header)) = newest else {
            log.reset(false, 0)?;
            return Ok((log, Recovered::default()));
        };
        log.salt = header.salt;
        log.seq = header.seq;
        log.slot = slot;
        log.sealed = header.sealed;
        log.through = header.through;
        let mut recovered = log.scan(header.start.max(LOG_START));
        recovered.sealed = header.sealed;
        Ok((log, recovered))
    }

    /// The `len` bytes at `offset`, read with a system call rather than through the map: past
    /// the last frame the log is sparse, and on a full filesystem (tmpfs) touching a hole
    /// through a map can raise SIGBUS, where a read returns zeros. `None` past the end.
    fn read_exact_at(&self, offset: u64, len: usize) -> Option<Vec<u8>> {
        if offset.checked_add(len as u64)? > self.file_len {
            return None;
        }
        let mut buf = vec![0u8; len];
        self.storage.read_at(&mut buf, offset).ok()?;
        Some(buf)
    }

    /// Whether the `len` bytes at `data_at` match the frame's checksum, read a bounded chunk
    /// at a time: a damaged header's page count must not make the scan allocate as much.
    fn frame_whole(&self, salt: u64, header: &[u8], data_at: u64, len: usize, crc: u32) -> bool {
        const CHUNK: usize = 1 << 20;
        if data_at.saturating_add(len as u64) > self.file_len {
            return false;
        }
        let mut sum = crc32c::crc32c_append(crc32c::crc32c(&salt.to_le_bytes()), &header[..24]);
        let mut done = 0;
        while done < len {
            let Some(chunk) = self.read_exact_at(data_at + done as u64, CHUNK.min(len - done))
            else {
                return false;
            };
            sum = crc32c::crc32c_append(sum, &chunk);
            done += chunk.len();
        }
        sum == crc
    }

    /// Follows the chain from `start` until the first frame that is torn, foreign, out of
    /// order or incomplete; keeps the whole transactions and ends the chain after the last.
    /// The salt changes at each salt frame; the writer goes on with the last whole commit's.
    fn scan(&mut self, start: u64) -> Recovered {
        let mut recovered = Recovered::default();
        let mut commits = Vec::new();
        let (mut offset, mut head) = (start, start);
        let mut reading: Option<Reading> = None;
        let mut salt = self.salt;
        while let Some(bytes) = self.read_exact_at(offset, FRAME_HEADER as usize) {
            let frame = FrameHeader::decode(&bytes);
            recovered.ended_at = (offset, frame.page());
            recovered.unfinished = frame.could_be_written().then_some(frame.txn);
            let newest = recovered.meta.as_ref().map_or(0, |m| m.txn_id.0);
            if !self.continues_chain(&frame, reading.as_ref(), newest) {
                break;
            }
            let data_len = frame.data_len(self.page_size);
            let data_at = offset + FRAME_HEADER;
            if !self.frame_whole(salt, &bytes, data_at, data_len, frame.crc) {
                break;
            }
            let commit = reading.get_or_insert_with(|| Reading::new(frame.txn, salt, offset));
            match frame.flags {
                FLAG_JUMP => {
                    commit.ranges.push((offset, data_at));
                    (offset, commit.segment) = (frame.first, frame.first);
                    continue;
                }
                FLAG_SALT => {
                    (salt, offset) = (frame.first, data_at);
                    continue;
                }
                FLAG_COMMIT => {}
                _ => {
                    commit
                        .pages
                        .push((frame.first, frame.count as u64, data_at));
                    offset = data_at + data_len as u64;
                    continue;
                }
            }
            offset = data_at + data_len as u64;
            let Some(meta) = self.commit_meta(&frame, data_at, &commit.pages) else {
                break;
            };
            let commit = reading.take().expect("read above");
            commits.push(commit.finish(meta, offset, &mut recovered, self.page_size));
            (self.salt, head) = (salt, offset);
        }
        if recovered.ended_at.0 != offset {
            // The chain ran past the file's end.
            recovered.ended_at = (offset, 0);
            recovered.unfinished = reading.map(|r| r.txn);
        }
        self.space = LogSpace::recovered(commits, head);
        recovered
    }

    /// Whether `frame` may come next in the chain: its fields are a writer's, it belongs to
    /// the commit being read (if any), and that commit is newer than `newest` (the last
    /// whole one) and than every commit the file holds.
    fn continues_chain(&self, frame: &FrameHeader, reading: Option<&Reading>, newest: u64) -> bool {
        let before_pages = reading.is_none_or(|r| r.pages.is_empty());
        frame.well_formed(reading.is_none(), before_pages)
            && reading.is_none_or(|r| r.txn == frame.txn)
            && frame.txn > self.through
            && frame.txn > newest
    }

    /// The meta a whole commit frame holds, if it ends its transaction's frames: its id is the
    /// frame's, and no page of theirs lies past its high-water mark.
    fn commit_meta(
        &self,
        frame: &FrameHeader,
        data_at: u64,
        pending: &[(u64, u64, u64)],
    ) -> Option<Meta> {
        let data = self.read_exact_at(data_at, META_SIZE)?;
        let meta = Meta::decode(&data).ok()?;
        let fits = |&(first, count, _): &(u64, u64, u64)| {
            first
                .checked_add(count)
                .is_some_and(|end| end <= meta.high_water)
        };
        (meta.txn_id.0 == frame.txn && pending.iter().all(fits)).then_some(meta)
    }

    pub(crate) fn map(&self) -> &Arc<Mapping> {
        &self.map
    }

    /// The log file's length in bytes.
    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Bytes of commits in the log not yet copied into the file.
    pub(crate) fn used(&self) -> u64 {
        self.space.pending_bytes()
    }

    pub(crate) fn space(&self) -> &LogSpace {
        &self.space
    }

    /// Appends the frames of transaction `txn` (`(first page, bytes)`) and its commit frame,
    /// where the log's space says (`wrap_at`: the chain length after which it returns to the
    /// log's start). Not synced. Returns where each frame's pages landed, `(first page, pages,
    /// offset)`, for the index.
    pub(crate) fn append(
        &mut self,
        txn: u64,
        frames: &[(u64, &[u8])],
        meta: &Meta,
        wrap_at: u64,
    ) -> Result<Vec<(u64, u64, u64)>> {
        let meta_page = meta.encode();
        let total: usize = frames
            .iter()
            .map(|(_, d)| FRAME_HEADER as usize + d.len())
            .sum::<usize>()
            + 2 * FRAME_HEADER as usize
            + META_SIZE;
        let mut buffer = Vec::with_capacity(total);
        let mut placed = Vec::with_capacity(frames.len());
        let first_salt = self.salt;
        let mut salt = first_salt;
        if let Some(next) = self.next_salt {
            // Checked with the salt before it; every frame after it, with the new one.
            push_frame(&mut buffer, salt, txn, next, 0, FLAG_SALT, &[]);
            salt = next;
        }
        for (first, data) in frames {
            let count = (data.len() / self.page_size) as u32;
            let at = push_frame(&mut buffer, salt, txn, *first, count, 0, data);
            placed.push((*first, count as u64, at));
        }
        push_frame(
            &mut buffer,
            salt,
            txn,
            0,
            0,
            FLAG_COMMIT,
            &meta_page[..META_SIZE],
        );
        let placement = self.space.place(buffer.len() as u64, wrap_at);
        self.write_chain(txn, placement, &buffer)?;
        (self.salt, self.next_salt) = (salt, None);
        self.space.record(
            txn,
            meta.clone(),
            first_salt,
            placement,
            buffer.len() as u64,
        );
        Ok(placed
            .into_iter()
            .map(|(first, count, at)| (first, count, placement.at + at))
            .collect())
    }

    /// From the next commit on, frames are checked with a new salt, which a salt frame at the
    /// start of that commit announces (DESIGN.md, "Log format"). For an open that keeps the
    /// log's commits (it could not copy them into the file): frames a crash left past the
    /// chain's end carry the old salt, so they end any later scan, whatever their ids.
    pub(crate) fn renew_salt(&mut self) {
        self.next_salt = Some(new_salt(self.salt));
    }

    /// Writes `buffer` at `placement.at`, after a jump frame that sends the chain there.
    fn write_chain(&mut self, txn: u64, placement: Placement, buffer: &[u8]) -> Result<()> {
        let end = placement.at + buffer.len() as u64 + FRAME_HEADER;
        self.ensure_len(end)?;
        self.storage.write_at(buffer, placement.at)?;
        if let Some(from) = placement.jump_from {
            // After the frames: a jump that lands before them leads a scan to bytes of the
            // past, which end it.
            let mut jump = Vec::with_capacity(FRAME_HEADER as usize);
            push_frame(&mut jump, self.salt, txn, placement.at, 0, FLAG_JUMP, &[]);
            self.storage.write_at(&jump, from)?;
        }
        if !self.storage.map_follows_writes() {
            self.map = Arc::new(self.storage.map(self.file_len)?);
        }
        Ok(())
    }

    fn ensure_len(&mut self, need: u64) -> Result<()> {
        if need <= self.file_len {
            return Ok(());
        }
        let step = (self.file_len / 2).clamp(1 << 20, 1 << 30);
        let target = need.max(self.file_len + step);
        self.storage.set_len(target)?;
        self.file_len = target;
        self.length_unsynced = true;
        self.map = Arc::new(crate::io::map_resized(&*self.storage, &self.map, target)?);
        Ok(())
    }

    /// Makes every appended frame durable.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        self.storage.sync(self.length_unsynced)?;
        self.length_unsynced = false;
        Ok(())
    }

    /// Writes a header naming `salt` and `start` into the slot the current one is not in.
    fn write_header(&mut self, salt: u64, start: u64) -> Result<()> {
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(&MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&(self.page_size as u32).to_le_bytes());
        header[16..24].copy_from_slice(&salt.to_le_bytes());
        header[24..32].copy_from_slice(&(self.seq + 1).to_le_bytes());
        header[32..40].copy_from_slice(&start.to_le_bytes());
        header[40..48].copy_from_slice(&self.sealed.to_le_bytes());
        header[48..56].copy_from_slice(&self.through.to_le_bytes());
        let crc = crc32c::crc32c(&header[..56]);
        header[56..60].copy_from_slice(&crc.to_le_bytes());
        let slot = 1 - self.slot;
        if self.file_len < LOG_START + FRAME_HEADER {
            // Both slots, and the first frame's header, are written once, so a later header
            // or reset never needs new room on the disk (a clean close on a full disk still
            // seals; an open on one still starts the log over).
            self.ensure_len(LOG_START + FRAME_HEADER)?;
            self.storage
                .write_at(&[0u8; (LOG_START + FRAME_HEADER) as usize], 0)?;
        }
        self.storage.write_at(&header, HEADER_SLOTS[slot])?;
        self.seq += 1;
        self.slot = slot;
        Ok(())
    }

    /// Writes a header whose `start` is the oldest commit after `through` (the chain's end if
    /// there is none), with the salt that commit's first frame is checked with.
    fn write_header_after(&mut self, through: u64) -> Result<()> {
        let start = self.space.start_after(through);
        let salt = self.space.salt_after(through).unwrap_or(self.salt);
        self.write_header(salt, start)
    }

    /// Starts the log over: a new salt makes every old frame invalid. Only when no reader can
    /// still reach a frame. With `sync`, the new header is made durable.
    /// Commits up to `through` are in the file. The salt and the chain change only once the
    /// new header is written (and, with `sync`, synced): a failed reset leaves the log as
    /// recovery needs it (every commit it holds is in the file already).
    pub(crate) fn reset(&mut self, sync: bool, through: u64) -> Result<()> {
        let salt = new_salt(self.salt);
        let fresh = self.file_len == 0;
        // No frame of the past at the start: a torn one there would pass for a commit
        // in flight (a fall-back reported at every open).
        if !fresh {
            self.storage
                .write_at(&[0u8; FRAME_HEADER as usize], LOG_START)?;
        }
        let (sealed, old_through) = (self.sealed, self.through);
        (self.sealed, self.through) = (0, through);
        if let Err(e) = self.write_header(salt, LOG_START) {
            (self.sealed, self.through) = (sealed, old_through);
            return Err(e);
        }
        if sync || fresh {
            self.storage.sync(true)?;
            self.length_unsynced = false;
        }
        if fresh {
            self.storage.sync_directory()?;
        }
        if !self.storage.map_follows_writes() {
            self.map = Arc::new(self.storage.map(self.file_len)?);
        }
        (self.salt, self.next_salt) = (salt, None);
        self.space = LogSpace::new(LOG_START);
        Ok(())
    }

    /// The commits up to `through` are in the file, durably: recovery starts after them from
    /// now on (a synced header says so), and their bytes are retired, free once the readers
    /// older than `epoch` are gone.
    pub(crate) fn forget_through(&mut self, through: u64, epoch: u64) -> Result<()> {
        // The header first: the bytes are not free until no recovery would read them.
        let old_through = std::mem::replace(&mut self.through, through);
        if let Err(e) = self.write_header_after(through) {
            self.through = old_through;
            return Err(e);
        }
        self.sync()?;
        self.space.retire_through(through, epoch);
        Ok(())
    }

    /// Seals the log at a clean close that could not copy it into the file (DESIGN.md,
    /// "Sealing at close"): its frames are made durable, then a header says that commit
    /// `newest` is whole, so a later open that cannot reach it reports `Corruption` instead
    /// of taking the damage for the log's end.
    pub(crate) fn seal(&mut self, newest: u64) -> Result<()> {
        if !self.space.has_commits() {
            return Ok(());
        }
        self.sync()?;
        self.sealed = newest;
        self.write_header_after(0)?;
        self.sync()?;
        Ok(())
    }

    /// Cuts a log that was just started over (it holds no frame) back to its headers and
    /// `slack` bytes (DESIGN.md, "Giving space back"). Only while no snapshot reads frames
    /// from it: every live one was begun after the log started over.
    pub(crate) fn give_back(&mut self, slack: u64) -> Result<()> {
        let keep = LOG_START + slack;
        if self.space.in_use() || self.space.head() != LOG_START || self.file_len <= keep {
            return Ok(());
        }
        self.storage.set_len(keep)?;
        self.file_len = keep;
        self.length_unsynced = true;
        self.map = Arc::new(crate::io::map_resized(&*self.storage, &self.map, keep)?);
        Ok(())
    }

    /// Frees the retired bytes no live reader can hold (`oldest_reader`: the oldest live
    /// reader's id); returns the newest commit whose bytes were freed.
    pub(crate) fn release(&mut self, oldest_reader: Option<u64>) -> Option<u64> {
        self.space.release(oldest_reader)
    }

    /// The bytes at `offset` in the log.
    pub(crate) fn read(&self, offset: u64, len: usize) -> Result<&[u8]> {
        self.map
            .slice(offset, len)
            .ok_or_else(|| Error::corruption(0u64, format!("log offset {offset} beyond the log")))
    }
}

/// Appends one frame to `buffer`; returns where its data begins in `buffer`.
fn push_frame(
    buffer: &mut Vec<u8>,
    salt: u64,
    txn: u64,
    first: u64,
    count: u32,
    flags: u32,
    data: &[u8],
) -> u64 {
    let mut header = [0u8; FRAME_HEADER as usize];
    header[0..8].copy_from_slice(&txn.to_le_bytes());
    header[8..16].copy_from_slice(&first.to_le_bytes());
    header[16..20].copy_from_slice(&count.to_le_bytes());
    header[20..24].copy_from_slice(&flags.to_le_bytes());
    let crc = frame_crc(salt, &header, data);
    header[24..28].copy_from_slice(&crc.to_le_bytes());
    buffer.extend_from_slice(&header);
    let at = buffer.len() as u64;
    buffer.extend_from_slice(data);
    at
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
