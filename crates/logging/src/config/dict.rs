//! `dictConfig` JSON documents (Python's logging.config dictionary schema, version 1).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    FormatterSpec, HandlerSpec, LogConfig, LoggerSpec, PyValue, is_json_formatter, parse_style,
};
use crate::level::Level;

/// Top-level keys that are understood; others are reported as unsupported.
const TOP_LEVEL_KEYS: [&str; 6] = [
    "version",
    "disable_existing_loggers",
    "formatters",
    "handlers",
    "loggers",
    "root",
];
/// Handler keys that configure the handler itself rather than its class's arguments.
const HANDLER_KEYS: [&str; 4] = ["class", "level", "formatter", "()"];
/// Handler arguments accepted and ignored: files are always UTF-8 and opened at once.
const IGNORED_HANDLER_ARGS: [&str; 3] = ["encoding", "delay", "errors"];

/// Parses a dictConfig document.
pub fn parse(text: &str) -> Result<LogConfig, String> {
    let document: Value =
        serde_json::from_str(text).map_err(|error| format!("not valid JSON: {error}"))?;
    let top = document
        .as_object()
        .ok_or("the document must be a JSON object")?;
    match top.get("version") {
        Some(Value::Number(version)) if version.as_u64() == Some(1) => {}
        Some(other) => {
            return Err(format!(
                "unsupported version {other}; only version 1 exists"
            ));
        }
        None => return Err("missing \"version\": 1".into()),
    }

    let mut config = LogConfig::default();
    for key in top
        .keys()
        .filter(|key| !TOP_LEVEL_KEYS.contains(&key.as_str()))
    {
        config.unsupported.push(format!("top-level entry {key:?}"));
    }
    for (name, entry) in section(top, "formatters")? {
        match formatter(entry) {
            Ok(spec) => {
                config.formatters.insert(name.clone(), spec);
            }
            Err(reason) => {
                config
                    .unsupported
                    .push(format!("formatter {name:?}: {reason}"));
                config.skipped_formatters.insert(name.clone());
            }
        }
    }
    for (name, entry) in section(top, "handlers")? {
        match handler(entry, &mut config.unsupported, name) {
            Ok(spec) => {
                config.handlers.insert(name.clone(), spec);
            }
            Err(reason) => {
                config
                    .unsupported
                    .push(format!("handler {name:?}: {reason}"));
                config.skipped_handlers.insert(name.clone());
            }
        }
    }
    for (name, entry) in section(top, "loggers")? {
        config
            .loggers
            .insert(name.clone(), logger(entry, &mut config.unsupported, name)?);
    }
    if let Some(root) = top.get("root") {
        config.root = Some(logger(root, &mut config.unsupported, "root")?);
    }
    Ok(config)
}

fn section<'a>(
    top: &'a Map<String, Value>,
    key: &str,
) -> Result<Vec<(&'a String, &'a Value)>, String> {
    match top.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Object(entries)) => Ok(entries.iter().collect()),
        Some(_) => Err(format!("\"{key}\" must be an object")),
    }
}

fn string<'a>(entry: &'a Value, key: &str) -> Option<&'a str> {
    entry.get(key).and_then(Value::as_str)
}

fn formatter(entry: &Value) -> Result<FormatterSpec, String> {
    let class = string(entry, "()")
        .or_else(|| string(entry, "class"))
        .unwrap_or("logging.Formatter");
    let is_json = is_json_formatter(class);
    if !is_json && class != "logging.Formatter" {
        return Err(format!("unsupported formatter class {class}"));
    }
    Ok(FormatterSpec {
        format: string(entry, "format")
            .or_else(|| string(entry, "fmt"))
            .map(str::to_owned),
        date_format: string(entry, "datefmt")
            .filter(|text| !text.is_empty())
            .map(str::to_owned),
        style: parse_style(string(entry, "style").unwrap_or("%"))?,
        is_json,
    })
}

fn handler(
    entry: &Value,
    unsupported: &mut Vec<String>,
    name: &str,
) -> Result<HandlerSpec, String> {
    let object = entry.as_object().ok_or("must be an object")?;
    let class = string(entry, "class").ok_or("missing \"class\"")?;
    let mut params = BTreeMap::new();
    for (key, value) in object {
        if HANDLER_KEYS.contains(&key.as_str()) || IGNORED_HANDLER_ARGS.contains(&key.as_str()) {
            continue;
        }
        if key == "filters" {
            unsupported.push(format!("filters of handler {name:?}"));
            continue;
        }
        params.insert(key.clone(), PyValue::from_json(value));
    }
    let level = level(entry)?.unwrap_or(Level::NOTSET);
    let kind = HandlerSpec::from_class(class, params)?;
    Ok(HandlerSpec {
        level,
        formatter: string(entry, "formatter").map(str::to_owned),
        kind,
    })
}

fn logger(entry: &Value, unsupported: &mut Vec<String>, name: &str) -> Result<LoggerSpec, String> {
    if entry.get("filters").is_some() {
        unsupported.push(format!("filters of logger {name:?}"));
    }
    let handlers = match entry.get("handlers") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => return Err(format!("handlers of logger {name:?} must be a list")),
    };
    Ok(LoggerSpec {
        level: level(entry).map_err(|reason| format!("logger {name:?}: {reason}"))?,
        handlers,
        propagate: entry
            .get("propagate")
            .is_none_or(|value| PyValue::from_json(value).is_true()),
    })
}

fn level(entry: &Value) -> Result<Option<Level>, String> {
    match entry.get("level") {
        None => Ok(None),
        Some(Value::String(text)) => Level::parse(text)
            .map(Some)
            .ok_or_else(|| format!("unknown level {text:?}")),
        Some(Value::Number(number)) => {
            let value = number
                .as_u64()
                .and_then(|n| u8::try_from(n).ok())
                .ok_or("level out of range")?;
            Ok(Some(Level(value)))
        }
        Some(other) => Err(format!("invalid level {other}")),
    }
}
