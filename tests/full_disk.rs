//! A full disk on a real filesystem: a size-limited tmpfs the test mounts (as root; where
//! mounting is not allowed each test says so on stderr and skips). Commits until one fails for
//! lack of space, in both modes: the failure is `Error::Io` of kind `StorageFull`, the
//! transaction rolls back, readers keep their snapshots, a reopen holds exactly the last
//! successful commit (also while the disk is still full), and the same handle commits again
//! once other files make room.

mod common;

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;
use std::process::Command;

use bough::{Database, Error};
use common::{Options, check_ok, read_all};

/// A tmpfs of a fixed size mounted on a fresh directory, unmounted on drop.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// `None` (after saying why on stderr) where this process may not mount.
    fn mount(bytes: u64, test: &str) -> Option<Tmpfs> {
        let dir = std::env::temp_dir().join(format!("bough-full-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(&dir)
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Tmpfs { dir }),
            Ok(out) => {
                eprintln!(
                    "SKIPPED {test}: cannot mount a tmpfs here ({}); run as root to test a full disk",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                let _ = std::fs::remove_dir(&dir);
                None
            }
            Err(e) => {
                eprintln!("SKIPPED {test}: no mount command ({e})");
                let _ = std::fs::remove_dir(&dir);
                None
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Fills the filesystem with a file at `name`, up to the last byte it takes.
    fn fill(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0xAB; 64 << 10];
        use std::io::Write;
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::StorageFull => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
        let _ = file.write_all(&[0xAB]); // and the last bytes of a partial block
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
type Entries = Vec<(Vec<u8>, Vec<u8>)>;

fn is_full(error: &Error) -> bool {
    matches!(error, Error::Io(e) if e.kind() == ErrorKind::StorageFull)
}

/// Commits batches of `batch(round)` until one fails for lack of space; returns the state of
/// the last commit that succeeded and the error. Every failure must be `StorageFull`, at an
/// insert (a spill or an overflow run) or at the commit.
fn commit_until_full(db: &Database, model: &mut Model, batch: impl Fn(u64) -> Entries) -> Error {
    for round in 1..10_000 {
        let entries = batch(round);
        let attempt = (|| {
            let wtx = db.begin_write()?;
            {
                let mut t = wtx.open_table("t")?;
                for (k, v) in &entries {
                    t.insert(k, v)?;
                }
            }
            wtx.commit()
        })();
        match attempt {
            Ok(()) => model.extend(entries),
            Err(e) => {
                assert!(is_full(&e), "a full disk gives StorageFull, not {e:?}");
                return e;
            }
        }
    }
    panic!("the tmpfs never filled up");
}

fn contents(db: &Database) -> Model {
    read_all(db, "t").into_iter().collect()
}

fn small_batches(round: u64) -> Entries {
    (0..200)
        .map(|i| {
            let n = round * 200 + i;
            (
                format!("key{n:08}").into_bytes(),
                vec![(n % 251) as u8; 400],
            )
        })
        .collect()
}

/// The whole scenario on one filesystem: fill, fail, reopen while full, free space, commit on
/// the same handle, reopen.
fn fill_fail_and_recover(test: &str, options: Options, batch: fn(u64) -> Entries) {
    let Some(fs) = Tmpfs::mount(24 << 20, test) else {
        return;
    };
    let ballast = fs.path("ballast");
    std::fs::write(&ballast, vec![1u8; 6 << 20]).unwrap();
    let path = fs.path("db.bough");
    let mut model = Model::new();
    {
        let db = options.open(&path).unwrap();
        let first = batch(0);
        let wtx = db.begin_write().unwrap();
        let mut t = wtx.open_table("t").unwrap();
        for (k, v) in &first {
            t.insert(k, v).unwrap();
        }
        drop(t);
        wtx.commit().unwrap();
        model.extend(first);
        let reader = db.begin_read().unwrap();
        let seen = model.clone();
        commit_until_full(&db, &mut model, batch);
        // The reader kept its snapshot through the failures.
        let t = reader.open_table("t").unwrap();
        assert_eq!(t.len().unwrap(), seen.len() as u64);
        drop(reader);
        assert_eq!(contents(&db), model, "the failed commit rolled back");
        check_ok(&db);
    }
    // Reopened while the disk is still full: opening and reading need no room.
    let db = options.open(&path).unwrap();
    assert_eq!(contents(&db), model);
    check_ok(&db);
    // Other files make room: the same handle commits again.
    std::fs::remove_file(&ballast).unwrap();
    let extra = batch(9_999);
    {
        let wtx = db.begin_write().unwrap();
        let mut t = wtx.open_table("t").unwrap();
        for (k, v) in &extra {
            t.insert(k, v).unwrap();
        }
        drop(t);
        wtx.commit().unwrap();
    }
    model.extend(extra);
    drop(db);
    let db = options.open(&path).unwrap();
    assert_eq!(contents(&db), model);
    check_ok(&db);
}

#[test]
fn commits_until_the_disk_is_full_then_again_once_there_is_room() {
    fill_fail_and_recover("small", Options::default(), small_batches);
}

#[test]
fn large_values_fill_the_disk_mid_transaction() {
    fill_fail_and_recover("large", Options::default(), |round| {
        (0..4)
            .map(|i| {
                let n = round * 4 + i;
                (
                    format!("big{n:08}").into_bytes(),
                    vec![(n % 251) as u8; 300_000],
                )
            })
            .collect()
    });
}

#[test]
fn bulk_loads_that_spill_fill_the_disk_mid_transaction() {
    fill_fail_and_recover(
        "spill",
        Options::default().dirty_budget(256 << 10),
        |round| {
            (0..5_000)
                .map(|i| {
                    let n = round * 5_000 + i;
                    (
                        format!("bulk{n:08}").into_bytes(),
                        vec![(n % 251) as u8; 200],
                    )
                })
                .collect()
        },
    );
}

#[test]
fn creating_a_database_on_a_full_disk_fails_cleanly() {
    let Some(fs) = Tmpfs::mount(4 << 20, "create") else {
        return;
    };
    let ballast = fs.fill("ballast");
    let path = fs.path("new.bough");
    let options = Options::default();
    match options.open(&path) {
        Err(e) => assert!(is_full(&e), "StorageFull, not {e:?}"),
        Ok(_) => panic!("a database was created on a full disk"),
    }
    // Whatever is left opens later: once there is room, the path is a new, empty database.
    std::fs::remove_file(&ballast).unwrap();
    let db = options.open(&path).unwrap();
    assert!(db.begin_read().unwrap().list_tables().unwrap().is_empty());
    check_ok(&db);
    let leftovers: Vec<_> = std::fs::read_dir(&fs.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.contains("bough-creating"))
        .collect();
    assert!(leftovers.is_empty(), "scratch files left: {leftovers:?}");
}

/// Flips three bits of the bytes at `at` in the file (in place: the disk is full).
fn flip_bits(path: &std::path::Path, bytes: &mut [u8], at: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    for bit in [3u64, 901, 2050] {
        let byte = (at + bit / 8) as usize;
        bytes[byte] ^= 1 << (bit % 8);
        file.write_at(&bytes[byte..byte + 1], byte as u64).unwrap();
    }
}

#[test]
fn a_log_sealed_at_a_clean_close_on_a_full_disk_reports_damage_as_corruption() {
    if common::test_mode() != bough::Mode::Wal {
        return;
    }
    let Some(fs) = Tmpfs::mount(24 << 20, "sealed-log") else {
        return;
    };
    let ballast = fs.path("ballast");
    std::fs::write(&ballast, vec![1u8; 6 << 20]).unwrap();
    let path = fs.path("db.bough");
    let open = || {
        Database::builder()
            .mode(bough::Mode::Wal)
            // No checkpoint before the close: the log takes the whole disk.
            .checkpoint_bytes(1 << 40)
            .open(&path)
    };
    let mut model = Model::new();
    {
        let db = open().unwrap();
        commit_until_full(&db, &mut model, small_batches);
    }
    // The close could not copy the log into the file (no room): it sealed the log instead.
    let log_path = fs.path("db.bough-wal");
    let mut log = std::fs::read(&log_path).unwrap();
    let (sealed, frame) = common::log_file::newest_commit(&log, 4096);
    assert!(sealed > 0, "the clean close sealed the log");
    assert!(frame > 0, "the log holds the newest commit's frames");
    // Bit rot in the newest commit's frames: with the seal, that is corruption, not the end
    // of the log (which would silently drop the commit).
    flip_bits(&log_path, &mut log, frame);
    match open() {
        Err(Error::Corruption { .. }) => {}
        Err(e) => panic!("damage to a sealed log gives Corruption, not {e:?}"),
        Ok(_) => panic!("damage to a sealed log's newest commit was taken for its end"),
    }
    // Undamaged, the same log opens with every commit.
    flip_bits(&log_path, &mut log, frame);
    std::fs::remove_file(&ballast).unwrap();
    let db = open().unwrap();
    assert_eq!(contents(&db), model);
    check_ok(&db);
}

/// Overwrites the one key of table "t" with a value of fixed length naming `tag`: every such
/// commit writes the same frames, so one lands exactly where another did.
fn overwrite(db: &Database, tag: &str) {
    let wtx = db.begin_write().unwrap();
    {
        let mut t = wtx.open_table("t").unwrap();
        t.insert(b"k", format!("{tag:<300}").as_bytes()).unwrap();
    }
    wtx.commit().unwrap();
}

fn value_of_k(db: &Database) -> String {
    let rtx = db.begin_read().unwrap();
    let t = rtx.open_table("t").unwrap();
    let value = t.get(b"k").unwrap().expect("k is present");
    String::from_utf8(value.to_vec())
        .unwrap()
        .trim_end()
        .to_string()
}

/// An open on a full disk keeps the log's commits (it cannot copy them into the file). Frames a
/// crash left past the end of its chain must never pass for commits after it, even when a new
/// commit ends exactly where such a frame begins and the frame's transaction id is higher.
#[test]
fn frames_a_crash_left_never_pass_for_commits_after_an_open_on_a_full_disk() {
    if common::test_mode() != bough::Mode::Wal {
        return;
    }
    let Some(fs) = Tmpfs::mount(24 << 20, "stale-frames") else {
        return;
    };
    let path = fs.path("db.bough");
    let log_path = fs.path("db.bough-wal");
    let open = || {
        Database::builder()
            .mode(bough::Mode::Wal)
            .checkpoint_bytes(1 << 40)
            .open(&path)
    };
    // The file holds "base"; the log holds "a", then "b1", "b2", "b3", copied as a crash
    // leaves them (while the database is open).
    drop({
        let db = open().unwrap();
        overwrite(&db, "base");
        db
    });
    let (file, log) = {
        let db = open().unwrap();
        // "a" grows the file, so copying it into the file needs room.
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("grown").unwrap();
            for n in 0..200u32 {
                t.insert(&n.to_be_bytes(), &[7u8; 1000]).unwrap();
            }
        }
        wtx.commit().unwrap();
        overwrite(&db, "a");
        for tag in ["b1", "b2", "b3"] {
            overwrite(&db, tag);
        }
        (
            std::fs::read(&path).unwrap(),
            std::fs::read(&log_path).unwrap(),
        )
    };
    let (_, crashed) = common::log_file::chain(&log, 4096);
    let crashed_log = log.clone();
    assert_eq!(crashed.len(), 5, "the log holds a, b1, b2, b3: {crashed:?}");
    let (b1, b2) = (crashed[2], crashed[3]);
    // The crash tore "b1": the log now ends after "a", and "b2" and "b3" lie past its end.
    let mut damaged = log.clone();
    damaged[b1.first_page_data as usize + 100] ^= 0x10;
    std::fs::write(&path, &file).unwrap();
    std::fs::write(&log_path, &damaged).unwrap();
    let ballast = fs.fill("ballast");
    let (file, log) = {
        // The open's copy finds no room: it serves the log, and commits there.
        let db = open().unwrap();
        assert_eq!(value_of_k(&db), "a");
        overwrite(&db, "c");
        let (_, now) = common::log_file::chain(&std::fs::read(&log_path).unwrap(), 4096);
        // (The helper checks no checksums: it follows the chain on into b2 and b3.)
        assert_eq!(now[..2], crashed[..2], "a is still in the log, not copied");
        let c = now[2];
        assert_eq!(c.start, b1.start, "the new commit takes b1's place");
        assert!(
            c.txn < b2.txn,
            "the new commit reuses a transaction id below the stale frames' ({} vs {})",
            c.txn,
            b2.txn
        );
        // A crash again: the close would copy the log into the file, or seal it.
        (
            std::fs::read(&path).unwrap(),
            std::fs::read(&log_path).unwrap(),
        )
    };
    // The worst case: the frames of b2 and b3 begin exactly where c ends (they do if c is
    // as long as b1 was; the crashed process could have written them at any offset).
    let mut log = log;
    let (_, now) = common::log_file::chain(&log, 4096);
    let c_end = now[2].end as usize;
    let stale = &crashed_log[b2.start as usize..crashed[4].end as usize];
    log[c_end..c_end + stale.len()].copy_from_slice(stale);
    std::fs::remove_file(&ballast).unwrap();
    std::fs::write(&path, &file).unwrap();
    std::fs::write(&log_path, &log).unwrap();
    let ballast = fs.fill("ballast");
    // Still full: the newest commit is "c", never "b3".
    let db = open().unwrap();
    assert_eq!(value_of_k(&db), "c", "stale frames were taken for commits");
    check_ok(&db);
    // A second open on the full disk switches the salt again; a clean close seals the log,
    // which now holds frames under three salts.
    overwrite(&db, "d");
    drop(db);
    let db = open().unwrap();
    assert_eq!(value_of_k(&db), "d");
    drop(db);
    // Once there is room, the open copies the log into the file.
    std::fs::remove_file(&ballast).unwrap();
    let db = open().unwrap();
    assert_eq!(value_of_k(&db), "d");
    check_ok(&db);
    overwrite(&db, "e");
    drop(db);
    let db = open().unwrap();
    assert_eq!(value_of_k(&db), "e");
    check_ok(&db);
}
