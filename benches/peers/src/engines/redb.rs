//! redb with its defaults: `Durability::Immediate`, the default cache size.

use std::path::Path;

use redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, Table, TableDefinition,
};

use crate::engine::{Engine, Reader, Res, Writer};

const TABLE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("kv");

pub struct Redb {
    db: Database,
}

impl Redb {
    pub fn open(dir: &Path) -> Res<Self> {
        let db = Database::create(dir.join("data.redb"))?;
        // Create the table so readers find it before the first load.
        let wtx = db.begin_write()?;
        wtx.open_table(TABLE)?;
        wtx.commit()?;
        Ok(Self { db })
    }
}

impl Engine for Redb {
    fn write(&self, durable: bool, f: &mut dyn FnMut(&mut dyn Writer) -> Res<()>) -> Res<()> {
        let mut wtx = self.db.begin_write()?;
        if !durable {
            wtx.set_durability(Durability::None)?;
        }
        f(&mut RedbWriter(wtx.open_table(TABLE)?))?;
        wtx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Res<()>) -> Res<()> {
        let rtx = self.db.begin_read()?;
        f(&RedbReader(rtx.open_table(TABLE)?))
    }
}

struct RedbWriter<'t>(Table<'t, &'static [u8], &'static [u8]>);

impl Writer for RedbWriter<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Res<()> {
        self.0.insert(key, value)?;
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Res<bool> {
        Ok(self.0.remove(key)?.is_some())
    }
}

struct RedbReader(ReadOnlyTable<&'static [u8], &'static [u8]>);

impl Reader for RedbReader {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Res<bool> {
        match self.0.get(key)? {
            Some(guard) => {
                f(guard.value());
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
            f(key.value(), value.value());
            seen += 1;
        }
        Ok(seen)
    }
}
