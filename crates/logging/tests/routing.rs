//! Events from `tracing` routed through configured Python-style loggers into real files.

use std::path::Path;

use asimapd_logging::{LogConfig, PythonLoggingLayer, Router, config, logger_name};
use tracing_subscriber::layer::SubscriberExt;

/// Runs `emit` with a subscriber built from `config`, returning build problems.
fn with_config(config: &LogConfig, emit: impl FnOnce()) -> Vec<String> {
    let mut problems = Vec::new();
    let router = Router::build(config, &mut problems);
    let subscriber = tracing_subscriber::registry().with(PythonLoggingLayer::new(router));
    tracing::subscriber::with_default(subscriber, emit);
    problems
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn dict_config(dir: &Path) -> LogConfig {
    let text = serde_json::json!({
        "version": 1,
        "formatters": {
            "plain": {"format": "%(levelname)s %(name)s %(username)s %(funcName)s: %(message)s"},
            "json": {"()": "pythonjsonlogger.jsonlogger.JsonFormatter", "format": "%(levelname)s %(message)s"}
        },
        "handlers": {
            "main": {"class": "logging.handlers.RotatingFileHandler", "filename": dir.join("main.log"),
                     "maxBytes": 400, "backupCount": 2, "formatter": "plain"},
            "errors": {"class": "logging.FileHandler", "filename": dir.join("errors.log"),
                       "level": "ERROR", "formatter": "plain"},
            "trace": {"class": "logging.FileHandler", "filename": dir.join("trace.log"), "formatter": "json"}
        },
        "loggers": {
            "asimap": {"level": "DEBUG", "handlers": ["main"]},
            "asimap.trace": {"level": "INFO", "handlers": ["trace"], "propagate": false}
        },
        "root": {"level": "WARNING", "handlers": ["errors"]}
    });
    config::parse_dict(&text.to_string()).unwrap()
}

#[test]
fn records_reach_logger_and_propagate_to_root() {
    let dir = tempfile::tempdir().unwrap();
    let problems = with_config(&dict_config(dir.path()), || {
        tracing::debug!(target: "asimapd_worker::fetch", "fetched 3 messages");
        tracing::error!(target: "asimapd_store", "index is corrupt");
    });
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(
        lines(&dir.path().join("main.log")),
        [
            "DEBUG asimap.user_server.fetch  : fetched 3 messages",
            "ERROR asimap.mbox  : index is corrupt"
        ]
    );
    assert_eq!(
        lines(&dir.path().join("errors.log")),
        ["ERROR asimap.mbox  : index is corrupt"]
    );
}

#[test]
fn span_user_and_name_fill_username_and_function() {
    let dir = tempfile::tempdir().unwrap();
    with_config(&dict_config(dir.path()), || {
        let span = tracing::info_span!("select", user = "alice");
        let _entered = span.enter();
        tracing::info!(target: "asimapd_worker", "selected INBOX");
    });
    assert_eq!(
        lines(&dir.path().join("main.log")),
        ["INFO asimap.user_server alice select: selected INBOX"]
    );
}

#[test]
fn trace_logger_does_not_propagate_and_writes_json() {
    let dir = tempfile::tempdir().unwrap();
    with_config(&dict_config(dir.path()), || {
        tracing::info!(target: "asimap.trace", msg_type = "RECEIVED", data = "A1 NOOP", "");
    });
    let trace = lines(&dir.path().join("trace.log"));
    assert_eq!(trace.len(), 1);
    let record: serde_json::Value = serde_json::from_str(&trace[0]).unwrap();
    assert_eq!(record["msg_type"], "RECEIVED");
    assert_eq!(record["data"], "A1 NOOP");
    assert!(
        lines(&dir.path().join("main.log")).is_empty(),
        "asimap.trace must not reach asimap"
    );
}

#[test]
fn levels_below_logger_level_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    with_config(&dict_config(dir.path()), || {
        tracing::info!(target: "rustls::conn", "handshake detail");
        tracing::warn!(target: "rustls::conn", "odd peer");
    });
    assert_eq!(lines(&dir.path().join("errors.log")), Vec::<String>::new());
    assert!(lines(&dir.path().join("main.log")).is_empty());
}

#[test]
fn rotating_file_rolls_over_during_logging() {
    let dir = tempfile::tempdir().unwrap();
    with_config(&dict_config(dir.path()), || {
        for index in 0..40 {
            tracing::info!(target: "asimapd_server", "connection {index} accepted");
        }
    });
    let main = dir.path().join("main.log");
    for file in [
        main.clone(),
        dir.path().join("main.log.1"),
        dir.path().join("main.log.2"),
    ] {
        let size = std::fs::metadata(&file).unwrap().len();
        assert!(size > 0, "{} is empty", file.display());
        assert!(size <= 400, "{}: {size} bytes", file.display());
    }
    assert!(!dir.path().join("main.log.3").exists());
    assert_eq!(
        lines(&main).last().unwrap(),
        "INFO asimap.server  : connection 39 accepted"
    );
}

#[test]
fn ini_file_configures_rotating_handler() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ini.log");
    let text = format!(
        "[loggers]\nkeys=root\n[handlers]\nkeys=file\n[formatters]\nkeys=f\n\
         [logger_root]\nlevel=INFO\nhandlers=file\n\
         [handler_file]\nclass=handlers.RotatingFileHandler\nformatter=f\nargs=('{}', 'a', 200, 1)\n\
         [formatter_f]\nformat=%(levelname)s:%(message)s\n",
        log.display()
    );
    let path = dir.path().join("asimapd_log.cfg");
    std::fs::write(&path, text).unwrap();
    let config = LogConfig::load(&path).unwrap();
    with_config(&config, || {
        for index in 0..30 {
            tracing::info!(target: "asimapd_auth", "login {index}");
        }
    });
    assert_eq!(lines(&log).last().unwrap(), "INFO:login 29");
    assert!(
        std::fs::metadata(dir.path().join("ini.log.1"))
            .unwrap()
            .len()
            <= 200
    );
    assert!(!dir.path().join("ini.log.2").exists());
}

#[test]
fn unparsable_file_falls_back_to_default() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{not json").unwrap();
    let (config, problems) = asimapd_logging::load_config(Some(&path), &[], false);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains(&path.display().to_string()),
        "{problems:?}"
    );
    assert!(
        problems[0].ends_with("using the default configuration"),
        "{problems:?}"
    );
    assert_eq!(config, asimapd_logging::default_config(false));
}

#[test]
fn unsupported_entries_are_reported_with_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("asimapd_log.json");
    std::fs::write(&path, r#"{"version": 1, "filters": {}, "handlers": {"s": {"class": "logging.handlers.SMTPHandler"}}}"#)
        .unwrap();
    let (_, problems) = asimapd_logging::load_config(None, &[dir.path()], false);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems
            .iter()
            .all(|problem| problem.starts_with(&path.display().to_string())),
        "{problems:?}"
    );
}

#[test]
fn logger_names_follow_python_modules() {
    assert_eq!(logger_name("asimapd_server::tls"), "asimap.server.tls");
    assert_eq!(logger_name("asimapd_worker"), "asimap.user_server");
    assert_eq!(
        logger_name("asimapd_store::reconcile"),
        "asimap.mbox.reconcile"
    );
    assert_eq!(logger_name("asimapd"), "asimap.asimapd");
    assert_eq!(logger_name("asimap.trace"), "asimap.trace");
    assert_eq!(logger_name("rustls::server::hs"), "rustls.server.hs");
}

#[test]
fn skipped_entries_are_not_reported_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("main.log");
    let text = serde_json::json!({
        "version": 1,
        "formatters": {"odd": {"()": "colorlog.ColoredFormatter", "format": "%(levelname)s"}},
        "handlers": {
            "main": {"class": "logging.FileHandler", "filename": log, "formatter": "odd"},
            "syslog": {"class": "logging.handlers.SysLogHandler", "address": "/dev/log"}
        },
        "root": {"level": "INFO", "handlers": ["main", "syslog"]}
    });
    let config = config::parse_dict(&text.to_string()).unwrap();

    let problems = with_config(&config, || {
        tracing::info!(target: "asimapd_auth", "password file loaded");
    });

    assert_eq!(config.unsupported.len(), 2, "{:?}", config.unsupported);
    assert!(problems.is_empty(), "reported twice: {problems:?}");
    assert_eq!(lines(&log), ["password file loaded"]);
}

#[test]
fn missing_handler_reference_is_reported() {
    let text = serde_json::json!({
        "version": 1,
        "root": {"level": "INFO", "handlers": ["absent"]}
    });
    let config = config::parse_dict(&text.to_string()).unwrap();

    let problems = with_config(&config, || {});

    assert_eq!(problems, [r#"logger "root": no handler "absent""#]);
}

#[test]
fn skipped_ini_handler_is_not_reported_again() {
    let text = "[loggers]\nkeys=root\n[handlers]\nkeys=syslog\n[formatters]\nkeys=\n\
                [logger_root]\nlevel=INFO\nhandlers=syslog\n\
                [handler_syslog]\nclass=handlers.SysLogHandler\nargs=('/dev/log',)\n";
    let config = config::parse_ini(text).unwrap();

    let problems = with_config(&config, || {});

    assert_eq!(config.unsupported.len(), 1, "{:?}", config.unsupported);
    assert!(
        config.unsupported[0].contains("\"syslog\""),
        "{:?}",
        config.unsupported
    );
    assert!(problems.is_empty(), "reported twice: {problems:?}");
}
