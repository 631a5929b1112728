//! Shared helpers: a temporary nmh home, a store on it, and message files old enough to
//! count as settled.

#![allow(dead_code)]

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use asimapd_mh::{MailRoot, Profile};
use asimapd_proto::{Flag, Uid};
use asimapd_store::{FlagSet, MailboxEvent, Store};
use asimapd_testkit::nmh::{NmhHome, message, require_nmh};

/// Creates a temporary nmh home with folder `inbox`; `None` when nmh is missing and skipping
/// was requested.
pub fn home() -> Option<NmhHome> {
    if !require_nmh() {
        return None;
    }
    let home = NmhHome::new("");
    home.create_folder("inbox");
    Some(home)
}

/// Opens a store on the home's mail root with its profile and nmh-compatible locks.
pub fn open_store(home: &NmhHome) -> Store {
    let profile = Profile::load(&home.profile_path(), home.home()).unwrap();
    let root = MailRoot::open(&home.mail_root(), Some(&profile), true).unwrap();
    Store::open(root).unwrap()
}

/// Writes messages `ids` into `folder` as files 1, 2, ... dated one hour ago, so that they
/// count as settled at the first look.
pub fn fill_settled(home: &NmhHome, folder: &str, ids: &[&str]) {
    let messages: Vec<Vec<u8>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| message(id, i as u32 + 1, 2))
        .collect();
    home.fill(folder, &messages);
    for number in 1..=ids.len() {
        age(&home.folder_path(folder).join(number.to_string()));
    }
}

/// Sets a file's modification time to one hour ago.
pub fn age(path: &Path) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// Returns the Message-ID line's value of message `uid`, read through the store.
pub fn message_id(store: &Store, mailbox: &str, uid: Uid) -> String {
    let mut opened = store.open_message(mailbox, uid).unwrap();
    let mut text = String::new();
    opened.file.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("Message-ID: <"))
        .map(|rest| {
            rest.trim_end_matches('>')
                .trim_end_matches("@test")
                .to_owned()
        })
        .unwrap_or_default()
}

/// Returns (UID, Message-ID) of every message, in UID order.
pub fn uid_map(store: &Store, mailbox: &str) -> Vec<(u32, String)> {
    let selected = store.select(mailbox).unwrap();
    selected
        .messages
        .iter()
        .map(|m| (m.uid.get(), message_id(store, mailbox, m.uid)))
        .collect()
}

/// Syncs `mailbox` until `done` holds, for at most five seconds (new files need about one
/// second to settle).
pub fn sync_until(store: &Store, mailbox: &str, done: impl Fn(&Store) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        store.sync(mailbox).unwrap();
        if done(store) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{mailbox} did not reach the expected state"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits up to `limit` for an event that `matches` accepts.
pub fn wait_for_event(
    events: &mut tokio::sync::broadcast::Receiver<MailboxEvent>,
    limit: Duration,
    matches: impl Fn(&MailboxEvent) -> bool,
) -> Option<MailboxEvent> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match events.try_recv() {
            Ok(event) if matches(&event) => return Some(event),
            Ok(_) => continue,
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
    None
}

pub fn uid(value: u32) -> Uid {
    Uid::new(value).unwrap()
}

/// Returns a flag set with `\Flagged` alone.
pub fn flagged() -> FlagSet {
    let mut flags = FlagSet::new();
    flags.insert(&Flag::Flagged);
    flags
}

/// Returns the numbers in `sequence`, as nmh reads them.
pub fn sequence_numbers(home: &NmhHome, folder: &str, sequence: &str) -> Vec<u32> {
    let output = home.output(
        "mark",
        &[&format!("+{folder}"), "-list", "-sequence", sequence],
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let prefix = format!("{sequence}: ");
    let Some(ranges) = text
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
    else {
        return Vec::new();
    };
    let mut numbers = Vec::new();
    for range in ranges.split_whitespace() {
        match range.split_once('-') {
            Some((low, high)) => {
                numbers.extend(low.parse::<u32>().unwrap()..=high.parse::<u32>().unwrap())
            }
            None => numbers.push(range.parse().unwrap()),
        }
    }
    numbers
}
