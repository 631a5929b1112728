//! The `asimapd` binary serving real clients on 127.0.0.1: Python's imaplib and curl over
//! TLS, workers running as the Unix users that own the maildirs, worker sharing, linger
//! and a killed worker. These tests create Unix users with `useradd`, so they run as root
//! (as CI does) and remove the users again.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

/// Time a server, worker or client response gets before a test fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Distinguishes the Unix users of tests running at once in this process.
static NEXT_USER: AtomicU32 = AtomicU32::new(0);

/// Serialises this process's changes to the user database.
static ACCOUNTS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Attempts of an account command; another process may hold the lock on /etc/passwd.
const ACCOUNT_ATTEMPTS: u32 = 5;

/// Runs `useradd`, `userdel`, `groupadd`, `usermod` or `groupdel`; true on success.
fn account_tool(program: &str, args: &[&std::ffi::OsStr]) -> bool {
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
fn require_root() -> bool {
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
struct UnixUser {
    name: String,
    uid: u32,
    gid: u32,
    maildir: PathBuf,
}

impl UnixUser {
    /// Creates the user and `<root>/<name>/Mail/inbox` holding one message with `subject`.
    fn create(root: &Path, subject: &str) -> UnixUser {
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
        account_tool("userdel", &[self.name.as_ref()]);
    }
}

fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}

/// Writes an MH message dated an hour ago: the worker shows a file once it stopped changing.
fn write_old_message(path: &Path, subject: &str) {
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

/// A CA and a server certificate for 127.0.0.1 and localhost signed by it.
struct Pki {
    ca: PathBuf,
    ca_der: Vec<u8>,
    cert: PathBuf,
    key: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names, or OpenSSL takes the server certificate for a self-signed one.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "asimapd test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let pki = Pki {
        ca: dir.join("ca.pem"),
        ca_der: ca.der().to_vec(),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    pki
}

/// One test's world: a folder readable by the users, the certificates, a password file.
struct Site {
    dir: tempfile::TempDir,
    pki: Pki,
    pwfile: PathBuf,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        // Workers run as the mail users and must be able to reach their maildirs.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let pki = make_pki(dir.path());
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, "").unwrap();
        Site { dir, pki, pwfile }
    }

    /// Creates a Unix user with a maildir and an asimapd account of the same name.
    fn add_user(&self, password: &str, subject: &str) -> UnixUser {
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

    fn start(&self, extra_args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_asimapd"));
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .args(["--address=127.0.0.1", "--port=0"])
            .arg(format!("--cert={}", self.pki.cert.display()))
            .arg(format!("--key={}", self.pki.key.display()))
            .arg(format!("--pwfile={}", self.pwfile.display()))
            .arg(format!(
                "--trace-dir={}",
                self.dir.path().join("traces").display()
            ))
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = std::sync::mpsc::channel();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                let _ = sender.send(line);
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let port = loop {
            let line = lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the server reports its port");
            if let Some(address) = line.split("listening for IMAP over TLS on ").nth(1) {
                break address.rsplit(':').next().unwrap().parse().unwrap();
            }
        };
        Server {
            child,
            port,
            _lines: lines,
            log,
            connector: client_config(&self.pki),
        }
    }
}

fn client_config(pki: &Pki) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone().into()).unwrap();
    #[allow(deprecated)] // ring is the workspace's only rustls provider
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A running listener; stopped with SIGTERM on drop.
struct Server {
    child: Child,
    port: u16,
    _lines: std::sync::mpsc::Receiver<String>,
    /// Every line the server wrote to stdout so far.
    log: Arc<std::sync::Mutex<Vec<String>>>,
    connector: Arc<rustls::ClientConfig>,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns the pids of the listener's worker processes.
    fn worker_pids(&self) -> Vec<u32> {
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| parent_of(*pid) == Some(self.pid()))
            .collect()
    }

    /// Waits until exactly `count` workers run, and returns their pids.
    fn wait_for_workers(&self, count: usize) -> Vec<u32> {
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

    /// Waits until a line of the server's log contains `text`, and returns the whole log.
    fn wait_for_log(&self, text: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let log = self.log.lock().unwrap().join("\n");
            if log.contains(text) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {text:?} in:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid() as i32), signal).unwrap();
    }

    fn connect(&self) -> ImapClient {
        let tcp = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
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
    fn stop(mut self) -> Option<i32> {
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

fn parent_of(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status_field(&status, "PPid:")?.parse().ok()
}

fn status_field<'a>(status: &'a str, name: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
}

/// Real and effective uid and gid of a process, from `/proc/<pid>/status`.
fn ids_of(pid: u32) -> (u32, u32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status_field(&status, "Uid:").unwrap().parse().unwrap();
    let gid = status_field(&status, "Gid:").unwrap().parse().unwrap();
    (uid, gid)
}

/// A blocking IMAP client over TLS.
struct ImapClient {
    stream: BufReader<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>,
}

impl ImapClient {
    /// Reads one line without CRLF; empty at the end of the connection.
    fn line(&mut self) -> String {
        self.next_line().unwrap_or_default()
    }

    /// Reads one line without CRLF; `None` at the end of the connection.
    fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = self.stream.read_line(&mut line).unwrap_or(0);
        (read > 0).then(|| line.trim_end_matches("\r\n").to_owned())
    }

    fn command(&mut self, tag: &str, text: &str) -> Vec<String> {
        let stream = self.stream.get_mut();
        stream
            .write_all(format!("{tag} {text}\r\n").as_bytes())
            .unwrap();
        stream.flush().unwrap();
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

    fn login(&mut self, user: &str, password: &str) {
        let answer = self.command("l1", &format!("LOGIN {user} \"{password}\""));
        assert!(answer.last().unwrap().starts_with("l1 OK"), "{answer:?}");
    }

    /// Reads what remains until the server closes the connection.
    fn rest(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.stream.read_to_string(&mut rest);
        rest
    }
}

#[test]
fn python_imaplib_logs_in_and_fetches() {
    if !require_root() {
        return;
    }
    let Some(python) = asimapd_testkit::require_tool("python3", "python3") else {
        return;
    };
    let site = Site::new();
    let alice = site.add_user("imaplib pw", "imaplib subject");
    let server = site.start(&[]);
    let script = r#"
import imaplib, ssl, sys
context = ssl.create_default_context(cafile=sys.argv[2])
client = imaplib.IMAP4_SSL("127.0.0.1", int(sys.argv[1]), ssl_context=context)
client.login(sys.argv[3], sys.argv[4])
client.select("INBOX")
status, data = client.fetch("1", "(RFC822)")
assert status == "OK", status
sys.stdout.write(data[0][1].decode())
client.logout()
"#;

    let output = Command::new(python)
        .args(["-c", script, &server.port.to_string()])
        .arg(&site.pki.ca)
        .args([&alice.name, "imaplib pw"])
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Subject: imaplib subject\r\n"), "{stdout}");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn curl_imaps_fetches_message() {
    if !require_root() {
        return;
    }
    let Some(curl) = asimapd_testkit::require_tool("curl", "curl") else {
        return;
    };
    let site = Site::new();
    let alice = site.add_user("curl pw", "curl subject");
    let server = site.start(&[]);

    let output = Command::new(curl)
        .args(["--silent", "--show-error", "--max-time", "30", "--cacert"])
        .arg(&site.pki.ca)
        .args(["--user", &format!("{}:curl pw", alice.name)])
        .arg(format!("imaps://127.0.0.1:{}/INBOX;UID=1", server.port))
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Subject: curl subject"), "{stdout}");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn workers_run_as_maildir_owners_and_stay_apart() {
    if !require_root() {
        return;
    }
    let Some(ss) = asimapd_testkit::require_tool("ss", "iproute2") else {
        return;
    };
    let site = Site::new();
    let alice = site.add_user("alice pw", "for alice only");
    let bob = site.add_user("bob pw", "bob secret subject");
    let server = site.start(&[]);
    let mut alice_client = server.connect();
    alice_client.login(&alice.name, "alice pw");
    let mut bob_client = server.connect();
    bob_client.login(&bob.name, "bob pw");

    let pids = server.wait_for_workers(2);
    let mut identities: Vec<(u32, u32)> = pids.iter().map(|pid| ids_of(*pid)).collect();
    identities.sort();
    let mut expected = vec![(alice.uid, alice.gid), (bob.uid, bob.gid)];
    expected.sort();
    assert_eq!(identities, expected);

    // Every name that could lead out of alice's mail root.
    let bob_inbox = bob.maildir.join("inbox");
    let attempts = [
        format!("SELECT \"{}\"", bob_inbox.display()),
        format!("SELECT \"../../{}/Mail/inbox\"", bob.name),
        format!("SELECT \"inbox/../../../{}/Mail/inbox\"", bob.name),
        format!("SELECT \"~{}/inbox\"", bob.name),
        format!("SELECT \"/{}/Mail/inbox\"", bob.name),
        format!("STATUS \"{}\" (MESSAGES)", bob_inbox.display()),
        format!("EXAMINE \"../{}\"", bob.name),
    ];
    let mut transcript = Vec::new();
    for (index, attempt) in attempts.iter().enumerate() {
        let tag = format!("x{index}");
        let answer = alice_client.command(&tag, attempt);
        let tagged = answer.last().unwrap();
        assert!(
            tagged.starts_with(&format!("{tag} NO")),
            "{attempt} -> {answer:?}"
        );
        transcript.extend(answer);
    }
    let mut listed = Vec::new();
    for pattern in ["\"\" \"*\"", "\"/\" \"*\"", "\"../\" \"*\"", "\"~\" \"*\""] {
        listed.extend(alice_client.command("l", &format!("LIST {pattern}")));
    }
    let fetched = alice_client.command("f", "SELECT INBOX");
    transcript.extend(alice_client.command("f", "FETCH 1:* BODY.PEEK[]"));
    let transcript = transcript.join("\n");
    assert!(fetched.last().unwrap().starts_with("f OK"), "{fetched:?}");
    assert!(transcript.contains("for alice only"), "{transcript}");
    assert!(!transcript.contains("bob secret subject"), "{transcript}");
    assert!(
        !listed.iter().any(|line| line.contains(&bob.name)),
        "{listed:#?}"
    );

    let listening = Command::new(ss)
        .args(["-l", "-n", "-p", "-t", "-u", "-x", "-w"])
        .output()
        .unwrap();
    let listening = String::from_utf8_lossy(&listening.stdout);
    let mut ours: Vec<&str> = listening
        .lines()
        .filter(|line| {
            std::iter::once(server.pid())
                .chain(pids.iter().copied())
                .any(|pid| line.contains(&format!("pid={pid},")))
        })
        .collect();
    ours.sort();
    assert_eq!(ours.len(), 1, "only the IMAP port listens: {ours:#?}");
    assert!(
        ours[0].contains(&format!("127.0.0.1:{}", server.port)),
        "{ours:#?}"
    );
    assert!(
        ours[0].contains(&format!("pid={},", server.pid())),
        "{ours:#?}"
    );

    drop((alice_client, bob_client));
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn connections_of_one_user_share_worker_until_linger_ends() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("linger pw", "linger subject");
    let server = site.start(&["--worker-linger=1"]);

    let mut first = server.connect();
    first.login(&alice.name, "linger pw");
    let mut second = server.connect();
    second.login(&alice.name, "linger pw");
    let shared = server.wait_for_workers(1);
    first.command("o1", "LOGOUT");
    second.command("o2", "LOGOUT");
    drop((first, second));
    let after_linger = server.wait_for_workers(0);
    let mut third = server.connect();
    third.login(&alice.name, "linger pw");
    let restarted = server.wait_for_workers(1);

    assert_eq!(shared.len(), 1);
    assert!(after_linger.is_empty());
    assert_ne!(restarted, shared, "a new worker serves the next login");
    third.command("o3", "LOGOUT");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn killed_worker_clients_get_bye_and_next_login_works() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("kill pw", "kill subject");
    let server = site.start(&[]);
    let mut first = server.connect();
    first.login(&alice.name, "kill pw");
    let mut second = server.connect();
    second.login(&alice.name, "kill pw");
    let killed = server.wait_for_workers(1)[0];

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(killed as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let first_rest = first.rest();
    let second_rest = second.rest();
    let mut third = server.connect();
    third.login(&alice.name, "kill pw");
    let select = third.command("s1", "SELECT INBOX");
    let restarted = server.wait_for_workers(1)[0];

    let bye = "* BYE [UNAVAILABLE] Server process for this account stopped; please log in again";
    assert!(first_rest.contains(bye), "{first_rest:?}");
    assert!(second_rest.contains(bye), "{second_rest:?}");
    assert!(select.last().unwrap().starts_with("s1 OK"), "{select:?}");
    assert_ne!(restarted, killed);
    server.wait_for_log(&format!("worker pid {killed} killed by signal 9"));
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn sigterm_ends_sessions_with_bye_and_exits_zero() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("term pw", "term subject");
    let server = site.start(&[]);
    let mut logged_in = server.connect();
    logged_in.login(&alice.name, "term pw");
    let mut waiting = server.connect();
    let worker = server.wait_for_workers(1)[0];

    let status = server.stop();
    let logged_in_rest = logged_in.rest();
    let waiting_rest = waiting.rest();

    assert_eq!(status, Some(0));
    assert!(logged_in_rest.starts_with("* BYE"), "{logged_in_rest:?}");
    assert!(waiting_rest.starts_with("* BYE"), "{waiting_rest:?}");
    assert!(
        !Path::new(&format!("/proc/{worker}")).exists(),
        "the worker has exited"
    );
}

#[test]
fn worker_gets_supplementary_groups_of_owner() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("groups pw", "groups subject");
    let group = format!("{}g", alice.name);
    assert!(account_tool("groupadd", &[group.as_ref()]));
    let usermod: [&std::ffi::OsStr; 4] = [
        "--append".as_ref(),
        "--groups".as_ref(),
        group.as_ref(),
        alice.name.as_ref(),
    ];
    assert!(account_tool("usermod", &usermod));
    let extra_gid = nix::unistd::Group::from_name(&group)
        .unwrap()
        .unwrap()
        .gid
        .as_raw();
    let server = site.start(&[]);
    let mut client = server.connect();
    client.login(&alice.name, "groups pw");

    let worker = server.wait_for_workers(1)[0];
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let groups: Vec<u32> = status
        .lines()
        .find_map(|line| line.strip_prefix("Groups:"))
        .unwrap()
        .split_whitespace()
        .map(|gid| gid.parse().unwrap())
        .collect();

    assert!(groups.contains(&extra_gid), "{groups:?} lacks {extra_gid}");
    assert!(!groups.contains(&0), "root's group is dropped: {groups:?}");
    drop(client);
    assert_eq!(server.stop(), Some(0));
    drop(alice);
    account_tool("groupdel", &[group.as_ref()]);
}

#[test]
fn root_owned_maildir_is_refused_with_log_line() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("root pw", "root subject");
    chown_tree(&alice.maildir, 0, 0);
    let server = site.start(&[]);
    let mut client = server.connect();

    let answer = client.command("a1", &format!("LOGIN {} \"root pw\"", alice.name));

    assert_eq!(
        answer,
        ["a1 NO [UNAVAILABLE] Your mailbox is not available now; try again later"]
    );
    let log = server.wait_for_log("is owned by root; a worker never runs as root");
    assert!(log.contains(&alice.maildir.display().to_string()), "{log}");
    assert!(server.worker_pids().is_empty());
    drop(client);
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn passwords_never_reach_debug_log() {
    if !require_root() {
        return;
    }
    use base64::Engine;
    let site = Site::new();
    let alice = site.add_user("Sekr1t-login-pw", "debug subject");
    let server = site.start(&["--debug"]);
    let mut client = server.connect();
    client.command("a1", &format!("LOGIN {} \"Wr0ng-guess-pw\"", alice.name));
    let plain = base64::engine::general_purpose::STANDARD
        .encode(format!("\0{}\0Sekr1t-login-pw", alice.name));
    let answer = client.command("a2", &format!("AUTHENTICATE PLAIN {plain}"));
    assert!(answer.last().unwrap().starts_with("a2 OK"), "{answer:?}");
    client.command("a3", "LOGOUT");
    drop(client);

    let log = server.wait_for_log("session ended");
    assert_eq!(server.stop(), Some(0));

    assert!(log.contains("DEBUG"), "debug records are logged: {log}");
    for secret in ["Sekr1t-login-pw", "Wr0ng-guess-pw", plain.as_str()] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}

#[test]
fn worker_records_reach_listener_log() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("log pw", "log subject");
    let server = site.start(&[]);
    let mut client = server.connect();
    client.login(&alice.name, "log pw");
    client.command("s1", "SELECT INBOX");
    client.command("o1", "LOGOUT");
    drop(client);

    let log = server.wait_for_log("asimap.user_server");

    let worker_line = log
        .lines()
        .find(|line| line.contains("asimap.user_server"))
        .unwrap();
    assert!(worker_line.contains(&alice.name), "{worker_line}");
    assert_eq!(server.stop(), Some(0));
}

#[test]
fn trace_records_follow_sigusr1() {
    if !require_root() {
        return;
    }
    let site = Site::new();
    let alice = site.add_user("trace pw", "trace subject");
    let server = site.start(&["--trace"]);
    let trace = site
        .dir
        .path()
        .join(format!("traces/{}-asimapd.trace", alice.name));
    let mut client = server.connect();
    client.login(&alice.name, "trace pw");
    client.command("t1", "NOOP");

    server.signal(nix::sys::signal::Signal::SIGUSR1);
    server.wait_for_log("protocol tracing switched off");
    client.command("t2", "CAPABILITY");
    server.signal(nix::sys::signal::Signal::SIGUSR1);
    server.wait_for_log("protocol tracing switched on");
    client.command("t3", "NOOP");
    client.command("t4", "LOGOUT");
    drop(client);
    assert_eq!(server.stop(), Some(0));

    let records: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let data: Vec<&str> = records.iter().filter_map(|r| r["data"].as_str()).collect();
    assert_eq!(records[0]["trace_format"], "1.0", "{records:#?}");
    assert!(data.contains(&"t1 NOOP"), "{data:?}");
    assert!(data.contains(&"t3 NOOP"), "{data:?}");
    assert!(
        !data.contains(&"t2 CAPABILITY"),
        "traced while off: {data:?}"
    );
    assert!(
        !data.iter().any(|line| line.contains("trace pw")),
        "{data:?}"
    );
    let received = records.iter().find(|r| r["data"] == "t1 NOOP").unwrap();
    assert_eq!(received["msg_type"], "RECEIVED");
    assert!(
        received["connection"]
            .as_str()
            .unwrap()
            .starts_with("client-")
    );
    assert!(
        received["remote"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    let formats = records
        .iter()
        .filter(|r| r["trace_format"] == "1.0")
        .count();
    assert_eq!(
        formats, 2,
        "switching tracing on again announces the format"
    );
}
