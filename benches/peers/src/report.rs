//! Collects the children's figures, takes medians, and writes the markdown table and the CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::metrics::{self, Better, METRICS, Metric, Target};

/// Figures of the machine or the harness rather than of the engine: no "Bough vs" ratio.
const NOT_ENGINE_FIGURES: [&str; 2] = ["w10_floor_us", "mem_base_anon_mib"];

#[derive(Debug)]
pub struct RunError {
    pub engine: String,
    pub run: usize,
    pub workload: String,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Results {
    /// The engines compared, in the order asked for.
    pub engines: Vec<String>,
    pub count: usize,
    pub runs: usize,
    pub large_values: usize,
    pub date: String,
    pub machine: String,
    /// Per (engine, metric id): the value of each run that produced one.
    pub values: BTreeMap<(String, &'static str), Vec<(usize, f64)>>,
    pub errors: Vec<RunError>,
    /// The 1-minute load average before each child started: other work on the machine.
    pub loads: Vec<f64>,
}

impl Results {
    /// Reads one child's stdout (`M id value` and `E workload message` lines).
    pub fn absorb(&mut self, engine: &str, run: usize, stdout: &str) {
        for line in stdout.lines() {
            let mut fields = line.splitn(3, '\t');
            match (fields.next(), fields.next(), fields.next()) {
                (Some("M"), Some(id), Some(value)) => {
                    match (metrics::find(id), value.parse::<f64>()) {
                        (Some(metric), Ok(value)) => self
                            .values
                            .entry((engine.to_string(), metric.id))
                            .or_default()
                            .push((run, value)),
                        _ => eprintln!("warning: unreadable line from {engine}: {line}"),
                    }
                }
                (Some("E"), Some(workload), Some(message)) => {
                    self.error(engine, run, workload, message)
                }
                _ => {}
            }
        }
    }

    pub fn error(&mut self, engine: &str, run: usize, workload: &str, message: &str) {
        self.errors.push(RunError {
            engine: engine.to_string(),
            run,
            workload: workload.to_string(),
            message: message.to_string(),
        });
    }

    /// The median over runs.
    pub fn median(&self, engine: &str, id: &str) -> Option<f64> {
        let runs = self
            .values
            .get(&(engine.to_string(), metrics::find(id)?.id))?;
        median(runs.iter().map(|&(_, v)| v).collect())
    }

    /// How many times better Bough is than `other` on `metric` (> 1: Bough better).
    pub fn advantage(&self, metric: &Metric, other: &str) -> Option<f64> {
        if NOT_ENGINE_FIGURES.contains(&metric.id) {
            return None;
        }
        let bough = self.median("bough", metric.id)?;
        let other = self.median(other, metric.id)?;
        let ratio = match metric.better {
            Better::Higher => bough / other,
            Better::Lower => other / bough,
        };
        ratio.is_finite().then_some(ratio)
    }

    /// Whether Bough meets the target on `metric`; `None` where there is no target or a
    /// figure is missing.
    pub fn target_met(&self, metric: &Metric) -> Option<bool> {
        match metric.target {
            Target::None => None,
            Target::Beat(others, ratio) => {
                let mut met = true;
                for other in others {
                    met &= self.advantage(metric, other)? >= ratio;
                }
                Some(met)
            }
            Target::AtMost(limit) => Some(self.median("bough", metric.id)? <= limit),
            Target::AtLeast(limit) => Some(self.median("bough", metric.id)? >= limit),
        }
    }

    fn has(&self, engine: &str) -> bool {
        self.engines.iter().any(|e| e == engine)
    }

    /// The markdown report: a table of medians, Bough's ratios and the targets, then notes.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "## Peer comparison, {}\n", self.date);
        let _ = writeln!(
            md,
            "{} entries (24-byte random keys, 150-byte random values), {} large values of 1 MiB; \
             median of {} run{}. {}.\n",
            group_digits(self.count as f64),
            self.large_values,
            self.runs,
            if self.runs == 1 { "" } else { "s" },
            self.machine,
        );
        if let (Some(lo), Some(hi)) = (
            self.loads.iter().copied().reduce(f64::min),
            self.loads.iter().copied().reduce(f64::max),
        ) {
            let _ = writeln!(
                md,
                "The 1-minute load average before each engine's run was {lo:.2} to {hi:.2}. The benchmark \
                 alone keeps it near 1; more means other work shared the machine and the figures \
                 are noisier.\n"
            );
        }
        let peers: Vec<&str> = ["lmdb", "redb"]
            .into_iter()
            .filter(|e| self.has("bough") && self.has(e))
            .collect();
        let mut header = String::from("| workload | unit |");
        let mut rule = String::from("|---|---|");
        for engine in &self.engines {
            let _ = write!(header, " {} |", display_name(engine));
            rule.push_str("---:|");
        }
        for peer in &peers {
            let _ = write!(header, " Bough vs {} |", display_name(peer));
            rule.push_str("---:|");
        }
        header.push_str(" target | met |");
        rule.push_str("---|---|");
        let _ = writeln!(md, "{header}\n{rule}");
        for metric in METRICS {
            let mut row = format!("| {} | {} |", metric.label, metric.unit);
            for engine in &self.engines {
                let cell = self
                    .median(engine, metric.id)
                    .map(format_value)
                    .unwrap_or_else(|| "-".into());
                let _ = write!(row, " {cell} |");
            }
            for peer in &peers {
                let cell = self
                    .advantage(metric, peer)
                    .map(|r| format!("{r:.2}x"))
                    .unwrap_or_default();
                let _ = write!(row, " {cell} |");
            }
            let met = match self.target_met(metric) {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            let _ = writeln!(row, " {} | {met} |", target_text(metric.target));
            md.push_str(&row);
        }
        md.push('\n');
        let floors: Vec<f64> = (self.values.iter())
            .filter(|((_, id), _)| *id == "w10_floor_us")
            .flat_map(|(_, runs)| runs.iter().map(|&(_, v)| v))
            .collect();
        let (lo, hi) = (
            floors.iter().copied().reduce(f64::min),
            floors.iter().copied().reduce(f64::max),
        );
        if let (Some(floor), Some(lo), Some(hi)) = (median(floors), lo, hi) {
            let _ = writeln!(
                md,
                "Workload 10, the disk floor: one 4 KiB pwrite + fdatasync over allocated blocks, on the \
                 disk under the databases, takes {} us (median of all engines' processes; {} to {} us). \
                 Each engine's process measures it just before its workload 2, and \"commit / disk \
                 floor\" divides by that same process's floor.\n",
                format_value(floor),
                format_value(lo),
                format_value(hi),
            );
        }
        let _ = writeln!(
            md,
            "\"Bough vs X\" is how many times better Bough is (X's time / Bough's time, or Bough's \
             rate / X's rate; above 1 means Bough wins). File sizes count every file the engine \
             keeps (SQLite: database + WAL; LMDB: data + lock). RssAnon is sampled every 5 ms in the \
             engine's own process and includes the harness's key array (the last row).\n"
        );
        if !self.errors.is_empty() {
            let _ = writeln!(md, "### Errors\n");
            for e in &self.errors {
                let _ = writeln!(
                    md,
                    "- {} run {}, {}: {}",
                    e.engine,
                    e.run + 1,
                    e.workload,
                    e.message
                );
            }
            md.push('\n');
        }
        md
    }

    /// One row per (metric, engine): the median, then every run's value.
    pub fn csv(&self) -> String {
        let mut csv = String::from("metric,label,unit,better,engine,median");
        for run in 1..=self.runs {
            let _ = write!(csv, ",run{run}");
        }
        csv.push('\n');
        for metric in METRICS {
            for engine in &self.engines {
                let Some(median) = self.median(engine, metric.id) else {
                    continue;
                };
                let better = match metric.better {
                    Better::Higher => "higher",
                    Better::Lower => "lower",
                };
                let _ = write!(
                    csv,
                    "{},\"{}\",{},{better},{engine},{median}",
                    metric.id, metric.label, metric.unit
                );
                let runs = self.values.get(&(engine.to_string(), metric.id));
                for run in 0..self.runs {
                    let value = runs
                        .and_then(|r| r.iter().find(|&&(i, _)| i == run))
                        .map(|&(_, v)| v.to_string());
                    let _ = write!(csv, ",{}", value.unwrap_or_default());
                }
                csv.push('\n');
            }
        }
        csv
    }
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[mid]),
        _ => Some((values[mid - 1] + values[mid]) / 2.0),
    }
}

pub fn display_name(engine: &str) -> &str {
    match engine {
        "bough" => "Bough",
        "bough-wal" => "Bough (log)",
        "lmdb" => "LMDB",
        "redb" => "redb",
        "sqlite" => "SQLite",
        other => other,
    }
}

fn target_text(target: Target) -> String {
    match target {
        Target::None => String::new(),
        Target::Beat(others, ratio) => {
            let names: Vec<&str> = others.iter().map(|e| display_name(e)).collect();
            if ratio == 1.0 {
                format!("at least {}", names.join(" and "))
            } else {
                format!("{ratio}x better than {}", names.join(" and "))
            }
        }
        Target::AtMost(limit) => format!("at most {limit}"),
        Target::AtLeast(limit) => format!("at least {limit}"),
    }
}

/// Three significant figures or so, with thousands separators for large numbers.
pub fn format_value(v: f64) -> String {
    let a = v.abs();
    if a >= 10_000.0 {
        group_digits(v)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn group_digits(v: f64) -> String {
    let digits = format!("{:.0}", v.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0.0 { format!("-{out}") } else { out }
}
