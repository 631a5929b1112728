//! IDLE keepalive and autologout timing, on tokio's paused clock.

mod common;

use std::time::Duration;

use asimapd_worker::AUTOLOGOUT_TIMEOUT;
use common::{Client, Worker};
use tokio::io::AsyncBufReadExt;
use tokio::time::Instant;

const KEEPALIVE: Duration = Duration::from_secs(120);

async fn paused_worker() -> Worker {
    let nmh = asimapd_testkit::nmh::NmhHome::new("");
    let mut config = common::config(&nmh.mail_root());
    config.home = Some(nmh.home().to_owned());
    config.linger = Duration::from_secs(24 * 3600);
    config.idle_keepalive = KEEPALIVE;
    let mut worker = Worker::start_with(tempfile::tempdir().unwrap(), config).await;
    worker.nmh = Some(nmh);
    worker
}

/// Reads a line without a timeout: on the paused clock a timeout would fire as soon as
/// the runtime waits for the worker.
async fn read_line(client: &mut Client) -> String {
    let mut line = String::new();
    client.reader.read_line(&mut line).await.unwrap();
    line.trim_end().to_owned()
}

#[tokio::test(start_paused = true)]
async fn idle_keepalive_on_interval() {
    let mut worker = paused_worker().await;
    let mut client = worker.connect_with(b"").await;
    assert!(read_line(&mut client).await.starts_with("a0 OK"));
    client.send(b"s1 SELECT INBOX\r\n").await;
    while !read_line(&mut client).await.starts_with("s1 ") {}
    client.send(b"i1 IDLE\r\n").await;
    assert_eq!(read_line(&mut client).await, "+ idling");
    let started = Instant::now();
    assert_eq!(read_line(&mut client).await, "* OK Still here");
    let waited = started.elapsed();
    assert!(waited >= KEEPALIVE, "keepalive after {waited:?}");
    assert!(
        waited < KEEPALIVE + Duration::from_secs(2),
        "keepalive after {waited:?}"
    );
    client.send(b"DONE\r\n").await;
    assert_eq!(read_line(&mut client).await, "i1 OK IDLE terminated");
    worker.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn idle_autologout_after_timeout() {
    let mut worker = paused_worker().await;
    let mut client = worker.connect_with(b"").await;
    assert!(read_line(&mut client).await.starts_with("a0 OK"));
    client.send(b"i1 IDLE\r\n").await;
    assert_eq!(read_line(&mut client).await, "+ idling");
    let started = Instant::now();
    let mut keepalives = 0;
    loop {
        let line = read_line(&mut client).await;
        if line.starts_with("* BYE") {
            break;
        }
        assert_eq!(line, "* OK Still here");
        keepalives += 1;
    }
    assert!(started.elapsed() >= AUTOLOGOUT_TIMEOUT);
    assert!(
        AUTOLOGOUT_TIMEOUT >= Duration::from_secs(30 * 60),
        "RFC 9051 §5.4 minimum"
    );
    assert_eq!(
        keepalives,
        AUTOLOGOUT_TIMEOUT.as_secs() / KEEPALIVE.as_secs()
    );
    worker.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn silent_session_is_logged_out() {
    let mut worker = paused_worker().await;
    let mut client = worker.connect_with(b"").await;
    assert!(read_line(&mut client).await.starts_with("a0 OK"));
    let started = Instant::now();
    let line = read_line(&mut client).await;
    assert!(line.starts_with("* BYE Autologout"), "{line}");
    assert!(started.elapsed() >= AUTOLOGOUT_TIMEOUT);
    worker.shutdown().await.unwrap();
}
