//! Mailbox management: create, delete, rename, subscribe and list.

use asimapd_mh::MailRoot;
use asimapd_store::{FlagSet, MailboxEvent, Store, StoreError};

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(MailRoot::open(dir.path(), None, true).unwrap()).unwrap()
}

#[test]
fn create_lists_with_special_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.create_mailbox("Sent", Some("\\Sent")).unwrap();
    store.create_mailbox("work/y2024", None).unwrap();
    let listed = store.list_mailboxes().unwrap();
    let names: Vec<&str> = listed.iter().map(|info| info.name.as_str()).collect();
    assert_eq!(names, vec!["Sent", "work", "work/y2024"]);
    assert_eq!(listed[0].special_use.as_deref(), Some("\\Sent"));
    assert!(listed[1].has_children);
    assert!(!listed[2].has_children);
}

#[test]
fn create_existing_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.create_mailbox("a", None).unwrap();
    let err = store.create_mailbox("a", None).unwrap_err();
    assert!(matches!(err, StoreError::MailboxExists { .. }), "{err}");
}

#[test]
fn recreated_mailbox_gets_larger_uidvalidity() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store.create_mailbox("a", None).unwrap();
    store.delete_mailbox("a").unwrap();
    let second = store.create_mailbox("a", None).unwrap();
    assert!(second > first);
}

#[test]
fn delete_notifies_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.create_mailbox("a", None).unwrap();
    let mut selected = store.select("a").unwrap();
    store.delete_mailbox("a").unwrap();
    assert_eq!(selected.events.try_recv().unwrap(), MailboxEvent::Deleted);
    let err = store.select("a").unwrap_err();
    assert!(matches!(err, StoreError::MailboxNotFound { .. }), "{err}");
}

#[test]
fn rename_keeps_uids_and_uidvalidity() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let validity = store.create_mailbox("a", None).unwrap();
    store
        .append("a", b"Subject: x\n\nbody\n", &FlagSet::new(), None)
        .unwrap();
    store.rename_mailbox("a", "b").unwrap();
    let selected = store.select("b").unwrap();
    assert_eq!(selected.uid_validity, validity);
    assert_eq!(selected.messages.len(), 1);
    assert_eq!(selected.messages[0].uid.get(), 1);
}

#[test]
fn subscription_survives_without_folder() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.set_subscribed("later", true).unwrap();
    let listed = store.list_mailboxes().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].subscribed);
    assert!(!listed[0].exists);
    store.set_subscribed("later", false).unwrap();
    assert!(store.list_mailboxes().unwrap().is_empty());
}

#[test]
fn status_counts_unseen_and_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.create_mailbox("a", None).unwrap();
    let message = b"Subject: x\n\nbody\n";
    store.append("a", message, &FlagSet::new(), None).unwrap();
    let status = store.status("a").unwrap();
    assert_eq!(status.messages, 1);
    assert_eq!(status.unseen, 1);
    assert_eq!(status.recent, 1);
    assert_eq!(
        status.size,
        message.len() as u64 + 3,
        "served with CRLF line ends"
    );
}
