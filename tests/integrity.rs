//! Integrity: the check's accounting, and damaged or foreign files reported as errors, never
//! as panics or wrong data.

mod common;

use std::collections::BTreeMap;
use std::fs;

use bough::{Database, Error};
use common::{Entries, Options, Rng, TestDb, check_ok, value, write};

/// Files that are not databases (random bytes of various lengths, zeros) are refused with
/// NotADatabase or Corruption, never a panic and never an open database.
#[test]
fn a_file_of_random_bytes_is_not_a_database() {
    let mut rng = Rng::new(7);
    let mut contents: Vec<Vec<u8>> = [16, 100, 4096, 8192, 3 * 4096 + 17, 2 * 65536]
        .iter()
        .map(|&len| rng.bytes(len))
        .collect();
    contents.push(vec![0; 8192]);
    for bytes in contents {
        let mut test_db = TestDb::unopened(Options::default());
        fs::write(test_db.path(), &bytes).unwrap();
        match test_db.try_open() {
            Err(Error::NotADatabase | Error::Corruption { .. }) => {}
            Err(other) => panic!(
                "{} bytes: expected NotADatabase or Corruption, got {other:?}",
                bytes.len()
            ),
            Ok(()) => panic!("{} bytes of garbage opened as a database", bytes.len()),
        }
    }
}

/// The data of the damaged-file test: small entries, mid-size entries, and overflow values
/// spanning several pages.
fn corruption_fixture() -> BTreeMap<String, Entries> {
    let alpha = (0..800u64).map(|i| {
        (
            format!("alpha-{i:05}").into_bytes(),
            value(i, 20 + i as usize % 60),
        )
    });
    let beta = (0..300u64).map(|i| (format!("beta-{i:04}").into_bytes(), value(1000 + i, 300)));
    let blobs = (0..6u64).map(|i| {
        (
            format!("blob-{i}").into_bytes(),
            value(2000 + i, 5_000 * (i as usize + 1)),
        )
    });
    BTreeMap::from([
        ("alpha".to_string(), alpha.collect()),
        ("beta".to_string(), beta.collect()),
        ("blobs".to_string(), blobs.collect()),
    ])
}

/// Some(value) for success, None (noting the damage) for Corruption; any other error fails
/// the test, since a damaged page must be reported as Corruption.
fn ok_or_corrupt<T>(
    result: bough::Result<T>,
    flipped: u64,
    what: &str,
    damaged: &mut bool,
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(Error::Corruption { page, .. }) => {
            // The damaged page itself, or the first page of the overflow run it belongs to.
            assert!(
                (2..=flipped).contains(&page),
                "byte flipped in page {flipped}: {what} blamed page {page}"
            );
            *damaged = true;
            None
        }
        Err(other) => {
            panic!("byte flipped in page {flipped}: {what} returned {other:?}, not Corruption")
        }
    }
}

/// An iteration yields the expected entries in order until it ends or reports Corruption.
fn walk_is_right_or_corrupt<'a, 'w>(
    items: impl Iterator<Item = bough::Result<(&'a [u8], &'a [u8])>>,
    mut want: impl Iterator<Item = &'w (Vec<u8>, Vec<u8>)>,
    context: &str,
    flipped: u64,
    damaged: &mut bool,
) {
    let mut seen = 0;
    for item in items {
        let Some((k, v)) = ok_or_corrupt(item, flipped, "range item", damaged) else {
            return;
        };
        let right = want
            .next()
            .is_some_and(|(wk, wv)| k == wk.as_slice() && v == wv.as_slice());
        assert!(right, "{context}: item {seen} is wrong");
        seen += 1;
    }
    assert!(
        want.next().is_none(),
        "{context}: the iteration ended after {seen} items"
    );
}

/// Reads everything every way; every answer is either right or Corruption. Returns whether
/// any read reported Corruption.
fn reads_are_right_or_corrupt(
    db: &Database,
    expected: &BTreeMap<String, Entries>,
    flipped: u64,
) -> bool {
    let mut damaged = false;
    let d = &mut damaged;
    let Some(rtx) = ok_or_corrupt(db.begin_read(), flipped, "begin_read", d) else {
        return true;
    };
    if let Some(names) = ok_or_corrupt(rtx.list_tables(), flipped, "list_tables", d) {
        assert!(
            names.iter().eq(expected.keys()),
            "page {flipped}: wrong table list {names:?}"
        );
    }
    for (name, entries) in expected {
        let Some(t) = ok_or_corrupt(rtx.open_table(name), flipped, "open_table", d) else {
            continue;
        };
        if let Some(len) = ok_or_corrupt(t.len(), flipped, "len", d) {
            assert_eq!(
                len,
                entries.len() as u64,
                "page {flipped}: wrong len of {name}"
            );
        }
        for (k, v) in entries {
            if let Some(got) = ok_or_corrupt(t.get(k), flipped, "get", d) {
                assert!(
                    got == Some(&v[..]),
                    "page {flipped}: wrong value for {}",
                    common::show(k)
                );
            }
        }
        for reverse in [false, true] {
            if let Some(range) = ok_or_corrupt(t.iter(), flipped, "iter", d) {
                let context = format!("page {flipped}: {name} (reverse: {reverse})");
                if reverse {
                    walk_is_right_or_corrupt(
                        range.rev(),
                        entries.iter().rev(),
                        &context,
                        flipped,
                        d,
                    );
                } else {
                    walk_is_right_or_corrupt(range, entries.iter(), &context, flipped, d);
                }
            }
        }
    }
    damaged
}

/// Flipping one byte in the middle of any page past the metas never panics and never yields
/// wrong data. Damage to a live page is reported as Corruption (by open, check() or the
/// reads), and check() finds whatever the reads find. The one alternative: damage to a page
/// the newest commit wrote may be taken for a torn commit, and then the open falls back to
/// the previous commit, says so in stats(), and shows exactly that commit.
#[test]
fn a_flipped_byte_in_any_page_is_detected_never_misread() {
    const PAGE: usize = 4096;
    let mut test_db = TestDb::with(Options::page_size(PAGE));
    let previous = corruption_fixture();
    // The bulk in one commit into a fresh file, so nearly every page is live...
    write(test_db.db(), |w| {
        for (name, entries) in &previous {
            let mut t = w.open_table(name).unwrap();
            for (k, v) in entries {
                t.insert(k, v).unwrap();
            }
        }
    });
    let before_latest = fs::read(test_db.path()).unwrap();
    // ...then a small commit on top (its key sorts last in "alpha").
    let (key, val) = (b"alpha-zz-last".to_vec(), value(7, 40));
    write(test_db.db(), |w| {
        w.open_table("alpha").unwrap().insert(&key, &val).unwrap()
    });
    let mut latest = previous.clone();
    latest.get_mut("alpha").unwrap().push((key, val));

    let report = check_ok(test_db.db());
    let high_water = test_db.db().stats().unwrap().high_water;
    let live =
        report.branch_pages + report.leaf_pages + report.overflow_pages + report.freelist_pages;
    assert!(
        report.overflow_pages > 0 && live > 20,
        "the fixture is too small: {report:?}"
    );
    test_db.close();
    test_db.skip_check(); // from here on the file is damaged on purpose
    let pristine = fs::read(test_db.path()).unwrap();
    assert!(pristine.len() >= high_water as usize * PAGE);
    let written_by_latest = |page: usize| {
        let range = page * PAGE..(page + 1) * PAGE;
        before_latest.get(range.clone()) != pristine.get(range)
    };

    let mut detected = 0;
    for page in 2..high_water {
        let mut bytes = pristine.clone();
        bytes[page as usize * PAGE + 100] ^= 0x5a;
        fs::write(test_db.path(), &bytes).unwrap();
        let mut damaged = false;
        if ok_or_corrupt(test_db.try_open(), page, "open", &mut damaged).is_none() {
            detected += 1;
            continue;
        }
        let stats = ok_or_corrupt(test_db.db().stats(), page, "stats", &mut damaged);
        let fell_back = stats.is_some_and(|s| s.fell_back_to_older_meta);
        assert!(
            !fell_back || written_by_latest(page as usize),
            "page {page}: the open fell back although the newest commit did not write this page"
        );
        let expected = if fell_back { &previous } else { &latest };
        let by_check = ok_or_corrupt(test_db.db().check(), page, "check", &mut damaged).is_none();
        let by_reads = reads_are_right_or_corrupt(test_db.db(), expected, page);
        assert!(
            by_check || !by_reads,
            "page {page}: the reads found damage that check() missed"
        );
        if fell_back || damaged || by_reads {
            detected += 1;
        }
        test_db.close();
    }
    assert!(
        detected >= live,
        "damage was noticed in {detected} of {} pages, but {live} pages are live ({report:?})",
        high_water - 2
    );
}

/// check() counts what was written and accounts for every page below the high-water mark
/// exactly once (metas, tree pages, freelist pages, free pages), in agreement with stats()
/// and unchanged by a reopen.
#[test]
fn check_report_accounts_for_every_page() {
    let mut test_db = TestDb::with(Options::page_size(4096));
    write(test_db.db(), |w| {
        {
            let mut small = w.open_table("small").unwrap();
            for i in 0..1000u32 {
                small
                    .insert(&i.to_be_bytes(), &value(i.into(), 50))
                    .unwrap();
            }
        }
        let mut big = w.open_table("big").unwrap();
        for i in 0..3u32 {
            big.insert(&i.to_be_bytes(), &value(i.into(), 20_000))
                .unwrap();
        }
    });
    // A second commit frees pages, so the free list is not empty.
    write(test_db.db(), |w| {
        {
            let mut small = w.open_table("small").unwrap();
            for i in (0..1000u32).step_by(2) {
                assert!(small.remove(&i.to_be_bytes()).unwrap());
            }
        }
        let mut big = w.open_table("big").unwrap();
        big.insert(&0u32.to_be_bytes(), &value(99, 20_000)).unwrap();
    });
    let report = check_ok(test_db.db());
    let stats = test_db.db().stats().unwrap();
    assert_eq!((report.tables, report.entries), (2, 503), "{report:?}");
    assert!(
        report.overflow_pages >= 15,
        "three 20 KB values need 5 pages each: {report:?}"
    );
    assert!(report.free_pages > 0, "{report:?}");
    let accounted = 2
        + report.branch_pages
        + report.leaf_pages
        + report.overflow_pages
        + report.freelist_pages
        + report.free_pages;
    assert_eq!(accounted, report.high_water, "{report:?}");
    assert_eq!(report.high_water, stats.high_water);
    assert_eq!(
        (
            report.branch_pages,
            report.leaf_pages,
            report.overflow_pages,
            report.freelist_pages
        ),
        (
            stats.branch_pages,
            stats.leaf_pages,
            stats.overflow_pages,
            stats.freelist_pages
        ),
    );
    assert_eq!(report.free_pages, stats.free_pages + stats.pending_pages);
    test_db.reopen();
    assert_eq!(check_ok(test_db.db()), report);
}
