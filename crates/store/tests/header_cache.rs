//! The header block cache that SEARCH reads: which message files `Store::search_details`
//! opens, counted with inotify `IN_OPEN` events on the folder.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};

use asimapd_mh::{MailRoot, MessageNumber};
use asimapd_proto::Uid;
use asimapd_store::{INDEX_FILE, MessageDetails, Store};
use inotify::{Inotify, WatchMask};

const MESSAGES: u32 = 20;

/// Writes messages 1..=MESSAGES into `folder`, dated one hour ago so that they count as
/// settled at the first look.
fn fill_folder(root: &Path, folder: &str) {
    let dir = root.join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    let old = SystemTime::now() - Duration::from_secs(3600);
    for number in 1..=MESSAGES {
        let text = format!(
            "From: sender{number}@example.org\r\nSubject: =?UTF-8?Q?K=C3=B6ln_{number}?=\r\n\
             \r\nbody of message {number}\r\n"
        );
        let mut file = std::fs::File::create(dir.join(number.to_string())).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file.set_modified(old).unwrap();
    }
}

fn open(root: &Path) -> Store {
    Store::open(MailRoot::open(root, None, true).unwrap()).unwrap()
}

/// Runs `body` and returns how often each message file of `dir` was opened meanwhile.
fn message_opens<T>(dir: &Path, body: impl FnOnce() -> T) -> (T, HashMap<u32, usize>) {
    let mut inotify = Inotify::init().unwrap();
    inotify.watches().add(dir, WatchMask::OPEN).unwrap();
    let value = body();
    let mut opens = HashMap::new();
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
            let number = event
                .name
                .and_then(|name| MessageNumber::parse_file_name(name.as_encoded_bytes()));
            if let Some(number) = number {
                *opens.entry(number.get()).or_default() += 1;
            }
        }
        if !any {
            break;
        }
    }
    (value, opens)
}

fn all_uids(store: &Store) -> Vec<Uid> {
    store
        .select("inbox")
        .unwrap()
        .messages
        .iter()
        .map(|message| message.uid)
        .collect()
}

fn headers(details: &[Option<MessageDetails>]) -> Vec<Option<&[u8]>> {
    details
        .iter()
        .map(|details| details.as_ref().unwrap().header.as_deref())
        .collect()
}

#[test]
fn indexed_headers_open_no_file() {
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "inbox");
    let store = open(dir.path());
    let uids = all_uids(&store);
    assert_eq!(uids.len(), MESSAGES as usize);

    let (details, opens) = message_opens(&dir.path().join("inbox"), || {
        store.search_details("inbox", &uids).unwrap()
    });
    assert!(opens.is_empty(), "message files opened: {opens:?}");
    let first = headers(&details)[0].unwrap();
    assert!(first.starts_with(b"From: sender1@example.org\r\n"));
    assert!(first.ends_with(b"?=\r\n\r\n"), "{first:?}");
    assert!(headers(&details).iter().all(Option::is_some));
}

#[test]
fn old_rows_fill_header_once() {
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "inbox");
    let store = open(dir.path());
    let uids = all_uids(&store);
    // Rows written before the index cached header blocks have NULL in the column.
    let conn = rusqlite::Connection::open(dir.path().join(INDEX_FILE)).unwrap();
    let cleared = conn
        .execute("UPDATE messages SET header = NULL", [])
        .unwrap();
    assert_eq!(cleared, MESSAGES as usize);

    let folder = dir.path().join("inbox");
    let (details, opens) = message_opens(&folder, || store.search_details("inbox", &uids).unwrap());
    assert_eq!(
        opens.len(),
        MESSAGES as usize,
        "every old row read its file"
    );
    assert!(opens.values().all(|count| *count == 1), "{opens:?}");
    assert!(headers(&details).iter().all(Option::is_some));

    let stored: u32 = conn
        .query_row(
            "SELECT count(*) FROM messages WHERE header IS NOT NULL",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(stored, MESSAGES, "filled header blocks were stored");

    let (again, opens) = message_opens(&folder, || store.search_details("inbox", &uids).unwrap());
    assert!(opens.is_empty(), "message files opened again: {opens:?}");
    assert_eq!(headers(&again), headers(&details));
}

#[test]
fn expunged_uid_has_no_details() {
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "inbox");
    let store = open(dir.path());
    assert_eq!(all_uids(&store).len(), MESSAGES as usize);
    let missing = Uid::new(MESSAGES + 100).unwrap();
    let details = store.search_details("inbox", &[missing]).unwrap();
    assert_eq!(details, vec![None]);
}

#[test]
fn entries_follow_requested_order() {
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "inbox");
    let store = open(dir.path());
    let uids = all_uids(&store);
    let ascending = store.search_entries("inbox", &uids).unwrap();
    assert!(ascending.iter().all(Option::is_some));

    let missing = Uid::new(MESSAGES + 100).unwrap();
    let requested = [uids[3], uids[1], missing, uids[3], uids[0]];
    let entries = store.search_entries("inbox", &requested).unwrap();
    let found: Vec<Option<Uid>> = entries
        .iter()
        .map(|entry| entry.as_ref().map(|entry| entry.uid))
        .collect();
    assert_eq!(
        found,
        [
            Some(uids[3]),
            Some(uids[1]),
            None,
            Some(uids[3]),
            Some(uids[0])
        ]
    );
    assert_eq!(entries[0], ascending[3]);
    assert_eq!(entries[4], ascending[0]);
    assert!(store.search_entries("inbox", &[]).unwrap().is_empty());
}

#[test]
fn open_entry_rejects_replaced_file() {
    let dir = tempfile::tempdir().unwrap();
    fill_folder(dir.path(), "inbox");
    let store = open(dir.path());
    let uids = all_uids(&store);
    let entries = store.search_entries("inbox", &uids[..2]).unwrap();
    let first = entries[0].as_ref().unwrap();
    let second = entries[1].as_ref().unwrap();
    assert!(store.open_entry("inbox", first).is_ok());

    // A new file under the same number is not the message that was indexed.
    let path = dir
        .path()
        .join("inbox")
        .join(first.number.get().to_string());
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"Subject: replaced\n\nother\n").unwrap();
    let error = store.open_entry("inbox", first).unwrap_err();
    assert!(
        matches!(error, asimapd_store::StoreError::MessageNotFound { .. }),
        "{error:?}"
    );

    let path = dir
        .path()
        .join("inbox")
        .join(second.number.get().to_string());
    std::fs::remove_file(&path).unwrap();
    let error = store.open_entry("inbox", second).unwrap_err();
    assert!(
        matches!(error, asimapd_store::StoreError::MessageNotFound { .. }),
        "{error:?}"
    );
}
