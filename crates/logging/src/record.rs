//! One log record, in the shape Python's logging formatters expect.

use std::time::SystemTime;

use crate::level::Level;

/// A log event with the attributes that `%(name)s`-style format fields refer to.
#[derive(Debug, Clone)]
pub struct Record {
    pub created: SystemTime,
    pub level: Level,
    /// Logger name, such as `asimap.server` (see [`crate::logger_name`]).
    pub logger: String,
    /// Last component of the Rust module path, standing in for Python's module name.
    pub module: String,
    /// Name of the innermost span, standing in for Python's function name.
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub message: String,
    /// User the record concerns; empty before login.
    pub username: String,
    pub process: u32,
    pub thread: String,
    /// Structured fields besides the message, in the order they were recorded.
    pub fields: Vec<(String, serde_json::Value)>,
}

impl Record {
    /// Creates a record stamped now, for the current process and thread.
    pub fn new(level: Level, logger: impl Into<String>, message: impl Into<String>) -> Record {
        Record {
            created: SystemTime::now(),
            level,
            logger: logger.into(),
            module: String::new(),
            function: String::new(),
            file: None,
            line: None,
            message: message.into(),
            username: String::new(),
            process: std::process::id(),
            thread: std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_owned(),
            fields: Vec::new(),
        }
    }
}
