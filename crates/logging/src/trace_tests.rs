use super::*;
use crate::config::parse_dict;

fn event<'a>(msg_type: MessageType, data: &'a [u8]) -> TraceEvent<'a> {
    TraceEvent {
        user: "alice",
        connection: "client-00000007",
        remote: "127.0.0.1:50000",
        msg_type,
        data,
    }
}

fn lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn first_record_announces_format() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TraceSink::new(dir.path(), true, &LogConfig::default(), None);

    sink.write(&event(MessageType::Received, b"a1 NOOP"));

    let records = lines(&dir.path().join("alice-asimapd.trace"));
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["trace_format"], "1.0");
    assert_eq!(records[1]["msg_type"], "RECEIVED");
    assert_eq!(records[1]["data"], "a1 NOOP");
    assert_eq!(records[1]["connection"], "client-00000007");
    assert_eq!(records[1]["remote"], "127.0.0.1:50000");
    assert!(records[1]["trace_time"].is_f64());
    assert!(records[1]["trace_delta_time"].is_f64());
}

#[test]
fn disabled_trace_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TraceSink::new(dir.path(), false, &LogConfig::default(), None);

    sink.write(&event(MessageType::Send, b"* OK"));

    assert!(!dir.path().join("alice-asimapd.trace").exists());
}

#[test]
fn toggle_on_announces_format_again() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TraceSink::new(dir.path(), true, &LogConfig::default(), None);
    sink.write(&event(MessageType::Send, b"one"));

    assert!(!sink.toggle());
    sink.write(&event(MessageType::Send, b"ignored"));
    assert!(sink.toggle());
    sink.write(&event(MessageType::Send, b"two"));

    let records = lines(&dir.path().join("alice-asimapd.trace"));
    let formats = records
        .iter()
        .filter(|r| r["trace_format"] == "1.0")
        .count();
    assert_eq!(formats, 2);
    assert_eq!(records.len(), 4);
}

#[test]
fn non_utf8_data_is_latin1_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TraceSink::new(dir.path(), true, &LogConfig::default(), None);

    sink.write(&event(MessageType::Send, b"caf\xe9"));

    let records = lines(&dir.path().join("alice-asimapd.trace"));
    assert_eq!(records[1]["data"], "café");
}

#[test]
fn trace_path_stays_inside_directory() {
    let sink = TraceSink::new("/traces", true, &LogConfig::default(), None);

    assert_eq!(
        sink.path_of("../etc/passwd"),
        PathBuf::from("/traces/_._etc_passwd-asimapd.trace")
    );
    assert_eq!(
        sink.path_of("alice"),
        PathBuf::from("/traces/alice-asimapd.trace")
    );
}

#[test]
fn configured_trace_logger_receives_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("all-traces.log");
    let document = serde_json::json!({
        "version": 1,
        "formatters": {"f": {"format": "%(username)s %(msg_type)s %(data)s"}},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": path, "formatter": "f"}},
        "loggers": {"asimap.trace": {"level": "INFO", "handlers": ["file"], "propagate": false}},
    });
    let config = parse_dict(&document.to_string()).unwrap();
    let mut problems = Vec::new();
    let records = RecordRouter::new(crate::router::Router::build(&config, &mut problems));
    let sink = TraceSink::new(dir.path(), true, &config, Some(records));

    sink.write(&event(MessageType::Received, b"a1 NOOP"));

    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.ends_with("alice RECEIVED a1 NOOP\n"), "{written}");
    assert!(!dir.path().join("alice-asimapd.trace").exists());
}

#[test]
fn trace_logger_with_only_skipped_handlers_keeps_files() {
    let dir = tempfile::tempdir().unwrap();
    let document = serde_json::json!({
        "version": 1,
        "handlers": {"syslog": {"class": "logging.handlers.SysLogHandler"}},
        "loggers": {"asimap.trace": {"level": "INFO", "handlers": ["syslog"]}},
    });
    let config = parse_dict(&document.to_string()).unwrap();
    let mut problems = Vec::new();
    let records = RecordRouter::new(crate::router::Router::build(&config, &mut problems));
    let sink = TraceSink::new(dir.path(), true, &config, Some(records));

    sink.write(&event(MessageType::Received, b"a1 NOOP"));

    let written = lines(&dir.path().join("alice-asimapd.trace"));
    assert_eq!(written.last().unwrap()["data"], "a1 NOOP");
}

#[test]
fn trace_file_rotates_at_maximum_size() {
    let dir = tempfile::tempdir().unwrap();
    let sink = TraceSink::new(dir.path(), true, &LogConfig::default(), None);
    let data = vec![b'x'; 1024 * 1024];

    for _ in 0..21 {
        sink.write(&event(MessageType::Send, &data));
    }

    let current = dir.path().join("alice-asimapd.trace");
    let rotated = dir.path().join("alice-asimapd.trace.1");
    assert!(rotated.exists());
    assert!(std::fs::metadata(&rotated).unwrap().len() <= TRACE_MAX_BYTES);
    assert!(std::fs::metadata(&current).unwrap().len() < TRACE_MAX_BYTES);
}

#[test]
fn trace_rotation_keeps_backup_count_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = TraceSink::new(dir.path(), true, &LogConfig::default(), None);
    // The rotation rule of TRACE_MAX_BYTES, at a size that needs no 100 MiB of writes.
    sink.max_bytes = 1000;
    let data = vec![b'x'; 300];

    for _ in 0..40 {
        sink.write(&event(MessageType::Send, &data));
    }

    let current = dir.path().join("alice-asimapd.trace");
    let backups: Vec<std::path::PathBuf> = (1..=TRACE_BACKUP_COUNT)
        .map(|index| dir.path().join(format!("alice-asimapd.trace.{index}")))
        .collect();
    let beyond = dir
        .path()
        .join(format!("alice-asimapd.trace.{}", TRACE_BACKUP_COUNT + 1));
    assert!(current.exists());
    for backup in &backups {
        let length = std::fs::metadata(backup).unwrap().len();
        assert!(length <= 1000, "{} has {length} bytes", backup.display());
    }
    assert!(!beyond.exists(), "only {TRACE_BACKUP_COUNT} rotated files");
    assert_eq!(TRACE_BACKUP_COUNT, 5);
    assert_eq!(TRACE_MAX_BYTES, 20 * 1024 * 1024);
}
