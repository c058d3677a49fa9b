//! SQLite (bundled) with the WAL journal and `synchronous=FULL`, one `WITHOUT ROWID` table keyed by
//! the blob (SQLite's clustered-by-key layout, the closest to a key-value B+ tree).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{CachedStatement, Connection, OpenFlags, TransactionBehavior, params};

use crate::engine::{Engine, Reader, Res, Writer};

const INSERT: &str = "INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)";
const DELETE: &str = "DELETE FROM kv WHERE k = ?1";
const GET: &str = "SELECT v FROM kv WHERE k = ?1";
/// The empty blob sorts before every other blob, so `from = x''` scans from the start;
/// `LIMIT -1` means no limit.
const SCAN: &str = "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k LIMIT ?2";

pub struct Sqlite {
    path: PathBuf,
    writer: Mutex<WriterConn>,
    /// Idle read connections: a `Connection` is not `Sync`, so each reading thread takes one.
    readers: Mutex<Vec<Connection>>,
}

struct WriterConn {
    conn: Connection,
    /// The current `synchronous` setting: FULL normally, OFF for the non-durable workload.
    durable: bool,
}

impl Sqlite {
    pub fn open(dir: &Path) -> Res<Self> {
        let path = dir.join("data.sqlite");
        let conn = Connection::open(&path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!("SQLite refused WAL mode: {mode}").into());
        }
        conn.execute_batch(
            "PRAGMA synchronous=FULL;
             CREATE TABLE kv (k BLOB PRIMARY KEY NOT NULL, v BLOB NOT NULL) WITHOUT ROWID;",
        )?;
        Ok(Self {
            path,
            writer: Mutex::new(WriterConn {
                conn,
                durable: true,
            }),
            readers: Mutex::new(Vec::new()),
        })
    }
}

impl Engine for Sqlite {
    fn write(&self, durable: bool, f: &mut dyn FnMut(&mut dyn Writer) -> Res<()>) -> Res<()> {
        let mut guard = self
            .writer
            .lock()
            .map_err(|_| "SQLite writer mutex poisoned")?;
        let writer = &mut *guard;
        if writer.durable != durable {
            let level = if durable { "FULL" } else { "OFF" };
            writer
                .conn
                .execute_batch(&format!("PRAGMA synchronous={level}"))?;
            writer.durable = durable;
        }
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut w = SqliteWriter {
                insert: tx.prepare_cached(INSERT)?,
                delete: tx.prepare_cached(DELETE)?,
            };
            f(&mut w)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn read(&self, f: &mut dyn FnMut(&dyn Reader) -> Res<()>) -> Res<()> {
        let idle = self
            .readers
            .lock()
            .map_err(|_| "SQLite reader mutex poisoned")?
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => Connection::open_with_flags(
                &self.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?,
        };
        // A read transaction spanning all the reads, like the other engines' snapshots.
        conn.execute_batch("BEGIN")?;
        let result = {
            let reader = SqliteReader {
                get: RefCell::new(conn.prepare_cached(GET)?),
                scan: RefCell::new(conn.prepare_cached(SCAN)?),
            };
            f(&reader)
        };
        conn.execute_batch("COMMIT")?;
        self.readers
            .lock()
            .map_err(|_| "SQLite reader mutex poisoned")?
            .push(conn);
        result
    }
}

struct SqliteWriter<'c> {
    insert: CachedStatement<'c>,
    delete: CachedStatement<'c>,
}

impl Writer for SqliteWriter<'_> {
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Res<()> {
        self.insert.execute(params![key, value])?;
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> Res<bool> {
        Ok(self.delete.execute(params![key])? > 0)
    }
}

struct SqliteReader<'c> {
    get: RefCell<CachedStatement<'c>>,
    scan: RefCell<CachedStatement<'c>>,
}

impl Reader for SqliteReader<'_> {
    fn get(&self, key: &[u8], f: &mut dyn FnMut(&[u8])) -> Res<bool> {
        let mut stmt = self.get.borrow_mut();
        let mut rows = stmt.query(params![key])?;
        match rows.next()? {
            Some(row) => {
                f(row.get_ref(0)?.as_blob()?);
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
        let mut stmt = self.scan.borrow_mut();
        let limit = i64::try_from(limit).unwrap_or(-1);
        let mut rows = stmt.query(params![from.unwrap_or(&[]), limit])?;
        let mut seen = 0;
        while let Some(row) = rows.next()? {
            f(row.get_ref(0)?.as_blob()?, row.get_ref(1)?.as_blob()?);
            seen += 1;
        }
        Ok(seen)
    }
}
