use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::level::Level;

fn record() -> Record {
    let mut record = Record::new(Level::WARNING, "asimap.server", "disk almost full");
    record.created = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
    record.module = "listener".into();
    record.function = "accept".into();
    record.username = "alice".into();
    record.line = Some(42);
    record
        .fields
        .push(("connection".into(), serde_json::json!("client-00000001")));
    record
}

fn percent(format: &str) -> String {
    Formatter::new(format, Style::Percent, None)
        .unwrap()
        .format(&record())
}

#[test]
fn percent_fields_are_substituted() {
    assert_eq!(
        percent("%(levelname)s %(name)s %(module)s.%(funcName)s %(username)s: %(message)s"),
        "WARNING asimap.server listener.accept alice: disk almost full connection=client-00000001"
    );
}

#[test]
fn message_carries_unnamed_fields() {
    let mut record = record();
    record.fields.extend([
        ("uid".into(), serde_json::json!(17)),
        (
            "error".into(),
            serde_json::json!("open failed: no such file"),
        ),
        ("empty".into(), serde_json::json!("")),
        ("user".into(), serde_json::json!("alice")),
    ]);
    let formatter = Formatter::new("%(message)s", Style::Percent, None).unwrap();
    assert_eq!(
        formatter.format(&record),
        r#"disk almost full connection=client-00000001 uid=17 error="open failed: no such file" empty="""#
    );
}

#[test]
fn client_text_cannot_forge_a_line() {
    let mut record = Record::new(Level::INFO, "asimap.server", "login failed\n[forged] INFO");
    record.username = "eve\r\nroot".into();
    record
        .fields
        .push(("client_id".into(), serde_json::json!("a\u{1b}[2J \"b\"")));
    let formatter = Formatter::new("%(username)s: %(message)s", Style::Percent, None).unwrap();
    assert_eq!(
        formatter.format(&record),
        r#"eve\r\nroot: login failed\n[forged] INFO client_id="a\x1b[2J \"b\"""#
    );
}

#[test]
fn long_text_is_cut_with_a_count() {
    let long = "x".repeat(MAX_LOGGED_TEXT + 10);
    let record = Record::new(Level::INFO, "asimap.server", long);
    let line = Formatter::new("%(message)s", Style::Percent, None)
        .unwrap()
        .format(&record);
    assert_eq!(line.len(), MAX_LOGGED_TEXT + "... (10 more bytes)".len());
    assert!(line.ends_with("x... (10 more bytes)"), "{line}");
}

#[test]
fn message_leaves_out_fields_it_already_contains() {
    let mut record = Record::new(Level::INFO, "asimap.server", "worker pid 4021 exited");
    record.fields.extend([
        ("pid".into(), serde_json::json!(4021)),
        ("code".into(), serde_json::json!(40)),
    ]);
    let formatter = Formatter::new("%(message)s", Style::Percent, None).unwrap();
    assert_eq!(formatter.format(&record), "worker pid 4021 exited code=40");
}

#[test]
fn message_leaves_out_fields_the_format_names() {
    assert_eq!(
        percent("%(connection)s %(message)s"),
        "client-00000001 disk almost full"
    );
}

#[test]
fn percent_width_and_alignment() {
    assert_eq!(percent("[%(levelname)-8s]"), "[WARNING ]");
    assert_eq!(percent("[%(levelname)10s]"), "[   WARNING]");
    assert_eq!(percent("%(lineno)05d"), "00042");
    assert_eq!(percent("%(msecs)03d"), "123");
}

#[test]
fn percent_doubled_sign_is_literal() {
    assert_eq!(percent("100%% %(levelno)d"), "100% 30");
}

#[test]
fn percent_unknown_field_reads_structured_field() {
    assert_eq!(percent("%(connection)s"), "client-00000001");
    assert_eq!(percent("[%(nothing)s]"), "[]");
}

#[test]
fn percent_without_conversion_is_rejected() {
    let error = Formatter::new("%(message)", Style::Percent, None).unwrap_err();
    assert_eq!(
        error.reason,
        "a placeholder needs a conversion such as s, d or f"
    );
}

#[test]
fn asctime_uses_date_format() {
    let formatter = Formatter::new("%(asctime)s", Style::Percent, Some("%Y".into())).unwrap();
    let year = formatter.format(&record());
    assert!(year == "2023" || year == "2024", "{year}");
}

#[test]
fn asctime_default_has_milliseconds() {
    let text = percent("%(asctime)s");
    assert_eq!(text.len(), "2023-11-14 22:13:20,123".len(), "{text}");
    assert!(text.ends_with(",123"), "{text}");
}

#[test]
fn brace_style_with_alignment() {
    let formatter = Formatter::new(
        "{username:<8}|{levelname:>9}|{levelno:^6}|",
        Style::Brace,
        None,
    )
    .unwrap();
    assert_eq!(formatter.format(&record()), "alice   |  WARNING|  30  |");
}

#[test]
fn brace_style_fill_character() {
    let formatter = Formatter::new("{username:*>7}{{x}}", Style::Brace, None).unwrap();
    assert_eq!(formatter.format(&record()), "**alice{x}");
}

#[test]
fn json_formatter_names_fields_then_extras() {
    let formatter = Formatter::json("%(levelname)s %(message)s", Style::Percent, None).unwrap();
    let line = formatter.format(&record());
    let value: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["levelname"], "WARNING");
    assert_eq!(value["message"], "disk almost full");
    assert_eq!(value["connection"], "client-00000001");
}
