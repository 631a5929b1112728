//! WAL checkpoints run on their own thread, after the writing command has returned.

mod support;

use std::time::{Duration, SystemTime};

use asimapd_proto::Flag;
use asimapd_store::checkpoint::CHECKPOINT_INTERVAL;
use asimapd_store::{FlagSet, StoreMode};
use support::*;

fn index_modified(path: &std::path::Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

#[test]
fn store_leaves_checkpoint_to_background_thread() {
    let Some(home) = home() else { return };
    let ids: Vec<String> = (0..200).map(|i| format!("m{i}")).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    fill_settled(&home, "inbox", &names);
    let store = open_store(&home);
    let selected = store.select("inbox").unwrap();
    let uids: Vec<_> = selected.messages.iter().map(|m| m.uid).collect();
    let index = store.index_path();
    // Let the checkpoint of the first indexing finish.
    std::thread::sleep(CHECKPOINT_INTERVAL * 4);
    let before = index_modified(&index);

    let mut flagged = FlagSet::new();
    flagged.insert(&Flag::Flagged);
    store
        .store_flags("inbox", &uids, StoreMode::Add, &flagged, None)
        .unwrap();

    assert_eq!(
        index_modified(&index),
        before,
        "the STORE wrote only the WAL, not the index file"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while index_modified(&index) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "no checkpoint copied the STORE into the index file"
        );
        std::thread::sleep(CHECKPOINT_INTERVAL / 5);
    }
}
