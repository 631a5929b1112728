//! Loggers arranged by dotted name, routing each record to the handlers of its logger and
//! of the ancestors it propagates to, as Python's logging module does.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::{HandlerKind, LogConfig, LoggerSpec};
use crate::format::{DEFAULT_FORMAT, Formatter, Style};
use crate::handler::{Destination, Handler};
use crate::level::Level;
use crate::record::Record;

/// Python's default level of the root logger.
const ROOT_DEFAULT_LEVEL: Level = Level::WARNING;

/// The configured loggers.
#[derive(Debug)]
pub struct Router {
    loggers: HashMap<String, Logger>,
    root: Logger,
}

#[derive(Debug, Clone)]
struct Logger {
    level: Level,
    handlers: Vec<Arc<Handler>>,
    propagate: bool,
}

impl Router {
    /// Builds the handlers and loggers of a configuration. Handlers that cannot be opened and
    /// references to missing formatters or handlers are added to `problems` and skipped.
    /// References to entries skipped as unsupported are not reported again: a handler with
    /// a skipped formatter uses the default format.
    pub fn build(config: &LogConfig, problems: &mut Vec<String>) -> Router {
        let mut handlers = HashMap::new();
        for (name, spec) in &config.handlers {
            let formatter = match spec.formatter.as_deref() {
                None => default_formatter(),
                Some(skipped) if config.skipped_formatters.contains(skipped) => default_formatter(),
                Some(formatter_name) => match build_formatter(config, formatter_name) {
                    Ok(formatter) => formatter,
                    Err(problem) => {
                        problems.push(format!("handler {name:?}: {problem}"));
                        continue;
                    }
                },
            };
            match Handler::new(name, spec.level, formatter, destination(&spec.kind)) {
                Ok(handler) => {
                    handlers.insert(name.clone(), Arc::new(handler));
                }
                Err(error) => {
                    problems.push(format!("handler {name:?}: cannot open its file: {error}"))
                }
            }
        }
        let mut logger = |name: &str, spec: &LoggerSpec, default_level: Level| Logger {
            level: spec.level.unwrap_or(default_level),
            handlers: spec
                .handlers
                .iter()
                .filter_map(|handler| {
                    let found = handlers.get(handler).cloned();
                    if found.is_none() && !config.skipped_handlers.contains(handler) {
                        problems.push(format!("logger {name:?}: no handler {handler:?}"));
                    }
                    found
                })
                .collect(),
            propagate: spec.propagate,
        };
        let loggers = config
            .loggers
            .iter()
            .map(|(name, spec)| (name.clone(), logger(name, spec, Level::NOTSET)))
            .collect();
        let root = match &config.root {
            Some(spec) => logger("root", spec, ROOT_DEFAULT_LEVEL),
            None => Logger {
                level: ROOT_DEFAULT_LEVEL,
                handlers: Vec::new(),
                propagate: false,
            },
        };
        Router { loggers, root }
    }

    /// Returns the level below which records of `name` are dropped: the first level set on
    /// the logger or its ancestors.
    pub fn effective_level(&self, name: &str) -> Level {
        ancestors(name)
            .filter_map(|ancestor| self.loggers.get(ancestor))
            .map(|logger| logger.level)
            .find(|level| *level != Level::NOTSET)
            .unwrap_or(self.root.level)
    }

    /// Sends a record to the handlers of its logger and of each ancestor it propagates to.
    pub fn route(&self, record: &Record) {
        if record.level < self.effective_level(&record.logger) {
            return;
        }
        for ancestor in ancestors(&record.logger) {
            if let Some(logger) = self.loggers.get(ancestor) {
                logger
                    .handlers
                    .iter()
                    .for_each(|handler| handler.handle(record));
                if !logger.propagate {
                    return;
                }
            }
        }
        self.root
            .handlers
            .iter()
            .for_each(|handler| handler.handle(record));
    }
}

/// Yields `a.b.c`, `a.b`, `a`.
fn ancestors(name: &str) -> impl Iterator<Item = &str> {
    let mut next = Some(name);
    std::iter::from_fn(move || {
        let current = next?;
        next = current.rfind('.').map(|dot| &current[..dot]);
        Some(current)
    })
    .filter(|name| !name.is_empty())
}

fn default_formatter() -> Formatter {
    Formatter::new(DEFAULT_FORMAT, Style::Percent, None).expect("default format parses")
}

fn build_formatter(config: &LogConfig, name: &str) -> Result<Formatter, String> {
    let spec = config
        .formatters
        .get(name)
        .ok_or_else(|| format!("no formatter {name:?}"))?;
    let format = spec.format.as_deref().unwrap_or(DEFAULT_FORMAT);
    let built = if spec.is_json {
        Formatter::json(format, spec.style, spec.date_format.clone())
    } else {
        Formatter::new(format, spec.style, spec.date_format.clone())
    };
    built.map_err(|error| error.to_string())
}

fn destination(kind: &HandlerKind) -> Destination {
    match kind.clone() {
        HandlerKind::Stdout => Destination::Stdout,
        HandlerKind::Stderr => Destination::Stderr,
        HandlerKind::File { path, truncate } => Destination::File { path, truncate },
        HandlerKind::WatchedFile { path } => Destination::WatchedFile { path },
        HandlerKind::RotatingFile {
            path,
            max_bytes,
            backup_count,
        } => Destination::RotatingFile {
            path,
            max_bytes,
            backup_count,
        },
        HandlerKind::TimedRotatingFile { path, rotation } => {
            Destination::TimedRotatingFile { path, rotation }
        }
        HandlerKind::Null => Destination::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_walk_up_dotted_names() {
        let names: Vec<_> = ancestors("asimap.server.tls").collect();
        assert_eq!(names, ["asimap.server.tls", "asimap.server", "asimap"]);
    }
}
