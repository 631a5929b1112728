//! Protocol traces: one JSON object per line for every line sent or received after login,
//! with the fields of the Python server's trace records (`trace_time`, `trace_delta_time`,
//! `connection`, `remote`, `msg_type`, `data`).
//!
//! Records go to `<trace-dir>/<user>-asimapd.trace`, rotated at 20 MiB keeping 5 old
//! files. When the log configuration gives the `asimap.trace` logger supported handlers,
//! records go through those instead. The first record of a user after tracing is switched on is
//! `{"trace_format": "1.0"}`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::config::LogConfig;
use crate::format::{Formatter, Style};
use crate::forward::RecordRouter;
use crate::handler::{Destination, Handler};
use crate::level::Level;
use crate::record::Record;

/// Logger name of trace records.
pub const TRACE_LOGGER: &str = "asimap.trace";
/// Size at which a trace file is rotated, in bytes.
pub const TRACE_MAX_BYTES: u64 = 20 * 1024 * 1024;
/// Rotated trace files kept per user.
pub const TRACE_BACKUP_COUNT: u32 = 5;
/// Value of the `trace_format` field of the first record.
pub const TRACE_FORMAT_VERSION: &str = "1.0";

/// Kind of a trace record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// The connection was handed to the worker.
    Connect,
    /// A line from the client.
    Received,
    /// A line to the client.
    Send,
    /// The connection ended.
    Close,
}

impl MessageType {
    /// Returns the name written in `msg_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Connect => "CONNECT",
            MessageType::Received => "RECEIVED",
            MessageType::Send => "SEND",
            MessageType::Close => "CLOSE",
        }
    }
}

/// One traced line of one connection.
#[derive(Debug, Clone, Copy)]
pub struct TraceEvent<'a> {
    pub user: &'a str,
    /// `client-NNNNNNNN`.
    pub connection: &'a str,
    /// The client's `address:port`.
    pub remote: &'a str,
    pub msg_type: MessageType,
    /// The line without its CRLF; written latin-1 decoded, as the Python server does.
    pub data: &'a [u8],
}

/// Writes trace records while tracing is on.
#[derive(Debug)]
pub struct TraceSink {
    dir: PathBuf,
    is_enabled: AtomicBool,
    /// Set when the log configuration routes `asimap.trace` itself.
    router: Option<RecordRouter>,
    /// Size at which a per-user file is rotated, in bytes: [`TRACE_MAX_BYTES`] outside tests.
    max_bytes: u64,
    /// Rotated files kept per user: [`TRACE_BACKUP_COUNT`] outside tests.
    backup_count: u32,
    users: Mutex<HashMap<String, UserTrace>>,
}

#[derive(Debug)]
struct UserTrace {
    /// `None` when records go through the configured router.
    file: Option<Handler>,
    started: Instant,
    previous: Instant,
}

impl TraceSink {
    /// Creates the sink for `dir`. When `config` gives the `asimap.trace` logger supported
    /// handlers, records go through `records` instead of the per-user files.
    pub fn new(
        dir: impl Into<PathBuf>,
        is_enabled: bool,
        config: &LogConfig,
        records: Option<RecordRouter>,
    ) -> TraceSink {
        // A handler skipped as unsupported writes nothing, so it does not count.
        let is_configured = config.loggers.get(TRACE_LOGGER).is_some_and(|logger| {
            logger
                .handlers
                .iter()
                .any(|handler| !config.skipped_handlers.contains(handler))
        });
        TraceSink {
            dir: dir.into(),
            is_enabled: AtomicBool::new(is_enabled),
            router: records.filter(|_| is_configured),
            max_bytes: TRACE_MAX_BYTES,
            backup_count: TRACE_BACKUP_COUNT,
            users: Mutex::default(),
        }
    }

    /// Returns true while tracing is on.
    pub fn is_enabled(&self) -> bool {
        self.is_enabled.load(Ordering::Relaxed)
    }

    /// Switches tracing on or off. Switching on starts the clocks again and announces the
    /// format anew in each file.
    pub fn set_enabled(&self, is_enabled: bool) {
        let mut users = self.lock();
        self.is_enabled.store(is_enabled, Ordering::Relaxed);
        users.clear();
    }

    /// Flips tracing and returns the new state.
    pub fn toggle(&self) -> bool {
        let is_enabled = !self.is_enabled();
        self.set_enabled(is_enabled);
        is_enabled
    }

    /// Returns the trace file of `user`: `<dir>/<user>-asimapd.trace`, with `/` and a
    /// leading dot in the name replaced by `_` so that it stays inside `dir`.
    pub fn path_of(&self, user: &str) -> PathBuf {
        let mut name: String = user
            .chars()
            .map(|c| if c == '/' || c == '\0' { '_' } else { c })
            .collect();
        if name.starts_with('.') {
            name.replace_range(..1, "_");
        }
        self.dir.join(format!("{name}-asimapd.trace"))
    }

    /// Writes one record when tracing is on.
    pub fn write(&self, event: &TraceEvent<'_>) {
        if !self.is_enabled() {
            return;
        }
        let data: String = event.data.iter().map(|&byte| char::from(byte)).collect();
        let mut users = self.lock();
        let Some(trace) = self.user_trace(&mut users, event.user) else {
            return;
        };
        let now = Instant::now();
        let mut record = Record::new(Level::INFO, TRACE_LOGGER, "");
        record.username = event.user.to_owned();
        record.fields = vec![
            (
                "trace_time".into(),
                now.duration_since(trace.started).as_secs_f64().into(),
            ),
            (
                "trace_delta_time".into(),
                now.duration_since(trace.previous).as_secs_f64().into(),
            ),
            ("connection".into(), event.connection.into()),
            ("remote".into(), event.remote.into()),
            ("msg_type".into(), event.msg_type.as_str().into()),
            ("data".into(), data.into()),
        ];
        trace.previous = now;
        self.emit(trace, &record);
    }

    /// Writes a trace record a worker built, when tracing is on.
    pub fn write_record(&self, record: &Record) {
        if !self.is_enabled() {
            return;
        }
        let mut users = self.lock();
        if let Some(trace) = self.user_trace(&mut users, &record.username) {
            self.emit(trace, record);
        }
    }

    fn emit(&self, trace: &UserTrace, record: &Record) {
        match (&trace.file, &self.router) {
            (Some(file), _) => file.handle(record),
            (None, Some(router)) => router.router().route(record),
            (None, None) => {}
        }
    }

    /// Returns the user's trace, opening its file and writing the format record first.
    fn user_trace<'a>(
        &self,
        users: &'a mut HashMap<String, UserTrace>,
        user: &str,
    ) -> Option<&'a mut UserTrace> {
        if !users.contains_key(user) {
            let trace = self.open(user);
            let mut announce = Record::new(Level::INFO, TRACE_LOGGER, "");
            announce.username = user.to_owned();
            announce.fields = vec![("trace_format".into(), TRACE_FORMAT_VERSION.into())];
            self.emit(&trace, &announce);
            users.insert(user.to_owned(), trace);
        }
        users.get_mut(user)
    }

    fn open(&self, user: &str) -> UserTrace {
        let now = Instant::now();
        let file = if self.router.is_some() {
            None
        } else {
            let formatter = Formatter::json("%(message)s", Style::Percent, None)
                .expect("the trace format parses");
            let destination = Destination::RotatingFile {
                path: self.path_of(user),
                max_bytes: self.max_bytes,
                backup_count: self.backup_count,
            };
            match Handler::new(TRACE_LOGGER, Level::NOTSET, formatter, destination) {
                Ok(handler) => Some(handler),
                Err(error) => {
                    // The user's entry stays without a file, so this is logged once per
                    // switch-on rather than for every line.
                    let path = self.path_of(user);
                    tracing::error!(path = %path.display(), %error, "failed to open trace file {}: {error}; no trace of {user} until tracing is switched on again", path.display());
                    None
                }
            }
        };
        UserTrace {
            file,
            started: now,
            previous: now,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, UserTrace>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
#[path = "trace_tests.rs"]
mod tests;
