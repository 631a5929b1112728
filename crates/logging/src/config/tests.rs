use std::path::Path;

use super::*;

const DICT_CONFIG: &str = r#"{
  "version": 1,
  "disable_existing_loggers": false,
  "formatters": {
    "simple": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s", "datefmt": "%H:%M:%S"},
    "json": {"()": "pythonjsonlogger.jsonlogger.JsonFormatter", "fmt": "%(asctime)s %(message)s"}
  },
  "handlers": {
    "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "simple", "level": "DEBUG"},
    "file": {"class": "logging.handlers.RotatingFileHandler", "filename": "/var/log/asimapd.log",
             "maxBytes": 1048576, "backupCount": 5, "encoding": "utf8", "formatter": "json"},
    "timed": {"class": "logging.handlers.TimedRotatingFileHandler", "filename": "t.log", "when": "midnight", "backupCount": 7},
    "watched": {"class": "logging.handlers.WatchedFileHandler", "filename": "w.log"},
    "plain": {"class": "logging.FileHandler", "filename": "p.log", "mode": "w"},
    "nothing": {"class": "logging.NullHandler"},
    "syslog": {"class": "logging.handlers.SysLogHandler", "address": "/dev/log"}
  },
  "loggers": {
    "asimap": {"level": "INFO", "handlers": ["console", "file"], "propagate": false},
    "asimap.trace": {"level": "INFO", "handlers": ["nothing"], "propagate": false}
  },
  "root": {"level": "WARNING", "handlers": ["console"]}
}"#;

#[test]
fn dict_config_reads_formatters() {
    let config = parse_dict(DICT_CONFIG).unwrap();
    let simple = &config.formatters["simple"];
    assert_eq!(
        simple.format.as_deref(),
        Some("%(asctime)s %(levelname)s %(name)s %(message)s")
    );
    assert_eq!(simple.date_format.as_deref(), Some("%H:%M:%S"));
    assert!(!simple.is_json);
    assert!(config.formatters["json"].is_json);
    assert_eq!(
        config.formatters["json"].format.as_deref(),
        Some("%(asctime)s %(message)s")
    );
}

#[test]
fn dict_config_reads_every_supported_handler() {
    let config = parse_dict(DICT_CONFIG).unwrap();
    assert_eq!(config.handlers["console"].kind, HandlerKind::Stdout);
    assert_eq!(config.handlers["console"].level, Level::DEBUG);
    assert_eq!(
        config.handlers["file"].kind,
        HandlerKind::RotatingFile {
            path: "/var/log/asimapd.log".into(),
            max_bytes: 1_048_576,
            backup_count: 5
        }
    );
    let HandlerKind::TimedRotatingFile { rotation, .. } = &config.handlers["timed"].kind else {
        panic!("timed handler: {:?}", config.handlers["timed"]);
    };
    assert_eq!(rotation.interval, Interval::Midnight);
    assert_eq!(rotation.backup_count, 7);
    assert_eq!(
        config.handlers["watched"].kind,
        HandlerKind::WatchedFile {
            path: "w.log".into()
        }
    );
    assert_eq!(
        config.handlers["plain"].kind,
        HandlerKind::File {
            path: "p.log".into(),
            truncate: true
        }
    );
    assert_eq!(config.handlers["nothing"].kind, HandlerKind::Null);
}

#[test]
fn dict_config_reports_unsupported_handler_by_name() {
    let config = parse_dict(DICT_CONFIG).unwrap();
    assert!(!config.handlers.contains_key("syslog"));
    assert_eq!(
        config.unsupported,
        ["handler \"syslog\": unsupported handler class logging.handlers.SysLogHandler"]
    );
}

#[test]
fn dict_config_reads_loggers_and_root() {
    let config = parse_dict(DICT_CONFIG).unwrap();
    let asimap = &config.loggers["asimap"];
    assert_eq!(asimap.level, Some(Level::INFO));
    assert_eq!(asimap.handlers, ["console", "file"]);
    assert!(!asimap.propagate);
    let root = config.root.as_ref().unwrap();
    assert_eq!(root.level, Some(Level::WARNING));
    assert!(root.propagate);
}

#[test]
fn dict_config_requires_version_one() {
    assert_eq!(
        parse_dict(r#"{"version": 2}"#).unwrap_err(),
        "unsupported version 2; only version 1 exists"
    );
    assert_eq!(parse_dict("{}").unwrap_err(), "missing \"version\": 1");
}

#[test]
fn dict_config_rejects_invalid_json() {
    assert!(
        parse_dict("{version")
            .unwrap_err()
            .starts_with("not valid JSON")
    );
}

#[test]
fn dict_config_reports_unknown_top_level_entry() {
    let config = parse_dict(r#"{"version": 1, "incremental": true}"#).unwrap();
    assert_eq!(config.unsupported, ["top-level entry \"incremental\""]);
}

const INI_CONFIG: &str = "\
[loggers]
keys=root,asimap,trace

[handlers]
keys=console,rotating,timed

[formatters]
keys=simple,json

[logger_root]
level=WARNING
handlers=console

[logger_asimap]
level=DEBUG
handlers=rotating
propagate=0
qualname=asimap

[logger_trace]
level=INFO
handlers=
qualname=asimap.trace

[handler_console]
class=StreamHandler
level=INFO
formatter=simple
args=(sys.stdout,)

[handler_rotating]
class=handlers.RotatingFileHandler
formatter=json
args=('/tmp/asimapd.log', 'a', 4096, 3)

[handler_timed]
class=logging.handlers.TimedRotatingFileHandler
args=('t.log',)
kwargs={'when': 'H', 'interval': 2, 'utc': True}

[formatter_simple]
format=%(asctime)s %(levelname)s
    %(message)s
datefmt=%Y

[formatter_json]
class=pythonjsonlogger.jsonlogger.JsonFormatter
format=%(message)s
";

#[test]
fn ini_config_reads_handlers_from_args() {
    let config = parse_ini(INI_CONFIG).unwrap();
    assert_eq!(config.handlers["console"].kind, HandlerKind::Stdout);
    assert_eq!(config.handlers["console"].level, Level::INFO);
    assert_eq!(
        config.handlers["rotating"].kind,
        HandlerKind::RotatingFile {
            path: "/tmp/asimapd.log".into(),
            max_bytes: 4096,
            backup_count: 3
        }
    );
    let HandlerKind::TimedRotatingFile { rotation, .. } = &config.handlers["timed"].kind else {
        panic!("timed: {:?}", config.handlers["timed"]);
    };
    assert_eq!(
        (rotation.interval, rotation.count, rotation.utc),
        (Interval::Hours, 2, true)
    );
}

#[test]
fn ini_config_reads_loggers_by_qualname() {
    let config = parse_ini(INI_CONFIG).unwrap();
    assert_eq!(config.loggers["asimap"].level, Some(Level::DEBUG));
    assert!(!config.loggers["asimap"].propagate);
    assert!(config.loggers["asimap.trace"].handlers.is_empty());
    assert_eq!(config.root.as_ref().unwrap().handlers, ["console"]);
}

#[test]
fn ini_config_joins_continuation_lines() {
    let config = parse_ini(INI_CONFIG).unwrap();
    assert_eq!(
        config.formatters["simple"].format.as_deref(),
        Some("%(asctime)s %(levelname)s\n%(message)s")
    );
    assert!(config.formatters["json"].is_json);
}

#[test]
fn ini_config_rejects_code_in_args() {
    let text =
        "[handlers]\nkeys=h\n[handler_h]\nclass=FileHandler\nargs=(os.path.join('a', 'b'),)\n";
    let config = parse_ini(text).unwrap();
    assert_eq!(config.unsupported.len(), 1, "{:?}", config.unsupported);
    assert!(
        config.unsupported[0].contains("os.path.join"),
        "{:?}",
        config.unsupported
    );
}

#[test]
fn ini_config_missing_section_is_an_error() {
    let error = parse_ini("[loggers]\nkeys=root\n").unwrap_err();
    assert_eq!(error, "missing section [logger_root]");
}

#[test]
fn search_order_is_json_then_cfg_per_folder() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    std::fs::write(second.path().join("asimapd_log.json"), "{}").unwrap();
    std::fs::write(first.path().join("asimapd_log.cfg"), "").unwrap();
    let dirs = [first.path(), second.path()];
    assert_eq!(
        find_config(None, &dirs).path,
        Some(first.path().join("asimapd_log.cfg"))
    );
    std::fs::write(first.path().join("asimapd_log.json"), "{}").unwrap();
    assert_eq!(
        find_config(None, &dirs).path,
        Some(first.path().join("asimapd_log.json"))
    );
}

#[test]
fn explicit_file_wins_and_missing_one_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let explicit = dir.path().join("mine.cfg");
    std::fs::write(&explicit, "").unwrap();
    assert_eq!(
        find_config(Some(&explicit), &[]).path,
        Some(explicit.clone())
    );
    let missing = dir.path().join("missing.json");
    let found = find_config(Some(&missing), &[Path::new("/nonexistent")]);
    assert_eq!(found.path, None);
    assert_eq!(found.missing_explicit, Some(missing));
}
