//! Formatters: Python's `%`-style and `{`-style format strings, and the JSON formatter of
//! python-json-logger.
//!
//! A format string is parsed once into segments, so formatting a record only looks fields up.

use std::time::UNIX_EPOCH;

use chrono::{DateTime, Local};

use crate::layer::USER_FIELD;
use crate::record::Record;

/// Python's default `%(asctime)s` layout; milliseconds are appended after a comma.
const DEFAULT_DATE_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Maximum bytes of one value (the message, a field, the user name) in a text log line.
/// Longer text is cut and the number of bytes left out is written instead.
pub const MAX_LOGGED_TEXT: usize = 4096;

/// Python's default format string for a formatter configured without one.
pub const DEFAULT_FORMAT: &str = "%(message)s";

/// The placeholder syntax of a format string (dictConfig's `style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Percent,
    Brace,
}

/// One formatter from a configuration file.
#[derive(Debug, Clone)]
pub struct Formatter {
    segments: Vec<Segment>,
    date_format: Option<String>,
    is_json: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Field(Field),
}

#[derive(Debug, Clone, PartialEq)]
struct Field {
    key: String,
    spec: Spec,
}

/// Width, alignment and conversion of one placeholder.
#[derive(Debug, Clone, Default, PartialEq)]
struct Spec {
    left_align: bool,
    center: bool,
    zero_pad: bool,
    fill: Option<char>,
    width: usize,
    precision: Option<usize>,
    conversion: char,
}

/// A format string that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid format string {format:?}: {reason}")]
pub struct FormatError {
    pub format: String,
    pub reason: &'static str,
}

impl Formatter {
    /// Parses `format` in the given style; `date_format` is a strftime pattern for `asctime`.
    pub fn new(
        format: &str,
        style: Style,
        date_format: Option<String>,
    ) -> Result<Formatter, FormatError> {
        let segments = match style {
            Style::Percent => parse_percent(format)?,
            Style::Brace => parse_brace(format)?,
        };
        Ok(Formatter {
            segments,
            date_format,
            is_json: false,
        })
    }

    /// Creates the python-json-logger formatter: one JSON object per record whose keys are the
    /// fields named in `format`, followed by the record's structured fields.
    pub fn json(
        format: &str,
        style: Style,
        date_format: Option<String>,
    ) -> Result<Formatter, FormatError> {
        let mut formatter = Formatter::new(format, style, date_format)?;
        formatter.is_json = true;
        Ok(formatter)
    }

    /// Formats a record as one line, without the line terminator.
    pub fn format(&self, record: &Record) -> String {
        if self.is_json {
            return self.format_json(record);
        }
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Field(field) if field.key == "message" => {
                    let value = Value::Text(self.message_with_fields(record));
                    field.spec.apply(&value, &mut out);
                }
                Segment::Field(field) => {
                    let value = match self.attribute(record, &field.key) {
                        Value::Text(text) => Value::Text(printable(&text)),
                        other => other,
                    };
                    field.spec.apply(&value, &mut out);
                }
            }
        }
        out
    }

    /// Returns the message followed by ` key=value` for each structured field that the
    /// format string does not name, so that a text log keeps what an event records besides
    /// its message (a folder, a UID, the error). A field whose value the message already
    /// contains as a whole word is left out. A text value with spaces, quotes or `=` is
    /// written as a JSON string.
    fn message_with_fields(&self, record: &Record) -> String {
        let mut text = printable(&record.message);
        for (key, value) in &record.fields {
            if key == USER_FIELD || self.has_placeholder(key) {
                continue;
            }
            let plain = match value {
                serde_json::Value::String(plain) => plain.clone(),
                other => other.to_string(),
            };
            if contains_word(&record.message, &plain) {
                continue;
            }
            let plain = printable(&plain);
            text.push(' ');
            text.push_str(key);
            text.push('=');
            let needs_quotes = plain.is_empty()
                || plain
                    .chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '=');
            if needs_quotes {
                text.push('"');
                text.push_str(&plain.replace('"', "\\\""));
                text.push('"');
            } else {
                text.push_str(&plain);
            }
        }
        text
    }

    /// Returns true when the format string has a placeholder for `key`.
    fn has_placeholder(&self, key: &str) -> bool {
        self.segments
            .iter()
            .any(|segment| matches!(segment, Segment::Field(field) if field.key == key))
    }

    fn format_json(&self, record: &Record) -> String {
        let mut object = serde_json::Map::new();
        for segment in &self.segments {
            if let Segment::Field(field) = segment {
                let value = match self.attribute(record, &field.key) {
                    Value::Text(text) => serde_json::Value::String(text),
                    Value::Integer(number) => serde_json::Value::from(number),
                    Value::Float(number) => serde_json::Value::from(number),
                    Value::Json(value) => value,
                };
                object.insert(field.key.clone(), value);
            }
        }
        for (key, value) in &record.fields {
            object.insert(key.clone(), value.clone());
        }
        serde_json::Value::Object(object).to_string()
    }

    /// Returns the value of a LogRecord attribute, or of a structured field by that name.
    fn attribute(&self, record: &Record, key: &str) -> Value {
        let created = record
            .created
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        match key {
            "name" => Value::Text(record.logger.clone()),
            "levelname" => Value::Text(record.level.name()),
            "levelno" => Value::Integer(i64::from(record.level.0)),
            "message" => Value::Text(record.message.clone()),
            "asctime" => Value::Text(self.asctime(record)),
            "created" => Value::Float(created.as_secs_f64()),
            "msecs" => Value::Integer(i64::from(created.subsec_millis())),
            "module" => Value::Text(record.module.clone()),
            "funcName" => Value::Text(record.function.clone()),
            "pathname" | "filename" => Value::Text(record.file.clone().unwrap_or_default()),
            "lineno" => Value::Integer(record.line.map_or(0, i64::from)),
            "process" => Value::Integer(i64::from(record.process)),
            "processName" => Value::Text("asimapd".into()),
            "thread" | "threadName" => Value::Text(record.thread.clone()),
            "username" => Value::Text(record.username.clone()),
            other => match record.fields.iter().find(|(name, _)| name == other) {
                Some((_, serde_json::Value::String(text))) => Value::Text(text.clone()),
                Some((_, value)) => Value::Json(value.clone()),
                None => Value::Text(String::new()),
            },
        }
    }

    fn asctime(&self, record: &Record) -> String {
        let time: DateTime<Local> = record.created.into();
        match &self.date_format {
            Some(pattern) => time.format(pattern).to_string(),
            None => format!(
                "{},{:03}",
                time.format(DEFAULT_DATE_FORMAT),
                time.timestamp_subsec_millis()
            ),
        }
    }
}

/// Returns `text` fit for one line of a text log. Control characters are written as `\n`,
/// `\r`, `\t` or `\xNN`, so a value from a client (a user name, an ID field) cannot start a
/// forged line. Anything beyond [`MAX_LOGGED_TEXT`] bytes is replaced by a count.
fn printable(text: &str) -> String {
    let cut = text.floor_char_boundary(MAX_LOGGED_TEXT);
    let mut out = String::with_capacity(cut);
    for c in text[..cut].chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    if cut < text.len() {
        out.push_str(&format!("... ({} more bytes)", text.len() - cut));
    }
    out
}

/// Returns true when `word` occurs in `text` with no letter, digit or `_` right before or
/// after it.
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_word_char = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
    })
}

enum Value {
    Text(String),
    Integer(i64),
    Float(f64),
    Json(serde_json::Value),
}

impl Spec {
    fn apply(&self, value: &Value, out: &mut String) {
        let text = match (value, self.conversion) {
            (Value::Integer(number), 'd' | 'i' | 's' | 'r') => number.to_string(),
            (Value::Float(number), 'd' | 'i') => (*number as i64).to_string(),
            (Value::Float(number), _) => format!("{number:.*}", self.precision.unwrap_or(6)),
            (Value::Integer(number), 'f') => {
                format!("{:.*}", self.precision.unwrap_or(6), *number as f64)
            }
            (Value::Text(text), _) => match self.precision {
                Some(precision) => text.chars().take(precision).collect(),
                None => text.clone(),
            },
            (Value::Json(value), _) => value.to_string(),
            (Value::Integer(number), _) => number.to_string(),
        };
        self.pad(&text, out);
    }

    fn pad(&self, text: &str, out: &mut String) {
        let length = text.chars().count();
        if length >= self.width {
            out.push_str(text);
            return;
        }
        let missing = self.width - length;
        let fill = self.fill.unwrap_or(if self.zero_pad { '0' } else { ' ' });
        let (before, after) = if self.center {
            (missing / 2, missing - missing / 2)
        } else if self.left_align {
            (0, missing)
        } else {
            (missing, 0)
        };
        out.extend(std::iter::repeat_n(fill, before));
        out.push_str(text);
        out.extend(std::iter::repeat_n(fill, after));
    }
}

/// Parses `%(key)[flags][width][.precision]conversion` placeholders and `%%`.
fn parse_percent(format: &str) -> Result<Vec<Segment>, FormatError> {
    let error = |reason| FormatError {
        format: format.to_owned(),
        reason,
    };
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            literal.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            literal.push('%');
            continue;
        }
        if chars.next() != Some('(') {
            return Err(error("a `%` must be followed by `(name)` or another `%`"));
        }
        let key: String = chars.by_ref().take_while(|&c| c != ')').collect();
        let mut spec = Spec::default();
        while let Some(&flag) = chars.peek() {
            match flag {
                '-' => spec.left_align = true,
                '0' => spec.zero_pad = true,
                ' ' | '+' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        spec.width = take_number(&mut chars).unwrap_or(0);
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(take_number(&mut chars).unwrap_or(0));
        }
        spec.conversion = match chars.next() {
            Some(c @ ('s' | 'r' | 'a' | 'd' | 'i' | 'f' | 'F' | 'x' | 'g')) => c,
            _ => return Err(error("a placeholder needs a conversion such as s, d or f")),
        };
        if spec.left_align {
            spec.zero_pad = false;
        }
        flush_literal(&mut literal, &mut segments);
        segments.push(Segment::Field(Field { key, spec }));
    }
    flush_literal(&mut literal, &mut segments);
    Ok(segments)
}

/// Parses `{key[:[[fill]align][0][width][.precision][type]]}` placeholders, `{{` and `}}`.
fn parse_brace(format: &str) -> Result<Vec<Segment>, FormatError> {
    let error = |reason| FormatError {
        format: format.to_owned(),
        reason,
    };
    let mut segments = Vec::new();
    let mut literal = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '{' => {
                let inner: String = chars.by_ref().take_while(|&c| c != '}').collect();
                let (key, spec) = inner.split_once(':').unwrap_or((&inner, ""));
                flush_literal(&mut literal, &mut segments);
                segments.push(Segment::Field(Field {
                    key: key.to_owned(),
                    spec: parse_brace_spec(spec),
                }));
            }
            '}' => return Err(error("a single `}` must be written `}}`")),
            _ => literal.push(c),
        }
    }
    flush_literal(&mut literal, &mut segments);
    Ok(segments)
}

fn parse_brace_spec(spec: &str) -> Spec {
    let mut result = Spec {
        conversion: 's',
        ..Spec::default()
    };
    let chars: Vec<char> = spec.chars().collect();
    let mut index = 0;
    let is_align = |c: char| matches!(c, '<' | '>' | '^' | '=');
    if chars.len() >= 2 && is_align(chars[1]) {
        result.fill = Some(chars[0]);
        index = 1;
    }
    if let Some(&align) = chars.get(index).filter(|&&c| is_align(c)) {
        result.left_align = align == '<';
        result.center = align == '^';
        index += 1;
    } else {
        result.fill = None;
    }
    let mut rest = chars[index..].iter().copied().peekable();
    if rest.peek() == Some(&'0') {
        result.zero_pad = true;
        rest.next();
    }
    result.width = take_number(&mut rest).unwrap_or(0);
    if rest.peek() == Some(&'.') {
        rest.next();
        result.precision = take_number(&mut rest);
    }
    if let Some(conversion) = rest.next() {
        result.conversion = conversion;
    }
    result
}

fn take_number(chars: &mut std::iter::Peekable<impl Iterator<Item = char>>) -> Option<usize> {
    let mut digits = String::new();
    while let Some(&c) = chars.peek().filter(|c| c.is_ascii_digit()) {
        digits.push(c);
        chars.next();
    }
    digits.parse().ok()
}

fn flush_literal(literal: &mut String, segments: &mut Vec<Segment>) {
    if !literal.is_empty() {
        segments.push(Segment::Literal(std::mem::take(literal)));
    }
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
