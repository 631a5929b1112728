//! STORE against nmh's `folder +F N`, which writes back a stale copy of `.mh_sequences`.
//!
//! `folder +F N` (nmh 1.8) reads the file under a read lock, lets go, then truncates it and
//! writes what it read with the new `cur`. A STORE that lands in between is written over.
//! The store remembers the sequences as they were before each recent STORE, and when the
//! file turns back into that state it applies the STORE again. A later change made by nmh
//! that leads elsewhere is kept.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use asimapd_store::{FLAG_RECHECK_PERIOD, StoreMode, SystemFlag, WatchConfig};
use support::*;

/// Messages in the folder; each gets one STORE.
const COUNT: u32 = 40;
/// Rounds of the race, each in a fresh folder.
const ROUNDS: usize = 3;

#[test]
fn store_survives_concurrent_setcur() {
    let Some(home) = home() else { return };
    let mut setcur_runs = 0;
    let mut lost_before_repair = 0;
    for round in 0..ROUNDS {
        let folder = format!("race{round}");
        home.create_folder(&folder);
        let ids: Vec<String> = (1..=COUNT).map(|i| format!("m{i}")).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        fill_settled(&home, &folder, &ids);
        let store = open_store(&home);
        let _selected = store.select(&folder).unwrap();
        let watcher = store.spawn_watcher(WatchConfig::default()).unwrap();

        let stop = AtomicBool::new(false);
        let runs = std::thread::scope(|scope| {
            let setcur = scope.spawn(|| {
                let mut runs = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let number = (runs % COUNT + 1).to_string();
                    home.run("folder", &[&format!("+{folder}"), &number, "-fast"]);
                    runs += 1;
                }
                runs
            });
            for i in 1..=COUNT {
                store
                    .store_flags(&folder, &[uid(i)], StoreMode::Add, &flagged(), None)
                    .unwrap();
                std::thread::sleep(Duration::from_millis(u64::from(i % 7)));
            }
            stop.store(true, Ordering::Relaxed);
            setcur.join().unwrap()
        });
        assert!(runs > 0, "folder +F never ran");
        setcur_runs += runs;
        lost_before_repair += COUNT as usize - sequence_numbers(&home, &folder, "flagged").len();

        // The watcher re-checks within its poll interval; wait for the whole period.
        let deadline = Instant::now() + FLAG_RECHECK_PERIOD + Duration::from_secs(1);
        while Instant::now() < deadline
            && sequence_numbers(&home, &folder, "flagged").len() < COUNT as usize
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(watcher);

        let expected: Vec<u32> = (1..=COUNT).collect();
        assert_eq!(
            sequence_numbers(&home, &folder, "flagged"),
            expected,
            "round {round}: every STORE is in .mh_sequences"
        );
        store.check(&folder).unwrap();
        let selected = store.select(&folder).unwrap();
        let unflagged: Vec<u32> = selected
            .messages
            .iter()
            .filter(|m| !m.flags.has(SystemFlag::Flagged))
            .map(|m| m.uid.get())
            .collect();
        assert!(
            unflagged.is_empty(),
            "round {round}: index lost \\Flagged on {unflagged:?}"
        );
    }
    eprintln!(
        "folder +F ran {setcur_runs} times; {lost_before_repair} STOREs were missing from \
         .mh_sequences right after the race"
    );
}

#[test]
fn stale_rewrite_is_repaired_on_check() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    home.run("mark", &["+inbox", "3", "-sequence", "replied", "-add"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    let path = home.folder_path("inbox").join(".mh_sequences");
    let stale = std::fs::read(&path).unwrap();

    store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &flagged(), None)
        .unwrap();
    // What `folder +F 2` does after reading the file before the STORE: truncate, then write
    // the old sequences with the new `cur`.
    let mut rewritten = b"cur: 2\n".to_vec();
    rewritten.extend_from_slice(&stale);
    std::fs::write(&path, rewritten).unwrap();
    assert!(sequence_numbers(&home, "inbox", "flagged").is_empty());

    store.check("inbox").unwrap();
    assert_eq!(sequence_numbers(&home, "inbox", "flagged"), [1]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("cur: 2"), "the rewrite's cur is kept: {text}");
    let selected = store.select("inbox").unwrap();
    assert!(selected.messages[0].flags.has(SystemFlag::Flagged));
}

#[test]
fn later_nmh_change_is_not_undone() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    let store = open_store(&home);
    store.select("inbox").unwrap();
    store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &flagged(), None)
        .unwrap();

    home.run("mark", &["+inbox", "2", "-sequence", "flagged", "-add"]);
    home.run("mark", &["+inbox", "1", "-sequence", "flagged", "-delete"]);
    store.check("inbox").unwrap();

    assert_eq!(sequence_numbers(&home, "inbox", "flagged"), [2]);
    let selected = store.select("inbox").unwrap();
    assert!(!selected.messages[0].flags.has(SystemFlag::Flagged));
    assert!(selected.messages[1].flags.has(SystemFlag::Flagged));
}

#[test]
fn watcher_repairs_without_session() {
    let Some(home) = home() else { return };
    fill_settled(&home, "inbox", &["a", "b", "c"]);
    home.run("mark", &["+inbox", "3", "-sequence", "replied", "-add"]);
    let store = open_store(&home);
    assert_eq!(store.status("inbox").unwrap().messages, 3);
    let _watcher = store.spawn_watcher(WatchConfig::default()).unwrap();
    let path = home.folder_path("inbox").join(".mh_sequences");
    let stale = std::fs::read(&path).unwrap();

    // No session has the mailbox selected, as after a client logs out right after a STORE.
    store
        .store_flags("inbox", &[uid(1)], StoreMode::Add, &flagged(), None)
        .unwrap();
    let mut rewritten = b"cur: 2\n".to_vec();
    rewritten.extend_from_slice(&stale);
    std::fs::write(&path, rewritten).unwrap();

    let deadline = Instant::now() + Duration::from_secs(2);
    while sequence_numbers(&home, "inbox", "flagged").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the watcher did not repair the STORE within 2 seconds"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(sequence_numbers(&home, "inbox", "flagged"), [1]);
}

/// A STORE that a later STORE reverses leaves the file as it was before both, which is also
/// what a stale rewrite would bring back. The later STORE must win: replaying only the first
/// one would set the flag again.
#[test]
fn reversed_store_stays_reversed() {
    let Some(home) = home() else { return };
    home.create_folder("reversed");
    fill_settled(&home, "reversed", &["m1", "m2"]);
    let store = open_store(&home);
    let _selected = store.select("reversed").unwrap();

    store
        .store_flags("reversed", &[uid(2)], StoreMode::Add, &flagged(), None)
        .unwrap();
    store
        .store_flags("reversed", &[uid(2)], StoreMode::Remove, &flagged(), None)
        .unwrap();
    store.check("reversed").unwrap();
    assert_eq!(
        sequence_numbers(&home, "reversed", "flagged"),
        Vec::<u32>::new()
    );

    let selected = store.select("reversed").unwrap();
    let flagged_uids: Vec<u32> = selected
        .messages
        .iter()
        .filter(|m| m.flags.has(SystemFlag::Flagged))
        .map(|m| m.uid.get())
        .collect();
    assert!(
        flagged_uids.is_empty(),
        "index shows \\Flagged on {flagged_uids:?}"
    );
}
