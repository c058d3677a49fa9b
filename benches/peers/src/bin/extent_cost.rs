//! What a durable commit's write pattern costs on this disk, without any engine: the median time
//! of fdatasync after writing N 4 KiB pages at scattered places in an allocated file, against the
//! same N pages in one extent plus one page at the start (a meta page), the extent alone, and the
//! extent placed right after the previous round's (as commits that append one after another
//! would), with and without the meta page. N = 6 is about a single-insert copy-on-write commit;
//! N = 1,100 about a 1,000-insert batch. Last, one page rewritten at the same place each time, as
//! the peers' disk floor (workload 10) does. Then the cost of single-page writes into a page cache
//! that big writes filled, against one that page-sized writes filled.
//!
//! Run: `cd benches/peers && cargo run --release --bin extent-cost`. The file lives under
//! `$TMPDIR` (default /tmp), as the peers' databases do, and is deleted afterwards.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Instant;

const PAGE: usize = 4096;
const FILE_PAGES: u64 = 32_768; // 128 MiB

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Median microseconds of `rounds` rounds of `write` followed by one fdatasync.
fn median_us(
    file: &File,
    rounds: usize,
    mut write: impl FnMut(&File) -> std::io::Result<()>,
) -> std::io::Result<f64> {
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let start = Instant::now();
        write(file)?;
        file.sync_data()?;
        times.push(start.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[rounds / 2])
}

fn main() -> std::io::Result<()> {
    let path = std::env::temp_dir().join(format!("bough-extent-cost-{}", std::process::id()));
    let file = File::create(&path)?;
    // Allocate every block first, so no write below changes file metadata.
    let chunk = vec![0x5Au8; 256 * PAGE];
    for at in (0..FILE_PAGES as usize * PAGE).step_by(chunk.len()) {
        file.write_all_at(&chunk, at as u64)?;
    }
    file.sync_all()?;
    let mut seed = 42u64;
    let page = vec![0xA5u8; PAGE];
    println!(
        "| pages written | scattered, us | one extent + a meta page, us | one extent, us \
         | extent after the previous one + a meta page, us | extent after the previous one, us |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    // Where the next "after the previous one" extent starts: the rounds walk through the file.
    let mut next = 2u64;
    for (pages, rounds) in [(1usize, 300usize), (6, 300), (1_100, 15)] {
        let run = vec![0xC3u8; pages * PAGE];
        let scattered = median_us(&file, rounds, |f| {
            let mut ids: Vec<u64> = (0..pages)
                .map(|_| 2 + splitmix(&mut seed) % (FILE_PAGES - 2))
                .collect();
            ids.sort_unstable();
            ids.iter()
                .try_for_each(|&id| f.write_all_at(&page, id * PAGE as u64))
        })?;
        let extent = median_us(&file, rounds, |f| {
            let start = 2 + splitmix(&mut seed) % (FILE_PAGES - 2 - pages as u64);
            f.write_all_at(&run, start * PAGE as u64)?;
            f.write_all_at(&page, 0)
        })?;
        let alone = median_us(&file, rounds, |f| {
            let start = 2 + splitmix(&mut seed) % (FILE_PAGES - 2 - pages as u64);
            f.write_all_at(&run, start * PAGE as u64)
        })?;
        let mut after_previous = |with_meta: bool| {
            median_us(&file, rounds, |f| {
                if next + pages as u64 > FILE_PAGES {
                    next = 2;
                }
                f.write_all_at(&run, next * PAGE as u64)?;
                next += pages as u64;
                match with_meta {
                    true => f.write_all_at(&page, 0),
                    false => Ok(()),
                }
            })
        };
        let sequential_meta = after_previous(true)?;
        let sequential = after_previous(false)?;
        println!(
            "| {pages} | {scattered:.0} | {extent:.0} | {alone:.0} | {sequential_meta:.0} \
             | {sequential:.0} |"
        );
    }
    // The peers' workload 10 rewrites one block: the disk may charge less for a recent place.
    let same_place = median_us(&file, 300, |f| f.write_all_at(&page, 2 * PAGE as u64))?;
    println!(
        "\nOne page rewritten at the same place each time (the peers' floor): {same_place:.0} us"
    );
    drop(file);
    std::fs::remove_file(&path)?;
    folio_cost(&path, &mut seed)
}

/// The same scattered single-page writes into a file whose page cache was filled by 4 KiB
/// writes, against one filled by 1 MiB writes: the kernel sizes the cache folios a write
/// creates by its length, and a page written into a large folio costs more to copy in and to
/// sync (DESIGN.md, "Page-sized writes").
fn folio_cost(path: &std::path::Path, seed: &mut u64) -> std::io::Result<()> {
    println!(
        "\n| cache filled by writes of | 4 KiB pwrite, us (CPU) | 6 scattered pages + fdatasync, us |"
    );
    println!("|---:|---:|---:|");
    let page = vec![0xA5u8; PAGE];
    let mut pieces = None;
    for fill in [PAGE, 256 * PAGE] {
        let file = File::create(path)?;
        let chunk = vec![0x5Au8; fill];
        for at in (0..FILE_PAGES as usize * PAGE).step_by(fill) {
            file.write_all_at(&chunk, at as u64)?;
        }
        file.sync_all()?;
        let writes = 20_000;
        let start = Instant::now();
        for _ in 0..writes {
            let id = 2 + splitmix(seed) % (FILE_PAGES - 2);
            file.write_all_at(&page, id * PAGE as u64)?;
        }
        let per_write = start.elapsed().as_secs_f64() * 1e6 / writes as f64;
        file.sync_data()?;
        let synced = median_us(&file, 300, |f| {
            (0..6).try_for_each(|_| {
                let id = 2 + splitmix(seed) % (FILE_PAGES - 2);
                f.write_all_at(&page, id * PAGE as u64)
            })
        })?;
        println!("| {} KiB | {per_write:.2} | {synced:.0} |", fill / 1024);
        if fill == PAGE {
            pieces = Some(pieces_cost(&file, seed)?);
        }
        drop(file);
        std::fs::remove_file(path)?;
    }
    if let Some((one, pieces)) = pieces {
        println!(
            "\n6 contiguous pages + fdatasync, page-sized cache: one write {one:.0} us, \
             six 4 KiB writes {pieces:.0} us"
        );
    }
    Ok(())
}

/// Six contiguous pages written as one write and as six page-sized writes, each followed by
/// fdatasync: writeback sends contiguous dirty pages together, so the pieces cost the same.
fn pieces_cost(file: &File, seed: &mut u64) -> std::io::Result<(f64, f64)> {
    let run = vec![0xC3u8; 6 * PAGE];
    let at = |seed: &mut u64| 2 + splitmix(seed) % (FILE_PAGES - 8);
    let one = median_us(file, 300, |f| f.write_all_at(&run, at(seed) * PAGE as u64))?;
    let pieces = median_us(file, 300, |f| {
        let start = at(seed);
        run.chunks(PAGE)
            .zip(start..)
            .try_for_each(|(piece, id)| f.write_all_at(piece, id * PAGE as u64))
    })?;
    Ok((one, pieces))
}
