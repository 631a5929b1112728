//! The `asimapd` binary's command line, run as a real process with a controlled environment.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs asimapd in `dir` with only the given environment variables (plus PATH).
fn asimapd(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_asimapd"));
    command.current_dir(dir).args(args).env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    command
        .envs(env.iter().copied())
        .output()
        .expect("asimapd runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Writes placeholder certificate and key files, which pass the readability check but are
/// not PEM.
fn placeholder_tls_files(dir: &Path) -> (String, String) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, "certificate").unwrap();
    std::fs::write(&key, "key").unwrap();
    (cert.display().to_string(), key.display().to_string())
}

/// Writes a self-signed certificate for localhost and its key.
fn tls_files(dir: &Path) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = rcgen::CertificateParams::new(vec!["localhost".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, certificate.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
    )
}

/// Returns a loopback port that was free a moment ago.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Time a started server gets to report that it listens.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// A server started in the background on loopback.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
}

impl Running {
    /// Starts asimapd like [`asimapd`] does, on 127.0.0.1 unless `env` names an address,
    /// and waits for the line that reports the listening port.
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
        let mut command = Command::new(env!("CARGO_BIN_EXE_asimapd"));
        command.current_dir(dir).args(args).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        if !env.iter().any(|(name, _)| *name == "ADDRESS") && !dir.join(".env").exists() {
            command.env("ADDRESS", "127.0.0.1");
        }
        let mut child = command
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("asimapd starts");
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let mut running = Running {
            child,
            lines,
            stdout: Vec::new(),
        };
        running.wait_for_line("listening for IMAP over TLS");
        running
    }

    fn wait_for_line(&mut self, text: &str) {
        let deadline = std::time::Instant::now() + START_TIMEOUT;
        while !self.stdout.iter().any(|line| line.contains(text)) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.stdout.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let mut stderr = String::new();
                    let _ = self
                        .child
                        .stderr
                        .take()
                        .unwrap()
                        .read_to_string(&mut stderr);
                    panic!(
                        "no line with {text:?}; stdout: {:?}; stderr: {stderr}",
                        self.stdout
                    );
                }
            }
        }
    }

    /// Sends SIGTERM and returns the exit status, the whole stdout and stderr.
    fn stop(mut self) -> (ExitStatus, String, String) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = self.child.wait().unwrap();
        self.stdout.extend(self.lines.iter());
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status, self.stdout.join("\n"), stderr)
    }
}

#[test]
fn help_lists_every_option_variable_and_default() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["--help"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Help is wrapped to the terminal width, so compare with whitespace runs folded.
    let help = stdout(&output)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let expected = [
        ("--address", "ADDRESS", "0.0.0.0"),
        ("--port", "PORT", "993"),
        ("--cert", "SSL_CERT", "/opt/asimap/ssl/cert.pem"),
        ("--key", "SSL_KEY", "/opt/asimap/ssl/key.pem"),
        ("--trace", "TRACE", "off"),
        ("--trace-dir", "TRACE_DIR", "/opt/asimap/traces/"),
        ("--debug", "DEBUG", "off"),
        ("--log-config", "LOG_CONFIG", "asimapd_log.json"),
        ("--pwfile", "PWFILE", "/opt/asimap/pwfile"),
        ("--enable-pop3", "ENABLE_POP3", "off"),
        ("--pop3-port", "POP3_PORT", "995"),
        ("--enable-mh-file-locking", "ENABLE_MH_FILE_LOCKING", "off"),
        ("--starttls-port", "STARTTLS_PORT", "off"),
        ("--tls-handshake-timeout", "TLS_HANDSHAKE_TIMEOUT", "30"),
        ("--login-timeout", "LOGIN_TIMEOUT", "120"),
        (
            "--max-connections-per-address",
            "MAX_CONNECTIONS_PER_ADDRESS",
            "50",
        ),
        ("--worker-linger", "WORKER_LINGER", "1800"),
        ("--idle-keepalive", "IDLE_KEEPALIVE", "300"),
    ];
    for (option, variable, default) in expected {
        assert!(help.contains(option), "help lacks {option}:\n{help}");
        assert!(
            help.contains(&format!("[env: {variable}]")),
            "help lacks {variable}:\n{help}"
        );
        assert!(
            help.contains(default),
            "help lacks default {default}:\n{help}"
        );
    }
    assert!(
        help.contains("Exit status"),
        "help lacks exit codes:\n{help}"
    );
    assert!(help.contains("SIGHUP"), "help lacks signals:\n{help}");
}

#[test]
fn short_help_runs() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["-h"], &[]);
    assert!(output.status.success());
    assert!(stdout(&output).contains("--pwfile"));
}

#[test]
fn version_prints_name_and_version() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["--version"], &[]);
    assert!(output.status.success());
    assert_eq!(
        stdout(&output).trim(),
        format!("asimapd {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn missing_certificate_exits_with_config_status() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let output = asimapd(dir.path(), &[&format!("--cert={}", missing.display())], &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "one line: {message}");
    assert!(message.starts_with("asimapd: "), "{message}");
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains("--cert or SSL_CERT"), "{message}");
}

#[test]
fn default_certificate_path_is_checked() {
    if Path::new("/opt/asimap/ssl/cert.pem").exists() {
        return; // an installed server's certificate is there; nothing is missing
    }
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("/opt/asimap/ssl/cert.pem"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn invalid_port_exits_before_checking_files() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["--port", "65536"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim_end(),
        "asimapd: invalid value \"65536\" for --port: expected a port number from 0 to 65535 \
         (0 picks a free port)"
    );
}

#[test]
fn invalid_boolean_variable_exits_with_config_status() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &[], &[("TRACE", "sometimes")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("environment variable TRACE"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn unknown_option_exits_with_config_status() {
    let dir = tempfile::tempdir().unwrap();
    let output = asimapd(dir.path(), &["--no-such-option"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--no-such-option"));
}

#[test]
fn placeholder_certificate_exits_with_config_status() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = placeholder_tls_files(dir.path());
    let output = asimapd(
        dir.path(),
        &["--port=0", "--address=127.0.0.1"],
        &[("SSL_CERT", &cert), ("SSL_KEY", &key)],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains(&cert), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no CERTIFICATE block"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn serving_server_reports_settings_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let port = free_port().to_string();
    let server = Running::start(
        dir.path(),
        &[&format!("--port={port}")],
        &[("SSL_CERT", &cert), ("SSL_KEY", &key)],
    );

    let (status, stdout, stderr) = server.stop();

    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.contains(&format!("port {port}")), "{stdout}");
    assert!(
        stdout.contains(&format!("listening for IMAP over TLS on 127.0.0.1:{port}")),
        "{stdout}"
    );
    assert!(stdout.contains("shutdown complete"), "{stdout}");
}

#[test]
fn dotenv_file_sets_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let port = free_port();
    let dotenv = format!("ADDRESS=127.0.0.1\nPORT={port}\nSSL_CERT={cert}\nSSL_KEY={key}\n");
    std::fs::write(dir.path().join(".env"), dotenv).unwrap();
    let server = Running::start(dir.path(), &[], &[]);

    let (status, stdout, stderr) = server.stop();

    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.contains(&format!("port {port}")), "{stdout}");
}

#[test]
fn environment_beats_dotenv_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let (dotenv_port, env_port) = (free_port(), free_port());
    std::fs::write(
        dir.path().join(".env"),
        format!("ADDRESS=127.0.0.1\nPORT={dotenv_port}\nSSL_CERT={cert}\nSSL_KEY={key}\n"),
    )
    .unwrap();
    let server = Running::start(dir.path(), &[], &[("PORT", &env_port.to_string())]);

    let (status, stdout, stderr) = server.stop();

    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.contains(&format!("port {env_port}")), "{stdout}");
}

#[test]
fn dotenv_invalid_value_names_variable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "DEBUG=perhaps\n").unwrap();
    let output = asimapd(dir.path(), &[], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("environment variable DEBUG"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn log_config_file_receives_startup_record() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let log = dir.path().join("asimapd.log");
    let log_config = dir.path().join("log.json");
    let document = format!(
        r#"{{"version": 1,
            "formatters": {{"f": {{"format": "%(levelname)s %(name)s %(message)s"}}}},
            "handlers": {{"file": {{"class": "logging.FileHandler", "filename": "{}", "formatter": "f"}}}},
            "loggers": {{"asimap": {{"level": "INFO", "handlers": ["file"]}}}}}}"#,
        log.display()
    );
    std::fs::write(&log_config, document).unwrap();
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_asimapd"));
    command
        .current_dir(dir.path())
        .env_clear()
        .args([
            format!("--log-config={}", log_config.display()),
            format!("--port={port}"),
            "--address=127.0.0.1".into(),
        ])
        .envs([("SSL_CERT", &cert), ("SSL_KEY", &key)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = command.spawn().unwrap();
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    while !std::fs::read_to_string(&log).is_ok_and(|text| text.contains("listening")) {
        assert!(std::time::Instant::now() < deadline, "no listening record");
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let output = child.wait_with_output().unwrap();

    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let written = std::fs::read_to_string(&log).unwrap();
    assert!(
        written.starts_with("INFO asimap.asimapd asimapd "),
        "{written}"
    );
    assert!(written.contains(&format!("port {port}")), "{written}");
    assert!(
        stdout(&output).is_empty(),
        "nothing goes to stdout: {}",
        stdout(&output)
    );
}

#[test]
fn missing_log_config_is_reported_and_default_used() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = tls_files(dir.path());
    let missing = dir.path().join("missing.json");
    let server = Running::start(
        dir.path(),
        &[&format!("--log-config={}", missing.display()), "--port=0"],
        &[("SSL_CERT", &cert), ("SSL_KEY", &key)],
    );

    let (status, stdout, stderr) = server.stop();

    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()), "{stderr}");
    assert!(stdout.contains("starting"), "{stdout}");
}
