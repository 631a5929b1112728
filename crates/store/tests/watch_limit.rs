//! The watcher when inotify watches run out: mailboxes without a watch are polled, changes
//! made by nmh still reach sessions within two seconds, and the fallback is logged once.
//!
//! The limit is [`WatchConfig::max_watches`], lowered to one. This binary installs a global
//! `tracing` subscriber that counts the fallback warning, so it contains this one test only.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use asimapd_store::{MailboxEvent, SystemFlag, WatchConfig};
use support::*;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// The message of the warning logged when the watcher falls back to polling.
const FALLBACK_MESSAGE: &str = "inotify unavailable; polling folders instead";

/// A subscriber that counts events whose message is [`FALLBACK_MESSAGE`].
struct FallbackCounter {
    count: Arc<AtomicUsize>,
}

struct MessageField(Option<String>);

impl Visit for MessageField {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl Subscriber for FallbackCounter {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut message = MessageField(None);
        event.record(&mut message);
        if message.0.as_deref() == Some(FALLBACK_MESSAGE) {
            self.count.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[test]
fn watch_limit_falls_back_to_polling() {
    let count = Arc::new(AtomicUsize::new(0));
    tracing::subscriber::set_global_default(FallbackCounter {
        count: Arc::clone(&count),
    })
    .unwrap();
    let Some(home) = home() else { return };
    let folders = ["inbox", "alpha", "beta"];
    for folder in folders {
        if folder != "inbox" {
            home.create_folder(folder);
        }
        fill_settled(&home, folder, &["a", "b"]);
    }
    let store = open_store(&home);
    let mut sessions: Vec<_> = folders
        .iter()
        .map(|folder| store.select(folder).unwrap())
        .collect();
    let config = WatchConfig {
        max_watches: 1,
        ..WatchConfig::default()
    };
    let _watcher = store.spawn_watcher(config).unwrap();
    // Several ticks, each of which finds two selected mailboxes over the limit.
    std::thread::sleep(Duration::from_millis(500));

    let start = Instant::now();
    for folder in folders {
        home.run(
            "mark",
            &[&format!("+{folder}"), "2", "-sequence", "flagged", "-add"],
        );
    }
    for (folder, session) in folders.iter().zip(&mut sessions) {
        let left = (start + Duration::from_secs(2)).saturating_duration_since(Instant::now());
        let event = wait_for_event(&mut session.events, left, |event| {
            matches!(event, MailboxEvent::FlagsChanged(views)
                if views.iter().any(|v| v.uid == uid(2) && v.flags.has(SystemFlag::Flagged)))
        });
        assert!(
            event.is_some(),
            "{folder}: no flag change within 2 seconds of the first mark"
        );
    }
    assert_eq!(
        count.load(Ordering::SeqCst),
        1,
        "the fallback to polling is logged exactly once"
    );
}
