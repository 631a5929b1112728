//! Log levels with Python's numbers, so configuration files can name or number them.

use std::fmt;

/// A Python logging level. Larger is more severe; `NOTSET` (0) means "inherit".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Level(pub u8);

impl Level {
    pub const NOTSET: Level = Level(0);
    /// tracing's TRACE level, below Python's DEBUG; used for raw protocol lines.
    pub const TRACE: Level = Level(5);
    pub const DEBUG: Level = Level(10);
    pub const INFO: Level = Level(20);
    pub const WARNING: Level = Level(30);
    pub const ERROR: Level = Level(40);
    pub const CRITICAL: Level = Level(50);

    /// Parses a level name (any case, `WARN` and `FATAL` included) or a number.
    pub fn parse(text: &str) -> Option<Level> {
        let text = text.trim();
        if let Ok(number) = text.parse::<u8>() {
            return Some(Level(number));
        }
        let level = match text.to_ascii_uppercase().as_str() {
            "NOTSET" => Level::NOTSET,
            "TRACE" => Level::TRACE,
            "DEBUG" => Level::DEBUG,
            "INFO" => Level::INFO,
            "WARNING" | "WARN" => Level::WARNING,
            "ERROR" => Level::ERROR,
            "CRITICAL" | "FATAL" => Level::CRITICAL,
            _ => return None,
        };
        Some(level)
    }

    /// Returns the name Python prints for `%(levelname)s`.
    pub fn name(self) -> String {
        match self {
            Level::NOTSET => "NOTSET".into(),
            Level::TRACE => "TRACE".into(),
            Level::DEBUG => "DEBUG".into(),
            Level::INFO => "INFO".into(),
            Level::WARNING => "WARNING".into(),
            Level::ERROR => "ERROR".into(),
            Level::CRITICAL => "CRITICAL".into(),
            Level(number) => format!("Level {number}"),
        }
    }
}

impl From<&tracing::Level> for Level {
    fn from(level: &tracing::Level) -> Level {
        match *level {
            tracing::Level::TRACE => Level::TRACE,
            tracing::Level::DEBUG => Level::DEBUG,
            tracing::Level::INFO => Level::INFO,
            tracing::Level::WARN => Level::WARNING,
            tracing::Level::ERROR => Level::ERROR,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_names_aliases_and_numbers() {
        assert_eq!(Level::parse("debug"), Some(Level::DEBUG));
        assert_eq!(Level::parse("WARN"), Some(Level::WARNING));
        assert_eq!(Level::parse("Fatal"), Some(Level::CRITICAL));
        assert_eq!(Level::parse("25"), Some(Level(25)));
        assert_eq!(Level::parse("loud"), None);
    }

    #[test]
    fn name_of_custom_number_matches_python() {
        assert_eq!(Level(25).name(), "Level 25");
    }
}
