//! A panic in one session task: its client gets `* BYE [SERVERBUG]` and the end of the
//! stream, while the other sessions and the worker keep running. The panic comes from the
//! `test-panic` feature, which this crate's tests enable.

mod common;

use std::sync::{Arc, Mutex};

use asimapd_worker::TEST_PANIC_TAG;
use common::Worker;
use tokio::io::AsyncReadExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// A subscriber that keeps the fields of every ERROR event as `name=value` text.
#[derive(Clone, Default)]
struct ErrorEvents {
    lines: Arc<Mutex<Vec<String>>>,
}

struct FieldText(String);

impl Visit for FieldText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push_str(&format!(" {}={value}", field.name()));
    }
}

impl Subscriber for ErrorEvents {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        if *event.metadata().level() == Level::ERROR {
            let mut text = FieldText(String::new());
            event.record(&mut text);
            self.lines.lock().unwrap().push(text.0);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

// The default single-threaded test runtime runs the session tasks on this thread, where the
// subscriber is installed.
#[tokio::test]
async fn panic_ends_only_its_session() {
    let events = ErrorEvents::default();
    let _subscriber = tracing::subscriber::set_default(events.clone());
    let mut worker = Worker::start().await;
    let mut faulty = worker.connect().await;
    let mut other = worker.connect().await;
    let select = other.command("SELECT INBOX").await;
    assert!(select.last().unwrap().contains(" OK "), "{select:?}");

    faulty
        .send(format!("{TEST_PANIC_TAG} NOOP\r\n").as_bytes())
        .await;
    let bye = faulty.read_line().await;
    assert_eq!(bye, "* BYE [SERVERBUG] Internal error");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        common::RESPONSE_TIMEOUT,
        faulty.reader.read_to_end(&mut rest),
    )
    .await
    .expect("the connection stayed open after the BYE")
    .unwrap();
    assert_eq!(read, 0, "bytes after the BYE: {rest:?}");
    let errors = events.lines.lock().unwrap().clone();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains(" session=1"), "{errors:?}");
    assert!(errors[0].contains(" user=alice"), "{errors:?}");
    assert!(errors[0].contains(TEST_PANIC_TAG), "{errors:?}");

    let noop = other.command("NOOP").await;
    assert!(noop.last().unwrap().contains(" OK "), "{noop:?}");
    let mut later = worker.connect().await;
    let status = later.command("STATUS INBOX (MESSAGES)").await;
    assert!(status.last().unwrap().contains(" OK "), "{status:?}");

    drop((other, later));
    worker.shutdown().await.unwrap();
}
