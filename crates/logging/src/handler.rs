//! Handlers: where formatted records go, with Python's rotation rules.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::format::Formatter;
use crate::level::Level;
use crate::record::Record;

mod stream;
mod timed;

use stream::StandardStream;
pub use stream::{MAX_QUEUED_LINES, flush_standard_streams};
pub use timed::{Interval, TimedRotation};

/// A handler: a level threshold, a formatter and a destination.
#[derive(Debug)]
pub struct Handler {
    pub name: String,
    pub level: Level,
    formatter: Formatter,
    sink: Mutex<Sink>,
    /// Write failures so far; the first one is reported on stderr.
    failures: AtomicU64,
}

/// Destination of a handler's records.
#[derive(Debug)]
pub enum Destination {
    Stdout,
    Stderr,
    /// `FileHandler`: `truncate` is mode `w`, otherwise the file is appended to.
    File {
        path: PathBuf,
        truncate: bool,
    },
    /// `WatchedFileHandler`: reopened when the path no longer names the open file (after
    /// logrotate moved it, for example).
    WatchedFile {
        path: PathBuf,
    },
    /// `RotatingFileHandler`: rolls over before a record would take the file to `max_bytes`;
    /// with either number zero it never rolls over, as in Python.
    RotatingFile {
        path: PathBuf,
        max_bytes: u64,
        backup_count: u32,
    },
    /// `TimedRotatingFileHandler`.
    TimedRotatingFile {
        path: PathBuf,
        rotation: TimedRotation,
    },
    /// `NullHandler`: discards everything.
    Null,
}

#[derive(Debug)]
enum Sink {
    Stdout,
    Stderr,
    Null,
    File(OpenFile),
}

#[derive(Debug)]
struct OpenFile {
    destination: Destination,
    file: Option<File>,
    size: u64,
    /// Device and inode of the open file, for `WatchedFileHandler`.
    identity: (u64, u64),
    /// Next rollover time of a timed handler.
    rollover_at: Option<SystemTime>,
}

impl Handler {
    /// Creates a handler, opening its file (and the folder it sits in) at once so that a bad
    /// path is reported when the configuration is loaded.
    pub fn new(
        name: &str,
        level: Level,
        formatter: Formatter,
        destination: Destination,
    ) -> io::Result<Handler> {
        let sink = match destination {
            Destination::Stdout => Sink::Stdout,
            Destination::Stderr => Sink::Stderr,
            Destination::Null => Sink::Null,
            destination => Sink::File(OpenFile::open(destination)?),
        };
        Ok(Handler {
            name: name.to_owned(),
            level,
            formatter,
            sink: Mutex::new(sink),
            failures: AtomicU64::new(0),
        })
    }

    /// Formats and writes the record if its level passes the handler's threshold.
    pub fn handle(&self, record: &Record) {
        if record.level < self.level {
            return;
        }
        let mut line = self.formatter.format(record);
        line.push('\n');
        let mut sink = self
            .sink
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let result = match &mut *sink {
            Sink::Stdout => stream::send(StandardStream::Stdout, line),
            Sink::Stderr => stream::send(StandardStream::Stderr, line),
            Sink::Null => Ok(()),
            Sink::File(file) => file.write(line.as_bytes(), record.created),
        };
        if let Err(error) = result
            && self.failures.fetch_add(1, Ordering::Relaxed) == 0
        {
            // Through the queue, so that a closed or full stderr neither panics nor blocks.
            let _ = stream::send(
                StandardStream::Stderr,
                format!(
                    "asimapd: log handler {:?} failed to write: {error}; later failures are not reported\n",
                    self.name
                ),
            );
        }
    }
}

impl OpenFile {
    fn open(destination: Destination) -> io::Result<OpenFile> {
        let rollover_at = match &destination {
            Destination::TimedRotatingFile { path, rotation } => {
                let start = std::fs::metadata(path)
                    .and_then(|m| m.modified())
                    .unwrap_or_else(|_| SystemTime::now());
                Some(rotation.next_rollover(start))
            }
            _ => None,
        };
        let mut open = OpenFile {
            destination,
            file: None,
            size: 0,
            identity: (0, 0),
            rollover_at,
        };
        let truncate = matches!(open.destination, Destination::File { truncate: true, .. });
        open.reopen(truncate)?;
        Ok(open)
    }

    fn path(&self) -> &Path {
        match &self.destination {
            Destination::File { path, .. }
            | Destination::WatchedFile { path }
            | Destination::RotatingFile { path, .. }
            | Destination::TimedRotatingFile { path, .. } => path,
            Destination::Stdout | Destination::Stderr | Destination::Null => Path::new(""),
        }
    }

    fn reopen(&mut self, truncate: bool) -> io::Result<()> {
        let path = self.path().to_owned();
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(!truncate)
            .write(true)
            .truncate(truncate)
            .open(&path)?;
        let metadata = file.metadata()?;
        self.size = metadata.len();
        self.identity = (metadata.dev(), metadata.ino());
        self.file = Some(file);
        Ok(())
    }

    fn write(&mut self, line: &[u8], now: SystemTime) -> io::Result<()> {
        match &self.destination {
            Destination::WatchedFile { path } => {
                let current = std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
                if current != Some(self.identity) {
                    self.reopen(false)?;
                }
            }
            Destination::RotatingFile {
                max_bytes,
                backup_count,
                ..
            } => {
                let (max_bytes, backup_count) = (*max_bytes, *backup_count);
                if max_bytes > 0
                    && backup_count > 0
                    && self.size + line.len() as u64 >= max_bytes
                    && self.size > 0
                {
                    self.rotate_numbered(backup_count)?;
                }
            }
            Destination::TimedRotatingFile { rotation, .. }
                if self.rollover_at.is_some_and(|at| now >= at) =>
            {
                let rotation = rotation.clone();
                self.rotate_timed(&rotation, now)?;
            }
            _ => {}
        }
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("log file is not open"))?;
        file.write_all(line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// Renames `name.N-1` to `name.N` down to `name` to `name.1`, dropping the oldest.
    fn rotate_numbered(&mut self, backup_count: u32) -> io::Result<()> {
        self.file = None;
        let path = self.path().to_owned();
        for index in (1..backup_count).rev() {
            let from = numbered(&path, index);
            if from.exists() {
                std::fs::rename(&from, numbered(&path, index + 1))?;
            }
        }
        std::fs::rename(&path, numbered(&path, 1))?;
        self.reopen(false)
    }

    fn rotate_timed(&mut self, rotation: &TimedRotation, now: SystemTime) -> io::Result<()> {
        self.file = None;
        let path = self.path().to_owned();
        let rollover_at = self.rollover_at.unwrap_or(now);
        let period_start = rollover_at
            .checked_sub(rotation.period())
            .unwrap_or(rollover_at);
        let target = rotation.rotated_name(&path, period_start);
        if target.exists() {
            std::fs::remove_file(&target)?;
        }
        if path.exists() {
            std::fs::rename(&path, &target)?;
        }
        rotation.remove_old_files(&path)?;
        let mut next = rotation.next_rollover(rollover_at);
        while next <= now {
            next = rotation.next_rollover(next);
        }
        self.rollover_at = Some(next);
        self.reopen(false)
    }
}

fn numbered(path: &Path, index: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index}"));
    PathBuf::from(name)
}

/// Seconds in one day, for daily rotation.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
