//! The `bough` binary, run as a user would on real files: queries and writes, dump and load
//! round trips of arbitrary bytes, check on whole and damaged files, backups, and one clear
//! line with a non-zero status for every bad input.

use bough::Database;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn bough(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bough"))
        .args(args)
        .output()
        .expect("run bough")
}

fn bough_with_input(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_bough"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run bough");
    // The tool may stop reading early (bad input): a pipe it closed is not the test's failure.
    match child.stdin.take().unwrap().write_all(input) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        written => written.unwrap(),
    }
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Status `code`, and for a failure exactly one line on stderr, no panic or backtrace.
fn assert_status(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stderr: {}",
        stderr(output)
    );
    if code != 0 {
        let err = stderr(output);
        assert!(
            !err.contains("panicked") && !err.contains("backtrace"),
            "{err}"
        );
    }
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn put_get_del_scan_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.bough");
    let file = path_str(&db);
    for (k, v) in [
        ("apple", "red"),
        ("banana", "yellow"),
        ("cherry", "dark red"),
        ("apricot", ""),
    ] {
        assert_status(&bough(&["put", file, "fruit", k, v]), 0);
    }
    assert_status(&bough(&["put", "--hex", file, "raw", "00ff", ""]), 0);
    let got = bough(&["get", file, "fruit", "cherry"]);
    assert_status(&got, 0);
    assert_eq!(stdout(&got), "dark red\n");
    assert_eq!(stdout(&bough(&["get", "--hex", file, "raw", "00ff"])), "\n");
    assert_status(&bough(&["get", file, "fruit", "durian"]), 1);
    assert_eq!(stdout(&bough(&["tables", file])), "fruit\nraw\n");
    assert_eq!(
        stdout(&bough(&["tables", "--json", file])),
        "[\"fruit\",\"raw\"]\n"
    );
    let scan = |extra: &[&str]| {
        let mut args = vec!["scan", file, "fruit"];
        args.extend_from_slice(extra);
        let out = bough(&args);
        assert_status(&out, 0);
        stdout(&out)
    };
    assert_eq!(scan(&["--prefix", "ap"]), "apple\tred\napricot\t\n");
    assert_eq!(scan(&["--from", "b", "--to", "c"]), "banana\tyellow\n");
    assert_eq!(
        scan(&["--reverse", "--limit", "2"]),
        "cherry\tdark red\nbanana\tyellow\n"
    );
    assert_eq!(
        scan(&["--prefix", "a", "--reverse", "--limit", "1"]),
        "apricot\t\n"
    );
    assert_eq!(
        scan(&["--hex", "--prefix", "6368"]),
        "636865727279\t6461726b20726564\n"
    );
    assert_status(&bough(&["del", file, "fruit", "banana"]), 0);
    assert_status(&bough(&["del", file, "fruit", "banana"]), 1);
    assert_eq!(scan(&[]).lines().count(), 3);
    let db = Database::open_existing(&db).unwrap();
    db.check().unwrap();
}

/// Arbitrary bytes, empty keys and values, and large values survive dump and load exactly.
#[test]
fn dump_and_load_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source.bough");
    let mut want = Vec::new();
    {
        let db = Database::open(&source).unwrap();
        let wtx = db.begin_write().unwrap();
        {
            let mut t = wtx.open_table("bytes").unwrap();
            for i in 0..300u32 {
                let key: Vec<u8> = (0..(i % 17)).map(|j| (i * 31 + j * 7) as u8).collect();
                let value: Vec<u8> = match i % 50 {
                    0 => vec![(i % 256) as u8; 70_000],
                    _ => (0..(i % 23)).map(|j| (i ^ j) as u8).collect(),
                };
                t.insert(&key, &value).unwrap();
            }
            t.insert(b"", b"").unwrap();
        }
        wtx.open_table("empty table").unwrap();
        wtx.commit().unwrap();
        let rtx = db.begin_read().unwrap();
        for name in rtx.list_tables().unwrap() {
            let t = rtx.open_table(name.as_str()).unwrap();
            for entry in t.iter().unwrap() {
                let (k, v) = entry.unwrap();
                want.push((name.clone(), k.to_vec(), v.to_vec()));
            }
        }
    }
    let dump = bough(&["dump", path_str(&source)]);
    assert_status(&dump, 0);
    let target = dir.path().join("target.bough");
    let load = bough_with_input(&["load", path_str(&target)], &dump.stdout);
    assert_status(&load, 0);
    let db = Database::open_existing(&target).unwrap();
    db.check().unwrap();
    let rtx = db.begin_read().unwrap();
    assert_eq!(rtx.list_tables().unwrap(), ["bytes", "empty table"]);
    let mut got = Vec::new();
    for name in rtx.list_tables().unwrap() {
        for entry in rtx.open_table(name.as_str()).unwrap().iter().unwrap() {
            let (k, v) = entry.unwrap();
            got.push((name.clone(), k.to_vec(), v.to_vec()));
        }
    }
    assert_eq!(got, want);
    // One table only; a dump cut short loads nothing.
    let one = bough(&["dump", path_str(&source), "--table", "empty table"]);
    assert_eq!(
        stdout(&one),
        "bough-dump 1\ntable 656d707479207461626c65\nend\n"
    );
    let cut = &dump.stdout[..dump.stdout.len() - 4];
    let partial = dir.path().join("partial.bough");
    assert_status(&bough_with_input(&["load", path_str(&partial)], cut), 2);
    {
        let db = Database::open_existing(&partial).unwrap();
        assert!(db.begin_read().unwrap().list_tables().unwrap().is_empty());
    }
    // Closed again first, so that the tool refuses the input, not the open.
    let refused = bough_with_input(&["load", path_str(&partial)], b"not a dump\n");
    assert_status(&refused, 2);
    assert!(
        !stderr(&refused).contains("open for writing"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn check_reports_damage_with_its_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.bough");
    {
        let db = Database::open(&path).unwrap();
        let wtx = db.begin_write().unwrap();
        let mut t = wtx.open_table("shared").unwrap();
        for i in 0..200u32 {
            t.insert(&i.to_be_bytes(), b"SHARED-LEAF-PATTERN").unwrap();
        }
        drop(t);
        wtx.commit().unwrap();
        // A second commit that leaves the first table's leaves alone: both metas reach them.
        let wtx = db.begin_write().unwrap();
        wtx.open_table("other").unwrap().insert(b"k", b"v").unwrap();
        wtx.commit().unwrap();
    }
    let ok = bough(&["check", path_str(&path)]);
    assert_status(&ok, 0);
    assert!(stdout(&ok).starts_with("ok:"));
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(19)
        .position(|w| w == b"SHARED-LEAF-PATTERN")
        .expect("the leaf's bytes");
    bytes[at] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    let damaged = bough(&["check", path_str(&path)]);
    assert_status(&damaged, 1);
    let page = at / 4096;
    assert!(
        stderr(&damaged).contains(&format!("page {page}")),
        "{}",
        stderr(&damaged)
    );
    assert_eq!(stderr(&damaged).lines().count(), 1);
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_status() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.bough");
    let out = bough(&["get", path_str(&missing), "t", "k"]);
    assert_status(&out, 2);
    assert!(stderr(&out).contains("no such file"));
    assert!(!missing.exists(), "a read never creates a file");
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, vec![7u8; 10_000]).unwrap();
    let out = bough(&["check", path_str(&garbage)]);
    assert_status(&out, 2);
    assert!(stderr(&out).contains("not a Bough database"));
    let db_path = dir.path().join("db.bough");
    assert_status(&bough(&["put", path_str(&db_path), "t", "k", "v"]), 0);
    let out = bough(&["scan", path_str(&db_path), "nosuch"]);
    assert_status(&out, 2);
    assert!(stderr(&out).contains("no table \"nosuch\""));
    assert_status(&bough(&["get", "--hex", path_str(&db_path), "t", "zz"]), 2);
    assert_status(&bough(&["frobnicate"]), 2);
    assert_status(&bough(&["get", path_str(&db_path)]), 2);
    // A file another process (here: this one) holds open for writing.
    let writer = Database::open(&db_path).unwrap();
    let out = bough(&["get", path_str(&db_path), "t", "k"]);
    assert_status(&out, 2);
    assert!(
        stderr(&out).contains("open for writing"),
        "{}",
        stderr(&out)
    );
    drop(writer);
    assert_status(&bough(&["get", path_str(&db_path), "t", "k"]), 0);
}

#[test]
fn info_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.bough");
    {
        let db = Database::open(&path).unwrap();
        let wtx = db.begin_write().unwrap();
        let mut t = wtx.open_table("t").unwrap();
        for i in 0..2_000u32 {
            t.insert(&i.to_be_bytes(), &[1; 100]).unwrap();
        }
        drop(t);
        wtx.commit().unwrap();
    }
    let info = bough(&["info", "--json", path_str(&path)]);
    assert_status(&info, 0);
    let value: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(value["page_size"], 4096);
    assert_eq!(value["mode"], "CopyOnWrite");
    assert_eq!(value["tables"][0]["name"], "t");
    assert_eq!(value["tables"][0]["entries"], 2000);
    assert!(value["tables"][0]["depth"].as_u64().unwrap() >= 2);
    assert!(stdout(&bough(&["info", path_str(&path)])).contains("2000 entries"));
    let dest = dir.path().join("copy.bough");
    let backup = bough(&["backup", "--json", path_str(&path), path_str(&dest)]);
    assert_status(&backup, 0);
    let report: serde_json::Value = serde_json::from_slice(&backup.stdout).unwrap();
    assert_eq!(report["entries"], 2000);
    assert_status(&bough(&["check", path_str(&dest)]), 0);
    let again = bough(&["backup", path_str(&path), path_str(&dest)]);
    assert_status(&again, 2);
    assert!(stderr(&again).contains("never overwritten"));
}

#[test]
fn pages_and_page_decode_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.bough");
    {
        let db = Database::open(&path).unwrap();
        let wtx = db.begin_write().unwrap();
        let mut t = wtx.open_table("t").unwrap();
        for i in 0..3_000u32 {
            t.insert(&i.to_be_bytes(), b"PAGE-PATTERN").unwrap();
        }
        t.insert(b"big", &vec![9; 20_000]).unwrap();
        drop(t);
        wtx.commit().unwrap();
        // A second commit elsewhere: both metas reach the table's pages, so damage to one
        // of them cannot make the open fall back to an older state.
        let wtx = db.begin_write().unwrap();
        wtx.open_table("other").unwrap().insert(b"k", b"v").unwrap();
        wtx.commit().unwrap();
    }
    let census = bough(&["pages", "--json", path_str(&path)]);
    assert_status(&census, 0);
    let c: serde_json::Value = serde_json::from_slice(&census.stdout).unwrap();
    let counted: u64 = ["meta", "branch", "leaf", "overflow", "freelist", "free"]
        .iter()
        .map(|k| c[k].as_u64().unwrap())
        .sum();
    assert_eq!(
        counted,
        c["high_water"].as_u64().unwrap(),
        "every page is counted once"
    );
    assert!(c["branch"].as_u64().unwrap() >= 1 && c["overflow"].as_u64().unwrap() == 5);
    let histogram: u64 = c["fill_histogram"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        histogram,
        c["branch"].as_u64().unwrap() + c["leaf"].as_u64().unwrap()
    );
    assert!(stdout(&bough(&["pages", path_str(&path)])).contains("fill of branch and leaf pages"));
    // Find a leaf by its bytes, decode it, then damage it and decode it again.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == b"PAGE-PATTERN")
        .unwrap();
    let id = (at / 4096).to_string();
    let page = bough(&["page", "--json", path_str(&path), &id]);
    assert_status(&page, 0);
    let p: serde_json::Value = serde_json::from_slice(&page.stdout).unwrap();
    assert_eq!(p["kind"], "leaf");
    assert_eq!(p["checksum_ok"], true);
    assert!(!p["cells"].as_array().unwrap().is_empty());
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let damaged = bough(&["page", path_str(&path), &id]);
    assert_status(&damaged, 0);
    assert!(
        stdout(&damaged).contains("does NOT match"),
        "{}",
        stdout(&damaged)
    );
    assert!(stdout(&bough(&["page", path_str(&path), "0"])).contains("a valid meta"));
    assert_status(&bough(&["page", path_str(&path), "999999"]), 2);
}

#[test]
fn compact_gives_space_back_in_both_modes() {
    for mode in [bough::Mode::CopyOnWrite, bough::Mode::Wal] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.bough");
        {
            let db = Database::builder().mode(mode).open(&path).unwrap();
            let wtx = db.begin_write().unwrap();
            let mut t = wtx.open_table("t").unwrap();
            for i in 0..50_000u32 {
                t.insert(&i.to_be_bytes(), &[1; 100]).unwrap();
            }
            drop(t);
            wtx.commit().unwrap();
            let wtx = db.begin_write().unwrap();
            let mut t = wtx.open_table("t").unwrap();
            for i in (0..50_000u32).filter(|i| i % 10 != 0) {
                t.remove(&i.to_be_bytes()).unwrap();
            }
            drop(t);
            wtx.commit().unwrap();
        }
        let out = bough(&["compact", "--json", path_str(&path)]);
        assert_status(&out, 0);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let (before, after) = (
            report["size_before"].as_u64().unwrap(),
            report["size_after"].as_u64().unwrap(),
        );
        assert!(after < before / 3, "{mode:?}: {before} -> {after} bytes");
        assert!(stdout(&bough(&["compact", path_str(&path)])).contains("compacted"));
        assert_status(&bough(&["check", path_str(&path)]), 0);
        let db = Database::builder().mode(mode).open(&path).unwrap();
        let rtx = db.begin_read().unwrap();
        assert_eq!(rtx.open_table("t").unwrap().len().unwrap(), 5_000);
    }
    let missing = bough(&["compact", "/nonexistent/db.bough"]);
    assert_status(&missing, 2);
}
