//! The read-only memory map and a cache hint for its pages: the only module with `unsafe`
//! (DESIGN.md, "Why handing out `&[u8]` into the map is sound").

use memmap2::{MmapOptions, MmapRaw};
use std::fs::File;
use std::io;

/// A read-only view of the first `len` bytes of the file. Pages are handed out as slices of
/// exactly the bytes asked for, never as one slice of the whole map, so no reference ever
/// covers a page the writer may be rewriting.
#[derive(Debug)]
pub(crate) enum Mapping {
    Empty,
    File(MmapRaw),
    /// A copy of a simulated disk's bytes (the simulated disk has no page cache to map).
    Memory(Box<[u8]>),
}

impl Mapping {
    pub(crate) fn of_file(file: &File, len: u64) -> io::Result<Self> {
        if len == 0 {
            return Ok(Mapping::Empty);
        }
        let len = usize::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file too large to map"))?;
        let raw = MmapOptions::new().len(len).map_raw_read_only(file)?;
        Ok(Mapping::File(raw))
    }

    /// The bytes `[offset, offset + len)`, or `None` if any of them lies outside the map.
    pub(crate) fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let raw = match self {
            Mapping::Empty => return None,
            Mapping::Memory(bytes) => {
                let start = usize::try_from(offset).ok()?;
                return bytes.get(start..start.checked_add(len)?);
            }
            Mapping::File(raw) => raw,
        };
        let end = offset.checked_add(len as u64)?;
        if end > raw.len() as u64 {
            return None;
        }
        // SAFETY: `[offset, end)` lies inside the live mapping (checked above), which stays
        // mapped as long as `&self` lives. The bytes are not changed while the slice lives:
        // the engine only ever writes pages that no live snapshot can reach (invariant I2 in
        // DESIGN.md), every slice handed out covers pages reachable from the snapshot that
        // holds this mapping, the file is never truncated below a mapped length, and the
        // file lock keeps other well-behaved processes from writing it.
        Some(unsafe { std::slice::from_raw_parts(raw.as_ptr().add(offset as usize), len) })
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
