//! STORE while nmh's `inc` delivers into the same folder.
//!
//! `inc` (nmh 1.8) lists the folder, reads `.mh_sequences`, delivers, and writes its copy of
//! the sequences back with the new messages in the unseen sequence. Numbers of files it did
//! not list are left out of that copy, so a STORE on a message appended meanwhile is written
//! over. The folder directory has changed by then, so the repair compares sequences on the
//! messages that existed at the STORE.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use asimapd_proto::Flag;
use asimapd_store::{FLAG_RECHECK_PERIOD, FlagSet, StoreMode, SystemFlag, WatchConfig};
use asimapd_testkit::nmh::message;
use support::*;

/// Messages in the folder before the race.
const COUNT: u32 = 20;
/// Messages appended during the race; each gets one STORE.
const APPENDS: u32 = 40;
/// Rounds of the race, each in a fresh folder.
const ROUNDS: usize = 2;
/// Messages each `inc` delivers.
const PER_INC: usize = 3;

/// Writes a stale copy of `.mh_sequences` as `inc` does: the old sequences plus the new
/// message in `unseen`.
fn write_stale_with_unseen(path: &Path, stale: &[u8], new_number: u32) {
    let mut rewritten = stale.to_vec();
    rewritten.extend_from_slice(format!("unseen: {new_number}\n").as_bytes());
    std::fs::write(path, rewritten).unwrap();
}

/// `inc` writes its copy of the sequences over STOREs made while it ran, and with a stale
/// listing it writes its delivery over a message appended meanwhile. The store then links its
/// private copy in again under a new number. That message keeps its UID and its current
/// flags, and `inc`'s message under the old number gets none of them.
#[test]
fn store_survives_concurrent_inc() {
    let Some(home) = home() else { return };
    let mut inc_runs = 0;
    let mut lost_before_repair = 0;
    for round in 0..ROUNDS {
        let folder = format!("incrace{round}");
        home.create_folder(&folder);
        let ids: Vec<String> = (1..=COUNT).map(|i| format!("m{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        fill_settled(&home, &folder, &ids);
        let store = open_store(&home);
        let _selected = store.select(&folder).unwrap();
        let watcher = store.spawn_watcher(WatchConfig::default()).unwrap();
        let drop_path = home.home().join(format!("drop{round}"));

        let stop = AtomicBool::new(false);
        let (runs, appended) = std::thread::scope(|scope| {
            let inc = scope.spawn(|| {
                let mut runs = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let messages: Vec<Vec<u8>> = (0..PER_INC)
                        .map(|i| message(&format!("new{round}-{runs}-{i}"), 2, 200))
                        .collect();
                    let output = home.inc_mbox(&folder, &drop_path, &messages);
                    assert!(
                        output.status.success(),
                        "inc failed: {}",
                        String::from_utf8_lossy(&output.stderr)
                    );
                    runs += 1;
                }
                runs
            });
            // A message appended after `inc` listed the folder loses its flags when `inc`
            // writes its copy of the sequences.
            let mut appended = Vec::new();
            for i in 1..=APPENDS {
                let text = message(&format!("app{round}-{i}"), 3, 1);
                let (_, appended_uid) =
                    store.append(&folder, &text, &FlagSet::new(), None).unwrap();
                store
                    .store_flags(&folder, &[appended_uid], StoreMode::Add, &flagged(), None)
                    .unwrap();
                appended.push(appended_uid);
                std::thread::sleep(Duration::from_millis(u64::from(i % 5) * 3));
            }
            stop.store(true, Ordering::Relaxed);
            (inc.join().unwrap(), appended)
        });
        assert!(runs > 0, "inc never ran");
        inc_runs += runs;
        let flagged_count = || sequence_numbers(&home, &folder, "flagged").len();
        lost_before_repair += (APPENDS as usize).saturating_sub(flagged_count());

        // The watcher re-checks within its poll interval; wait at most the whole period.
        let deadline = Instant::now() + FLAG_RECHECK_PERIOD + Duration::from_secs(1);
        while Instant::now() < deadline && flagged_count() < APPENDS as usize {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(watcher);

        let all_ids = home.message_ids(&folder, None);
        let appended_ids: Vec<String> = (1..=APPENDS)
            .map(|i| format!("<app{round}-{i}@test>"))
            .collect();
        let absent: Vec<&String> = appended_ids
            .iter()
            .filter(|id| !all_ids.contains(id))
            .collect();
        assert!(
            absent.is_empty(),
            "round {round}: appended messages missing from the folder: {absent:?}"
        );
        let flagged_ids = home.message_ids(&folder, Some("flagged"));
        let missing: Vec<&String> = appended_ids
            .iter()
            .filter(|id| !flagged_ids.contains(id))
            .collect();
        assert!(
            missing.is_empty(),
            "round {round}: appended messages not in the flagged sequence: {missing:?}\n{}\n{}",
            home.mark_list(&folder),
            String::from_utf8_lossy(
                &home
                    .output(
                        "scan",
                        &[&format!("+{folder}"), "-format", "%(msg) %{message-id}"]
                    )
                    .stdout
            )
        );
        let extra: Vec<&String> = flagged_ids
            .iter()
            .filter(|id| !appended_ids.contains(id))
            .collect();
        assert!(
            extra.is_empty(),
            "round {round}: messages in the flagged sequence that were not appended: {extra:?}\n{}",
            home.mark_list(&folder)
        );
        store.check(&folder).unwrap();
        let selected = store.select(&folder).unwrap();
        let unflagged: Vec<u32> = selected
            .messages
            .iter()
            .filter(|m| appended.contains(&m.uid) && !m.flags.has(SystemFlag::Flagged))
            .map(|m| m.uid.get())
            .collect();
        assert!(
            unflagged.is_empty(),
            "round {round}: index lost \\Flagged on UIDs {unflagged:?}"
        );
        let flagged_uids = selected
            .messages
            .iter()
            .filter(|m| m.flags.has(SystemFlag::Flagged))
            .count();
        assert_eq!(
            flagged_uids, APPENDS as usize,
            "round {round}: only the appended messages are flagged"
        );
    }
    eprintln!(
        "inc ran {inc_runs} times; {lost_before_repair} STOREs were missing from .mh_sequences \
         right after the race"
    );
}

#[test]
fn stale_rewrite_after_new_message_is_repaired() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    home.run("mark", &["+inbox", "3", "-sequence", "replied", "-add"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let path = home.folder_path("inbox").join(".mh_sequences");
    let stale = std::fs::read(&path).unwrap_or_default();

    store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &flagged(), None)
        .unwrap();
    std::fs::write(home.folder_path("inbox").join("4"), message("d", 4, 1)).unwrap();
    write_stale_with_unseen(&path, &stale, 4);
    assert!(sequence_numbers(&home, "inbox", "flagged").is_empty());

    store.check("inbox").unwrap();
    assert_eq!(sequence_numbers(&home, "inbox", "flagged"), [1]);
    assert_eq!(sequence_numbers(&home, "inbox", "unseen"), [4]);
    assert_eq!(sequence_numbers(&home, "inbox", "replied"), [3]);
}

#[test]
fn repair_survives_own_append_and_expunge() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let path = home.folder_path("inbox").join(".mh_sequences");
    let stale = std::fs::read(&path).unwrap_or_default();

    store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &flagged(), None)
        .unwrap();
    let mut deleted = FlagSet::new();
    deleted.insert(&Flag::Deleted);
    store
        .store_flags("inbox", &[uid(2)], StoreMode::Add, &deleted, None)
        .unwrap();
    store.expunge("inbox", None).unwrap();
    std::fs::write(home.folder_path("inbox").join("4"), message("d", 4, 1)).unwrap();
    write_stale_with_unseen(&path, &stale, 4);

    store.check("inbox").unwrap();
    assert_eq!(sequence_numbers(&home, "inbox", "flagged"), [1]);
    assert_eq!(
        sequence_numbers(&home, "inbox", "unseen"),
        [4],
        "the expunged message 2 is in no sequence"
    );
}

#[test]
fn renumbered_message_is_not_repaired() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let folder = home.folder_path("inbox");
    let path = folder.join(".mh_sequences");
    let stale = std::fs::read(&path).unwrap_or_default();

    store
        .store_flags("inbox", &[uid(3)], StoreMode::Add, &flagged(), None)
        .unwrap();
    // Message 3 becomes 5, and a new file takes number 3: the flag belongs to neither.
    std::fs::rename(folder.join("3"), folder.join("5")).unwrap();
    std::fs::write(folder.join("3"), message("d", 4, 1)).unwrap();
    std::fs::write(&path, &stale).unwrap();

    store.check("inbox").unwrap();
    assert_eq!(
        sequence_numbers(&home, "inbox", "flagged"),
        Vec::<u32>::new()
    );
}

#[test]
fn later_change_after_inc_is_kept() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &flagged(), None)
        .unwrap();

    let drop_path = home.home().join("drop");
    let output = home.inc_mbox("inbox", &drop_path, &[message("new", 5, 1)]);
    assert!(output.status.success(), "inc failed");
    home.run("mark", &["+inbox", "2", "-sequence", "flagged", "-add"]);
    home.run("mark", &["+inbox", "1", "-sequence", "flagged", "-delete"]);
    store.check("inbox").unwrap();

    assert_eq!(sequence_numbers(&home, "inbox", "flagged"), [2]);
    let selected = store.select("inbox").unwrap();
    assert!(!selected.messages[0].flags.has(SystemFlag::Flagged));
    assert!(selected.messages[1].flags.has(SystemFlag::Flagged));
}
