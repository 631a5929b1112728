//! Which message files the store opens, counted with inotify `IN_OPEN` events on the folder.
//!
//! Reopening an unchanged 100,000-message folder must open no message file: it lists the
//! directory, stats the files and compares with the index. Indexing a new folder must open
//! each file exactly once. `stat` produces no inotify event, and opening the directory to
//! list it produces one on the directory itself, which shows that the watch works.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;
use std::time::{Duration, SystemTime};

use asimapd_mh::{MailRoot, MessageNumber};
use asimapd_store::Store;
use inotify::{EventMask, Inotify, WatchMask};
use rayon::prelude::*;

/// Size of the folder that is reopened.
const LARGE_FOLDER: usize = 100_000;
/// Size of the folder that is indexed from scratch; below the kernel's default inotify queue
/// of 16,384 events, so no `IN_OPEN` event is dropped.
const NEW_FOLDER: usize = 2_000;

/// Writes `count` small messages as files 1..=count, in parallel, dated one hour ago so
/// that they count as settled at the first look.
fn fill_folder(root: &Path, folder: &str, count: usize) {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    (1..=count).into_par_iter().for_each(|number| {
        let text = format!(
            "From: test@example.org\nSubject: message {number}\n\
             Message-ID: <{number}@test>\n\nbody of message {number}\n"
        );
        let mut file = std::fs::File::create(dir.join(number.to_string())).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file.set_modified(old).unwrap();
    });
}

fn open(root: &Path) -> Store {
    Store::open(MailRoot::open(root, None, true).unwrap()).unwrap()
}

/// Opens seen on a folder while a watch was active.
#[derive(Debug, Default)]
struct Opens {
    /// Opens of the directory itself (for listing it).
    directory: usize,
    /// Opens of each message file, by number.
    messages: HashMap<u32, usize>,
    /// True when the kernel dropped events.
    overflowed: bool,
}

/// Watches `dir` for opens while `body` runs and returns what was opened.
fn count_opens(dir: &Path, body: impl FnOnce()) -> Opens {
    let mut inotify = Inotify::init().unwrap();
    inotify.watches().add(dir, WatchMask::OPEN).unwrap();
    body();
    let mut opens = Opens::default();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let events = match inotify.read_events(&mut buffer) {
            Ok(events) => events,
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(error) => panic!("reading inotify events failed: {error}"),
        };
        let mut any = false;
        for event in events {
            any = true;
            if event.mask.contains(EventMask::Q_OVERFLOW) {
                opens.overflowed = true;
            }
            match event.name {
                None => opens.directory += 1,
                Some(name) => {
                    let number = MessageNumber::parse_file_name(name.as_encoded_bytes());
                    if let Some(number) = number {
                        *opens.messages.entry(number.get()).or_default() += 1;
                    }
                }
            }
        }
        if !any {
            break;
        }
    }
    opens
}

#[test]
fn reopen_unchanged_opens_no_message() {
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    fill_folder(dir.path(), "inbox", LARGE_FOLDER);
    let filled = start.elapsed();
    let first = open(dir.path()).select("inbox").unwrap();
    assert_eq!(first.messages.len(), LARGE_FOLDER);
    let indexed = start.elapsed() - filled;

    let mut reopened = None;
    let opens = count_opens(&dir.path().join("inbox"), || {
        reopened = Some(open(dir.path()).select("inbox").unwrap());
    });
    eprintln!(
        "{LARGE_FOLDER} messages: written in {filled:.1?}, indexed in {indexed:.1?}, \
         reopened in {:.1?}",
        start.elapsed() - filled - indexed
    );
    let reopened = reopened.unwrap();
    assert!(!opens.overflowed, "inotify queue overflowed");
    assert!(opens.directory >= 1, "the folder was never listed");
    assert!(
        opens.messages.is_empty(),
        "{} message files were opened, first: {:?}",
        opens.messages.len(),
        opens.messages.keys().min()
    );
    assert_eq!(reopened.messages, first.messages);
    assert_eq!(reopened.uid_validity, first.uid_validity);
}

#[test]
fn indexing_opens_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "fresh", NEW_FOLDER);

    let mut selected = None;
    let opens = count_opens(&dir.path().join("fresh"), || {
        selected = Some(open(dir.path()).select("fresh").unwrap());
    });
    assert_eq!(selected.unwrap().messages.len(), NEW_FOLDER);
    assert!(!opens.overflowed, "inotify queue overflowed");
    assert_eq!(opens.messages.len(), NEW_FOLDER, "every file was read");
    let repeated: Vec<(&u32, &usize)> = opens.messages.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "files opened more than once: {repeated:?}"
    );
}

#[test]
fn reading_cached_details_opens_no_message() {
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "cached", NEW_FOLDER);
    let store = open(dir.path());
    let uids: Vec<_> = store
        .select("cached")
        .unwrap()
        .messages
        .iter()
        .map(|m| m.uid)
        .collect();

    let mut read = Vec::new();
    let opens = count_opens(&dir.path().join("cached"), || {
        read = store
            .read_messages("cached", &uids, |_| false, |file| file)
            .unwrap();
    });
    assert!(!opens.overflowed, "inotify queue overflowed");
    assert!(
        opens.messages.is_empty(),
        "{} message files were opened",
        opens.messages.len()
    );
    assert_eq!(read.len(), NEW_FOLDER);
    assert!(
        read.iter()
            .all(|m| m.as_ref().is_some_and(|m| m.content.is_none()))
    );

    let opens = count_opens(&dir.path().join("cached"), || {
        read = store
            .read_messages("cached", &uids, |_| true, |file| file)
            .unwrap();
    });
    assert!(!opens.overflowed, "inotify queue overflowed");
    assert_eq!(opens.messages.len(), NEW_FOLDER, "every file was opened");
    assert!(
        opens.messages.values().all(|&n| n == 1),
        "a file was opened twice"
    );
    assert!(
        read.iter()
            .all(|m| m.as_ref().is_some_and(|m| m.content.is_some()))
    );
}
