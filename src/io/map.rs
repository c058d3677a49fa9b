//! The read-only memory map, a cache hint for its pages, and the anonymous map under large
//! zeroed tables: the only module with `unsafe` beside `txn/part_cell.rs` (DESIGN.md, "Why
//! handing out `&[u8]` into the map is sound").
#![allow(unsafe_code)]

use memmap2::{MmapMut, MmapOptions, MmapRaw};
use std::fs::File;
use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Address space a new map reserves past the file's end, so that the file can grow without
/// a new map: a new map starts with no page table entries, so every page read through it
/// faults again, which made each growth during a large transaction cost a pass of faults.
const MIN_RESERVE: u64 = 256 << 20;

/// A read-only view of the first `len` bytes of the file. Pages are handed out as slices of
/// exactly the bytes asked for, never as one slice of the whole map, so no reference ever
/// covers a page the writer may be rewriting.
#[derive(Debug)]
pub(crate) enum Mapping {
    Empty,
    /// The first `len` bytes of a shared map of the file, which may reserve address space
    /// past the file's end; bytes past `len` are never handed out (they may not exist yet).
    File {
        raw: Arc<MmapRaw>,
        len: u64,
    },
    /// A snapshot of a simulated disk's bytes (the simulated disk has no page cache to map).
    Memory(Arc<Vec<u8>>),
}

impl Mapping {
    /// Maps the first `len` bytes of `file`, reserving room to grow (`MIN_RESERVE`, or as
    /// much again as `len`) where the address space allows it.
    pub(crate) fn of_file(file: &File, len: u64) -> io::Result<Self> {
        if len == 0 {
            return Ok(Mapping::Empty);
        }
        let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "file too large to map");
        let exact = usize::try_from(len).map_err(|_| too_large())?;
        let reserved = if usize::BITS >= 64 {
            usize::try_from(len.saturating_mul(2).max(MIN_RESERVE)).unwrap_or(exact)
        } else {
            exact
        };
        let raw = match MmapOptions::new().len(reserved).map_raw_read_only(file) {
            Ok(raw) => raw,
            // A limit on address space (`ulimit -v`): map the file as it is.
            Err(_) if reserved > exact => MmapOptions::new().len(exact).map_raw_read_only(file)?,
            Err(e) => return Err(e),
        };
        Ok(Mapping::File {
            raw: Arc::new(raw),
            len,
        })
    }

    /// A view of the first `len` bytes through the same map, if it reserved that many: for
    /// a file that grew to `len`, or whose tail past `len` was given back (DESIGN.md,
    /// "Giving space back"). `None` if a new map is needed.
    pub(crate) fn resized_to(&self, len: u64) -> Option<Mapping> {
        match self {
            Mapping::File { raw, .. } if len > 0 && len <= raw.len() as u64 => {
                Some(Mapping::File {
                    raw: Arc::clone(raw),
                    len,
                })
            }
            _ => None,
        }
    }

    /// The bytes `[offset, offset + len)`, or `None` if any of them lies outside the map.
    pub(crate) fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let raw = match self {
            Mapping::Empty => return None,
            Mapping::Memory(bytes) => {
                let start = usize::try_from(offset).ok()?;
                return bytes.get(start..start.checked_add(len)?);
            }
            Mapping::File { raw, len: valid } => {
                let end = offset.checked_add(len as u64)?;
                if end > *valid {
                    return None;
                }
                raw
            }
        };
        // SAFETY: `[offset, offset + len)` lies inside the file's first `valid` bytes, which
        // the live mapping covers (`valid <= raw.len()`, by construction) and which stays
        // mapped as long as `&self` lives (it holds the `Arc`). The bytes exist: `valid` never
        // exceeds the file's length when the view was made, and the file is cut only past
        // every page a live snapshot can reach (DESIGN.md, "Giving space back"), while every
        // slice asked for is of such a page (`ReadPages::raw` checks the snapshot's high-water
        // mark), so no access reaches past the file's end (which would fault). The
        // bytes are not changed while the slice lives: the engine only ever writes pages that
        // no live snapshot can reach (invariant I2 in DESIGN.md), every slice handed out
        // covers pages reachable from the snapshot that holds this mapping, and the file lock
        // keeps other well-behaved processes from writing it.
        Some(unsafe { std::slice::from_raw_parts(raw.as_ptr().add(offset as usize), len) })
    }
}

/// Words that start at zero, in an anonymous map: the system backs a page of it with memory
/// only when it is first written, so a large table costs what it holds, and creating one
/// neither writes it nor depends on the allocator returning fresh memory.
#[derive(Debug)]
pub(crate) struct ZeroedWords {
    raw: MmapRaw,
    len: usize,
}

impl ZeroedWords {
    pub(crate) fn new(len: usize) -> io::Result<Self> {
        let bytes = len.checked_mul(8).ok_or(io::ErrorKind::InvalidInput)?;
        let raw = MmapRaw::from(MmapMut::map_anon(bytes.max(1))?);
        Ok(ZeroedWords { raw, len })
    }

    pub(crate) fn words(&self) -> &[AtomicU64] {
        // SAFETY: the map holds `len` words (page-aligned, so aligned for `AtomicU64`) and
        // lives as long as `self`; it started zeroed, and every bit pattern is a valid
        // `AtomicU64`. `MmapRaw` hands out only raw pointers and this is the one place that
        // makes references into it, all to atomics, so shared references may write it.
        unsafe { std::slice::from_raw_parts(self.raw.as_mut_ptr().cast::<AtomicU64>(), self.len) }
    }
}

/// Asks the CPU to start loading `bytes` into its caches: a hint for a page about to be read
/// cell after cell, whose cells lie in no order a hardware prefetcher would follow.
pub(crate) fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        // SAFETY: a prefetch is a hint, not a memory access: it never faults and changes no
        // memory, whatever the address; SSE, which provides it, is part of every x86-64 CPU.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn a_grown_file_is_seen_through_the_same_map_and_nothing_past_its_length() {
        let file = tempfile::tempfile().unwrap();
        file.write_all_at(&[1u8; 4096], 0).unwrap();
        let small = Mapping::of_file(&file, 4096).unwrap();
        assert_eq!(small.slice(0, 4096), Some(&[1u8; 4096][..]));
        assert_eq!(small.slice(4096, 1), None, "past the length mapped");

        file.write_all_at(&[2u8; 4096], 4096).unwrap();
        let grown = small
            .resized_to(8192)
            .expect("the reservation covers 8 KiB");
        let (Mapping::File { raw: a, .. }, Mapping::File { raw: b, .. }) = (&small, &grown) else {
            panic!("file maps");
        };
        assert!(
            Arc::ptr_eq(a, b),
            "no new map for growth within the reservation"
        );
        assert_eq!(grown.slice(4096, 4096), Some(&[2u8; 4096][..]));
        assert_eq!(grown.slice(8192, 1), None);
        assert_eq!(
            small.slice(4096, 1),
            None,
            "the older view keeps its length"
        );

        let cut = grown
            .resized_to(4096)
            .expect("a view of a file whose tail went");
        assert_eq!(cut.slice(4096, 1), None, "nothing past the new length");
        assert!(
            grown.resized_to(MIN_RESERVE + 4096).is_none(),
            "past the reservation"
        );
    }
}
