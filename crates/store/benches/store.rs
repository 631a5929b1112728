//! Benchmarks of the costs that grow with folder size: reopening an unchanged folder (one
//! listing and one `stat` per file, no message file opened), STORE of one flag in a large
//! folder (a `.mh_sequences` rewrite, then a pass that reads only the sequences), and
//! indexing a new folder (each file read and analysed once, in parallel).
//!
//! Run with `cargo bench -p asimapd-store`. `ASIMAPD_BENCH_LARGE` sets the size of the
//! reopened folder (default 100,000 messages) and `ASIMAPD_BENCH_NEW` the size of the
//! indexed one (default 10,000).

use std::path::Path;
use std::time::{Duration, SystemTime};

use asimapd_mh::MailRoot;
use asimapd_proto::Flag;
use asimapd_store::{FlagSet, INDEX_FILE, Store, StoreMode};
use criterion::{Criterion, criterion_group, criterion_main};

const DEFAULT_LARGE: usize = 100_000;
const DEFAULT_NEW: usize = 10_000;

fn size_from_env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Writes `count` small messages as files 1..=count, dated one hour ago so they count as
/// settled at the first look.
fn fill_folder(root: &Path, folder: &str, count: usize) {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    for number in 1..=count {
        let text = format!(
            "From: bench@example.org\nTo: me@example.org\nSubject: message {number}\n\
             Date: Mon, 1 Jan 2024 12:00:00 +0000\nMessage-ID: <{number}@bench>\n\n\
             body of message {number}\n"
        );
        let path = dir.join(number.to_string());
        std::fs::write(&path, text).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(old).unwrap();
    }
}

fn open(root: &Path) -> Store {
    Store::open(MailRoot::open(root, None, true).unwrap()).unwrap()
}

fn reopen_unchanged(c: &mut Criterion) {
    let count = size_from_env("ASIMAPD_BENCH_LARGE", DEFAULT_LARGE);
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "inbox", count);
    let first = open(dir.path()).select("inbox").unwrap();
    assert_eq!(first.messages.len(), count);

    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.bench_function(format!("reopen_unchanged_{count}"), |b| {
        b.iter(|| {
            let selected = open(dir.path()).select("inbox").unwrap();
            assert_eq!(selected.messages.len(), count);
        })
    });

    let store = open(dir.path());
    let selected = store.select("inbox").unwrap();
    let target = [selected.messages[count / 2].uid];
    let mut flagged = FlagSet::new();
    flagged.insert(&Flag::Flagged);
    // Keeps `.mh_sequences` from becoming empty: the mh crate treats an empty file modified
    // in the last two seconds as a possible nmh rewrite in progress and waits 1.1 s.
    store
        .store_flags(
            "inbox",
            &[selected.messages[0].uid],
            StoreMode::Add,
            &flagged,
            None,
        )
        .unwrap();
    let mut on = false;
    group.bench_function(format!("store_one_flag_{count}"), |b| {
        b.iter(|| {
            on = !on;
            let mode = if on {
                StoreMode::Add
            } else {
                StoreMode::Remove
            };
            let outcome = store
                .store_flags("inbox", &target, mode, &flagged, None)
                .unwrap();
            assert_eq!(outcome.changed.len(), 1);
        })
    });
    group.finish();
}

fn index_new_folder(c: &mut Criterion) {
    let count = size_from_env("ASIMAPD_BENCH_NEW", DEFAULT_NEW);
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "inbox", count);

    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.bench_function(format!("index_new_{count}"), |b| {
        b.iter(|| {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.path().join(format!("{INDEX_FILE}{suffix}")));
            }
            let selected = open(dir.path()).select("inbox").unwrap();
            assert_eq!(selected.messages.len(), count);
        })
    });
    group.finish();
}

criterion_group!(benches, reopen_unchanged, index_new_folder);
criterion_main!(benches);
