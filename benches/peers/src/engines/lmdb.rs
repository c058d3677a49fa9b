//! LMDB through heed with its documented defaults (no flags: every commit syncs data, then the
//! meta page). The map size is only address space on Linux; the file grows as pages are written.

use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use heed::types::Bytes;
use heed::{CommitOrAbort, Database, Env, EnvFlags, EnvOpenOptions, RoTxn, RwTxn};
use heed::{FlagSetMode, WithTls};

use crate::engine::{Engine, Reader, Res, Writer};

/// Larger than anything the benchmark writes (1M entries plus 1 GiB of large values).
const MAP_SIZE: usize = 256 << 30;

pub struct Lmdb {
    env: Env<WithTls>,
    db: Database<'static, Bytes, Bytes>,
    /// Whether MDB_NOSYNC is currently set; only the non-durable workload sets it.
    no_sync: AtomicBool,
}

impl Lmdb {
    pub fn open(dir: &Path) -> Res<Self> {
        // SAFETY (heed's contract): the directory is new and this process is its only user.
        let env = unsafe { EnvOpenOptions::new().map_size(MAP_SIZE).open(dir)? };
        let wtxn = env.write_txn()?;
        let db = env
            .create_databases_and_commit(wtxn, |opener, wtxn| -> heed::Result<_> {
                Ok(CommitOrAbort::<_, ()>::Commit(
                    opener.create_database::<Bytes, Bytes>(wtxn, None)?,
                ))
            })?
            .unwrap_commit();
        Ok(Self {
            env,
            db,
            no_sync: AtomicBool::new(false),
        })
    }

    /// LMDB has no per-transaction durability; MDB_NOSYNC is an environment flag that may be
    /// changed between transactions.
    fn set_no_sync(&self, no_sync: bool) -> Res<()> {
        if self.no_sync.swap(no_sync, Ordering::Relaxed) != no_sync {
            let mode = if no_sync {
                FlagSetMode::Enable
            } else {
                FlagSetMode::Disable
            };
            // SAFETY (heed's contract): no transaction is open while the flag changes, and a
            // durable commit follows the non-durable ones, so nothing is left unsynced.
            unsafe { self.env.set_flags(EnvFlags::NO_SYNC, mode)? };
        }
        Ok(())
    }
}

impl Engine for Lmdb {
    fn write(&self, durable: bool, f: &mut dyn FnMut(&mut dyn Writer) -> Res<()>) -> Res<()> {
        self.set_no_sync(!durable)?;
        let mut txn = self.env.write_txn()?;
        f(&mut LmdbWriter {
            db: self.db,
            txn: &mut txn,
        })?;
        txn.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Res<()>) -> Res<()> {
        let txn = self.env.read_txn()?;
        f(&LmdbReader {
            db: self.db,
            txn: &txn,
        })
    }
}

struct LmdbWriter<'a, 'e> {
    db: Database<'static, Bytes, Bytes>,
    txn: &'a mut RwTxn<'e>,
}

impl Writer for LmdbWriter<'_, '_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Res<()> {
        Ok(self.db.put(self.txn, key, value)?)
    }

    fn remove(&mut self, key: &[u8]) -> Res<bool> {
        Ok(self.db.delete(self.txn, key)?)
    }
}

struct LmdbReader<'a, 'e> {
    db: Database<'static, Bytes, Bytes>,
    txn: &'a RoTxn<'e, WithTls>,
}

impl Reader for LmdbReader<'_, '_> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Res<bool> {
        match self.db.get(self.txn, key)? {
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
        let mut seen = 0;
        let mut visit = |entry: heed::Result<(&[u8], &[u8])>| -> Res<()> {
            let (key, value) = entry?;
            f(key, value);
            seen += 1;
            Ok(())
        };
        match from {
            Some(key) => {
                let bounds = (Bound::Included(key), Bound::Unbounded);
                for entry in self.db.range(self.txn, &bounds)?.take(limit) {
                    visit(entry)?;
                }
            }
            None => {
                for entry in self.db.iter(self.txn)?.take(limit) {
                    visit(entry)?;
                }
            }
        }
        Ok(seen)
    }
}
