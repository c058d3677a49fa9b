//! `peers`: the side-by-side comparison of issue 5. Runs the same workloads on Bough, LMDB (heed),
//! redb and SQLite, prints a markdown table of medians, and writes results.md, results.csv and
//! chart.png. Each engine runs in a child process of this binary (`--child`), so the memory figures
//! are that engine's alone and one engine's caches never help another.

mod chart;
mod data;
mod engine;
mod engines;
mod memory;
mod metrics;
mod report;
mod workloads;

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use report::Results;

const USAGE: &str = "\
usage: peers [--count N] [--runs R] [--out DIR] [--engines LIST] [--large-values N]

  --count N         entries loaded (default 1000000)
  --runs R          runs of every engine; the report shows the median (default 3)
  --out DIR         where results.md, results.csv and chart.png go (default benches/peers/results)
  --engines LIST    comma-separated, from bough,bough-wal,lmdb,redb,sqlite (default all)
  --large-values N  1 MiB values in workload 8 (default 1000)

Databases live in a directory under $TMPDIR (default /tmp), deleted afterwards.";

struct Args {
    count: usize,
    runs: usize,
    out: PathBuf,
    engines: Vec<String>,
    large_values: usize,
    /// Hidden: run one engine in this process (`--child ENGINE --dir DIR --run I`).
    child: Option<(String, PathBuf, usize)>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        count: 1_000_000,
        runs: 3,
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("results"),
        engines: engine::ENGINES.iter().map(|e| e.to_string()).collect(),
        large_values: 1_000,
        child: None,
    };
    let (mut child_engine, mut child_dir, mut child_run) = (None, None, 0);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |v: String| {
            v.replace(['_', ','], "")
                .parse::<usize>()
                .map_err(|e| format!("{flag}: {e}"))
        };
        match flag.as_str() {
            "--count" => args.count = number(value()?)?,
            "--runs" => args.runs = number(value()?)?,
            "--out" => args.out = PathBuf::from(value()?),
            "--large-values" => args.large_values = number(value()?)?,
            "--engines" => {
                args.engines = value()?
                    .split(',')
                    .map(|e| e.trim().to_lowercase())
                    .filter(|e| !e.is_empty())
                    .collect();
                if let Some(bad) = args
                    .engines
                    .iter()
                    .find(|e| !engine::ENGINES.contains(&e.as_str()))
                {
                    return Err(format!(
                        "unknown engine {bad:?}; known: {}",
                        engine::ENGINES.join(",")
                    ));
                }
            }
            "--child" => child_engine = Some(value()?),
            "--dir" => child_dir = Some(PathBuf::from(value()?)),
            "--run" => child_run = number(value()?)?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if args.count < 2 || args.runs == 0 || args.engines.is_empty() {
        return Err("--count must be at least 2, --runs and --engines non-empty".into());
    }
    if let Some(engine) = child_engine {
        args.child = Some((engine, child_dir.ok_or("--child needs --dir")?, child_run));
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("peers: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some((engine, dir, run)) = &args.child {
        workloads::run_child(&workloads::Params {
            engine: engine.clone(),
            dir: dir.clone(),
            count: args.count,
            large_values: args.large_values,
            run: *run,
        });
        return ExitCode::SUCCESS;
    }
    match run_parent(&args) {
        Ok(results) if results.errors.is_empty() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("peers: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run_parent(args: &Args) -> engine::Res<Results> {
    let exe = std::env::current_exe()?;
    let tmp = std::env::temp_dir().join(format!("bough-peers-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    std::fs::create_dir_all(&args.out)?;
    let mut results = Results {
        engines: args.engines.clone(),
        count: args.count,
        runs: args.runs,
        large_values: args.large_values,
        date: today(),
        machine: format!("{}; {}", bough_revision(), machine(&tmp)),
        ..Results::default()
    };
    // Runs interleave the engines, each run starting one engine further along, so a slow spell of
    // the (shared) machine does not always hit the same engine.
    for run in 0..args.runs {
        let mut order = args.engines.clone();
        let shift = run % order.len();
        order.rotate_left(shift);
        for engine in order.iter().map(String::as_str) {
            let dir = tmp.join(format!("{engine}-{run}"));
            std::fs::create_dir_all(&dir)?;
            results.loads.extend(load_average());
            let output = Command::new(&exe)
                .args([
                    "--child",
                    engine,
                    "--run",
                    &run.to_string(),
                    "--count",
                    &args.count.to_string(),
                ])
                .args(["--large-values", &args.large_values.to_string()])
                .arg("--dir")
                .arg(&dir)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()?;
            results.absorb(engine, run, &String::from_utf8_lossy(&output.stdout));
            if !output.status.success() {
                results.error(
                    engine,
                    run,
                    "process",
                    &format!("the child process ended with {}", output.status),
                );
            }
            if let Err(err) = std::fs::remove_dir_all(&dir) {
                eprintln!("warning: could not delete {}: {err}", dir.display());
            }
        }
    }
    std::fs::remove_dir_all(&tmp).ok();

    let md = results.markdown();
    println!("{md}");
    std::fs::write(args.out.join("results.md"), &md)?;
    std::fs::write(args.out.join("results.csv"), results.csv())?;
    chart::draw(&results, &args.out.join("chart.png"))?;
    eprintln!(
        "wrote results.md, results.csv and chart.png to {}",
        args.out.display()
    );
    Ok(results)
}

/// Today's date (UTC) as YYYY-MM-DD, from the civil-from-days algorithm.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Which Bough was measured: the commit of the tree this crate sits in, and whether src/ had
/// uncommitted changes when the run started (read-only git queries; "unknown" without git).
fn bough_revision() -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("--no-optional-locks")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--", "src"]).is_some_and(|s| !s.is_empty());
            format!(
                "Bough at {commit}{}",
                if dirty {
                    " plus uncommitted changes in src/"
                } else {
                    ""
                }
            )
        }
        None => "Bough at an unknown revision".into(),
    }
}

/// The 1-minute load average, from /proc/loadavg.
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU model, core count, memory and the file system the databases live on.
fn machine(tmp: &std::path::Path) -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mem_gib = memory_total_kib() as f64 / (1024.0 * 1024.0);
    format!(
        "{cpu}, {cores} cores, {mem_gib:.0} GiB RAM, databases on {} ({})",
        tmp.parent().unwrap_or(tmp).display(),
        fs_type(tmp)
    )
}

fn memory_total_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The type of the file system holding `path`: the longest mount point that prefixes it.
fn fs_type(path: &std::path::Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, point, kind) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(point)
                .then(|| (point.len(), kind.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "unknown fs".into(), |(_, kind)| kind)
}
