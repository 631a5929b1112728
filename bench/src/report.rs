//! Collects measurements per server and formats them as Markdown.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Result;

use crate::servers::TreeMemory;
use crate::stats::{median, median_f64, ratio};
use crate::workloads::{Measurement, Metric, Workload};

/// Name of the reference server, the denominator of every ratio.
const REFERENCE: &str = "Dovecot";
/// Name of the measured server, the numerator of every ratio.
const CANDIDATE: &str = "asimapd";

/// The runs of one workload against each server.
#[derive(Debug)]
pub struct Row {
    name: String,
    metric: Metric,
    max_ratio: f64,
    runs: BTreeMap<&'static str, Vec<Measurement>>,
    failures: BTreeMap<&'static str, String>,
    /// One-minute load average read before each run.
    loads: Vec<f64>,
}

impl Row {
    pub fn new(workload: &Workload) -> Row {
        Row {
            name: workload.name.clone(),
            metric: workload.metric,
            max_ratio: workload.max_ratio,
            runs: BTreeMap::new(),
            failures: BTreeMap::new(),
            loads: Vec::new(),
        }
    }

    /// Records the one-minute load average before a run.
    pub fn record_load(&mut self, load: f64) {
        self.loads.push(load);
    }

    fn load_range(&self) -> String {
        let low = self.loads.iter().copied().reduce(f64::min);
        let high = self.loads.iter().copied().reduce(f64::max);
        match (low, high) {
            (Some(low), Some(high)) => format!("{low:.1}–{high:.1}"),
            _ => "n/a".to_owned(),
        }
    }

    /// Records one run; the first failure of a server is kept as its result.
    pub fn record(&mut self, server: &'static str, result: Result<Measurement>) {
        match result {
            Ok(measurement) => self.runs.entry(server).or_default().push(measurement),
            Err(error) => {
                self.failures
                    .entry(server)
                    .or_insert_with(|| format!("{error:#}"));
            }
        }
    }

    /// Median elapsed time of a server that completed every run.
    fn median_time(&self, server: &str) -> Option<Duration> {
        if self.failures.contains_key(server) {
            return None;
        }
        let times: Vec<Duration> = self.runs.get(server)?.iter().map(|m| m.elapsed).collect();
        median(&times)
    }

    fn cell(&self, server: &str) -> String {
        if let Some(failure) = self.failures.get(server) {
            return format!("not run: {}", one_line(failure));
        }
        let Some(runs) = self.runs.get(server) else {
            return "not started".to_owned();
        };
        let Some(time) = self.median_time(server) else {
            return "no runs".to_owned();
        };
        let mut text = format_duration(time);
        let rates: Vec<f64> = runs
            .iter()
            .map(|m| match self.metric {
                Metric::Time => 0.0,
                Metric::MegabytesPerSecond => m.bytes as f64 / 1e6 / m.elapsed.as_secs_f64(),
                Metric::OperationsPerSecond => m.operations as f64 / m.elapsed.as_secs_f64(),
            })
            .collect();
        let rate = median_f64(&rates).unwrap_or_default();
        match self.metric {
            Metric::Time => {}
            Metric::MegabytesPerSecond => {
                let _ = write!(text, " ({rate:.1} MB/s)");
            }
            Metric::OperationsPerSecond => {
                let errors: u64 = runs.iter().map(|m| m.errors).sum();
                let _ = write!(text, " ({rate:.0} ops/s, {errors} errors)");
            }
        }
        let notes: Vec<&str> = runs
            .iter()
            .map(|m| m.note.as_str())
            .filter(|note| !note.is_empty() && !note.ends_with(" errors"))
            .collect();
        if let Some(first) = notes.first() {
            let _ = write!(text, "; {first}");
        }
        text
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    let mut short: String = line.chars().take(120).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short.replace('|', "\\|")
}

fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds >= 1.0 {
        format!("{seconds:.2} s")
    } else {
        format!("{:.1} ms", seconds * 1e3)
    }
}

/// Returns the one-minute load average from `/proc/loadavg`, or `None` when it cannot be read.
pub fn load_average() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Describes the machine: processor model and count, and total memory.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name")?.split_once(':'))
        .map_or("model not reported", |(_, model)| model.trim());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    format!(
        "{cores} cores ({model}), {:.1} GiB of memory",
        mib(memory_kib) / 1024.0
    )
}

/// Formats the header lines that say what was measured.
pub fn environment(seed: u64, tls: &[(String, String)]) -> String {
    let mut text = format!("Machine: {}.\n\nCorpus seed: {seed:#x}.\n\n", machine());
    for (server, summary) in tls {
        let _ = writeln!(text, "- {server} TLS: {summary}");
    }
    text.push('\n');
    text
}

/// Formats the table of medians and ratios.
pub fn table(rows: &[Row]) -> String {
    let mut text = String::from(
        "| workload | Dovecot (median) | asimapd (median) | asimapd/Dovecot | target | met | load |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let ratio = match (row.median_time(CANDIDATE), row.median_time(REFERENCE)) {
            (Some(candidate), Some(reference)) => {
                ratio(candidate.as_secs_f64(), reference.as_secs_f64())
            }
            _ => None,
        };
        let (ratio_text, met) = match ratio {
            Some(value) => (
                format!("{value:.2}"),
                if value <= row.max_ratio { "yes" } else { "no" },
            ),
            None => ("n/a".to_owned(), "n/a"),
        };
        let _ = writeln!(
            text,
            "| {} | {} | {} | {ratio_text} | ≤ {:.1} | {met} | {} |",
            row.name,
            row.cell(REFERENCE),
            row.cell(CANDIDATE),
            row.max_ratio,
            row.load_range()
        );
    }
    text.push('\n');
    text
}

/// Memory of one server's process tree at each number of idle connections.
#[derive(Debug)]
pub struct MemoryRow {
    server: &'static str,
    baseline: TreeMemory,
    points: Vec<MemoryPoint>,
}

#[derive(Debug)]
struct MemoryPoint {
    wanted: usize,
    opened: usize,
    memory: TreeMemory,
    failure: Option<String>,
}

impl MemoryRow {
    pub fn new(server: &'static str, baseline: TreeMemory) -> MemoryRow {
        MemoryRow {
            server,
            baseline,
            points: Vec::new(),
        }
    }

    pub fn record(
        &mut self,
        wanted: usize,
        opened: usize,
        memory: TreeMemory,
        failure: Option<String>,
    ) {
        self.points.push(MemoryPoint {
            wanted,
            opened,
            memory,
            failure,
        });
    }

    /// Returns the growth in KiB per connection over the memory with no connections, at
    /// point `index`, of the sum that `field` selects (RSS or PSS).
    fn per_connection(&self, index: usize, field: fn(&TreeMemory) -> u64) -> Option<f64> {
        let point = self.points.get(index)?;
        if point.failure.is_some() || point.opened == 0 {
            return None;
        }
        let grown = field(&point.memory).saturating_sub(field(&self.baseline));
        Some(grown as f64 / point.opened as f64)
    }
}

/// Formats the memory table: RSS and PSS summed over each server's processes, and their
/// growth per idle connection.
pub fn memory_table(rows: &[MemoryRow]) -> String {
    let mut text = String::from(
        "| server | idle connections | processes | sum of RSS | sum of PSS | RSS per connection | PSS per connection |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(
            text,
            "| {} | 0 | {} | {:.1} MiB | {:.1} MiB | | |",
            row.server,
            row.baseline.processes,
            mib(row.baseline.rss_kib),
            mib(row.baseline.pss_kib)
        );
        for (index, point) in row.points.iter().enumerate() {
            let per = |field: fn(&TreeMemory) -> u64| {
                row.per_connection(index, field)
                    .map_or_else(|| "n/a".to_owned(), |kib| format!("{kib:.0} KiB"))
            };
            let rss_per = per(|memory| memory.rss_kib);
            let pss_per = per(|memory| memory.pss_kib);
            let opened = match &point.failure {
                Some(failure) => format!(
                    "{} of {} (then: {})",
                    point.opened,
                    point.wanted,
                    one_line(failure)
                ),
                None => point.opened.to_string(),
            };
            let _ = writeln!(
                text,
                "| {} | {opened} | {} | {:.1} MiB | {:.1} MiB | {rss_per} | {pss_per} |",
                row.server,
                point.memory.processes,
                mib(point.memory.rss_kib),
                mib(point.memory.pss_kib)
            );
        }
    }
    text.push('\n');
    text
}
