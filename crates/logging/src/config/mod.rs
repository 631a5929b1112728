//! Logging configuration files in the two shapes Python's logging module reads: a JSON
//! document in the `dictConfig` schema, or an INI file in the `fileConfig` format.
//!
//! Both are read into one model ([`LogConfig`]). Entries the server does not support are
//! collected in [`LogConfig::unsupported`] and skipped; the caller reports each once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::format::Style;
use crate::handler::{Interval, TimedRotation};
use crate::level::Level;

mod dict;
mod ini;
mod pyliteral;

pub use pyliteral::PyValue;

/// File names searched for, in this order, in each of [`SEARCH_DIRS`].
pub const SEARCH_NAMES: [&str; 2] = ["asimapd_log.json", "asimapd_log.cfg"];
/// Folders searched for a configuration file when none is given, in this order.
pub const SEARCH_DIRS: [&str; 4] = ["/opt/asimap", "/etc", "/usr/local/etc", "/opt/local/etc"];

/// A logging configuration, whichever file shape it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogConfig {
    pub formatters: BTreeMap<String, FormatterSpec>,
    pub handlers: BTreeMap<String, HandlerSpec>,
    pub loggers: BTreeMap<String, LoggerSpec>,
    pub root: Option<LoggerSpec>,
    /// Entries that were skipped, each described with its name.
    pub unsupported: Vec<String>,
    /// Handlers skipped as unsupported. Loggers that name one go on without it, and the
    /// skip is reported once, in [`unsupported`](Self::unsupported).
    pub skipped_handlers: BTreeSet<String>,
    /// Formatters skipped as unsupported. Handlers that name one use the default format.
    pub skipped_formatters: BTreeSet<String>,
}

/// A formatter entry.
#[derive(Debug, Clone, PartialEq)]
pub struct FormatterSpec {
    pub format: Option<String>,
    pub date_format: Option<String>,
    pub style: Style,
    /// python-json-logger's `JsonFormatter`.
    pub is_json: bool,
}

/// A handler entry.
#[derive(Debug, Clone, PartialEq)]
pub struct HandlerSpec {
    pub level: Level,
    pub formatter: Option<String>,
    pub kind: HandlerKind,
}

/// A supported handler class with its arguments.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerKind {
    Stdout,
    Stderr,
    File {
        path: PathBuf,
        truncate: bool,
    },
    WatchedFile {
        path: PathBuf,
    },
    RotatingFile {
        path: PathBuf,
        max_bytes: u64,
        backup_count: u32,
    },
    TimedRotatingFile {
        path: PathBuf,
        rotation: TimedRotation,
    },
    Null,
}

/// A logger entry (the root logger included).
#[derive(Debug, Clone, PartialEq)]
pub struct LoggerSpec {
    pub level: Option<Level>,
    pub handlers: Vec<String>,
    pub propagate: bool,
}

/// A configuration file that cannot be used at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid logging configuration {path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl LogConfig {
    /// Reads a configuration file: `.json` as dictConfig, anything else as fileConfig.
    pub fn load(path: &Path) -> Result<LogConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let is_json = path
            .extension()
            .is_some_and(|extension| extension.eq_ignore_ascii_case("json"));
        let parsed = if is_json {
            dict::parse(&text)
        } else {
            ini::parse(&text)
        };
        parsed.map_err(|reason| ConfigError::Invalid {
            path: path.to_owned(),
            reason,
        })
    }
}

/// Result of looking for a configuration file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// The file to load, if any was found.
    pub path: Option<PathBuf>,
    /// The explicitly named file, when it does not exist.
    pub missing_explicit: Option<PathBuf>,
}

/// Finds the configuration file: `explicit` when it exists, else the first of
/// [`SEARCH_NAMES`] found in `dirs`, trying both names in each folder before the next.
pub fn find_config(explicit: Option<&Path>, dirs: &[&Path]) -> Discovery {
    if let Some(path) = explicit.filter(|path| path.is_file()) {
        return Discovery {
            path: Some(path.to_owned()),
            missing_explicit: None,
        };
    }
    let path = dirs
        .iter()
        .flat_map(|dir| SEARCH_NAMES.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file());
    Discovery {
        path,
        missing_explicit: explicit.map(Path::to_path_buf),
    }
}

/// Parses a dictConfig JSON document.
pub fn parse_dict(text: &str) -> Result<LogConfig, String> {
    dict::parse(text)
}

/// Parses a fileConfig INI document.
pub fn parse_ini(text: &str) -> Result<LogConfig, String> {
    ini::parse(text)
}

impl LogConfig {
    /// Sets the root logger to DEBUG, as `--debug` does on top of a configuration file.
    pub fn set_root_debug(&mut self) {
        let root = self.root.get_or_insert(LoggerSpec {
            level: None,
            handlers: Vec::new(),
            propagate: true,
        });
        root.level = Some(Level::DEBUG);
    }
}

impl HandlerSpec {
    /// Builds a handler from its class name and named arguments, as both file shapes give
    /// them. Returns `Err` with a description when the class or an argument is unsupported.
    fn from_class(
        class: &str,
        mut params: BTreeMap<String, PyValue>,
    ) -> Result<HandlerKind, String> {
        let short = class
            .trim()
            .trim_start_matches("logging.")
            .trim_start_matches("handlers.");
        let path = |params: &mut BTreeMap<String, PyValue>| -> Result<PathBuf, String> {
            match params.remove("filename") {
                Some(PyValue::Str(path)) => Ok(PathBuf::from(path)),
                _ => Err(format!("handler class {class} needs a filename")),
            }
        };
        let truncate = |params: &BTreeMap<String, PyValue>| -> Result<bool, String> {
            match params.get("mode") {
                None => Ok(false),
                Some(PyValue::Str(mode)) if mode.starts_with('a') => Ok(false),
                Some(PyValue::Str(mode)) if mode.starts_with('w') => Ok(true),
                Some(other) => Err(format!("unsupported file mode {other:?}")),
            }
        };
        let kind = match short {
            "StreamHandler" => match params.get("stream") {
                None | Some(PyValue::Stderr) => HandlerKind::Stderr,
                Some(PyValue::Stdout) => HandlerKind::Stdout,
                Some(other) => {
                    return Err(format!(
                        "unsupported stream {other:?}; use sys.stdout or sys.stderr"
                    ));
                }
            },
            "FileHandler" => HandlerKind::File {
                truncate: truncate(&params)?,
                path: path(&mut params)?,
            },
            "WatchedFileHandler" => HandlerKind::WatchedFile {
                path: path(&mut params)?,
            },
            "RotatingFileHandler" => HandlerKind::RotatingFile {
                path: path(&mut params)?,
                max_bytes: params.get("maxBytes").map_or(Ok(0), PyValue::as_u64)?,
                backup_count: params.get("backupCount").map_or(Ok(0), PyValue::as_u32)?,
            },
            "TimedRotatingFileHandler" => {
                let when = match params.get("when") {
                    None => "h".to_owned(),
                    Some(PyValue::Str(when)) => when.clone(),
                    Some(other) => return Err(format!("invalid when {other:?}")),
                };
                let interval =
                    Interval::parse(&when).ok_or_else(|| format!("unsupported when {when:?}"))?;
                let rotation = TimedRotation {
                    interval,
                    count: params.get("interval").map_or(Ok(1), PyValue::as_u32)?,
                    backup_count: params.get("backupCount").map_or(Ok(0), PyValue::as_u32)?,
                    utc: params.get("utc").is_some_and(PyValue::is_true),
                };
                HandlerKind::TimedRotatingFile {
                    path: path(&mut params)?,
                    rotation,
                }
            }
            "NullHandler" => HandlerKind::Null,
            _ => return Err(format!("unsupported handler class {class}")),
        };
        Ok(kind)
    }
}

/// Positional parameter names of the supported handler classes, for fileConfig `args`.
fn positional_names(class: &str) -> &'static [&'static str] {
    match class
        .trim()
        .trim_start_matches("logging.")
        .trim_start_matches("handlers.")
    {
        "StreamHandler" => &["stream"],
        "FileHandler" | "WatchedFileHandler" => &["filename", "mode", "encoding", "delay"],
        "RotatingFileHandler" => &[
            "filename",
            "mode",
            "maxBytes",
            "backupCount",
            "encoding",
            "delay",
        ],
        "TimedRotatingFileHandler" => &[
            "filename",
            "when",
            "interval",
            "backupCount",
            "encoding",
            "delay",
            "utc",
        ],
        _ => &[],
    }
}

/// Returns true for the class names of python-json-logger's formatter.
fn is_json_formatter(class: &str) -> bool {
    matches!(
        class.trim(),
        "pythonjsonlogger.jsonlogger.JsonFormatter" | "pythonjsonlogger.json.JsonFormatter"
    )
}

fn parse_style(style: &str) -> Result<Style, String> {
    match style.trim() {
        "" | "%" => Ok(Style::Percent),
        "{" => Ok(Style::Brace),
        other => Err(format!("unsupported format style {other:?}")),
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
