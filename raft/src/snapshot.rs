//! The snapshot file format and the handle openraft moves a snapshot in.
//!
//! A snapshot is one self-describing stream (layout in DESIGN.md, "Replication"): a magic,
//! the snapshot's meta in JSON, then records that open a table or carry one entry of the
//! table last opened, an end record, and a crc32c of every byte before it. Writing and
//! reading are streaming (`std::io`), so neither side holds the state in memory. A reader
//! reports a bad magic, a bad record, a short file or a wrong checksum as
//! [`StoreError::DamagedSnapshot`]; a loader applies records as they come and commits only
//! once [`SnapshotReader::next_record`] has returned the verified end.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use openraft::SnapshotMeta;
use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use crate::NodeId;
use crate::errors::{StoreError, damaged};

/// The meta openraft keeps with a snapshot.
pub type Meta = SnapshotMeta<NodeId, openraft::BasicNode>;

const MAGIC: &[u8; 8] = b"BOUGHSN1";
const TAG_TABLE: u8 = b'T';
const TAG_ENTRY: u8 = b'E';
const TAG_END: u8 = b'Z';
/// Longest meta record accepted: a damaged length fails here, not in an allocation.
const MAX_META_LEN: u32 = 64 << 20;
/// Longest table name accepted.
const MAX_NAME_LEN: u16 = 1024;

/// Writes a snapshot stream to `W`, keeping the running checksum.
#[derive(Debug)]
pub struct SnapshotWriter<W: Write> {
    out: W,
    crc: u32,
}

impl<W: Write> SnapshotWriter<W> {
    /// Starts a snapshot of `meta` on `out` (buffer `out` yourself if it is a file).
    pub fn new(out: W, meta: &Meta) -> Result<Self, StoreError> {
        let mut writer = SnapshotWriter { out, crc: 0 };
        let meta = serde_json::to_vec(meta)?;
        writer.put(MAGIC)?;
        writer.put(&len_u32(meta.len())?.to_le_bytes())?;
        writer.put(&meta)?;
        Ok(writer)
    }

    /// Starts the records of table `name`.
    pub fn table(&mut self, name: &str) -> Result<(), StoreError> {
        let len = u16::try_from(name.len())
            .ok()
            .filter(|&len| len <= MAX_NAME_LEN)
            .ok_or_else(|| damaged(format!("table name of {} bytes", name.len())))?;
        self.put(&[TAG_TABLE])?;
        self.put(&len.to_le_bytes())?;
        self.put(name.as_bytes())
    }

    /// One entry of the current table.
    pub fn entry(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.put(&[TAG_ENTRY])?;
        self.put(&len_u32(key.len())?.to_le_bytes())?;
        self.put(&len_u32(value.len())?.to_le_bytes())?;
        self.put(key)?;
        self.put(value)
    }

    /// Writes the end record and the checksum, flushes, and gives the output back.
    pub fn finish(mut self) -> Result<W, StoreError> {
        self.put(&[TAG_END])?;
        let crc = self.crc;
        self.out.write_all(&crc.to_le_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.crc = crc32c::crc32c_append(self.crc, bytes);
        self.out.write_all(bytes)?;
        Ok(())
    }
}

fn len_u32(len: usize) -> Result<u32, StoreError> {
    u32::try_from(len).map_err(|_| damaged(format!("a record of {len} bytes")))
}

/// One record of a snapshot stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Record {
    /// The entries that follow belong to this table.
    Table(String),
    /// A key and its value.
    Entry(Vec<u8>, Vec<u8>),
}

/// Reads a snapshot stream from `R`, verifying it as it goes.
#[derive(Debug)]
pub struct SnapshotReader<R: Read> {
    input: R,
    crc: u32,
    done: bool,
}

impl<R: Read> SnapshotReader<R> {
    /// Reads the header of the stream: its meta, and a reader of its records.
    pub fn open(input: R) -> Result<(Meta, Self), StoreError> {
        let mut reader = SnapshotReader {
            input,
            crc: 0,
            done: false,
        };
        let magic = reader.take(MAGIC.len())?;
        if magic != MAGIC {
            return Err(damaged("not a bough snapshot (bad magic)"));
        }
        let len = reader.u32()?;
        if len > MAX_META_LEN {
            return Err(damaged(format!("meta record of {len} bytes")));
        }
        let meta = reader.take(len as usize)?;
        let meta = serde_json::from_slice(&meta)
            .map_err(|e| damaged(format!("meta record does not decode: {e}")))?;
        Ok((meta, reader))
    }

    /// The next record, or `None` at the end once the checksum matched.
    pub fn next_record(&mut self) -> Result<Option<Record>, StoreError> {
        if self.done {
            return Ok(None);
        }
        match self.take(1)?[0] {
            TAG_TABLE => {
                let len = u16::from_le_bytes(self.array()?);
                if len > MAX_NAME_LEN {
                    return Err(damaged(format!("table name of {len} bytes")));
                }
                let name = String::from_utf8(self.take(len as usize)?)
                    .map_err(|_| damaged("table name is not UTF-8"))?;
                Ok(Some(Record::Table(name)))
            }
            TAG_ENTRY => {
                let key_len = self.u32()?;
                let value_len = self.u32()?;
                if key_len as usize > bough::MAX_KEY_LEN {
                    return Err(damaged(format!("key of {key_len} bytes")));
                }
                let key = self.take(key_len as usize)?;
                let value = self.take(value_len as usize)?;
                Ok(Some(Record::Entry(key, value)))
            }
            TAG_END => {
                let expected = self.crc;
                let mut stored = [0; 4];
                read_full(&mut self.input, &mut stored)?;
                if u32::from_le_bytes(stored) != expected {
                    return Err(damaged("checksum mismatch"));
                }
                self.done = true;
                Ok(None)
            }
            tag => Err(damaged(format!("unknown record tag {tag:#04x}"))),
        }
    }

    /// Reads every record to the end: the whole stream's check.
    pub fn verify_rest(mut self) -> Result<(), StoreError> {
        while self.next_record()?.is_some() {}
        Ok(())
    }

    fn u32(&mut self) -> Result<u32, StoreError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut buf = [0; N];
        read_full(&mut self.input, &mut buf)?;
        self.crc = crc32c::crc32c_append(self.crc, &buf);
        Ok(buf)
    }

    /// `len` bytes, grown as they arrive: a damaged length meets the end of the file
    /// before it meets the allocator.
    fn take(&mut self, len: usize) -> Result<Vec<u8>, StoreError> {
        let mut buf = Vec::with_capacity(len.min(1 << 16));
        (&mut self.input).take(len as u64).read_to_end(&mut buf)?;
        if buf.len() != len {
            return Err(damaged("the file ends inside a record"));
        }
        self.crc = crc32c::crc32c_append(self.crc, &buf);
        Ok(buf)
    }
}

fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<(), StoreError> {
    input.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => damaged("the file ends inside a record"),
        _ => StoreError::Io(e),
    })
}

/// A snapshot as openraft moves it: a file (the Bough store: built, received and installed
/// without a copy in memory) or bytes (the in-memory store).
#[derive(Debug)]
pub enum SnapshotData {
    /// A snapshot file, and where it is, so a received one can be renamed into place.
    File {
        /// The open file.
        file: tokio::fs::File,
        /// Its path.
        path: PathBuf,
    },
    /// A snapshot held in memory.
    Memory(io::Cursor<Vec<u8>>),
}

impl AsyncRead for SnapshotData {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SnapshotData::File { file, .. } => Pin::new(file).poll_read(cx, buf),
            SnapshotData::Memory(bytes) => Pin::new(bytes).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for SnapshotData {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            SnapshotData::File { file, .. } => Pin::new(file).poll_write(cx, buf),
            SnapshotData::Memory(bytes) => Pin::new(bytes).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SnapshotData::File { file, .. } => Pin::new(file).poll_flush(cx),
            SnapshotData::Memory(bytes) => Pin::new(bytes).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            SnapshotData::File { file, .. } => Pin::new(file).poll_shutdown(cx),
            SnapshotData::Memory(bytes) => Pin::new(bytes).poll_shutdown(cx),
        }
    }
}

impl AsyncSeek for SnapshotData {
    fn start_seek(self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        match self.get_mut() {
            SnapshotData::File { file, .. } => Pin::new(file).start_seek(position),
            SnapshotData::Memory(bytes) => Pin::new(bytes).start_seek(position),
        }
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        match self.get_mut() {
            SnapshotData::File { file, .. } => Pin::new(file).poll_complete(cx),
            SnapshotData::Memory(bytes) => Pin::new(bytes).poll_complete(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let meta = Meta::default();
        let mut w = SnapshotWriter::new(Vec::new(), &meta).unwrap();
        w.table("kv").unwrap();
        w.entry(b"a", b"1").unwrap();
        w.entry(b"b", b"").unwrap();
        w.finish().unwrap()
    }

    fn records(bytes: &[u8]) -> Result<Vec<Record>, StoreError> {
        let (_, mut r) = SnapshotReader::open(bytes)?;
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push(rec);
        }
        Ok(out)
    }

    #[test]
    fn round_trip() {
        let got = records(&sample()).unwrap();
        assert_eq!(
            got,
            vec![
                Record::Table("kv".into()),
                Record::Entry(b"a".to_vec(), b"1".to_vec()),
                Record::Entry(b"b".to_vec(), Vec::new()),
            ]
        );
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_refused() {
        let good = sample();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            assert!(records(&bad).is_err(), "flip at {i} accepted");
            assert!(records(&good[..i]).is_err(), "cut at {i} accepted");
        }
    }
}
