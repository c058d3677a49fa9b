//! A durable commit never disappears silently: after a clean close (which seals the newest
//! commit) or under two-sync commits, damage to the newest commit's pages is `Corruption`,
//! never a fall-back to the commit before; after an unclean stop with one-sync commits the
//! fall-back is reported by `Database::recovery()`, and `refuse_fallback` turns it into an
//! error.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use bough::{CommitProtocol, Database, Error, Mode};
use common::test_mode;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

const COMMITS: u32 = 20;

/// 20 durable commits of 500 inserts each, every 97th value 70 KB (overflow runs); returns the
/// model and the id of the newest commit.
fn build(db: &Database) -> (Model, u64) {
    let mut model = Model::new();
    let mut newest = 0;
    for c in 0..COMMITS {
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("t").unwrap();
            for i in 0..500u32 {
                let n = c * 500 + i;
                let key = format!("key-{:08}", n.wrapping_mul(2_654_435_761) % 1_000_000_007);
                let value = match n % 97 {
                    0 => vec![(n % 251) as u8; 70_000],
                    _ => format!("value-{n}").into_bytes(),
                };
                t.insert(key.as_bytes(), &value).unwrap();
                model.insert(key.into_bytes(), value);
            }
        }
        newest = wtx.id();
        wtx.commit().unwrap();
    }
    (model, newest)
}

fn builder(protocol: CommitProtocol) -> bough::Builder {
    Database::builder()
        .mode(test_mode())
        .commit_protocol(protocol)
}

/// Pages (by id) the commit `txn` wrote that the file still holds, as the page-inspection
/// API reports them.
fn pages_written_by(db: &Database, txn: u64) -> Vec<u64> {
    let rtx = db.begin_read().unwrap();
    let high_water = rtx.page_census().unwrap().high_water;
    (2..high_water)
        .filter(|&id| {
            let info = rtx.inspect_page(id).unwrap();
            info.txn_id == txn && ["branch", "leaf", "overflow"].contains(&info.kind.as_str())
        })
        .collect()
}

fn flip_three_bits(file: &Path, page: u64, page_size: usize) {
    let mut bytes = std::fs::read(file).unwrap();
    let base = page as usize * page_size;
    for (i, at) in [40usize, 1_000, 3_000].into_iter().enumerate() {
        bytes[base + at] ^= 1 << i;
    }
    std::fs::write(file, &bytes).unwrap();
}

/// Every entry of table "t", or the first error.
fn read_all(db: &Database) -> bough::Result<Model> {
    let rtx = db.begin_read()?;
    let t = rtx.open_table("t")?;
    t.iter()?
        .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())))
        .collect()
}

/// Opens the damaged copy: it must not have fallen back, `check()` must name a page, and a
/// full read must either fail with `Corruption` or return every committed entry.
fn assert_reported(path: &Path, protocol: CommitProtocol, model: &Model, what: &str) {
    let db = match builder(protocol).open(path) {
        Err(Error::Corruption { .. }) => return,
        Err(e) => panic!("{what}: open failed with {e:?}"),
        Ok(db) => db,
    };
    assert!(
        db.recovery().is_none(),
        "{what}: fell back: {:?}",
        db.recovery()
    );
    assert!(
        !db.stats()
            .map(|s| s.fell_back_to_older_meta)
            .unwrap_or(false)
    );
    match db.check() {
        Err(Error::Corruption { .. }) => {}
        other => panic!("{what}: check() gave {other:?}, not Corruption"),
    }
    match read_all(&db) {
        Err(Error::Corruption { .. }) => {}
        Ok(got) => assert_eq!(&got, model, "{what}: reads lost committed entries silently"),
        Err(e) => panic!("{what}: a read failed with {e:?}"),
    }
}

#[test]
fn damage_to_the_newest_commit_after_a_clean_close_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.bough");
    let (model, newest) = {
        let db = builder(CommitProtocol::OneSync).open(&path).unwrap();
        build(&db)
    };
    // Cleanly closed: nothing to recover.
    let pristine = std::fs::read(&path).unwrap();
    let (pages, page_size) = {
        let db = builder(CommitProtocol::OneSync).open(&path).unwrap();
        assert!(db.recovery().is_none());
        assert_eq!(read_all(&db).unwrap(), model);
        (pages_written_by(&db, newest), db.stats().unwrap().page_size)
    };
    assert!(!pages.is_empty(), "the newest commit wrote pages");
    for &page in pages.iter().take(6) {
        std::fs::write(&path, &pristine).unwrap();
        flip_three_bits(&path, page, page_size);
        assert_reported(
            &path,
            CommitProtocol::OneSync,
            &model,
            &format!("page {page}"),
        );
    }
}

/// An image of the file as a crash leaves it: copied while the database is still open.
fn unclean_image(protocol: CommitProtocol, path: &Path) -> (Model, u64, Vec<u64>, usize) {
    let db = builder(protocol).open(path).unwrap();
    let (model, newest) = build(&db);
    let pages = pages_written_by(&db, newest);
    let page_size = db.stats().unwrap().page_size;
    let image = std::fs::read(path).unwrap();
    std::mem::drop(db);
    // The close would seal; the crash did not get that far.
    std::fs::write(path, &image).unwrap();
    (model, newest, pages, page_size)
}

#[test]
fn two_sync_commits_never_fall_back() {
    if test_mode() == Mode::Wal {
        // Log mode keeps the newest commits in its log until a checkpoint: an unclean image
        // of the file alone is not one.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.bough");
    let (model, _, pages, page_size) = unclean_image(CommitProtocol::TwoSync, &path);
    let pristine = std::fs::read(&path).unwrap();
    for &page in pages.iter().take(4) {
        std::fs::write(&path, &pristine).unwrap();
        flip_three_bits(&path, page, page_size);
        assert_reported(
            &path,
            CommitProtocol::TwoSync,
            &model,
            &format!("two-sync page {page}"),
        );
    }
}

#[test]
fn an_unclean_stop_falls_back_visibly_or_refuses() {
    if test_mode() == Mode::Wal {
        // Log mode replays its log at open: damage to the file's pages is not a fall-back.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.bough");
    let (_, newest, pages, page_size) = unclean_image(CommitProtocol::OneSync, &path);
    let pristine = std::fs::read(&path).unwrap();
    let page = *pages.first().expect("the newest commit wrote pages");
    flip_three_bits(&path, page, page_size);
    let damaged = std::fs::read(&path).unwrap();
    {
        let db = builder(CommitProtocol::OneSync).open(&path).unwrap();
        let fell_back = db.recovery().expect("the fall-back is reported").clone();
        assert_eq!(fell_back.dropped_txn, newest);
        assert!(fell_back.opened_txn < newest);
        assert!(
            fell_back.reason.contains(&format!("page {page}")),
            "{}",
            fell_back.reason
        );
        assert!(db.stats().unwrap().fell_back_to_older_meta);
        db.check().unwrap();
    }
    std::fs::write(&path, &damaged).unwrap();
    match builder(CommitProtocol::OneSync)
        .refuse_fallback(true)
        .open(&path)
    {
        Err(Error::FallBackRefused { dropped_txn, .. }) => assert_eq!(dropped_txn, newest),
        other => panic!("expected FallBackRefused, got {:?}", other.map(|_| ())),
    }
    // Undamaged, the same unclean image opens its newest commit, refusal or not.
    std::fs::write(&path, &pristine).unwrap();
    let db = builder(CommitProtocol::OneSync)
        .refuse_fallback(true)
        .open(&path)
        .unwrap();
    assert!(db.recovery().is_none());
}

#[test]
fn an_unclean_stop_in_log_mode_falls_back_visibly_or_refuses() {
    if test_mode() != Mode::Wal {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.bough");
    let log_path = dir.path().join("db.bough-wal");
    // No checkpoint: every commit stays in the log.
    let open = |refuse: bool| {
        builder(CommitProtocol::OneSync)
            .checkpoint_bytes(1 << 40)
            .refuse_fallback(refuse)
            .open(&path)
    };
    let (model, newest, file, log) = {
        let db = open(false).unwrap();
        let (model, newest) = build(&db);
        // As a crash leaves them: copied while the database is open.
        let file = std::fs::read(&path).unwrap();
        let log = std::fs::read(&log_path).unwrap();
        (model, newest, file, log)
    };
    let (sealed, frame) = common::log_file::newest_commit(&log, 4096);
    assert_eq!(sealed, 0, "an unclean stop leaves no seal");
    let mut damaged = log.clone();
    for bit in [5usize, 800, 3001] {
        damaged[frame as usize + bit / 8] ^= 1 << (bit % 8);
    }
    let restore = |log: &[u8]| {
        std::fs::write(&path, &file).unwrap();
        std::fs::write(&log_path, log).unwrap();
    };
    restore(&damaged);
    {
        let db = open(false).unwrap();
        let fell_back = db.recovery().expect("the fall-back is reported").clone();
        assert_eq!(
            (fell_back.dropped_txn, fell_back.opened_txn),
            (newest, newest - 1)
        );
        assert!(fell_back.reason.contains("log"), "{}", fell_back.reason);
        let found = read_all(&db).unwrap();
        assert_eq!(
            found.len(),
            model.len() - 500,
            "only the newest commit is gone"
        );
        db.check().unwrap();
    }
    restore(&damaged);
    match open(true) {
        Err(Error::FallBackRefused { dropped_txn, .. }) => assert_eq!(dropped_txn, newest),
        other => panic!("expected FallBackRefused, got {:?}", other.map(|_| ())),
    }
    // Undamaged, the same unclean image opens its newest commit, refusal or not.
    restore(&log);
    let db = open(true).unwrap();
    assert!(db.recovery().is_none());
    assert_eq!(read_all(&db).unwrap(), model);
}
