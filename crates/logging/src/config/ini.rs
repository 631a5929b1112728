//! `fileConfig` INI files, read the way Python's configparser reads them for logging.

use std::collections::BTreeMap;

use super::pyliteral::{self, PyValue};
use super::{
    FormatterSpec, HandlerSpec, LogConfig, LoggerSpec, is_json_formatter, parse_style,
    positional_names,
};
use crate::level::Level;

type Sections = BTreeMap<String, BTreeMap<String, String>>;

/// Parses a fileConfig document.
pub fn parse(text: &str) -> Result<LogConfig, String> {
    let sections = sections(text)?;
    let mut config = LogConfig::default();

    for name in keys(&sections, "formatters")? {
        let entry = section(&sections, &format!("formatter_{name}"))?;
        let class = entry.get("class").map_or("", String::as_str);
        let is_json = is_json_formatter(class);
        if !is_json && !class.is_empty() && class != "logging.Formatter" {
            config
                .unsupported
                .push(format!("formatter {name:?}: unsupported class {class}"));
            config.skipped_formatters.insert(name.clone());
            continue;
        }
        let style = parse_style(entry.get("style").map_or("%", String::as_str))?;
        config.formatters.insert(
            name.clone(),
            FormatterSpec {
                format: entry.get("format").cloned(),
                date_format: entry
                    .get("datefmt")
                    .filter(|text| !text.is_empty())
                    .cloned(),
                style,
                is_json,
            },
        );
    }

    for name in keys(&sections, "handlers")? {
        let entry = section(&sections, &format!("handler_{name}"))?;
        match handler(entry) {
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

    for name in keys(&sections, "loggers")? {
        let entry = section(&sections, &format!("logger_{name}"))?;
        let spec = logger(entry).map_err(|reason| format!("logger {name:?}: {reason}"))?;
        if name == "root" {
            config.root = Some(spec);
        } else {
            let qualified = entry
                .get("qualname")
                .cloned()
                .unwrap_or_else(|| name.clone());
            config.loggers.insert(qualified, spec);
        }
    }
    Ok(config)
}

/// Splits the text into sections of `key = value` entries. Keys are lower-cased as
/// configparser does; `#` and `;` start comment lines; indented lines continue a value.
fn sections(text: &str) -> Result<Sections, String> {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    let mut last_key: Option<String> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t'])
            && let (Some(section), Some(key)) = (&current, &last_key)
            && let Some(value) = sections
                .get_mut(section)
                .and_then(|entries| entries.get_mut(key))
        {
            value.push('\n');
            value.push_str(trimmed);
            continue;
        }
        if let Some(name) = trimmed
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            current = Some(name.trim().to_owned());
            sections.entry(name.trim().to_owned()).or_default();
            last_key = None;
            continue;
        }
        let Some(section) = &current else {
            return Err(format!(
                "line {}: entry before the first [section]",
                index + 1
            ));
        };
        let split = trimmed
            .find(['=', ':'])
            .ok_or_else(|| format!("line {}: expected key = value", index + 1))?;
        let key = trimmed[..split].trim().to_ascii_lowercase();
        let value = trimmed[split + 1..].trim().to_owned();
        sections
            .entry(section.clone())
            .or_default()
            .insert(key.clone(), value);
        last_key = Some(key);
    }
    Ok(sections)
}

fn section<'a>(sections: &'a Sections, name: &str) -> Result<&'a BTreeMap<String, String>, String> {
    sections
        .get(name)
        .ok_or_else(|| format!("missing section [{name}]"))
}

/// Returns the comma-separated `keys` of `[name]`; a missing section lists nothing.
fn keys(sections: &Sections, name: &str) -> Result<Vec<String>, String> {
    let Some(entry) = sections.get(name) else {
        return Ok(Vec::new());
    };
    let keys = entry
        .get("keys")
        .ok_or_else(|| format!("section [{name}] has no keys entry"))?;
    Ok(keys
        .split(',')
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .collect())
}

fn handler(entry: &BTreeMap<String, String>) -> Result<HandlerSpec, String> {
    let class = entry.get("class").ok_or("missing class")?;
    let mut params = BTreeMap::new();
    let args = pyliteral::parse(entry.get("args").map_or("()", String::as_str))?;
    let PyValue::Tuple(args) = args else {
        return Err("args must be a tuple".into());
    };
    let names = positional_names(class);
    if args.len() > names.len() && !names.is_empty() {
        return Err(format!("too many args for {class}"));
    }
    for (name, value) in names.iter().zip(args) {
        params.insert((*name).to_owned(), value);
    }
    if let Some(kwargs) = entry.get("kwargs") {
        let PyValue::Dict(entries) = pyliteral::parse(kwargs)? else {
            return Err("kwargs must be a dict".into());
        };
        params.extend(entries);
    }
    params.remove("encoding");
    params.remove("delay");
    let level = match entry.get("level") {
        Some(text) if !text.is_empty() => {
            Level::parse(text).ok_or_else(|| format!("unknown level {text:?}"))?
        }
        _ => Level::NOTSET,
    };
    let kind = HandlerSpec::from_class(class, params)?;
    Ok(HandlerSpec {
        level,
        formatter: entry
            .get("formatter")
            .filter(|name| !name.is_empty())
            .cloned(),
        kind,
    })
}

fn logger(entry: &BTreeMap<String, String>) -> Result<LoggerSpec, String> {
    let level = match entry.get("level") {
        Some(text) if !text.is_empty() => {
            Some(Level::parse(text).ok_or_else(|| format!("unknown level {text:?}"))?)
        }
        _ => None,
    };
    let handlers = entry
        .get("handlers")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let propagate = entry
        .get("propagate")
        .is_none_or(|value| PyValue::Str(value.clone()).is_true());
    Ok(LoggerSpec {
        level,
        handlers,
        propagate,
    })
}
