//! The store against real nmh commands changing the same folders.

mod support;

use std::io::Read;
use std::time::Duration;

use asimapd_proto::Flag;
use asimapd_store::{
    FlagSet, InternalDate, MailboxEvent, StoreError, StoreMode, SystemFlag, WatchConfig,
};
use asimapd_testkit::nmh::message;
use support::*;

#[test]
fn new_folder_gets_uids_in_number_order() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(1, "a".into()), (2, "b".into()), (3, "c".into())]
    );
    let status = store.status("inbox").unwrap();
    assert_eq!(status.messages, 3);
    assert_eq!(status.uid_next, 4);
}

#[test]
fn pack_keeps_uids() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c", "d", "e"]);
    let store = open_store(&home);
    let validity = store.select("inbox").unwrap().uid_validity;
    home.run("rmm", &["+inbox", "2", "4"]);
    home.run("folder", &["+inbox", "-pack"]);
    store.check("inbox").unwrap();
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(1, "a".into()), (3, "c".into()), (5, "e".into())]
    );
    let status = store.status("inbox").unwrap();
    assert_eq!(status.uid_next, 6);
    assert_eq!(status.uid_validity, validity, "pack keeps UIDVALIDITY");
}

#[test]
fn sortm_keeps_every_message_once() {
    let Some(home) = home() else { return };
    let messages = vec![
        message("d3", 3, 1),
        message("d1", 1, 1),
        message("d2", 2, 1),
    ];
    home.fill("inbox", &messages);
    for number in 1..=3 {
        age(&home.folder_path("inbox").join(number.to_string()));
    }
    let store = open_store(&home);
    let before = uid_map(&store, "inbox");
    home.run("sortm", &["+inbox"]);
    store.check("inbox").unwrap();
    let after = uid_map(&store, "inbox");

    let mut ids: Vec<&str> = after.iter().map(|(_, id)| id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["d1", "d2", "d3"],
        "UID order is the new number order"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let kept = after.iter().filter(|entry| before.contains(entry)).count();
    assert!(kept >= 1, "at least one message keeps its UID: {after:?}");
    let uids: Vec<u32> = after.iter().map(|(uid, _)| *uid).collect();
    assert!(uids.is_sorted());
}

#[test]
fn mark_becomes_flag_event() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    let mut selected = store.select("inbox").unwrap();
    let before = selected.highest_modseq;
    home.run("mark", &["+inbox", "2", "-sequence", "flagged", "-add"]);
    store.check("inbox").unwrap();
    let event = wait_for_event(&mut selected.events, Duration::from_secs(1), |event| {
        matches!(event, MailboxEvent::FlagsChanged(_))
    });
    let Some(MailboxEvent::FlagsChanged(views)) = event else {
        panic!("no flag change event");
    };
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].uid, uid(2));
    assert!(views[0].flags.has(SystemFlag::Flagged));
    assert!(views[0].modseq > before);
}

#[test]
fn store_writes_sequences_and_keeps_index_keywords() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let mut flags = FlagSet::new();
    flags.insert(&Flag::Flagged);
    flags.insert(&Flag::Keyword("work".into()));
    flags.insert(&Flag::Keyword("$Junk".into()));
    let outcome = store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &flags, None)
        .unwrap();
    assert_eq!(outcome.changed.len(), 1);

    let listed = home.mark_list("inbox");
    assert!(listed.contains("flagged: 1"), "{listed}");
    assert!(listed.contains("work: 1"), "{listed}");
    assert!(!listed.contains("Junk"), "{listed}");

    drop(store);
    let reopened = open_store(&home);
    let selected = reopened.select("inbox").unwrap();
    let first = &selected.messages[0].flags;
    assert!(first.has(SystemFlag::Flagged));
    assert!(first.has_keyword("work"));
    assert!(
        first.has_keyword("$Junk"),
        "index-only keyword survives a reopen"
    );
}

#[test]
fn seen_is_the_unseen_sequence() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b"]);
    home.run("mark", &["+inbox", "1-2", "-sequence", "unseen", "-add"]);
    let store = open_store(&home);
    let selected = store.select("inbox").unwrap();
    assert!(!selected.messages[0].flags.has(SystemFlag::Seen));
    assert!(selected.messages[0].flags.keywords().is_empty());

    let mut seen = FlagSet::new();
    seen.insert(&Flag::Seen);
    store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &seen, None)
        .unwrap();
    assert_eq!(home.message_ids("inbox", Some("unseen")), vec!["<b@test>"]);
}

#[test]
fn append_then_expunge() {
    let Some(home) = home() else { return };
    let store = open_store(&home);
    let (_, first) = store
        .append("inbox", &message("x", 1, 0), &FlagSet::new(), None)
        .unwrap();
    assert_eq!(home.message_ids("inbox", Some("unseen")), vec!["<x@test>"]);

    let mut deleted = FlagSet::new();
    deleted.insert(&Flag::Deleted);
    store
        .store_flags("inbox", &[first], StoreMode::Add, &deleted, None)
        .unwrap();
    assert_eq!(store.expunge("inbox", None).unwrap(), vec![first]);
    assert!(home.message_ids("inbox", None).is_empty());

    let (_, second) = store
        .append("inbox", &message("y", 1, 0), &FlagSet::new(), None)
        .unwrap();
    assert!(second > first, "UIDs are never reused");
}

#[test]
fn expunge_removes_watch_files() {
    let Some(home) = home() else { return };
    let store = open_store(&home);
    let mut uids = Vec::new();
    for id in ["x", "y", "z"] {
        let (_, appended) = store
            .append("inbox", &message(id, 1, 0), &FlagSet::new(), None)
            .unwrap();
        uids.push(appended);
    }
    // Each watched append keeps the same number of files: its private copy and the mh
    // crate's helpers for the watch.
    let initial = watch_files(&home, "inbox");
    assert!(initial >= 3, "{initial} watch files for 3 appends");
    assert_eq!(initial % 3, 0, "{initial} watch files for 3 appends");

    let mut deleted = FlagSet::new();
    deleted.insert(&Flag::Deleted);
    store
        .store_flags("inbox", &uids[..2], StoreMode::Add, &deleted, None)
        .unwrap();
    assert_eq!(store.expunge("inbox", None).unwrap(), uids[..2].to_vec());

    // The files of the expunged messages' watches are removed in the background. Those of
    // the message still watched stay.
    sync_until(&store, "inbox", |_| {
        watch_files(&home, "inbox") == initial / 3
    });
    assert_eq!(home.message_ids("inbox", None), vec!["<z@test>"]);
    assert_eq!(uid_map(&store, "inbox"), vec![(uids[2].get(), "z".into())]);
}

#[test]
fn end_watches_repairs_and_removes_copies() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let mut flagged = FlagSet::new();
    flagged.insert(&Flag::Flagged);
    let (_, kept) = store
        .append("inbox", &message("kept", 2, 0), &FlagSet::new(), None)
        .unwrap();
    let (_, clobbered) = store
        .append("inbox", &message("clobbered", 3, 0), &flagged, None)
        .unwrap();
    assert!(watch_files(&home, "inbox") > 0, "no private copies kept");

    // inc with a stale listing writes its delivery over the second append's file.
    std::fs::write(
        home.folder_path("inbox").join("3"),
        message("delivered", 4, 0),
    )
    .unwrap();

    assert_eq!(store.end_append_watches(), 2);
    assert_eq!(watch_files(&home, "inbox"), 0, "private copies left");
    let mut ids = home.message_ids("inbox", None);
    ids.sort();
    assert_eq!(
        ids,
        [
            "<a@test>",
            "<clobbered@test>",
            "<delivered@test>",
            "<kept@test>"
        ]
    );
    assert_eq!(
        home.message_ids("inbox", Some("flagged")),
        ["<clobbered@test>"]
    );
    assert_eq!(message_id(&store, "inbox", kept), "kept");
    assert_eq!(message_id(&store, "inbox", clobbered), "clobbered");
    assert_eq!(store.end_append_watches(), 0, "watches ended twice");
}

/// Counts the files that the store keeps in `folder` while appended messages are watched
/// (names starting with [`asimapd_mh::COPY_PREFIX`]).
fn watch_files(home: &asimapd_testkit::nmh::NmhHome, folder: &str) -> usize {
    std::fs::read_dir(home.folder_path(folder))
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(asimapd_mh::COPY_PREFIX)
        })
        .count()
}

#[test]
fn copy_and_move_report_uid_pairs() {
    let Some(home) = home() else { return };
    home.create_folder("archive");
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();

    let copied = store.copy("inbox", "archive", &[uid(1)]).unwrap();
    assert_eq!(copied.pairs, vec![(uid(1), uid(1))]);
    let moved = store.move_messages("inbox", "archive", &[uid(2)]).unwrap();
    assert_eq!(moved.0.pairs, vec![(uid(2), uid(2))]);
    assert_eq!(moved.1, vec![uid(2)]);

    assert_eq!(uid_map(&store, "inbox"), vec![(1, "a".into())]);
    assert_eq!(
        uid_map(&store, "archive"),
        vec![(1, "a".into()), (2, "b".into())]
    );
    home.mark_list("archive");
}

#[test]
fn move_within_one_mailbox_gives_a_new_uid() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();

    let (outcome, expunged) = store.move_messages("inbox", "inbox", &[uid(1)]).unwrap();

    assert_eq!(outcome.pairs, vec![(uid(1), uid(3))]);
    assert_eq!(expunged, vec![uid(1)]);
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(2, "b".into()), (3, "a".into())]
    );
    assert_eq!(store.status("inbox").unwrap().uid_next, 4);
    home.mark_list("inbox");
}

#[test]
fn opposite_moves_at_once_lose_and_duplicate_nothing() {
    let Some(home) = home() else { return };
    home.create_folder("archive");
    let ids: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    fill_settled(&home, "inbox", &names[..10]);
    let messages: Vec<Vec<u8>> = (10..20).map(|i| message(&format!("m{i}"), i, 2)).collect();
    home.fill("archive", &messages);
    for number in 1..=10 {
        age(&home.folder_path("archive").join(number.to_string()));
    }
    let store = open_store(&home);

    let movers: Vec<_> = [("inbox", "archive"), ("archive", "inbox")]
        .into_iter()
        .map(|(from, to)| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let first = store.select(from).unwrap().messages.first().map(|m| m.uid);
                    if let Some(first) = first {
                        store.move_messages(from, to, &[first]).unwrap();
                    }
                }
            })
        })
        .collect();
    for mover in movers {
        mover.join().unwrap();
    }

    let mut seen: Vec<String> = ["inbox", "archive"]
        .iter()
        .flat_map(|mailbox| uid_map(&store, mailbox).into_iter().map(|(_, id)| id))
        .collect();
    seen.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(seen, expected, "every message exactly once");
    home.mark_list("inbox");
    home.mark_list("archive");
}

#[test]
fn append_refiled_with_unlink_stays_refiled() {
    let Some(home) = home() else { return };
    home.create_folder("archive");
    fill_settled(&home, "inbox", &["a"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    store
        .append("inbox", &message("new", 2, 0), &FlagSet::new(), None)
        .unwrap();

    home.run("refile", &["2", "-src", "+inbox", "-unlink", "+archive"]);
    // The first check reconciles the changed folder, the second one checks the append.
    store.check("inbox").unwrap();
    store.check("inbox").unwrap();

    assert_eq!(home.message_ids("inbox", None), vec!["<a@test>".to_owned()]);
    assert_eq!(
        home.message_ids("archive", None),
        vec!["<new@test>".to_owned()]
    );
}

#[test]
fn first_pass_removes_stale_private_copies() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a"]);
    let dir = home.folder_path("inbox");
    let stale = dir.join(format!("{}left.1", asimapd_mh::COPY_PREFIX));
    let fresh = dir.join(format!("{}new.1", asimapd_mh::COPY_PREFIX));
    std::fs::write(&stale, message("left", 1, 0)).unwrap();
    std::fs::write(&fresh, message("new", 1, 0)).unwrap();
    age(&stale);

    let store = open_store(&home);
    store.select("inbox").unwrap();

    assert!(
        !stale.exists(),
        "a copy older than the watch period is removed"
    );
    assert!(fresh.exists(), "a recent copy may still be watched");
    assert_eq!(uid_map(&store, "inbox"), vec![(1, "a".into())]);
}

#[test]
fn sortm_readds_out_of_order_message() {
    let Some(home) = home() else { return };
    let messages = vec![
        message("d3", 3, 1),
        message("d1", 1, 1),
        message("d2", 2, 1),
    ];
    home.fill("inbox", &messages);
    for number in 1..=3 {
        age(&home.folder_path("inbox").join(number.to_string()));
    }
    let store = open_store(&home);
    let mut selected = store.select("inbox").unwrap();
    let validity = selected.uid_validity;
    home.run("mark", &["+inbox", "1", "-sequence", "flagged", "-add"]);
    store.check("inbox").unwrap();

    home.run("sortm", &["+inbox"]);
    store.check("inbox").unwrap();

    // UIDs 1, 2, 3 contained d3, d1, d2. After sortm the numbers give d1, d2, d3, so d1 and d2
    // keep their UIDs and d3, now numbered above them, is expunged and added as UID 4.
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(2, "d1".into()), (3, "d2".into()), (4, "d3".into())]
    );
    let expunged = wait_for_event(&mut selected.events, Duration::from_secs(1), |event| {
        matches!(event, MailboxEvent::Expunged { .. })
    });
    let Some(MailboxEvent::Expunged { uids, .. }) = expunged else {
        panic!("no Expunged event");
    };
    assert_eq!(uids, vec![uid(1)]);
    let added = wait_for_event(&mut selected.events, Duration::from_secs(1), |event| {
        matches!(event, MailboxEvent::Added(_))
    });
    let Some(MailboxEvent::Added(views)) = added else {
        panic!("no Added event");
    };
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].uid, uid(4));
    assert!(
        views[0].flags.has(SystemFlag::Flagged),
        "the re-added message keeps its flags"
    );
    let after = store.select("inbox").unwrap();
    assert_eq!(after.uid_validity, validity, "sortm keeps UIDVALIDITY");
    assert_eq!(after.uid_next, 5);
}

#[test]
fn lost_index_gets_larger_uidvalidity() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    let before = store.select("inbox").unwrap().uid_validity;
    let index = store.index_path();
    drop(store);
    for suffix in ["", "-wal", "-shm"] {
        let mut path = index.clone().into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
    // UIDVALIDITY is the time in seconds, so the new index must be made in a later second.
    std::thread::sleep(Duration::from_millis(1100));
    let store = open_store(&home);
    let after = store.select("inbox").unwrap();
    assert!(
        after.uid_validity > before,
        "{:?} after {before:?}",
        after.uid_validity
    );
    assert_eq!(after.messages.len(), 2);
}

#[test]
fn rewritten_message_gets_new_uid() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let path = home.folder_path("inbox").join("2");
    std::fs::write(&path, message("b2", 9, 5)).unwrap();
    age(&path);
    store.sync("inbox").unwrap();
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(1, "a".into()), (3, "b2".into())]
    );
}

#[test]
fn refiled_message_appears_after_settling() {
    let Some(home) = home() else { return };
    home.create_folder("other");
    fill_settled(&home, "other", &["n"]);
    fill_settled(&home, "inbox", &["a"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    home.run("refile", &["+other", "1", "-src", "+other", "+inbox"]);
    sync_until(&store, "inbox", |store| {
        store.status("inbox").is_ok_and(|s| s.messages == 2)
    });
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(1, "a".into()), (2, "n".into())]
    );
}

#[test]
fn append_keeps_uid_when_lower_file_settles() {
    let Some(home) = home() else { return };
    home.create_folder("copies");
    fill_settled(&home, "inbox", &["a"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    // The file of an APPEND whose worker was killed after the link and before the index
    // write: on disk, not indexed, and too new to be settled.
    let orphan = home.folder_path("inbox").join("2");
    std::fs::write(&orphan, message("orphan", 2, 0)).unwrap();
    store.check("inbox").unwrap();
    let (_, appended) = store
        .append("inbox", &message("b", 3, 0), &FlagSet::new(), None)
        .unwrap();
    assert_eq!(appended, uid(2));

    // The orphan settles after b was indexed, so it gets the next UID although its number is
    // lower, and b keeps the UID that APPEND returned.
    sync_until(&store, "inbox", |store| {
        store.status("inbox").is_ok_and(|s| s.messages == 3)
    });
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(1, "a".into()), (2, "b".into()), (3, "orphan".into())]
    );
    let copied = store.copy("inbox", "copies", &[appended]).unwrap();
    assert_eq!(copied.pairs, vec![(appended, uid(1))]);
    assert_eq!(uid_map(&store, "copies"), vec![(1, "b".into())]);
}

#[test]
fn replaced_folder_gets_larger_uidvalidity() {
    let Some(home) = home() else { return };
    home.create_folder("tmp");
    fill_settled(&home, "tmp", &["a"]);
    let store = open_store(&home);
    let before = store.select("tmp").unwrap().uid_validity;
    home.run("rmf", &["+tmp", "-nointeractive"]);
    home.create_folder("tmp");
    fill_settled(&home, "tmp", &["z"]);
    let after = store.select("tmp").unwrap();
    assert!(after.uid_validity > before);
    assert_eq!(after.messages.len(), 1);
    assert_eq!(after.messages[0].uid, uid(1));
}

#[test]
fn recent_goes_to_first_session_only() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    let first = store.select("inbox").unwrap();
    let second = store.select("inbox").unwrap();
    assert_eq!(first.recent, 1..3);
    assert!(second.recent.is_empty());
    assert!(!home.mark_list("inbox").contains("Recent"));
}

#[test]
fn reopening_unchanged_folder_changes_nothing() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    let before = store.select("inbox").unwrap();
    drop(store);
    let reopened = open_store(&home);
    let after = reopened.select("inbox").unwrap();
    assert_eq!(after.uid_validity, before.uid_validity);
    assert_eq!(after.highest_modseq, before.highest_modseq);
    assert_eq!(after.messages, before.messages);
}

#[test]
fn watcher_reports_inc_within_two_seconds() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a"]);
    let store = open_store(&home);
    let mut selected = store.select("inbox").unwrap();
    let _watcher = store.spawn_watcher(WatchConfig::default()).unwrap();
    let drop_path = home.home().join("maildrop");
    let output = home.inc_mbox("inbox", &drop_path, &[message("new", 5, 1)]);
    assert!(output.status.success());
    let event = wait_for_event(&mut selected.events, Duration::from_secs(2), |event| {
        matches!(event, MailboxEvent::Added(_))
    });
    assert!(event.is_some(), "no Added event within 2 seconds");
}

#[test]
fn periodic_scan_reaches_unselected_folders() {
    let Some(home) = home() else { return };
    home.create_folder("other");
    fill_settled(&home, "other", &["o"]);
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    assert_eq!(store.status("other").unwrap().messages, 1);
    let config = WatchConfig {
        poll_interval: Duration::from_secs(60),
        scan_interval: Duration::from_millis(300),
        use_inotify: false,
        ..WatchConfig::default()
    };
    let _watcher = store.spawn_watcher(config).unwrap();
    home.run("refile", &["1", "-src", "+inbox", "+other"]);

    // No session selected "other" and nothing calls check or sync, so only the scan runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while store.indexed_messages("other").unwrap().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the scan did not index the refiled message within 3 seconds"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(store.indexed_messages("inbox").unwrap().len(), 1);
}

#[test]
fn watcher_watches_recreated_folder() {
    let Some(home) = home() else { return };
    home.create_folder("tmp");
    fill_settled(&home, "tmp", &["a"]);
    let store = open_store(&home);
    let mut selected = store.select("tmp").unwrap();
    // Polling is too slow for this test, so only inotify can report the changes in time.
    let config = WatchConfig {
        poll_interval: Duration::from_secs(60),
        ..WatchConfig::default()
    };
    let _watcher = store.spawn_watcher(config).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    home.run("rmf", &["+tmp", "-nointeractive"]);
    let deleted = wait_for_event(&mut selected.events, Duration::from_secs(2), |event| {
        matches!(event, MailboxEvent::Deleted)
    });
    assert!(deleted.is_some(), "no Deleted event within 2 seconds");
    home.create_folder("tmp");
    std::thread::sleep(Duration::from_millis(300));

    fill_settled(&home, "tmp", &["b", "c"]);
    let added = wait_for_event(
        &mut selected.events,
        Duration::from_secs(2),
        |event| matches!(event, MailboxEvent::Added(views) if views.len() == 2),
    );
    assert!(
        added.is_some(),
        "no Added event for the new folder within 2 seconds"
    );
}

#[test]
fn watcher_polls_without_inotify() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a"]);
    let store = open_store(&home);
    let mut selected = store.select("inbox").unwrap();
    let config = WatchConfig {
        use_inotify: false,
        ..WatchConfig::default()
    };
    let _watcher = store.spawn_watcher(config).unwrap();
    home.run("mark", &["+inbox", "1", "-sequence", "flagged", "-add"]);
    let event = wait_for_event(&mut selected.events, Duration::from_secs(2), |event| {
        matches!(event, MailboxEvent::FlagsChanged(_))
    });
    assert!(event.is_some(), "no flag change within 2 seconds");
}

#[test]
fn unchanged_since_rejects_newer_messages() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b"]);
    let store = open_store(&home);
    let selected = store.select("inbox").unwrap();
    let start = selected.highest_modseq;
    let mut flagged = FlagSet::new();
    flagged.insert(&Flag::Flagged);
    store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &flagged, None)
        .unwrap();

    let mut seen = FlagSet::new();
    seen.insert(&Flag::Answered);
    let outcome = store
        .store_flags(
            "inbox",
            &[uid(1), uid(2)],
            StoreMode::Add,
            &seen,
            Some(start),
        )
        .unwrap();
    assert_eq!(outcome.modified, vec![uid(1)]);
    assert_eq!(outcome.changed.len(), 1);
    assert_eq!(outcome.changed[0].uid, uid(2));
}

#[test]
fn uid_expunge_removes_only_given_uids() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let mut deleted = FlagSet::new();
    deleted.insert(&Flag::Deleted);
    store
        .store_flags("inbox", &[uid(1), uid(2)], StoreMode::Add, &deleted, None)
        .unwrap();
    assert_eq!(
        store.expunge("inbox", Some(&[uid(2)])).unwrap(),
        vec![uid(2)]
    );
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(1, "a".into()), (3, "c".into())]
    );
    assert!(home.mark_list("inbox").contains("Deleted: 1"));
}

#[test]
fn append_keeps_internal_date_zone() {
    let Some(home) = home() else { return };
    let store = open_store(&home);
    let date = InternalDate {
        timestamp: 1_700_000_000,
        zone_minutes: Some(-300),
    };
    let mut seen = FlagSet::new();
    seen.insert(&Flag::Seen);
    let (_, appended) = store
        .append("inbox", &message("z", 1, 0), &seen, Some(date))
        .unwrap();
    let opened = store.open_message("inbox", appended).unwrap();
    assert_eq!(opened.details.internal_date, date);
    assert!(home.message_ids("inbox", Some("unseen")).is_empty());
}

#[test]
fn fetch_of_replaced_file_fails_and_resyncs() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let path = home.folder_path("inbox").join("1");
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, message("other", 2, 0)).unwrap();
    age(&path);
    let err = store.open_message("inbox", uid(1)).unwrap_err();
    assert!(matches!(err, StoreError::MessageNotFound { .. }), "{err}");
    assert_eq!(uid_map(&store, "inbox"), vec![(2, "other".into())]);
}

#[test]
fn read_messages_skips_replaced_file_and_resyncs() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let path = home.folder_path("inbox").join("3");
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, message("other", 3, 0)).unwrap();
    age(&path);

    let requested = [uid(2), uid(3), uid(1), uid(9)];
    let read = store
        .read_messages("inbox", &requested, |_| false, |file| file)
        .unwrap();
    let found: Vec<bool> = read.iter().map(Option::is_some).collect();
    assert_eq!(found, vec![true, false, true, false]);
    let first = read[2].as_ref().unwrap();
    assert!(first.content.is_none(), "no file was requested");
    let opened = store.open_message("inbox", uid(1)).unwrap();
    assert_eq!(first.details.rfc822_size, opened.details.rfc822_size);
    assert_eq!(first.details.envelope, opened.details.envelope);
    assert_eq!(first.details.body_structure, opened.details.body_structure);

    // The replaced file made the call reconcile, without a select: UID 3 is expunged and
    // the new file has a new UID.
    let indexed: Vec<u32> = store
        .indexed_messages("inbox")
        .unwrap()
        .iter()
        .map(|row| row.uid.get())
        .collect();
    assert_eq!(indexed, vec![1, 2, 4]);
}

#[test]
fn read_messages_opens_requested_files() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();

    // A dense set is read with one range query, a sparse one UID by UID.
    let cases = [
        (vec![uid(3), uid(1)], vec![Some("c"), Some("a")]),
        (vec![uid(2), uid(4_000)], vec![Some("b"), None]),
    ];
    for (requested, expected) in cases {
        let read = store
            .read_messages("inbox", &requested, |_| true, |file| file)
            .unwrap();
        let ids: Vec<Option<String>> = read
            .into_iter()
            .map(|message| {
                let mut text = String::new();
                message?.content?.read_to_string(&mut text).unwrap();
                let id = text.lines().find_map(|l| l.strip_prefix("Message-ID: <"))?;
                Some(
                    id.trim_end_matches('>')
                        .trim_end_matches("@test")
                        .to_owned(),
                )
            })
            .collect();
        let expected: Vec<Option<String>> =
            expected.iter().map(|id| id.map(str::to_owned)).collect();
        assert_eq!(ids, expected, "UIDs {requested:?}");
    }
}

#[test]
fn append_overwritten_in_place_keeps_its_uid() {
    let Some(home) = home() else { return };
    let store = open_store(&home);
    let mut seen = FlagSet::new();
    seen.insert(&Flag::Seen);
    let (_, appended) = store
        .append("inbox", &message("mine", 1, 0), &seen, None)
        .unwrap();
    assert_eq!(appended, uid(1));
    let mut flagged = FlagSet::new();
    flagged.insert(&Flag::Flagged);
    store
        .store_flags("inbox", &[appended], StoreMode::Add, &flagged, None)
        .unwrap();

    // What nmh's inc does to a number it picked from a stale listing: O_TRUNC and write.
    let path = home.folder_path("inbox").join("1");
    std::fs::write(&path, message("incd", 2, 3)).unwrap();
    store.check("inbox").unwrap();
    sync_until(&store, "inbox", |store| {
        store.status("inbox").is_ok_and(|s| s.messages == 2)
    });

    assert_eq!(
        uid_map(&store, "inbox"),
        vec![(1, "mine".into()), (2, "incd".into())],
        "the appended message keeps its UID and inc's message gets the next one"
    );
    let rows = store.indexed_messages("inbox").unwrap();
    assert!(rows[0].flags.has(SystemFlag::Flagged), "{:?}", rows[0]);
    assert!(rows[0].flags.has(SystemFlag::Seen), "{:?}", rows[0]);
    assert!(!rows[1].flags.has(SystemFlag::Flagged), "{:?}", rows[1]);
    assert_eq!(
        home.message_ids("inbox", Some("flagged")),
        vec!["<mine@test>".to_owned()]
    );
}

#[test]
fn refile_after_appends_is_indexed() {
    let Some(home) = home() else { return };
    home.run("folder", &["-create", "+drafts"]);
    fill_settled(&home, "drafts", &["filed"]);
    let store = open_store(&home);
    for id in ["first", "second"] {
        store
            .append("inbox", &message(id, 1, 0), &FlagSet::new(), None)
            .unwrap();
    }
    home.run("refile", &["+drafts", "1", "+inbox"]);
    store.check("inbox").unwrap();
    assert_eq!(
        uid_map(&store, "inbox"),
        vec![
            (1, "first".into()),
            (2, "second".into()),
            (3, "filed".into())
        ],
        "refile's message is indexed without waiting for another change"
    );
}

#[test]
fn mark_after_appends_is_applied() {
    let Some(home) = home() else { return };
    let store = open_store(&home);
    for id in ["first", "second"] {
        store
            .append("inbox", &message(id, 1, 0), &FlagSet::new(), None)
            .unwrap();
    }
    home.run("mark", &["+inbox", "1", "-sequence", "flagged", "-add"]);
    store.check("inbox").unwrap();
    let rows = store.indexed_messages("inbox").unwrap();
    assert!(rows[0].flags.has(SystemFlag::Flagged), "{:?}", rows[0]);
    assert!(!rows[1].flags.has(SystemFlag::Flagged), "{:?}", rows[1]);
}

#[test]
fn watcher_repairs_append_in_unselected_folder() {
    let Some(home) = home() else { return };
    home.create_folder("sent");
    fill_settled(&home, "sent", &["a"]);
    let store = open_store(&home);
    let config = WatchConfig {
        scan_interval: Duration::from_secs(3600),
        ..WatchConfig::default()
    };
    let _watcher = store.spawn_watcher(config).unwrap();
    store
        .append("sent", &message("mine", 2, 0), &FlagSet::new(), None)
        .unwrap();

    // inc with a stale listing writes its delivery over the append. No session selects
    // "sent" and nothing calls check or sync, so only the watcher can repair it.
    std::fs::write(
        home.folder_path("sent").join("2"),
        message("delivered", 3, 0),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut ids = home.message_ids("sent", None);
        ids.sort();
        if ids == ["<a@test>", "<delivered@test>", "<mine@test>"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the append was not delivered again within 10 seconds: {ids:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
