//! The log file (DESIGN.md, "Log format"): a header, then frames. A frame holds the images of
//! one page or of one overflow run; a commit frame holds the meta of the transaction it ends.
//! Every frame carries a crc32c that also covers the log's salt, so frames left over from
//! before the last reset, or torn ones, end the scan.

use super::WalIndex;
use crate::error::{Error, Result};
use crate::format::Meta;
use crate::format::meta::META_SIZE;
use crate::io::{Mapping, Storage};
use std::sync::Arc;

const MAGIC: [u8; 8] = *b"BOUGHWAL";
const VERSION: u32 = 1;
pub(crate) const LOG_HEADER: u64 = 64;
const FRAME_HEADER: usize = 32;
const FLAG_COMMIT: u32 = 1;

/// The open log and where the next frame goes.
#[derive(Debug)]
pub(crate) struct WalLog {
    storage: Box<dyn Storage>,
    page_size: usize,
    salt: u64,
    end: u64,
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

impl WalLog {
    /// Opens the log in `storage` and scans it. A missing or foreign header starts a new log.
    pub(crate) fn open(storage: Box<dyn Storage>, page_size: usize) -> Result<(WalLog, Recovered)> {
        let file_len = storage.len()?;
        let map = Arc::new(storage.map(file_len)?);
        let mut log = WalLog {
            storage,
            page_size,
            salt: 0,
            end: LOG_HEADER,
            file_len,
            map,
            length_unsynced: false,
        };
        let header = log.read_exact_at(0, LOG_HEADER as usize);
        let valid = header.as_deref().and_then(|h| {
            let crc = u32::from_le_bytes(h[32..36].try_into().expect("4 bytes"));
            (h[..8] == MAGIC
                && u32::from_le_bytes(h[8..12].try_into().expect("4 bytes")) == VERSION
                && u32::from_le_bytes(h[12..16].try_into().expect("4 bytes")) as usize == page_size
                && crc32c::crc32c(&h[..32]) == crc)
                .then(|| u64::from_le_bytes(h[16..24].try_into().expect("8 bytes")))
        });
        let Some(salt) = valid else {
            log.reset(false)?;
            return Ok((log, Recovered::default()));
        };
        log.salt = salt;
        let recovered = log.scan();
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
    fn frame_whole(&self, header: &[u8], data_at: u64, len: usize, crc: u32) -> bool {
        const CHUNK: usize = 1 << 20;
        if data_at.saturating_add(len as u64) > self.file_len {
            return false;
        }
        let mut sum =
            crc32c::crc32c_append(crc32c::crc32c(&self.salt.to_le_bytes()), &header[..24]);
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

    /// Reads frames until the first that is torn, foreign or incomplete; keeps the whole
    /// transactions and sets the append point after the last of them.
    fn scan(&mut self) -> Recovered {
        let mut recovered = Recovered::default();
        let mut pending: Vec<(u64, u64, u64)> = Vec::new();
        let mut offset = LOG_HEADER;
        let mut current_txn = None;
        while let Some(header) = self.read_exact_at(offset, FRAME_HEADER) {
            let header = &header[..];
            let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8"));
            let half = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4"));
            let (txn, first, count, flags, crc) = (word(0), word(8), half(16), half(20), half(24));
            let commit = flags == FLAG_COMMIT;
            if flags > FLAG_COMMIT
                || (commit && count != 0)
                || (!commit && (count == 0 || first < 2))
            {
                break;
            }
            if current_txn.is_some_and(|t| t != txn)
                || recovered.meta.as_ref().is_some_and(|m| m.txn_id.0 >= txn)
            {
                break;
            }
            let data_len = if commit {
                META_SIZE
            } else {
                count as usize * self.page_size
            };
            let data_at = offset + FRAME_HEADER as u64;
            if !self.frame_whole(header, data_at, data_len, crc) {
                break;
            }
            offset = data_at + data_len as u64;
            if !commit {
                current_txn = Some(txn);
                pending.push((first, count as u64, data_at));
                continue;
            }
            let Some(data) = self.read_exact_at(data_at, data_len) else {
                break;
            };
            let Ok(meta) = Meta::decode(&data) else {
                break;
            };
            if meta.txn_id.0 != txn {
                break;
            }
            if pending.iter().any(|&(first, count, _)| {
                first
                    .checked_add(count)
                    .is_none_or(|end| end > meta.high_water)
            }) {
                break;
            }
            for (first, count, at) in pending.drain(..) {
                recovered.index.add(txn, first, count, at, self.page_size);
                recovered.frames += 1;
            }
            recovered.frames += 1;
            recovered.meta = Some(meta);
            current_txn = None;
            self.end = offset;
        }
        recovered.bytes = self.end - LOG_HEADER;
        recovered
    }

    pub(crate) fn map(&self) -> &Arc<Mapping> {
        &self.map
    }

    /// Bytes of frames in the log.
    /// The log file's length in bytes.
    pub(crate) fn file_len(&self) -> u64 {
        self.file_len
    }

    pub(crate) fn used(&self) -> u64 {
        self.end - LOG_HEADER
    }

    /// Appends the frames of transaction `txn` (`(first page, bytes)`) and its commit frame.
    /// Not synced. Returns where each frame's pages landed, `(first page, pages, offset)`, for
    /// the index.
    pub(crate) fn append(
        &mut self,
        txn: u64,
        frames: &[(u64, &[u8])],
        meta: &Meta,
    ) -> Result<Vec<(u64, u64, u64)>> {
        let meta_page = meta.encode();
        let total: usize = frames
            .iter()
            .map(|(_, d)| FRAME_HEADER + d.len())
            .sum::<usize>()
            + FRAME_HEADER
            + META_SIZE;
        let mut buffer = Vec::with_capacity(total);
        let mut placed = Vec::with_capacity(frames.len());
        let push = |buffer: &mut Vec<u8>, first: u64, count: u32, flags: u32, data: &[u8]| {
            let mut header = [0u8; FRAME_HEADER];
            header[0..8].copy_from_slice(&txn.to_le_bytes());
            header[8..16].copy_from_slice(&first.to_le_bytes());
            header[16..20].copy_from_slice(&count.to_le_bytes());
            header[20..24].copy_from_slice(&flags.to_le_bytes());
            let crc = frame_crc(self.salt, &header, data);
            header[24..28].copy_from_slice(&crc.to_le_bytes());
            buffer.extend_from_slice(&header);
            let at = buffer.len() as u64;
            buffer.extend_from_slice(data);
            at
        };
        for (first, data) in frames {
            let count = (data.len() / self.page_size) as u32;
            let at = push(&mut buffer, *first, count, 0, data);
            placed.push((*first, count as u64, at));
        }
        push(&mut buffer, 0, 0, FLAG_COMMIT, &meta_page[..META_SIZE]);
        let start = self.end;
        self.ensure_len(start + buffer.len() as u64)?;
        self.storage.write_at(&buffer, start)?;
        if !self.storage.map_follows_writes() {
            self.map = Arc::new(self.storage.map(self.file_len)?);
        }
        self.end = start + buffer.len() as u64;
        Ok(placed
            .into_iter()
            .map(|(first, count, at)| (first, count, start + at))
            .collect())
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

    /// Starts the log over: a new salt makes every old frame invalid. Only when no reader can
    /// still reach a frame. With `sync`, the new header is made durable.
    /// The salt and the append point change only once the new header is written (and, with
    /// `sync`, synced): a failed reset leaves the log as it was.
    pub(crate) fn reset(&mut self, sync: bool) -> Result<()> {
        let salt = new_salt(self.salt);
        let mut header = [0u8; LOG_HEADER as usize];
        header[..8].copy_from_slice(&MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&(self.page_size as u32).to_le_bytes());
        header[16..24].copy_from_slice(&salt.to_le_bytes());
        let crc = crc32c::crc32c(&header[..32]);
        header[32..36].copy_from_slice(&crc.to_le_bytes());
        let fresh = self.file_len == 0;
        self.ensure_len(LOG_HEADER)?;
        self.storage.write_at(&header, 0)?;
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
        self.salt = salt;
        self.end = LOG_HEADER;
        Ok(())
    }

    /// Cuts a log that was just started over (it holds no frame) back to its header and
    /// `slack` bytes (DESIGN.md, "Giving space back"). Only while no snapshot reads frames
    /// from it: every live one was begun after the log started over.
    pub(crate) fn give_back(&mut self, slack: u64) -> Result<()> {
        let keep = LOG_HEADER + slack;
        if self.end != LOG_HEADER || self.file_len <= keep {
            return Ok(());
        }
        self.storage.set_len(keep)?;
        self.file_len = keep;
        self.length_unsynced = true;
        self.map = Arc::new(crate::io::map_resized(&*self.storage, &self.map, keep)?);
        Ok(())
    }

    /// The bytes at `offset` in the log.
    pub(crate) fn read(&self, offset: u64, len: usize) -> Result<&[u8]> {
        self.map
            .slice(offset, len)
            .ok_or_else(|| Error::corruption(0u64, format!("log offset {offset} beyond the log")))
    }
}
