//! Logging for asimapd: Python logging configuration files on top of `tracing`.
//!
//! Administrators of the Python asimapd configure logging with a JSON file in the shape of
//! Python's `logging.config.dictConfig` schema or an INI file in the `fileConfig` format.
//! This crate reads both ([`config`]), builds the same loggers, handlers and formatters
//! ([`router`], [`handler`], [`format`](mod@format)), and feeds them from `tracing` events
//! ([`layer`]).
//!
//! # Logger names
//! A tracing target is the Rust module path of the code that logs. [`logger_name`] maps it to
//! the logger names of the Python server, so its configuration files keep working:
//!
//! | Rust target | logger |
//! |---|---|
//! | `asimapd_server::…` (listener, TLS, login) | `asimap.server.…` |
//! | `asimapd_auth::…` (password file, hashers, throttling) | `asimap.auth.…` |
//! | `asimapd_worker::…` (sessions of one user) | `asimap.user_server.…` |
//! | `asimapd_store::…` (mailbox index) | `asimap.mbox.…` |
//! | `asimapd_mh::…` (MH folders) | `asimap.mh.…` |
//! | `asimapd_mime::…` (message analysis) | `asimap.mime.…` |
//! | `asimapd_proto::…` (IMAP grammar) | `asimap.parse.…` |
//! | `asimapd_logging::…` (this crate: trace files, record forwarding) | `asimap.logging.…` |
//! | `asimapd::…` (program start-up) | `asimap.asimapd.…` |
//! | a target that already starts with `asimap.` (such as `asimap.trace`) | unchanged |
//! | any other crate's `a::b` | `a.b` |
//!
//! Each `::`-separated module below the crate becomes one more dotted component, so
//! `asimapd_worker::fetch` logs as `asimap.user_server.fetch`, and a logger configured for
//! `asimap.user_server` receives it.
//!
//! Other record attributes: `%(module)s` is the last component of the Rust module path, and
//! `%(funcName)s` is the name of the innermost `tracing` span (empty outside spans).
//! `%(username)s` is the user of the connection or worker the record comes from, and empty
//! before login. Records of a worker process keep its `%(process)d` and creation time,
//! although the listener writes them.

pub mod config;
pub mod format;
pub mod forward;
pub mod handler;
pub mod layer;
pub mod level;
pub mod record;
pub mod router;
pub mod trace;

use std::path::Path;

pub use config::LogConfig;
pub use layer::PythonLoggingLayer;
pub use level::Level;
pub use record::Record;
pub use router::Router;

/// Crate names and the Python logger each maps to.
const CRATE_LOGGERS: [(&str, &str); 9] = [
    ("asimapd_server", "asimap.server"),
    ("asimapd_auth", "asimap.auth"),
    ("asimapd_worker", "asimap.user_server"),
    ("asimapd_store", "asimap.mbox"),
    ("asimapd_mh", "asimap.mh"),
    ("asimapd_mime", "asimap.mime"),
    ("asimapd_proto", "asimap.parse"),
    ("asimapd_logging", "asimap.logging"),
    ("asimapd", "asimap.asimapd"),
];

/// Format of the default configuration: time, level, user, module and message.
pub const DEFAULT_LINE_FORMAT: &str =
    "[%(asctime)s] %(levelname)s %(username)s %(name)s.%(module)s: %(message)s";

/// Maps a tracing target to a Python logger name (see the table in the crate docs).
pub fn logger_name(target: &str) -> String {
    if target == "asimap" || target.starts_with("asimap.") {
        return target.to_owned();
    }
    let (crate_name, rest) = target.split_once("::").unwrap_or((target, ""));
    let base = CRATE_LOGGERS
        .iter()
        .find(|(name, _)| *name == crate_name)
        .map_or_else(|| crate_name.to_owned(), |(_, logger)| (*logger).to_owned());
    if rest.is_empty() {
        base
    } else {
        format!("{base}.{}", rest.replace("::", "."))
    }
}

/// Returns the configuration used when no file is found: every record of the `asimap`
/// loggers at INFO (DEBUG with `debug`) and warnings of other crates go to stdout.
pub fn default_config(debug: bool) -> LogConfig {
    let document = serde_json::json!({
        "version": 1,
        "formatters": {"default": {"format": DEFAULT_LINE_FORMAT}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "default"}},
        "loggers": {"asimap": {"level": if debug { "DEBUG" } else { "INFO" }}},
        "root": {"level": if debug { "DEBUG" } else { "WARNING" }, "handlers": ["stdout"]},
    });
    config::parse_dict(&document.to_string()).expect("the default configuration is valid")
}

/// Loads the configuration to use: `explicit` if given and readable, else the first file
/// found in `search_dirs`, else [`default_config`]. Every problem (a missing explicit file, a
/// file that cannot be parsed, an unsupported entry) is returned as a message for the caller
/// to report once; a file that cannot be parsed falls back to the default.
pub fn load_config(
    explicit: Option<&Path>,
    search_dirs: &[&Path],
    debug: bool,
) -> (LogConfig, Vec<String>) {
    let mut problems = Vec::new();
    let found = config::find_config(explicit, search_dirs);
    if let Some(missing) = &found.missing_explicit {
        problems.push(format!(
            "log configuration {} not found; searching the standard places",
            missing.display()
        ));
    }
    let Some(path) = found.path else {
        return (default_config(debug), problems);
    };
    match LogConfig::load(&path) {
        Ok(mut config) => {
            problems.extend(
                config
                    .unsupported
                    .drain(..)
                    .map(|entry| format!("{}: unsupported {entry}, skipped", path.display())),
            );
            if debug {
                config.set_root_debug();
            }
            (config, problems)
        }
        Err(error) => {
            problems.push(format!("{error}; using the default configuration"));
            (default_config(debug), problems)
        }
    }
}

/// Installs the global tracing subscriber for `config`. Returns the problems met while
/// building handlers (a file that cannot be opened, a missing formatter), for the caller to
/// report once.
pub fn install(config: &LogConfig) -> Vec<String> {
    use tracing_subscriber::layer::SubscriberExt;

    let mut problems = Vec::new();
    let router = Router::build(config, &mut problems);
    let subscriber = tracing_subscriber::registry().with(PythonLoggingLayer::new(router));
    if tracing::subscriber::set_global_default(subscriber).is_err() {
        problems.push("a logger was already installed; the configuration was not applied".into());
    }
    problems
}
