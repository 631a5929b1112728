//! Many sessions of one user at once, and a message too large to hold in memory.

mod common;

use std::time::Duration;

use common::{Worker, message, status};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

/// Sessions of one user running at the same time.
const SESSIONS: usize = 50;

/// Command rounds each session runs.
const ROUNDS: usize = 2;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_sessions_finish_without_deadlock() {
    let mut worker = Worker::start().await;
    let mut clients = Vec::new();
    for _ in 0..SESSIONS {
        clients.push(worker.connect().await);
    }
    worker.deliver(
        "inbox",
        &(0..20)
            .map(|i| message(&format!("m{i}")))
            .collect::<Vec<_>>(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for (number, mut client) in clients.into_iter().enumerate() {
        tasks.spawn(async move {
            let shared = if number % 2 == 0 { "INBOX" } else { "Archive" };
            client.ok(&format!("SELECT {shared}")).await;
            for round in 0..ROUNDS {
                let body = format!("Subject: s{number} r{round}\r\n\r\nbody\r\n");
                client
                    .send(
                        format!("a{round} APPEND {shared} {{{}+}}\r\n{body}\r\n", body.len())
                            .as_bytes(),
                    )
                    .await;
                let lines = client.read_tagged(&format!("a{round}")).await;
                assert_eq!(status(&lines), "OK", "{lines:#?}");
                let appended = appended_uid(lines.last().unwrap());
                client.ok("UID FETCH 1:* FLAGS").await;
                client.ok("UID STORE 1:* +FLAGS.SILENT (\\Seen)").await;
                client.ok(&format!("SEARCH SUBJECT s{number}")).await;
                let target = if shared == "INBOX" {
                    "Archive"
                } else {
                    "INBOX"
                };
                client.ok(&format!("UID COPY 1 {target}")).await;
                client.ok("STATUS Junk (MESSAGES)").await;
                if round == 0 {
                    client.ok(&format!("UID MOVE {appended} Drafts")).await;
                } else {
                    client
                        .ok(&format!("UID STORE {appended} +FLAGS.SILENT (\\Deleted)"))
                        .await;
                    client.ok(&format!("UID EXPUNGE {appended}")).await;
                }
                client.send(b"i1 IDLE\r\n").await;
                assert_eq!(client.read_line().await, "+ idling");
                client.send(b"DONE\r\n").await;
                client.read_tagged("i1").await;
                client.ok("NOOP").await;
            }
            client.ok("LOGOUT").await;
        });
    }
    let all_done = async {
        while let Some(result) = tasks.join_next().await {
            result.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all_done)
        .await
        .expect("sessions did not finish: deadlock or starvation");

    // Each session moved its first message to Drafts and expunged its second. Archive
    // then contains one copy of INBOX's UID 1 per round of each INBOX session. INBOX
    // contains the 20 delivered messages and the copies of Archive's UID 1 made while
    // that message still existed.
    let mut client = worker.connect().await;
    let lines = client.ok("STATUS Drafts (MESSAGES)").await;
    assert_eq!(lines[0], format!("* STATUS Drafts (MESSAGES {SESSIONS})"));
    let copies_per_mailbox = SESSIONS / 2 * ROUNDS;
    let lines = client.ok("STATUS Archive (MESSAGES)").await;
    assert_eq!(message_count(&lines[0]), copies_per_mailbox, "{lines:?}");
    let lines = client.ok("STATUS INBOX (MESSAGES)").await;
    let inbox = message_count(&lines[0]);
    assert!(
        (20..=20 + copies_per_mailbox).contains(&inbox),
        "INBOX contains {inbox} messages"
    );
    worker.shutdown().await.unwrap();
}

/// Returns the UID of an `OK [APPENDUID validity uid]` line.
fn appended_uid(line: &str) -> u32 {
    let code = line.split_once("[APPENDUID ").expect(line).1;
    let uid = code.split(']').next().unwrap().split(' ').nth(1).unwrap();
    uid.parse().expect(line)
}

/// Returns the MESSAGES value of a STATUS response.
fn message_count(line: &str) -> usize {
    let value = line.rsplit("MESSAGES ").next().unwrap();
    value.trim_end_matches(')').parse().expect(line)
}

/// Returns the anonymous (heap and stack) resident memory of this process, in bytes.
fn anonymous_resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("RssAnon:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_message_is_streamed() {
    const SIZE: usize = 50 * 1024 * 1024;
    let mut worker = Worker::start().await;
    let mut client = worker.connect().await;
    let mut big = b"From: big@example.org\nSubject: big\n\n".to_vec();
    let line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxy\n";
    while big.len() < SIZE {
        big.extend_from_slice(line);
    }
    let lines = big.iter().filter(|b| **b == b'\n').count();
    let served_size = big.len() + lines;
    worker.deliver("inbox", &[big]);
    client.ok("SELECT INBOX").await;
    let before = anonymous_resident_bytes();

    client
        .send(b"f1 FETCH 1 (RFC822.SIZE BODY.PEEK[])\r\n")
        .await;
    let mut header = String::new();
    client.reader.read_line(&mut header).await.unwrap();
    let expected = format!("* 1 FETCH (RFC822.SIZE {served_size} BODY[] {{{served_size}}}\r\n");
    assert_eq!(header, expected);
    let mut remaining = served_size;
    let mut chunk = vec![0u8; 1024 * 1024];
    let mut tail = Vec::new();
    while remaining > 0 {
        let want = remaining.min(chunk.len());
        let read = client.reader.read(&mut chunk[..want]).await.unwrap();
        assert!(read > 0, "connection closed inside the literal");
        remaining -= read;
        tail = chunk[..read].to_vec();
    }
    assert!(
        tail.ends_with(b"uvwxy\r\n"),
        "literal ends with a CRLF line"
    );
    assert_eq!(client.read_line().await, ")");
    assert_eq!(client.read_line().await, "f1 OK FETCH command completed");

    let growth = anonymous_resident_bytes().saturating_sub(before);
    assert!(
        growth < 20 * 1024 * 1024,
        "heap grew by {growth} bytes serving a 50 MB message"
    );
    worker.shutdown().await.unwrap();
}
