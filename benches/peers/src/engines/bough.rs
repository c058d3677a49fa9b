//! Bough with its defaults (`Durability::Immediate`, checksums verified on reads) in either storage
//! mode: copy-on-write (the default, engine `bough`) or the write-ahead-log baseline
//! (`bough-wal`, checkpointing at the default 64 MiB of log and on close).

use std::path::Path;

use bough::{Database, Durability, Mode, ReadTable, Table};

use crate::engine::{Engine, Reader, Res, Writer};

const TABLE: &str = "kv";

pub struct Bough {
    db: Database,
}

impl Bough {
    pub fn open(dir: &Path, mode: Mode) -> Res<Self> {
        let path = dir.join("data.bough");
        let db = match mode {
            Mode::CopyOnWrite => Database::open(path)?,
            Mode::Wal => Database::builder().mode(mode).open(path)?,
        };
        Ok(Self { db })
    }
}

impl Engine for Bough {
    fn write(&self, durable: bool, f: &mut dyn FnMut(&mut dyn Writer) -> Res<()>) -> Res<()> {
        let mut wtx = self.db.begin_write()?;
        if !durable {
            wtx.set_durability(Durability::None);
        }
        f(&mut BoughWriter(wtx.open_table(TABLE)?))?;
        wtx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Res<()>) -> Res<()> {
        let rtx = self.db.begin_read()?;
        f(&BoughReader(rtx.open_table(TABLE)?))
    }

    fn commit_syncs(&self) -> Option<u64> {
        self.db.stats().ok().map(|stats| stats.commit_syncs)
    }
}

struct BoughWriter<'t>(Table<'t>);

impl Writer for BoughWriter<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Res<()> {
        Ok(self.0.insert(key, value)?)
    }

    fn remove(&mut self, key: &[u8]) -> Res<bool> {
        Ok(self.0.remove(key)?)
    }
}

struct BoughReader<'t>(ReadTable<'t>);

impl Reader for BoughReader<'_> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Res<bool> {
        match self.0.get(key)? {
            Some(value) => {
                f(value);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn scan(
        &self,
        from: Option<&[u8]>,
        limit: usize,
        f: &mut dyn FnMut(&[u8], &[u8]),
    ) -> Res<usize> {
        let range = match from {
            Some(key) => self.0.range(key..)?,
            None => self.0.iter()?,
        };
        let mut seen = 0;
        for entry in range.take(limit) {
            let (key, value) = entry?;
            f(key, value);
            seen += 1;
        }
        Ok(seen)
    }
}
