//! A panic in one session task: its client gets `* BYE [SERVERBUG]` and the end of the
//! stream, while the other sessions and the worker keep running. The panic comes from the
//! `test-panic` feature, which this crate's tests enable.

mod common;

use asimapd_worker::TEST_PANIC_TAG;
use common::Worker;
use tokio::io::AsyncReadExt;

#[tokio::test]
async fn panic_ends_only_its_session() {
    let mut worker = Worker::start().await;
    let mut faulty = worker.connect().await;
    let mut other = worker.connect().await;
    let select = other.command("SELECT INBOX").await;
    assert!(select.last().unwrap().contains(" OK "), "{select:?}");

    faulty
        .send(format!("{TEST_PANIC_TAG} NOOP\r\n").as_bytes())
        .await;
    let bye = faulty.read_line().await;
    assert_eq!(bye, "* BYE [SERVERBUG] Internal error");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        common::RESPONSE_TIMEOUT,
        faulty.reader.read_to_end(&mut rest),
    )
    .await
    .expect("the connection stayed open after the BYE")
    .unwrap();
    assert_eq!(read, 0, "bytes after the BYE: {rest:?}");

    let noop = other.command("NOOP").await;
    assert!(noop.last().unwrap().contains(" OK "), "{noop:?}");
    let mut later = worker.connect().await;
    let status = later.command("STATUS INBOX (MESSAGES)").await;
    assert!(status.last().unwrap().contains(" OK "), "{status:?}");

    drop((other, later));
    worker.shutdown().await.unwrap();
}
