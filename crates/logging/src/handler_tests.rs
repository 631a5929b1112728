use std::time::UNIX_EPOCH;

use super::*;
use crate::format::Style;

fn handler(destination: Destination) -> Handler {
    let formatter = Formatter::new("%(message)s", Style::Percent, None).unwrap();
    Handler::new("test", Level::DEBUG, formatter, destination).unwrap()
}

fn emit(handler: &Handler, message: &str) {
    handler.handle(&Record::new(Level::INFO, "asimap", message));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn file_handler_appends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    std::fs::write(&path, "old\n").unwrap();
    let handler = handler(Destination::File {
        path: path.clone(),
        truncate: false,
    });
    emit(&handler, "new");
    assert_eq!(read(&path), "old\nnew\n");
}

#[test]
fn file_handler_mode_w_truncates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    std::fs::write(&path, "old\n").unwrap();
    let handler = handler(Destination::File {
        path: path.clone(),
        truncate: true,
    });
    emit(&handler, "new");
    assert_eq!(read(&path), "new\n");
}

#[test]
fn file_handler_creates_missing_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs/deeper/a.log");
    let handler = handler(Destination::File {
        path: path.clone(),
        truncate: false,
    });
    emit(&handler, "hello");
    assert_eq!(read(&path), "hello\n");
}

#[test]
fn handler_level_filters_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.log");
    let formatter = Formatter::new("%(message)s", Style::Percent, None).unwrap();
    let handler = Handler::new(
        "warn",
        Level::WARNING,
        formatter,
        Destination::File {
            path: path.clone(),
            truncate: false,
        },
    )
    .unwrap();
    handler.handle(&Record::new(Level::INFO, "asimap", "quiet"));
    handler.handle(&Record::new(Level::ERROR, "asimap", "loud"));
    assert_eq!(read(&path), "loud\n");
}

#[test]
fn rotating_handler_keeps_backup_count_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.log");
    let handler = handler(Destination::RotatingFile {
        path: path.clone(),
        max_bytes: 20,
        backup_count: 2,
    });
    for index in 0..10 {
        emit(&handler, &format!("message {index}")); // 10 bytes with the newline
    }
    // Python rolls over when a record would bring the file to max_bytes, so each 10-byte
    // line ends up in a file of its own here.
    assert_eq!(read(&path), "message 9\n");
    assert_eq!(read(&numbered(&path, 1)), "message 8\n");
    assert_eq!(read(&numbered(&path, 2)), "message 7\n");
    assert!(!numbered(&path, 3).exists(), "only two backups are kept");
}

#[test]
fn rotating_handler_respects_max_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.log");
    let handler = handler(Destination::RotatingFile {
        path: path.clone(),
        max_bytes: 100,
        backup_count: 3,
    });
    for index in 0..200 {
        emit(&handler, &format!("line {index:04}"));
    }
    for file in [
        path.clone(),
        numbered(&path, 1),
        numbered(&path, 2),
        numbered(&path, 3),
    ] {
        let size = std::fs::metadata(&file).unwrap().len();
        assert!(size <= 100, "{} is {size} bytes", file.display());
    }
    assert!(read(&path).ends_with("line 0199\n"));
}

#[test]
fn rotating_handler_with_zero_backups_never_rolls_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.log");
    let handler = handler(Destination::RotatingFile {
        path: path.clone(),
        max_bytes: 10,
        backup_count: 0,
    });
    emit(&handler, "first line");
    emit(&handler, "second line");
    assert_eq!(read(&path), "first line\nsecond line\n");
    assert!(!numbered(&path, 1).exists());
}

#[test]
fn watched_handler_reopens_moved_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.log");
    let handler = handler(Destination::WatchedFile { path: path.clone() });
    emit(&handler, "before");
    std::fs::rename(&path, dir.path().join("w.log.moved")).unwrap();
    emit(&handler, "after");
    assert_eq!(read(&dir.path().join("w.log.moved")), "before\n");
    assert_eq!(read(&path), "after\n");
}

#[test]
fn timed_handler_rolls_over_after_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.log");
    let rotation = TimedRotation {
        interval: Interval::Seconds,
        count: 10,
        backup_count: 2,
        utc: true,
    };
    let handler = handler(Destination::TimedRotatingFile {
        path: path.clone(),
        rotation,
    });
    let start = SystemTime::now();
    for step in 0..5u64 {
        let mut record = Record::new(Level::INFO, "asimap", format!("step {step}"));
        record.created = start + Duration::from_secs(step * 11);
        handler.handle(&record);
    }
    assert_eq!(read(&path), "step 4\n");
    let rotated: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("t.log."))
        .collect();
    assert_eq!(
        rotated.len(),
        2,
        "backup count limits old files: {rotated:?}"
    );
}

#[test]
fn timed_rotation_names_use_python_suffixes() {
    let rotation = TimedRotation {
        interval: Interval::Hours,
        count: 1,
        backup_count: 0,
        utc: true,
    };
    let start = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let name = rotation.rotated_name(Path::new("/var/log/a.log"), start);
    assert_eq!(name, PathBuf::from("/var/log/a.log.2023-11-14_22"));
}

#[test]
fn midnight_rollover_is_next_utc_midnight() {
    let rotation = TimedRotation {
        interval: Interval::Midnight,
        count: 1,
        backup_count: 0,
        utc: true,
    };
    let from = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // 2023-11-14 22:13:20 UTC
    let next = rotation.next_rollover(from);
    assert_eq!(next, UNIX_EPOCH + Duration::from_secs(1_700_006_400)); // 2023-11-15 00:00 UTC
}

#[test]
fn weekday_rollover_waits_for_that_day() {
    let rotation = TimedRotation {
        interval: Interval::Weekday(0),
        count: 1,
        backup_count: 0,
        utc: true,
    };
    let from = UNIX_EPOCH + Duration::from_secs(1_700_000_000); // a Tuesday
    let next = rotation.next_rollover(from);
    assert_eq!(
        next,
        UNIX_EPOCH + Duration::from_secs(1_700_006_400 + 5 * 86_400)
    ); // Monday
}

#[test]
fn interval_parse_accepts_python_when_values() {
    assert_eq!(Interval::parse("midnight"), Some(Interval::Midnight));
    assert_eq!(Interval::parse("w6"), Some(Interval::Weekday(6)));
    assert_eq!(Interval::parse("h"), Some(Interval::Hours));
    assert_eq!(Interval::parse("W7"), None);
    assert_eq!(Interval::parse("fortnight"), None);
}
