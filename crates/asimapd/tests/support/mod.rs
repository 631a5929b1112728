//! Shared set-up of the tests that run the `asimapd` binary as root: Unix users that own
//! their maildirs, a certificate authority, a password file, the running server and a
//! blocking IMAP client over TLS.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// Time a server, worker or client response gets before a test fails.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// Distinguishes the Unix users of tests running at once in this process.
static NEXT_USER: AtomicU32 = AtomicU32::new(0);

/// Serialises this process's changes to the user database.
static ACCOUNTS: Mutex<()> = Mutex::new(());

/// Attempts of an account command, 200 ms apart; another process may hold the lock on
/// /etc/passwd.
const ACCOUNT_ATTEMPTS: u32 = 25;

/// Runs `useradd`, `userdel`, `groupadd`, `usermod` or `groupdel`; true on success.
pub fn account_tool(program: &str, args: &[&std::ffi::OsStr]) -> bool {
    let _guard = ACCOUNTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for attempt in 1..=ACCOUNT_ATTEMPTS {
        let status = Command::new(program).args(args).status();
        if status.is_ok_and(|status| status.success()) {
            return true;
        }
        if attempt < ACCOUNT_ATTEMPTS {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    false
}

/// Fails unless the test runs as root, which `useradd` and the identity change need.
pub fn require_root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    if std::env::var(asimapd_testkit::SKIP_MISSING_TOOLS_VAR).is_ok_and(|value| value == "1") {
        eprintln!("skipped: this test creates Unix users and needs root");
        return false;
    }
    panic!(
        "this test creates Unix users and needs root; set {}=1 to skip",
        asimapd_testkit::SKIP_MISSING_TOOLS_VAR
    );
}

/// A Unix user created for one test, with a maildir it owns; removed on drop.
pub struct UnixUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub maildir: PathBuf,
}

impl UnixUser {
    /// Creates the user and `<root>/<name>/Mail/inbox` holding one message with `subject`.
    pub fn create(root: &Path, subject: &str) -> UnixUser {
        let name = format!(
            "asimapdt{}x{}",
            std::process::id(),
            NEXT_USER.fetch_add(1, Ordering::Relaxed)
        );
        let home = root.join(&name);
        let args: Vec<&std::ffi::OsStr> = vec![
            "--no-create-home".as_ref(),
            "--shell".as_ref(),
            "/usr/sbin/nologin".as_ref(),
            "--home-dir".as_ref(),
            home.as_os_str(),
            name.as_ref(),
        ];
        assert!(account_tool("useradd", &args), "useradd {name} failed");

        let user = nix::unistd::User::from_name(&name).unwrap().unwrap();
        let maildir = home.join("Mail");
        std::fs::create_dir_all(maildir.join("inbox")).unwrap();
        write_old_message(&maildir.join("inbox/1"), subject);

        let unix_user = UnixUser {
            name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            maildir,
        };
        chown_tree(&home, unix_user.uid, unix_user.gid);
        std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
        unix_user
    }
}

impl Drop for UnixUser {
    fn drop(&mut self) {
        // userdel rejects a user that still runs a process, such as a worker that is
        // finishing after its listener stopped.
        let deadline = Instant::now() + TIMEOUT;
        while has_process(self.uid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        if !account_tool("userdel", &[self.name.as_ref()]) {
            eprintln!("userdel {} failed; remove the user by hand", self.name);
        }
    }
}

/// Returns true while a process runs with real user id `uid`; zombies do not count.
fn has_process(uid: u32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            return false;
        };
        let is_zombie = status_field(&status, "State:") == Some("Z");
        !is_zombie && status_field(&status, "Uid:") == Some(uid.to_string().as_str())
    })
}

/// Changes the owner of `path` and everything below it, symbolic links themselves included.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}

/// Writes an MH message dated an hour ago: the worker shows a file once it stopped changing.
pub fn write_old_message(path: &Path, subject: &str) {
    std::fs::write(
        path,
        format!("From: sender@example.org\nSubject: {subject}\n\nHello.\n"),
    )
    .unwrap();
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
}

/// A CA and a server certificate for 127.0.0.1, ::1 and localhost signed by it.
pub struct Pki {
    pub ca: PathBuf,
    pub ca_der: Vec<u8>,
    ca_key: KeyPair,
    ca_cert: rcgen::Certificate,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// Creates the CA and writes `ca.pem`, `cert.pem` and `key.pem` into `dir`.
    pub fn create(dir: &Path) -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Distinct names, or OpenSSL takes the server certificate for a self-signed one.
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "asimapd test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let pki = Pki {
            ca: dir.join("ca.pem"),
            ca_der: ca_cert.der().to_vec(),
            ca_key,
            ca_cert,
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        std::fs::write(&pki.ca, pki.ca_cert.pem()).unwrap();
        pki.issue_server_certificate();
        pki
    }

    /// Writes a new server key and certificate over `cert.pem` and `key.pem`, and returns
    /// the certificate in DER form.
    pub fn issue_server_certificate(&self) -> Vec<u8> {
        let key = KeyPair::generate().unwrap();
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".into(), "::1".into(), "localhost".into()])
                .unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        std::fs::write(&self.key, key.serialize_pem()).unwrap();
        std::fs::write(&self.cert, cert.pem()).unwrap();
        cert.der().to_vec()
    }
}

/// How a test starts the server.
#[derive(Default)]
pub struct Launch<'a> {
    /// Options after the common ones (address, port, certificate, key, password file and
    /// trace folder).
    pub args: &'a [&'a str],
    /// Environment variables besides `PATH`; the rest of the environment is cleared.
    pub env: &'a [(&'a str, &'a str)],
    /// Fixed IMAP port, for a log configuration that keeps the "listening" record off
    /// stdout. Without it the server picks a port and reports it on stdout.
    pub port: Option<u16>,
    /// User and group id to run the listener as, in place of root.
    pub identity: Option<(u32, u32)>,
    /// Loopback address to listen on; 127.0.0.1 when `None`.
    pub address: Option<IpAddr>,
}

/// One test's world: a folder readable by the users, the certificates, a password file.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub pki: Pki,
    pub pwfile: PathBuf,
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        // Workers run as the mail users and must be able to reach their maildirs.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let pki = Pki::create(dir.path());
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, "").unwrap();
        Site { dir, pki, pwfile }
    }

    /// Creates a Unix user with a maildir and an asimapd account of the same name.
    pub fn add_user(&self, password: &str, subject: &str) -> UnixUser {
        let user = UnixUser::create(self.dir.path(), subject);
        let status = Command::new(env!("CARGO_BIN_EXE_asimapd_set_password"))
            .arg(format!("--pwfile={}", self.pwfile.display()))
            .args([&user.name, password])
            .arg(&user.maildir)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        user
    }

    /// Folder of the trace files the server writes.
    pub fn trace_dir(&self) -> PathBuf {
        self.dir.path().join("traces")
    }

    /// Starts the server with `extra_args` and waits until it reports its port.
    pub fn start(&self, extra_args: &[&str]) -> Server {
        self.launch(&Launch {
            args: extra_args,
            ..Launch::default()
        })
    }

    /// Starts the server and waits until it accepts connections.
    pub fn launch(&self, launch: &Launch<'_>) -> Server {
        let port = launch
            .port
            .map_or_else(|| "0".to_owned(), |p| p.to_string());
        let address = launch.address.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let mut command = Command::new(env!("CARGO_BIN_EXE_asimapd"));
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(launch.env.iter().copied())
            .arg(format!("--address={address}"))
            .arg(format!("--port={port}"))
            .arg(format!("--cert={}", self.pki.cert.display()))
            .arg(format!("--key={}", self.pki.key.display()))
            .arg(format!("--pwfile={}", self.pwfile.display()))
            .arg(format!("--trace-dir={}", self.trace_dir().display()))
            .args(launch.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = launch.identity {
            // The standard library also drops root's supplementary groups here.
            std::os::unix::process::CommandExt::uid(&mut command, uid);
            std::os::unix::process::CommandExt::gid(&mut command, gid);
        }
        let mut child = command.spawn().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        let log = collect_lines(child.stdout.take().unwrap(), Some(sender));
        let errors = collect_lines(child.stderr.take().unwrap(), None);
        let mut server = Server {
            child,
            address,
            port: 0,
            log,
            errors,
            connector: client_config(&self.pki),
        };
        server.port = match launch.port {
            Some(port) => {
                wait_for_port(SocketAddr::new(address, port));
                port
            }
            None => reported_port(&lines, &server),
        };
        server
    }
}

/// Collects the lines of `stream` in the background, and also sends each to `sender`.
fn collect_lines(
    stream: impl Read + Send + 'static,
    sender: Option<std::sync::mpsc::Sender<String>>,
) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            kept.lock().unwrap().push(line.clone());
            if let Some(sender) = &sender {
                let _ = sender.send(line);
            }
        }
    });
    lines
}

/// Reads stdout lines until the server reports the port it listens on.
fn reported_port(lines: &std::sync::mpsc::Receiver<String>, server: &Server) -> u16 {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let Ok(line) = lines.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        else {
            panic!(
                "the server reported no port; stderr:\n{}",
                server.errors.lock().unwrap().join("\n")
            );
        };
        if let Some(address) = line.split("listening for IMAP over TLS on ").nth(1) {
            return address.rsplit(':').next().unwrap().parse().unwrap();
        }
    }
}

/// Waits until `address` accepts a TCP connection.
fn wait_for_port(address: SocketAddr) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {address}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

pub fn client_config(pki: &Pki) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone().into()).unwrap();
    #[allow(deprecated)] // ring is the workspace's only rustls provider
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    // A resumed session reports the certificate of the first one, which would hide a
    // certificate that the server reloaded since.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// A running listener; stopped with SIGTERM on drop.
pub struct Server {
    child: Child,
    pub address: IpAddr,
    pub port: u16,
    /// Every line the server wrote to stdout so far.
    log: Arc<Mutex<Vec<String>>>,
    /// Every line the server wrote to stderr so far.
    errors: Arc<Mutex<Vec<String>>>,
    connector: Arc<rustls::ClientConfig>,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns the pids of the listener's worker processes.
    pub fn worker_pids(&self) -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| parent_of(*pid) == Some(self.pid()))
            .collect()
    }

    /// Waits until exactly `count` workers run, and returns their pids.
    pub fn wait_for_workers(&self, count: usize) -> Vec<u32> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let pids = self.worker_pids();
            if pids.len() == count {
                return pids;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} workers, found {pids:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Returns what the server wrote to stdout so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Returns what the server wrote to stderr so far.
    pub fn errors(&self) -> String {
        self.errors.lock().unwrap().join("\n")
    }

    /// Waits until a line of the server's stderr contains `text`, and returns all of stderr.
    /// Stderr is read on a thread of its own, so it can lag behind stdout.
    pub fn wait_for_error(&self, text: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let errors = self.errors();
            if errors.lines().any(|line| line.contains(text)) {
                return errors;
            }
            assert!(
                Instant::now() < deadline,
                "no stderr line with {text:?} in:\n{errors}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a line of the server's stdout contains `text`, and returns the whole log.
    pub fn wait_for_log(&self, text: &str) -> String {
        self.wait_for_count(text, 1)
    }

    /// Waits until `count` lines of the server's stdout contain `text`, and returns the
    /// whole log.
    pub fn wait_for_count(&self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let log = self.log();
            if log.lines().filter(|line| line.contains(text)).count() >= count {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "fewer than {count} log lines with {text:?} in:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    /// Opens a TLS connection and reads the greeting.
    pub fn connect(&self) -> ImapClient {
        let tcp = TcpStream::connect((self.address, self.port)).unwrap();
        tcp.set_read_timeout(Some(TIMEOUT)).unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let connection = rustls::ClientConnection::new(Arc::clone(&self.connector), name).unwrap();
        let mut client = ImapClient {
            stream: BufReader::new(rustls::StreamOwned::new(connection, tcp)),
        };
        let greeting = client.line();
        assert!(greeting.starts_with("* OK "), "{greeting}");
        client
    }

    /// Sends SIGTERM and returns the exit status code.
    pub fn stop(mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        status.code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

pub fn parent_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&status, "PPid:")?.parse().ok()
}

pub fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
}

/// Real and effective uid and gid of a process, from `/proc/<pid>/status`.
pub fn ids_of(pid: u32) -> (u32, u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status_field(&status, "Uid:").unwrap().parse().unwrap();
    let gid = status_field(&status, "Gid:").unwrap().parse().unwrap();
    (uid, gid)
}

/// Returns every regular file below `dir`, at any depth.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries.map(Result::unwrap) {
        let file_type = entry.file_type().unwrap();
        if file_type.is_dir() {
            files.extend(files_below(&entry.path()));
        } else if file_type.is_file() {
            files.push(entry.path());
        }
    }
    files
}

/// A blocking IMAP client over TLS.
pub struct ImapClient {
    stream: BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
}

impl ImapClient {
    /// Reads one line without CRLF; empty at the end of the connection.
    pub fn line(&mut self) -> String {
        self.next_line().unwrap_or_default()
    }

    /// Reads one line without CRLF; `None` at the end of the connection.
    pub fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = self.stream.read_line(&mut line).unwrap_or(0);
        (read > 0).then(|| line.trim_end_matches("\r\n").to_owned())
    }

    /// Sends `text` without waiting for a response.
    pub fn send(&mut self, text: &str) {
        let stream = self.stream.get_mut();
        stream.write_all(format!("{text}\r\n").as_bytes()).unwrap();
        stream.flush().unwrap();
    }

    /// Sends one command and returns every line up to and including its tagged response.
    pub fn command(&mut self, tag: &str, text: &str) -> Vec<String> {
        self.send(&format!("{tag} {text}"));
        self.until_tagged(tag)
    }

    /// Reads lines up to and including the tagged response of `tag`.
    pub fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let Some(line) = self.next_line() else {
                panic!("connection closed after {lines:?}");
            };
            let is_done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if is_done {
                return lines;
            }
        }
    }

    pub fn login(&mut self, user: &str, password: &str) {
        let answer = self.command("l1", &format!("LOGIN {user} \"{password}\""));
        assert!(answer.last().unwrap().starts_with("l1 OK"), "{answer:?}");
    }

    /// Reads what remains until the server closes the connection.
    pub fn rest(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.stream.read_to_string(&mut rest);
        rest
    }

    /// Returns the client's own address of the connection.
    pub fn local_address(&self) -> std::net::SocketAddr {
        self.stream.get_ref().sock.local_addr().unwrap()
    }

    /// Returns the certificate the server presented, in DER form.
    pub fn peer_certificate(&self) -> Vec<u8> {
        let connection = &self.stream.get_ref().conn;
        connection.peer_certificates().unwrap()[0].to_vec()
    }
}
