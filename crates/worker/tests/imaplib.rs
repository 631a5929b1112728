//! Interoperability with Python's imaplib: a client session through a small stand-in for
//! the listener (greeting, LOGIN, then the hand-off to the worker and a byte relay).

mod common;

use std::os::fd::AsFd;

use asimapd_ipc::{Handoff, Protocol, ToWorker, connection_pair};
use common::{Worker, message};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UnixStream};

/// Accepts one client on `listener`, handles the greeting and LOGIN the way the listener
/// does, hands the connection to the worker and relays bytes until either side closes.
async fn listener_stand_in(listener: TcpListener, worker: &Worker) {
    let (stream, peer) = listener.accept().await.unwrap();
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write
        .write_all(b"* OK [CAPABILITY IMAP4rev1] test listener ready\r\n")
        .await
        .unwrap();
    let login_tag = loop {
        let mut line = String::new();
        read.read_line(&mut line).await.unwrap();
        let (tag, rest) = line.trim_end().split_once(' ').unwrap();
        if rest.to_ascii_uppercase().starts_with("LOGIN ") {
            break tag.to_owned();
        }
        assert!(
            rest.eq_ignore_ascii_case("CAPABILITY"),
            "unexpected pre-login command {line:?}"
        );
        let reply = format!("* CAPABILITY IMAP4rev1\r\n{tag} OK CAPABILITY command completed\r\n");
        write.write_all(reply.as_bytes()).await.unwrap();
    };
    let (relay, session) = connection_pair().unwrap();
    let handoff = Handoff {
        connection_id: 99,
        peer,
        local: listener.local_addr().unwrap(),
        protocol: Protocol::Imap,
        user: "alice".into(),
        is_tls: false,
        login_tag: Some(login_tag),
        client_id: Vec::new(),
        pending_input: read.buffer().to_vec(),
    };
    worker
        .control
        .send(&ToWorker::Connection(handoff), Some(session.as_fd()))
        .await
        .unwrap();
    drop(session);
    let relay = std::os::unix::net::UnixStream::from(relay);
    relay.set_nonblocking(true).unwrap();
    let mut relay = UnixStream::from_std(relay).unwrap();
    let mut client = read.into_inner().reunite(write).unwrap();
    let _ = tokio::io::copy_bidirectional(&mut client, &mut relay).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaplib_client_session() {
    let python = asimapd_testkit::require_tool("python3", "python3");
    let Some(python) = python else {
        return;
    };
    let mut worker = Worker::start().await;
    let _first = worker.connect().await;
    worker.deliver("inbox", &[message("one"), message("two"), message("three")]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/imaplib_session.py");
    let child = tokio::process::Command::new(python)
        .arg(script)
        .arg(port.to_string())
        .kill_on_drop(true)
        .output();
    let (output, ()) = tokio::join!(child, listener_stand_in(listener, &worker));
    let output = output.unwrap();
    assert!(
        output.status.success(),
        "imaplib session failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("imaplib session completed"));
    worker.shutdown().await.unwrap();
}
