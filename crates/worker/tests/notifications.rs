//! Changes made by other sessions and by nmh reach a session only when RFC 3501 §7.4.1
//! allows, and at once during IDLE (RFC 2177).

mod common;

use std::time::Duration;

use common::{Client, Worker, message};

fn three() -> Vec<Vec<u8>> {
    vec![message("one"), message("two"), message("three")]
}

async fn two_sessions() -> (Worker, Client, Client) {
    let mut worker = Worker::start().await;
    let mut first = worker.connect().await;
    let mut second = worker.connect().await;
    worker.deliver("inbox", &three());
    first.ok("SELECT INBOX").await;
    second.ok("SELECT INBOX").await;
    (worker, first, second)
}

/// Reads lines until one satisfies `done`, failing after `limit`.
async fn read_until(
    client: &mut Client,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    tokio::time::timeout(limit, async {
        loop {
            let line = client.read_line().await;
            let is_done = done(&line);
            lines.push(line);
            if is_done {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("expected line not seen within {limit:?}: {lines:#?}"));
    lines
}

#[tokio::test]
async fn expunge_waits_during_fetch_by_seqnum() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.ok("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;
    let lines = second.ok("FETCH 1:3 UID").await;
    assert!(!lines.iter().any(|l| l.contains("EXPUNGE")), "{lines:#?}");
    assert!(
        lines.contains(&"* 2 FETCH (UID 2)".to_owned()),
        "{lines:#?}"
    );
    let lines = second.ok("SEARCH ALL").await;
    assert!(!lines.iter().any(|l| l.contains("EXPUNGE")), "{lines:#?}");
    let lines = second.ok("NOOP").await;
    assert!(lines.contains(&"* 2 EXPUNGE".to_owned()), "{lines:#?}");
    let lines = second.ok("FETCH 1:* UID").await;
    assert_eq!(lines[..2], ["* 1 FETCH (UID 1)", "* 2 FETCH (UID 3)"]);
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn uid_fetch_may_carry_expunge() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.ok("STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;
    let lines = second.ok("UID FETCH 1 UID").await;
    assert!(lines.contains(&"* 3 EXPUNGE".to_owned()), "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn fetch_of_expunged_body_is_expungeissued() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.ok("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;
    let lines = second.ok("FETCH 2 BODY.PEEK[]").await;
    assert!(
        lines.last().unwrap().contains("OK [EXPUNGEISSUED]"),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("* 2 FETCH (BODY")),
        "{lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn store_on_expunged_message_is_expungeissued() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.ok("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;
    let lines = second.ok("STORE 2 +FLAGS (\\Flagged)").await;
    assert!(
        lines.last().unwrap().contains("OK [EXPUNGEISSUED]"),
        "{lines:#?}"
    );
    let lines = second.ok("STORE 1 +FLAGS.SILENT (\\Flagged)").await;
    assert!(
        !lines.last().unwrap().contains("EXPUNGEISSUED"),
        "{lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn flag_change_reaches_other_session_after_command() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.ok("STORE 1 +FLAGS (\\Answered)").await;
    let lines = second.ok("NOOP").await;
    assert_eq!(lines[0], "* 1 FETCH (FLAGS (\\Answered))");
    let lines = second.ok("NOOP").await;
    assert_eq!(lines.len(), 1, "announced once: {lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn store_while_idle_is_pushed() {
    let (worker, mut first, mut second) = two_sessions().await;
    second.send(b"i1 IDLE\r\n").await;
    assert_eq!(second.read_line().await, "+ idling");
    first.ok("STORE 2 +FLAGS (\\Flagged)").await;
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.contains("FETCH")
    })
    .await;
    assert_eq!(lines.last().unwrap(), "* 2 FETCH (FLAGS (\\Flagged))");
    first.ok("STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.contains("EXPUNGE")
    })
    .await;
    assert_eq!(lines.last().unwrap(), "* 3 EXPUNGE");
    second.send(b"done\r\n").await;
    assert_eq!(second.read_line().await, "i1 OK IDLE terminated");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_without_done_line_is_bad() {
    let (worker, _first, mut second) = two_sessions().await;
    second.send(b"i1 IDLE\r\n").await;
    assert_eq!(second.read_line().await, "+ idling");
    second.send(b"i2 NOOP\r\n").await;
    let line = second.read_line().await;
    assert!(line.starts_with("i1 BAD"), "{line}");
    second.ok("NOOP").await;
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn nmh_mark_reaches_selected_session() {
    let (worker, _first, mut second) = two_sessions().await;
    worker
        .nmh()
        .run("mark", &["+inbox", "1", "-sequence", "flagged", "-add"]);
    let lines = second.ok("NOOP").await;
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("* 1 FETCH (FLAGS (\\Flagged")),
        "{lines:#?}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn nmh_rmm_is_expunged_on_noop() {
    let (worker, _first, mut second) = two_sessions().await;
    worker.nmh().run("rmm", &["+inbox", "2"]);
    let lines = second.ok("NOOP").await;
    assert!(lines.contains(&"* 2 EXPUNGE".to_owned()), "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn nmh_inc_reaches_idle_session() {
    let (worker, _first, mut second) = two_sessions().await;
    second.send(b"i1 IDLE\r\n").await;
    assert_eq!(second.read_line().await, "+ idling");
    let drop = worker.dir.path().join("maildrop");
    let output = worker.nmh().inc_mbox("inbox", &drop, &[message("new")]);
    assert!(output.status.success(), "{output:?}");
    // The file settles for one second and an idling session checks every second, so the
    // EXISTS arrives within about two seconds. The bound leaves room for a loaded machine.
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.ends_with("EXISTS")
    })
    .await;
    assert_eq!(lines.last().unwrap(), "* 4 EXISTS");
    second.send(b"DONE\r\n").await;
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.starts_with("i1 ")
    })
    .await;
    assert_eq!(lines.last().unwrap(), "i1 OK IDLE terminated");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn append_by_other_session_announces_exists() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.send(b"a1 APPEND INBOX {5+}\r\nhello\r\n").await;
    first.read_tagged("a1").await;
    let lines = second.ok("NOOP").await;
    assert_eq!(lines[0], "* 4 EXISTS");
    assert_eq!(lines[1], "* 0 RECENT");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleted_mailbox_ends_selected_session() {
    let mut worker = Worker::start().await;
    let mut first = worker.connect().await;
    let mut second = worker.connect().await;
    first.ok("CREATE doomed").await;
    second.ok("SELECT doomed").await;
    first.ok("DELETE doomed").await;
    second.send(b"n1 NOOP\r\n").await;
    let line = second.read_line().await;
    assert!(line.starts_with("* BYE"), "{line}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn expunge_waits_during_store_by_seqnum() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.ok("STORE 2 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;

    // RFC 3501 §7.4.1: no EXPUNGE while STORE by sequence number runs, so numbers 1 to 3
    // keep the meaning the client gave them.
    let lines = second.ok("STORE 1:3 +FLAGS (\\Flagged)").await;
    assert!(!lines.iter().any(|l| l.ends_with(" EXPUNGE")), "{lines:#?}");
    assert!(
        lines.contains(&"* 1 FETCH (FLAGS (\\Flagged))".to_owned()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"* 3 FETCH (FLAGS (\\Flagged))".to_owned()),
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("\\Flagged") && l.starts_with("* 2 FETCH")),
        "a message expunged elsewhere is not stored to: {lines:#?}"
    );

    let lines = second.ok("NOOP").await;
    assert_eq!(lines[0], "* 2 EXPUNGE");
    let marks = worker.nmh().mark_list("inbox");
    assert!(
        marks.contains("flagged: 1 3"),
        "MH keeps file numbers: {marks}"
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn expunge_waits_during_search_by_seqnum() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.ok("STORE 3 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;
    let lines = second.ok("SEARCH 2:3").await;
    assert!(!lines.iter().any(|l| l.contains("EXPUNGE")), "{lines:#?}");
    assert!(lines.contains(&"* SEARCH 2 3".to_owned()), "{lines:#?}");
    let lines = second.ok("UID SEARCH ALL").await;
    assert!(lines.contains(&"* 3 EXPUNGE".to_owned()), "{lines:#?}");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn expunge_waits_during_copy_by_seqnum() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.ok("STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;
    let lines = second.ok("COPY 2:3 Archive").await;
    assert!(!lines.iter().any(|l| l.contains("EXPUNGE")), "{lines:#?}");
    let lines = second.ok("NOOP").await;
    assert_eq!(lines[0], "* 1 EXPUNGE");
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_done_in_any_case() {
    let (worker, _first, mut second) = two_sessions().await;
    for (number, done) in ["DONE", "done", "DoNe"].iter().enumerate() {
        second.send(format!("i{number} IDLE\r\n").as_bytes()).await;
        assert_eq!(second.read_line().await, "+ idling");
        second.send(format!("{done}\r\n").as_bytes()).await;
        assert_eq!(
            second.read_line().await,
            format!("i{number} OK IDLE terminated")
        );
    }
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn nmh_rmm_reaches_idle_session_at_once() {
    let (worker, _first, mut second) = two_sessions().await;
    second.send(b"i1 IDLE\r\n").await;
    assert_eq!(second.read_line().await, "+ idling");
    let started = std::time::Instant::now();
    worker.nmh().run("rmm", &["+inbox", "2"]);
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.ends_with("EXPUNGE")
    })
    .await;
    let waited = started.elapsed();
    assert_eq!(lines.last().unwrap(), "* 2 EXPUNGE");
    // An idling session checks the folder every second; the rest is slack for a loaded
    // machine.
    assert!(waited < Duration::from_secs(5), "EXPUNGE after {waited:?}");
    second.send(b"DONE\r\n").await;
    assert_eq!(second.read_line().await, "i1 OK IDLE terminated");
    worker.shutdown().await.unwrap();
}

/// `folder -create`, `inc` and `rmm` change the store while one session has INBOX selected
/// and another idles on it. The idling one gets EXISTS and EXPUNGE as they happen, and the
/// selected one with its next command. Both see the new folder in LIST.
#[tokio::test]
async fn nmh_changes_reach_selected_and_idle_sessions() {
    let (worker, mut first, mut second) = two_sessions().await;
    second.send(b"i1 IDLE\r\n").await;
    assert_eq!(second.read_line().await, "+ idling");

    worker.nmh().create_folder("news");
    let drop = worker.dir.path().join("maildrop");
    let output = worker
        .nmh()
        .inc_mbox("inbox", &drop, &[message("four"), message("five")]);
    assert!(output.status.success(), "{output:?}");
    let lines = read_until(&mut second, Duration::from_secs(10), |l| l == "* 5 EXISTS").await;
    assert!(!lines.iter().any(|l| l.contains("EXPUNGE")), "{lines:#?}");

    worker.nmh().run("rmm", &["+inbox", "1"]);
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.ends_with("EXPUNGE")
    })
    .await;
    assert_eq!(lines.last().unwrap(), "* 1 EXPUNGE");
    second.send(b"DONE\r\n").await;
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.starts_with("i1 ")
    })
    .await;
    assert_eq!(lines.last().unwrap(), "i1 OK IDLE terminated");

    let lines = first.ok("NOOP").await;
    assert!(lines.contains(&"* 1 EXPUNGE".to_owned()), "{lines:#?}");
    assert!(lines.contains(&"* 4 EXISTS".to_owned()), "{lines:#?}");
    let expunge = lines.iter().position(|l| l == "* 1 EXPUNGE").unwrap();
    let exists = lines.iter().position(|l| l == "* 4 EXISTS").unwrap();
    assert!(
        expunge < exists,
        "EXISTS counts after the EXPUNGE: {lines:#?}"
    );
    let lines = first.ok("UID FETCH 1:* UID").await;
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert_eq!(lines[3], "* 4 FETCH (UID 5)");

    for client in [&mut first, &mut second] {
        let lines = client.ok("LIST \"\" news").await;
        assert_eq!(lines[0], r#"* LIST (\HasNoChildren) "/" news"#);
    }
    worker.shutdown().await.unwrap();
}

#[tokio::test]
async fn nmh_mark_reaches_idle_session() {
    let (worker, _first, mut second) = two_sessions().await;
    second.send(b"i1 IDLE\r\n").await;
    assert_eq!(second.read_line().await, "+ idling");
    worker
        .nmh()
        .run("mark", &["+inbox", "2", "-sequence", "flagged", "-add"]);
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.contains("FETCH")
    })
    .await;
    assert_eq!(lines.last().unwrap(), "* 2 FETCH (FLAGS (\\Flagged))");
    worker
        .nmh()
        .run("mark", &["+inbox", "2", "-sequence", "unseen", "-delete"]);
    let lines = read_until(&mut second, Duration::from_secs(10), |l| {
        l.contains("FETCH")
    })
    .await;
    assert_eq!(
        lines.last().unwrap(),
        "* 2 FETCH (FLAGS (\\Flagged \\Seen))"
    );
    second.send(b"DONE\r\n").await;
    assert_eq!(second.read_line().await, "i1 OK IDLE terminated");
    worker.shutdown().await.unwrap();
}

/// A message added and expunged elsewhere between two commands of a session was never
/// announced to it, so it gets neither EXPUNGE nor EXISTS for it.
#[tokio::test]
async fn message_added_and_expunged_between_commands() {
    let (worker, mut first, mut second) = two_sessions().await;
    first.send(b"a1 APPEND INBOX {5+}\r\nhello\r\n").await;
    first.read_tagged("a1").await;
    first.ok("STORE 4 +FLAGS.SILENT (\\Deleted)").await;
    first.ok("EXPUNGE").await;
    let lines = second.ok("NOOP").await;
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let lines = second.ok("FETCH 1:* UID").await;
    assert_eq!(lines.len(), 4, "{lines:#?}");
    worker.shutdown().await.unwrap();
}
