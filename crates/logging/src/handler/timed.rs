//! `TimedRotatingFileHandler` rules: when to roll over, the rotated file names, and which
//! old files to delete.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Datelike, Local, NaiveTime, TimeZone, Utc};

use super::DAY;

/// The unit of a timed rotation (Python's `when`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Seconds,
    Minutes,
    Hours,
    Days,
    /// At midnight.
    Midnight,
    /// At midnight before the given weekday, 0 being Monday (`W0` to `W6`).
    Weekday(u8),
}

/// A timed rotation: `count` units between rollovers, keeping `backup_count` old files (0
/// keeps all of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedRotation {
    pub interval: Interval,
    pub count: u32,
    pub backup_count: u32,
    /// Use UTC instead of local time for midnight and for file names.
    pub utc: bool,
}

impl Interval {
    /// Parses Python's `when` values (`S`, `M`, `H`, `D`, `midnight`, `W0`..`W6`, any case).
    pub fn parse(when: &str) -> Option<Interval> {
        let when = when.trim().to_ascii_uppercase();
        let interval = match when.as_str() {
            "S" => Interval::Seconds,
            "M" => Interval::Minutes,
            "H" => Interval::Hours,
            "D" => Interval::Days,
            "MIDNIGHT" => Interval::Midnight,
            _ => {
                let day = when
                    .strip_prefix('W')?
                    .parse::<u8>()
                    .ok()
                    .filter(|day| *day <= 6)?;
                Interval::Weekday(day)
            }
        };
        Some(interval)
    }

    /// Returns the strftime suffix Python appends to rotated files.
    fn suffix(self) -> &'static str {
        match self {
            Interval::Seconds => "%Y-%m-%d_%H-%M-%S",
            Interval::Minutes => "%Y-%m-%d_%H-%M",
            Interval::Hours => "%Y-%m-%d_%H",
            Interval::Days | Interval::Midnight | Interval::Weekday(_) => "%Y-%m-%d",
        }
    }
}

impl TimedRotation {
    /// Returns the length of one rotation period.
    pub fn period(&self) -> Duration {
        let unit = match self.interval {
            Interval::Seconds => Duration::from_secs(1),
            Interval::Minutes => Duration::from_secs(60),
            Interval::Hours => Duration::from_secs(3600),
            Interval::Days | Interval::Midnight => DAY,
            Interval::Weekday(_) => DAY * 7,
        };
        unit * self.count.max(1)
    }

    /// Returns the first rollover time after `from`.
    pub fn next_rollover(&self, from: SystemTime) -> SystemTime {
        match self.interval {
            Interval::Midnight => self.next_midnight(from, |_| true),
            Interval::Weekday(day) => self.next_midnight(from, |date| {
                date.weekday().num_days_from_monday() == u32::from(day)
            }),
            _ => from + self.period(),
        }
    }

    /// Returns the next midnight after `from` that starts a day accepted by `is_day`.
    fn next_midnight(
        &self,
        from: SystemTime,
        is_day: impl Fn(chrono::NaiveDate) -> bool,
    ) -> SystemTime {
        let mut date = if self.utc {
            DateTime::<Utc>::from(from).date_naive()
        } else {
            DateTime::<Local>::from(from).date_naive()
        };
        for _ in 0..8 {
            date = date.succ_opt().unwrap_or(date);
            if is_day(date) {
                break;
            }
        }
        let midnight = date.and_time(NaiveTime::MIN);
        let instant = if self.utc {
            Utc.from_utc_datetime(&midnight).into()
        } else {
            Local
                .from_local_datetime(&midnight)
                .earliest()
                .map_or(from + DAY, SystemTime::from)
        };
        instant.max(from + Duration::from_secs(1))
    }

    /// Returns the name of the rotated file that contains the period starting at `start`.
    pub fn rotated_name(&self, path: &Path, start: SystemTime) -> PathBuf {
        let suffix = if self.utc {
            DateTime::<Utc>::from(start)
                .format(self.interval.suffix())
                .to_string()
        } else {
            DateTime::<Local>::from(start)
                .format(self.interval.suffix())
                .to_string()
        };
        let mut name = path.as_os_str().to_owned();
        name.push(".");
        name.push(suffix);
        PathBuf::from(name)
    }

    /// Deletes the oldest rotated files beyond `backup_count`.
    pub fn remove_old_files(&self, path: &Path) -> io::Result<()> {
        if self.backup_count == 0 {
            return Ok(());
        }
        let (Some(folder), Some(base)) = (path.parent(), path.file_name()) else {
            return Ok(());
        };
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        let prefix = format!("{}.", base.to_string_lossy());
        let suffix_len = DateTime::<Utc>::UNIX_EPOCH
            .format(self.interval.suffix())
            .to_string()
            .len();
        let mut rotated: Vec<PathBuf> = std::fs::read_dir(folder)?
            .filter_map(|entry| entry.ok())
            .filter(|entry| {
                let name = entry.file_name().to_string_lossy().into_owned();
                name.strip_prefix(&prefix).is_some_and(|rest| {
                    rest.len() == suffix_len
                        && rest
                            .chars()
                            .all(|c| c.is_ascii_digit() || c == '-' || c == '_')
                })
            })
            .map(|entry| entry.path())
            .collect();
        rotated.sort();
        let excess = rotated.len().saturating_sub(self.backup_count as usize);
        for old in &rotated[..excess] {
            std::fs::remove_file(old)?;
        }
        Ok(())
    }
}
