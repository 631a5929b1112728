//! Importing the Python asimap's `asimap.db`, built by a script that follows its schema.

mod support;

use std::path::Path;
use std::process::Command;

use asimapd_store::{FlagSet, SystemFlag};
use asimapd_testkit::require_tool;
use support::*;

/// Builds `asimap.db` in the mail root with `tests/fixtures/make_asimap_db.py`.
fn make_asimap_db(mail_root: &Path) -> bool {
    let Some(python) = require_tool("python3", "python3") else {
        return false;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/make_asimap_db.py");
    let status = Command::new(python)
        .arg(script)
        .arg(mail_root.join("asimap.db"))
        .status()
        .unwrap();
    assert!(status.success(), "make_asimap_db.py failed: {status}");
    true
}

fn python_home() -> Option<asimapd_testkit::nmh::NmhHome> {
    let home = home()?;
    if !make_asimap_db(&home.mail_root()) {
        return None;
    }
    fill_settled(&home, "inbox", &["m1", "m2", "m3", "m4", "m5"]);
    let sequences = "unseen: 3-4\nflagged: 2\nSeen: 1-2\nRecent: 4\n";
    std::fs::write(home.folder_path("inbox").join(".mh_sequences"), sequences).unwrap();
    home.create_folder("Sent");
    home.create_folder("broken");
    fill_settled(&home, "broken", &["b1", "b2", "b3"]);
    Some(home)
}

#[test]
fn import_keeps_uids_and_uidvalidity() {
    let Some(home) = python_home() else { return };
    let store = open_store(&home);
    let selected = store.select("inbox").unwrap();
    assert_eq!(selected.uid_validity.get(), 5);
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![
            (10, "m1".into()),
            (11, "m2".into()),
            (12, "m3".into()),
            (13, "m4".into()),
            (20, "m5".into()),
        ]
    );
    assert_eq!(store.status("inbox").unwrap().uid_next, 21);
}

#[test]
fn import_hides_seen_and_recent_sequences() {
    let Some(home) = python_home() else { return };
    let store = open_store(&home);
    let selected = store.select("inbox").unwrap();
    for message in &selected.messages {
        assert!(
            message.flags.keywords().is_empty(),
            "UID {} shows keywords {:?}",
            message.uid,
            message.flags.keywords()
        );
    }
    assert!(selected.messages[0].flags.has(SystemFlag::Seen));
    assert!(selected.messages[1].flags.has(SystemFlag::Flagged));
    assert!(!selected.messages[2].flags.has(SystemFlag::Seen));
}

#[test]
fn import_keeps_recent_for_first_session() {
    let Some(home) = python_home() else { return };
    let store = open_store(&home);
    let selected = store.select("inbox").unwrap();
    assert_eq!(selected.recent, 13..21);
}

#[test]
fn import_keeps_subscriptions_and_special_use() {
    let Some(home) = python_home() else { return };
    let store = open_store(&home);
    let listed = store.list_mailboxes().unwrap();
    let find = |name: &str| listed.iter().find(|info| info.name == name).unwrap();
    assert!(find("inbox").subscribed);
    assert!(!find("Sent").subscribed);
    assert_eq!(find("Sent").special_use.as_deref(), Some("\\Sent"));
    assert!(find("gone").subscribed);
    assert!(!find("gone").exists);
}

#[test]
fn unusable_row_is_indexed_afresh() {
    let Some(home) = python_home() else { return };
    let store = open_store(&home);
    let selected = store.select("broken").unwrap();
    assert!(selected.uid_validity.get() > 8);
    let uids: Vec<u32> = selected.messages.iter().map(|m| m.uid.get()).collect();
    assert_eq!(uids, vec![1, 2, 3]);
}

#[test]
fn import_runs_once() {
    let Some(home) = python_home() else { return };
    let store = open_store(&home);
    let (_, appended) = store
        .append("inbox", b"Subject: later\n\nbody\n", &FlagSet::new(), None)
        .unwrap();
    assert_eq!(appended.get(), 21);
    drop(store);
    let reopened = open_store(&home);
    assert_eq!(reopened.status("inbox").unwrap().uid_next, 22);
}

#[test]
fn new_uidvalidity_exceeds_imported_ones() {
    let Some(home) = python_home() else { return };
    let store = open_store(&home);
    let created = store.create_mailbox("fresh", None).unwrap();
    assert!(created.get() > 8);
}
