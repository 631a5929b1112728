//! A harness that runs `serve` in-process the way the listener does: a control socket pair,
//! and each client connection handed over as one end of a stream socket pair.

#![allow(dead_code)]

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use asimapd_ipc::{ControlSocket, Handoff, Protocol, ToWorker, connection_pair, control_pair};
use asimapd_testkit::nmh::NmhHome;
use asimapd_worker::{WorkerConfig, WorkerError, serve};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

/// Maximum wait for an expected response before a test fails.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// A running worker over a temporary mail root.
pub struct Worker {
    pub dir: tempfile::TempDir,
    /// The nmh home when the worker runs over one.
    pub nmh: Option<NmhHome>,
    pub control: ControlSocket,
    pub task: JoinHandle<Result<(), WorkerError>>,
    next_id: u64,
}

impl Worker {
    /// Starts a worker on a fresh nmh home with default settings.
    pub async fn start() -> Worker {
        Worker::start_nmh().await
    }

    /// Starts a worker with the given configuration; `dir` is kept alive with it.
    pub async fn start_with(dir: tempfile::TempDir, config: WorkerConfig) -> Worker {
        let (listener_end, worker_end) = control_pair().unwrap();
        let control = ControlSocket::new(listener_end).unwrap();
        let worker_control = ControlSocket::new(worker_end).unwrap();
        let task = tokio::spawn(serve(worker_control, config));
        Worker {
            dir,
            nmh: None,
            control,
            task,
            next_id: 1,
        }
    }

    /// Starts a worker over a fresh nmh home (profile with `Unseen-Sequence: unseen`), so
    /// tests can run nmh commands on the same folders.
    pub async fn start_nmh() -> Worker {
        assert!(asimapd_testkit::nmh::require_nmh());
        let nmh = NmhHome::new("");
        let mut config = config(&nmh.mail_root());
        config.home = Some(nmh.home().to_owned());
        let mut worker = Worker::start_with(tempfile::tempdir().unwrap(), config).await;
        worker.nmh = Some(nmh);
        worker
    }

    /// Returns the nmh home; panics for a worker started without one.
    pub fn nmh(&self) -> &NmhHome {
        self.nmh
            .as_ref()
            .expect("worker started without an nmh home")
    }

    /// Returns the mail root.
    pub fn mail_root(&self) -> PathBuf {
        match &self.nmh {
            Some(nmh) => nmh.mail_root(),
            None => self.dir.path().join("Mail"),
        }
    }

    /// Writes `messages` as files into `folder` (created when missing), after the highest
    /// number already there, and adds them to the `unseen` sequence as `inc` does. Their
    /// modification time is set a minute back, so the store takes them as complete at once
    /// instead of waiting for them to settle.
    pub fn deliver(&self, folder: &str, messages: &[Vec<u8>]) {
        let dir = self.mail_root().join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let highest = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|entry| entry.unwrap().file_name().to_str()?.parse::<u32>().ok())
            .max()
            .unwrap_or(0);
        for (offset, message) in messages.iter().enumerate() {
            let path = dir.join((highest + 1 + offset as u32).to_string());
            std::fs::write(&path, message).unwrap();
            let past = std::time::SystemTime::now() - Duration::from_secs(60);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(past)
                .unwrap();
        }
        if let (Some(nmh), false) = (&self.nmh, messages.is_empty()) {
            let first = highest + 1;
            let last = highest + messages.len() as u32;
            nmh.run(
                "mark",
                &[
                    &format!("+{folder}"),
                    &format!("{first}-{last}"),
                    "-sequence",
                    "unseen",
                    "-add",
                ],
            );
        }
    }

    /// Hands over a new connection as if `a0 LOGIN` had succeeded, and reads the worker's
    /// tagged OK for it.
    pub async fn connect(&mut self) -> Client {
        let mut client = self.connect_with(b"").await;
        let line = client.read_line().await;
        assert!(
            line.starts_with("a0 OK [CAPABILITY "),
            "login reply: {line:?}"
        );
        client
    }

    /// Hands over a connection with bytes the listener already read from the client.
    pub async fn connect_with(&mut self, pending_input: &[u8]) -> Client {
        let (relay, session) = connection_pair().unwrap();
        let handoff = Handoff {
            connection_id: self.next_id,
            peer: "127.0.0.1:40000".parse().unwrap(),
            local: "127.0.0.1:993".parse().unwrap(),
            protocol: Protocol::Imap,
            user: "alice".into(),
            is_tls: true,
            login_tag: Some("a0".into()),
            client_id: Vec::new(),
            pending_input: pending_input.to_vec(),
        };
        self.next_id += 1;
        self.control
            .send(&ToWorker::Connection(handoff), Some(session.as_fd()))
            .await
            .unwrap();
        drop(session);
        let stream = std::os::unix::net::UnixStream::from(relay);
        stream.set_nonblocking(true).unwrap();
        let (read, write) = UnixStream::from_std(stream).unwrap().into_split();
        Client {
            reader: BufReader::new(read),
            writer: write,
            next_tag: 1,
        }
    }

    /// Asks the worker to stop and waits for `serve` to return.
    pub async fn shutdown(mut self) -> Result<(), WorkerError> {
        self.stop().await
    }

    /// Stops the worker as [`Worker::shutdown`] does, but keeps its mail root for checks.
    pub async fn stop(&mut self) -> Result<(), WorkerError> {
        self.control.send(&ToWorker::Shutdown, None).await.unwrap();
        tokio::time::timeout(RESPONSE_TIMEOUT, &mut self.task)
            .await
            .expect("serve did not return after Shutdown")
            .unwrap()
    }
}

/// Returns the default configuration for tests over `mail_root`.
pub fn config(mail_root: &Path) -> WorkerConfig {
    WorkerConfig {
        user: "alice".into(),
        mail_root: mail_root.to_owned(),
        home: None,
        mh_file_locking: true,
        linger: Duration::from_secs(60),
        idle_keepalive: Duration::from_secs(300),
    }
}

/// The client end of a session.
pub struct Client {
    pub reader: BufReader<OwnedReadHalf>,
    pub writer: OwnedWriteHalf,
    next_tag: u32,
}

impl Client {
    /// Sends raw bytes.
    pub async fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
    }

    /// Reads one line, CRLF removed; fails the test on timeout or end of stream.
    pub async fn read_line(&mut self) -> String {
        let mut line = Vec::new();
        let read = tokio::time::timeout(RESPONSE_TIMEOUT, self.reader.read_until(b'\n', &mut line))
            .await
            .expect("timed out waiting for a response line")
            .unwrap();
        assert!(read > 0, "connection closed while a response was expected");
        assert!(line.ends_with(b"\r\n"), "line without CRLF: {line:?}");
        line.truncate(line.len() - 2);
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Reads exactly `len` bytes (a literal's content).
    pub async fn read_exact(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        tokio::time::timeout(RESPONSE_TIMEOUT, self.reader.read_exact(&mut bytes))
            .await
            .expect("timed out reading a literal")
            .unwrap();
        bytes
    }

    /// Sends `command` with a fresh tag and returns every line up to and including the
    /// tagged response. Literal contents stay inline, after their `{n}` line.
    pub async fn command(&mut self, command: &str) -> Vec<String> {
        let tag = format!("t{}", self.next_tag);
        self.next_tag += 1;
        self.send(format!("{tag} {command}\r\n").as_bytes()).await;
        self.read_tagged(&tag).await
    }

    /// Reads lines until the tagged response of `tag`.
    pub async fn read_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.read_line().await;
            let literal = literal_len(&line);
            let done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if let Some(len) = literal {
                let bytes = self.read_exact(len).await;
                let rest = self.read_line().await;
                lines.push(format!("{}{rest}", String::from_utf8_lossy(&bytes)));
            }
            if done {
                return lines;
            }
        }
    }

    /// Returns the tagged line of a response.
    pub async fn ok(&mut self, command: &str) -> Vec<String> {
        let lines = self.command(command).await;
        let last = lines.last().unwrap();
        assert!(
            last.split(' ').nth(1) == Some("OK"),
            "{command} failed: {lines:#?}"
        );
        lines
    }
}

/// Returns `n` when `line` ends with a literal header `{n}`.
pub fn literal_len(line: &str) -> Option<usize> {
    let open = line.strip_suffix('}')?.rfind('{')?;
    line[open + 1..line.len() - 1].parse().ok()
}

/// Returns the tagged status (`OK`, `NO`, `BAD`) of a response.
pub fn status(lines: &[String]) -> &str {
    lines.last().unwrap().split(' ').nth(1).unwrap()
}

/// Builds a small message with Message-ID `<ID@test>` (see `asimapd_testkit::nmh::message`).
pub fn message(id: &str) -> Vec<u8> {
    asimapd_testkit::nmh::message(id, 1, 0)
}
