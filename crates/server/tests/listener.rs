//! The listener over real TLS connections on 127.0.0.1, with workers that run
//! `asimapd_worker::serve` inside the test process (or, for hand-off checks, a worker side
//! driven directly through the ipc crate).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use asimapd_ipc::{ControlSocket, Incoming};
use asimapd_logging::Level;
use asimapd_server::worker_mode::WorkerArgs;
use asimapd_server::{
    ConnectionLimits, DEFAULT_CERTIFICATE_CHECK_INTERVAL, Server, ServerConfig, ServerHandle,
    WORKER_DIED_BYE, WorkerLaunch, WorkerSettings,
};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

/// Time any single response may take.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(20);

const PASSWORD: &str = "correct horse";

/// A certificate authority and a server certificate for localhost signed by it.
struct Pki {
    ca_der: rustls::pki_types::CertificateDer<'static>,
    cert: PathBuf,
    key: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    let pki = Pki {
        ca_der: ca.der().clone(),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    pki
}

fn connector(pki: &Pki) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca_der.clone()).unwrap();
    #[allow(deprecated)] // ring is the workspace's only provider; see the listener's TLS setup
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// Creates a mail root with one message in `inbox` and a password file naming it for
/// `alice`; returns the password file.
fn mail_setup(dir: &Path) -> PathBuf {
    let mail = dir.join("mail");
    std::fs::create_dir_all(mail.join("inbox")).unwrap();
    let message = mail.join("inbox/1");
    std::fs::write(&message, "From: bob@example.org\nSubject: hello\n\nbody\n").unwrap();
    // The worker shows a message once its file has stopped changing, so make it old.
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&message)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    let hash = asimapd_auth::make_password(PASSWORD.as_bytes());
    let pwfile = dir.join("pwfile");
    std::fs::write(
        &pwfile,
        format!("alice:{}:{}\n", hash.as_str(), mail.display()),
    )
    .unwrap();
    pwfile
}

fn real_worker() -> WorkerLaunch {
    WorkerLaunch::InProcess(Arc::new(|control: ControlSocket, args: WorkerArgs| {
        tokio::spawn(async move {
            let _ = asimapd_worker::serve(control, args.worker_config()).await;
        })
    }))
}

struct Harness {
    _dir: tempfile::TempDir,
    pki: Pki,
    handle: ServerHandle,
    imap: SocketAddr,
    starttls: Option<SocketAddr>,
    server: tokio::task::JoinHandle<()>,
}

impl Harness {
    async fn start(limits: ConnectionLimits, with_starttls: bool, launch: WorkerLaunch) -> Harness {
        Harness::start_with(
            limits,
            with_starttls,
            launch,
            DEFAULT_CERTIFICATE_CHECK_INTERVAL,
        )
        .await
    }

    async fn start_with(
        limits: ConnectionLimits,
        with_starttls: bool,
        launch: WorkerLaunch,
        certificate_check_interval: Duration,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let pki = make_pki(dir.path());
        let pwfile = mail_setup(dir.path());
        let loopback: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let config = ServerConfig {
            imap_address: loopback,
            starttls_address: with_starttls.then_some(loopback),
            cert: pki.cert.clone(),
            key: pki.key.clone(),
            pwfile,
            limits,
            workers: WorkerSettings {
                launch,
                linger: Duration::from_secs(60),
                idle_keepalive: Duration::from_secs(60),
                mh_file_locking: false,
                log_level: Level::INFO,
            },
            certificate_check_interval,
            records: None,
            traces: None,
        };
        let server = Server::bind(config).await.unwrap();
        let handle = server.handle();
        let (imap, starttls) = (server.imap_address(), server.starttls_address());
        let server = tokio::spawn(async move { server.run().await.unwrap() });
        Harness {
            _dir: dir,
            pki,
            handle,
            imap,
            starttls,
            server,
        }
    }

    async fn tls_client(&self) -> Client<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.imap).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector(&self.pki).connect(name, tcp).await.unwrap();
        Client::new(tls)
    }

    async fn stop(self) {
        self.handle.shut_down();
        tokio::time::timeout(RESPONSE_TIMEOUT, self.server)
            .await
            .expect("server stops")
            .unwrap();
    }
}

fn fast_limits() -> ConnectionLimits {
    ConnectionLimits {
        throttle_delay: Duration::from_millis(300),
        ..ConnectionLimits::default()
    }
}

struct Client<S> {
    stream: BufReader<S>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    fn new(stream: S) -> Self {
        Client {
            stream: BufReader::new(stream),
        }
    }

    /// Reads one line without CRLF; an empty string at the end of the connection.
    async fn line(&mut self) -> String {
        self.next_line().await.unwrap_or_default()
    }

    /// Reads one line without CRLF; `None` at the end of the connection.
    async fn next_line(&mut self) -> Option<String> {
        let mut line = String::new();
        let read = tokio::time::timeout(RESPONSE_TIMEOUT, self.stream.read_line(&mut line))
            .await
            .expect("a line arrives in time")
            .unwrap();
        (read > 0).then(|| line.trim_end_matches("\r\n").to_owned())
    }

    async fn send(&mut self, text: &str) {
        self.stream
            .get_mut()
            .write_all(text.as_bytes())
            .await
            .unwrap();
        self.stream.get_mut().flush().await.unwrap();
    }

    /// Sends `tag text` and returns every line up to and including the tagged one.
    async fn command(&mut self, tag: &str, text: &str) -> Vec<String> {
        self.send(&format!("{tag} {text}\r\n")).await;
        self.until_tagged(tag).await
    }

    async fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let Some(line) = self.next_line().await else {
                panic!("connection closed; got {lines:?}");
            };
            let is_done = line.starts_with(&format!("{tag} "));
            lines.push(line);
            if is_done {
                return lines;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_hands_connection_to_worker() {
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let mut client = harness.tls_client().await;

    let greeting = client.line().await;
    let login = client
        .command("a1", &format!("LOGIN alice \"{PASSWORD}\""))
        .await;
    let select = client.command("a2", "SELECT INBOX").await;
    let fetch = client
        .command("a3", "FETCH 1 BODY[HEADER.FIELDS (SUBJECT)]")
        .await;
    let logout = client.command("a4", "LOGOUT").await;

    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1 "),
        "{greeting}"
    );
    assert!(greeting.contains(" AUTH=PLAIN"), "{greeting}");
    assert!(!greeting.contains("LOGINDISABLED"), "{greeting}");
    let tagged = login.last().unwrap();
    assert!(
        tagged.starts_with("a1 OK [CAPABILITY IMAP4rev1 "),
        "{login:?}"
    );
    assert!(select.last().unwrap().starts_with("a2 OK"), "{select:?}");
    assert!(select.iter().any(|line| line == "* 1 EXISTS"), "{select:?}");
    assert!(
        fetch.iter().any(|line| line.contains("Subject: hello")),
        "{fetch:?}"
    );
    assert!(
        logout.iter().any(|line| line.starts_with("* BYE")),
        "{logout:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preauth_commands_and_capabilities() {
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let mut client = harness.tls_client().await;

    let greeting = client.line().await;
    let capability = client.command("c1", "CAPABILITY").await;
    let noop = client.command("c2", "NOOP").await;
    let id = client.command("c3", "ID (\"name\" \"test client\")").await;
    let enable = client.command("c4", "ENABLE UTF8=ACCEPT").await;
    let login = client
        .command("c5", &format!("LOGIN alice \"{PASSWORD}\""))
        .await;
    let logout = client.command("c6", "LOGOUT").await;

    let advertised = greeting
        .strip_prefix("* OK [CAPABILITY ")
        .and_then(|rest| rest.split_once(']'))
        .map(|(names, _)| names.to_owned())
        .unwrap_or_else(|| panic!("no capabilities in {greeting:?}"));
    for name in [
        "IMAP4rev1",
        "AUTH=PLAIN",
        "SASL-IR",
        "ID",
        "ENABLE",
        "LITERAL+",
    ] {
        assert!(
            advertised.split(' ').any(|item| item == name),
            "{name} is missing from {advertised:?}"
        );
    }
    assert_eq!(capability[0], format!("* CAPABILITY {advertised}"));
    assert_eq!(capability.last().unwrap(), "c1 OK CAPABILITY completed");
    assert!(noop.last().unwrap().starts_with("c2 OK"), "{noop:?}");
    assert!(id[0].starts_with("* ID (\"name\" \"asimapd\""), "{id:?}");
    assert!(id.last().unwrap().starts_with("c3 OK"), "{id:?}");
    // ENABLE is valid only after login (RFC 5161).
    assert!(enable.last().unwrap().starts_with("c4 BAD"), "{enable:?}");
    // After login the worker's capabilities apply: no AUTH=PLAIN, and the extensions.
    let worker_capabilities = login.last().unwrap();
    assert!(
        worker_capabilities.starts_with("c5 OK [CAPABILITY IMAP4rev1 "),
        "{login:?}"
    );
    assert!(!worker_capabilities.contains("AUTH=PLAIN"), "{login:?}");
    assert!(worker_capabilities.contains(" MOVE "), "{login:?}");
    assert!(
        logout.iter().any(|line| line.starts_with("* BYE")),
        "{logout:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_user_read_the_same() {
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let mut client = harness.tls_client().await;
    client.line().await;

    let wrong = client.command("a1", "LOGIN alice wrong").await;
    let unknown = client.command("a2", "LOGIN mallory wrong").await;

    assert_eq!(wrong, ["a1 NO [AUTHENTICATIONFAILED] Invalid credentials"]);
    assert_eq!(
        unknown,
        ["a2 NO [AUTHENTICATIONFAILED] Invalid credentials"]
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_login_answers_unavailable_after_delay() {
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let mut client = harness.tls_client().await;
    client.line().await;
    for attempt in 0..asimapd_auth::MAX_USER_FAILURES {
        let answer = client
            .command(&format!("f{attempt}"), "LOGIN alice wrong")
            .await;
        assert!(answer[0].contains("[AUTHENTICATIONFAILED]"), "{answer:?}");
    }

    let started = Instant::now();
    let throttled = client
        .command("t1", &format!("LOGIN alice \"{PASSWORD}\""))
        .await;

    assert_eq!(
        throttled,
        ["t1 NO [UNAVAILABLE] Too many failed logins; try again later"]
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_plain_with_initial_response() {
    use base64::Engine;
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let mut client = harness.tls_client().await;
    client.line().await;
    let message = base64::engine::general_purpose::STANDARD.encode(format!("\0alice\0{PASSWORD}"));

    let answer = client
        .command("a1", &format!("AUTHENTICATE PLAIN {message}"))
        .await;

    assert!(
        answer.last().unwrap().starts_with("a1 OK [CAPABILITY"),
        "{answer:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticate_plain_after_continuation() {
    use base64::Engine;
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let mut client = harness.tls_client().await;
    client.line().await;
    let wrong = base64::engine::general_purpose::STANDARD.encode("\0alice\0nope");
    let right = base64::engine::general_purpose::STANDARD.encode(format!("\0alice\0{PASSWORD}"));

    client.send("a1 AUTHENTICATE PLAIN\r\n").await;
    let first_challenge = client.line().await;
    client.send(&format!("{wrong}\r\n")).await;
    let failed = client.until_tagged("a1").await;
    client.send("a2 AUTHENTICATE PLAIN\r\n").await;
    client.line().await;
    client.send("*\r\n").await;
    let cancelled = client.until_tagged("a2").await;
    client.send("a3 AUTHENTICATE PLAIN\r\n").await;
    client.line().await;
    client.send(&format!("{right}\r\n")).await;
    let succeeded = client.until_tagged("a3").await;

    assert_eq!(first_challenge, "+ ");
    assert_eq!(failed, ["a1 NO [AUTHENTICATIONFAILED] Invalid credentials"]);
    assert_eq!(cancelled, ["a2 BAD AUTHENTICATE cancelled"]);
    assert!(
        succeeded[0].starts_with("a3 OK [CAPABILITY"),
        "{succeeded:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_mechanism_is_refused() {
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let mut client = harness.tls_client().await;
    client.line().await;

    let answer = client.command("a1", "AUTHENTICATE CRAM-MD5").await;

    assert_eq!(
        answer,
        ["a1 NO [CANNOT] Unsupported authentication mechanism; use PLAIN"]
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_port_requires_tls_before_login() {
    let harness = Harness::start(fast_limits(), true, real_worker()).await;
    let tcp = TcpStream::connect(harness.starttls.unwrap()).await.unwrap();
    let mut client = Client::new(tcp);

    let greeting = client.line().await;
    let refused = client
        .command("a1", &format!("LOGIN alice \"{PASSWORD}\""))
        .await;
    let plain = client
        .command("a2", "AUTHENTICATE PLAIN AGFsaWNlAHg=")
        .await;
    let started = client.command("a3", "STARTTLS").await;
    let tcp = client.stream.into_inner();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector(&harness.pki).connect(name, tcp).await.unwrap();
    let mut client = Client::new(tls);
    let capability = client.command("a4", "CAPABILITY").await;
    let again = client.command("a5", "STARTTLS").await;
    let login = client
        .command("a6", &format!("LOGIN alice \"{PASSWORD}\""))
        .await;

    assert!(greeting.contains(" STARTTLS"), "{greeting}");
    assert!(greeting.contains(" LOGINDISABLED"), "{greeting}");
    assert!(!greeting.contains("AUTH=PLAIN"), "{greeting}");
    assert!(
        refused[0].starts_with("a1 NO [PRIVACYREQUIRED]"),
        "{refused:?}"
    );
    assert!(plain[0].starts_with("a2 NO [PRIVACYREQUIRED]"), "{plain:?}");
    assert_eq!(started, ["a3 OK Begin TLS negotiation now"]);
    assert!(capability[0].contains(" AUTH=PLAIN"), "{capability:?}");
    assert!(!capability[0].contains("LOGINDISABLED"), "{capability:?}");
    assert!(!capability[0].contains("STARTTLS"), "{capability:?}");
    assert!(again[0].starts_with("a5 BAD"), "{again:?}");
    assert!(
        login.last().unwrap().starts_with("a6 OK [CAPABILITY"),
        "{login:?}"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_address_limit_get_bye() {
    let limits = ConnectionLimits {
        max_connections_per_address: 1,
        ..fast_limits()
    };
    let harness = Harness::start(limits, false, real_worker()).await;
    let mut first = harness.tls_client().await;
    first.line().await;

    let mut second = harness.tls_client().await;
    let refused = second.line().await;

    assert_eq!(refused, "* BYE Too many connections from your address");
    drop(first);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_time_limit_ends_idle_connection() {
    let limits = ConnectionLimits {
        login_timeout: Duration::from_millis(500),
        ..fast_limits()
    };
    let harness = Harness::start(limits, false, real_worker()).await;
    let mut client = harness.tls_client().await;
    client.line().await;

    let bye = client.line().await;

    assert_eq!(bye, "* BYE Autologout; login time limit reached");
    assert_eq!(client.line().await, "", "the connection is closed");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_are_both_served() {
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let versions = [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ];

    for (version, expected) in versions {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(harness.pki.ca_der.clone()).unwrap();
        #[allow(deprecated)] // ring is the workspace's only provider
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(harness.imap).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        let negotiated = tls.get_ref().1.protocol_version();
        let mut client = Client::new(tls);

        let greeting = client.line().await;

        assert_eq!(negotiated, Some(expected));
        assert!(greeting.starts_with("* OK [CAPABILITY "), "{greeting}");
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_1_and_older_are_refused() {
    let Some(openssl) = asimapd_testkit::require_tool("openssl", "openssl") else {
        return;
    };
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let address = harness.imap.to_string();

    for version in ["-tls1", "-tls1_1"] {
        let openssl = openssl.clone();
        let address = address.clone();
        // Security level 0 lets OpenSSL offer the old versions, so that a failure is the
        // server's refusal.
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(openssl)
                .args(["s_client", "-connect", &address, version])
                .args(["-cipher", "DEFAULT:@SECLEVEL=0"])
                .stdin(std::process::Stdio::null())
                .output()
                .unwrap()
        })
        .await
        .unwrap();

        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{version}: {stdout}");
        assert!(
            !stdout.contains("* OK"),
            "{version} reached the greeting: {stdout}"
        );
        // rustls answers with a handshake_failure or protocol_version alert; OpenSSL
        // prints "SSL alert number" only for an alert it received.
        assert!(
            stderr.contains("SSL alert number"),
            "{version} was not refused by the server: {stderr}"
        );
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_says_bye_before_login() {
    let harness = Harness::start(fast_limits(), false, real_worker()).await;
    let mut client = harness.tls_client().await;
    client.line().await;

    harness.handle.shut_down();
    let bye = client.line().await;

    assert_eq!(bye, "* BYE Server shutting down");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handoff_carries_header_and_pipelined_input() {
    let (sender, mut received) = tokio::sync::mpsc::unbounded_channel();
    let launch =
        WorkerLaunch::InProcess(Arc::new(move |control: ControlSocket, args: WorkerArgs| {
            let sender = sender.clone();
            tokio::spawn(async move {
                let Incoming::Connection(handoff, stream) =
                    control.receive_to_worker().await.unwrap()
                else {
                    panic!("expected a connection");
                };
                let mut stream =
                    tokio::net::UnixStream::from_std(std::os::unix::net::UnixStream::from(stream))
                        .unwrap();
                let tag = handoff.login_tag.clone().unwrap();
                stream
                    .write_all(format!("{tag} OK LOGIN completed\r\n").as_bytes())
                    .await
                    .unwrap();
                sender.send((handoff, args)).unwrap();
                // Returning ends this worker, as if its process had died.
            })
        }));
    let harness = Harness::start(fast_limits(), false, launch).await;
    let mut client = harness.tls_client().await;
    client.line().await;
    client
        .command("i1", "ID (\"name\" \"listener-test\")")
        .await;

    client
        .send(&format!(
            "a1 LOGIN alice \"{PASSWORD}\"\r\na2 SELECT INBOX\r\n"
        ))
        .await;
    let login = client.until_tagged("a1").await;
    let (handoff, args) = tokio::time::timeout(RESPONSE_TIMEOUT, received.recv())
        .await
        .unwrap()
        .unwrap();
    let bye = client.line().await;

    assert_eq!(login, ["a1 OK LOGIN completed"]);
    assert_eq!(handoff.user, "alice");
    assert_eq!(handoff.login_tag.as_deref(), Some("a1"));
    assert!(handoff.is_tls);
    assert_eq!(handoff.local, harness.imap);
    assert_eq!(handoff.peer.ip(), harness.imap.ip());
    assert_eq!(
        handoff.client_id,
        [("name".to_owned(), Some("listener-test".to_owned()))]
    );
    assert_eq!(handoff.pending_input, b"a2 SELECT INBOX\r\n");
    assert_eq!(args.user, "alice");
    assert_eq!(format!("{bye}\r\n").as_bytes(), WORKER_DIED_BYE);
    harness.stop().await;
}

/// Returns the certificate the server presents to a client that trusts `pki`'s authority,
/// or `None` when the handshake fails.
async fn presented_certificate(harness: &Harness, pki: &Pki) -> Option<Vec<u8>> {
    let tcp = TcpStream::connect(harness.imap).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector(pki).connect(name, tcp).await.ok()?;
    let (_, connection) = tls.get_ref();
    Some(connection.peer_certificates()?[0].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_certificate_is_served_without_dropping_connections() {
    let harness = Harness::start_with(
        fast_limits(),
        false,
        real_worker(),
        Duration::from_millis(100),
    )
    .await;
    let mut open = harness.tls_client().await;
    open.line().await;
    let replacement_dir = tempfile::tempdir().unwrap();
    let replacement = make_pki(replacement_dir.path());
    assert!(
        presented_certificate(&harness, &replacement)
            .await
            .is_none()
    );

    std::fs::copy(&replacement.key, &harness.pki.key).unwrap();
    std::fs::copy(&replacement.cert, &harness.pki.cert).unwrap();
    let deadline = Instant::now() + RESPONSE_TIMEOUT;
    let mut presented = None;
    while presented.is_none() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        presented = presented_certificate(&harness, &replacement).await;
    }
    let noop = open.command("n1", "NOOP").await;

    let expected = std::fs::read(&replacement.cert).unwrap();
    let expected = rustls_pemfile::certs(&mut expected.as_slice())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        presented,
        Some(expected.to_vec()),
        "the new certificate is presented"
    );
    assert_eq!(
        noop,
        ["n1 OK NOOP completed"],
        "the open connection still works"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_client_is_dropped_after_handshake_timeout() {
    let limits = ConnectionLimits {
        tls_handshake_timeout: Duration::from_millis(300),
        ..fast_limits()
    };
    let harness = Harness::start(limits, false, real_worker()).await;
    let mut tcp = TcpStream::connect(harness.imap).await.unwrap();

    let mut buffer = [0u8; 16];
    let read = tokio::time::timeout(
        RESPONSE_TIMEOUT,
        tokio::io::AsyncReadExt::read(&mut tcp, &mut buffer),
    )
    .await
    .expect("the listener closes the connection");

    assert_eq!(read.unwrap_or(0), 0, "closed without data");
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_pipelined_after_starttls_is_discarded() {
    let harness = Harness::start(fast_limits(), true, real_worker()).await;
    let tcp = TcpStream::connect(harness.starttls.unwrap()).await.unwrap();
    let mut client = Client::new(tcp);
    client.line().await;

    // RFC 3501 §6.2.1: commands sent in cleartext after STARTTLS must not run under TLS.
    client.send("a1 STARTTLS\r\na2 LOGOUT\r\n").await;
    let started = client.until_tagged("a1").await;
    let tcp = client.stream.into_inner();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let result = connector(&harness.pki).connect(name, tcp).await;

    assert_eq!(started, ["a1 OK Begin TLS negotiation now"]);
    // The handshake fails (the cleartext bytes are not a TLS record) or, if the listener read
    // them with the STARTTLS line, succeeds without the LOGOUT being run.
    if let Ok(tls) = result {
        let mut client = Client::new(tls);
        let answer = client.command("a3", "NOOP").await;
        assert_eq!(answer, ["a3 OK NOOP completed"]);
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_installs_new_certificate_at_once() {
    let harness = Harness::start_with(
        fast_limits(),
        false,
        real_worker(),
        Duration::from_secs(3600),
    )
    .await;
    let replacement_dir = tempfile::tempdir().unwrap();
    let replacement = make_pki(replacement_dir.path());
    std::fs::copy(&replacement.key, &harness.pki.key).unwrap();
    std::fs::copy(&replacement.cert, &harness.pki.cert).unwrap();
    let before_reload = presented_certificate(&harness, &replacement).await;

    harness.handle.reload().await;
    let after_reload = presented_certificate(&harness, &replacement).await;

    assert!(
        before_reload.is_none(),
        "files are not polled within the hour"
    );
    assert!(
        after_reload.is_some(),
        "reload (SIGHUP) installs the new certificate"
    );
    harness.stop().await;
}
