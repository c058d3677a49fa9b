//! Serving reads and writes from a pool of threads through an `Arc<Database>`: each worker
//! takes requests from a shared queue, reads run on snapshots in parallel, writes take turns
//! (`begin_write` waits for the current writer), and a write transaction begun on one
//! thread is committed on another.
//!
//! `cargo run --release --example thread_pool`

use bough::{Database, TableDefinition, WriteTransaction};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

const COUNTERS: TableDefinition<&str, u64> = TableDefinition::new("counters");

enum Request {
    Increment(&'static str),
    Read(&'static str, mpsc::Sender<u64>),
}

fn increment(db: &Database, name: &str) -> bough::Result<()> {
    let wtx = db.begin_write()?;
    {
        let mut counters = wtx.open_table(COUNTERS)?;
        let now = counters.get(name)?.unwrap_or(0);
        counters.insert(name, now + 1)?;
    }
    wtx.commit()
}

fn read(db: &Database, name: &str) -> bough::Result<u64> {
    let rtx = db.begin_read()?;
    match rtx.open_table(COUNTERS) {
        Ok(counters) => Ok(counters.get(name)?.unwrap_or(0)),
        Err(bough::Error::TableNotFound(_)) => Ok(0),
        Err(e) => Err(e),
    }
}

fn main() -> bough::Result<()> {
    let dir = std::env::temp_dir().join(format!("bough-thread-pool-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let db = Arc::new(
        Database::builder()
            .durability(bough::Durability::None)
            .open(dir.join("counters.bough"))?,
    );

    let (requests, queue) = mpsc::channel::<Request>();
    let queue = Arc::new(Mutex::new(queue));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (db, queue) = (db.clone(), queue.clone());
            thread::spawn(move || -> bough::Result<()> {
                loop {
                    let request = queue.lock().expect("queue lock").recv();
                    match request {
                        Ok(Request::Increment(name)) => increment(&db, name)?,
                        Ok(Request::Read(name, reply)) => {
                            let _ = reply.send(read(&db, name)?);
                        }
                        Err(_) => return Ok(()),
                    }
                }
            })
        })
        .collect();

    for i in 0..1_000 {
        let name = ["apples", "pears"][i % 2];
        requests
            .send(Request::Increment(name))
            .expect("workers run");
        if i % 100 == 0 {
            let (reply, answer) = mpsc::channel();
            requests
                .send(Request::Read(name, reply))
                .expect("workers run");
            println!("{name} at request {i}: {}", answer.recv().expect("a reply"));
        }
    }
    drop(requests);
    for worker in workers {
        worker.join().expect("worker panicked")?;
    }

    // A write transaction moves between threads: begun here, written and committed there.
    let wtx: WriteTransaction = db.begin_write()?;
    thread::spawn(move || -> bough::Result<()> {
        wtx.open_table(COUNTERS)?.insert("plums", 1)?;
        wtx.commit()
    })
    .join()
    .expect("committer panicked")?;

    assert_eq!(read(&db, "apples")?, 500);
    assert_eq!(read(&db, "pears")?, 500);
    assert_eq!(read(&db, "plums")?, 1);
    println!("apples 500, pears 500, plums 1: every increment counted once");
    db.check()?;
    drop(db);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
