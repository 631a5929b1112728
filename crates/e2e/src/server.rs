//! The `asimapd` binary as a real process on 127.0.0.1.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::binaries::binaries;
use crate::client::ImapClient;
use crate::error::E2eError;
use crate::mail::{MailHome, PASSWORD, USER};
use crate::pki::Pki;

/// Time the server gets to report its listening address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Time the server gets to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Environment variable that, set to `1` in the test process, starts every server with
/// `--debug`, so a failing test shows debug log lines in the server output.
pub const DEBUG_VAR: &str = "ASIMAPD_E2E_DEBUG";
/// Text of the log line that announces the IMAP address, followed by the address.
const LISTENING_LINE: &str = "listening for IMAP over TLS on ";

/// Settings of a started server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Pass `--enable-mh-file-locking`, so the server takes nmh's locks.
    pub mh_file_locking: bool,
}

/// A running `asimapd` process. Dropping it sends SIGTERM, waits, then sends SIGKILL to the
/// server and to every worker it started.
#[derive(Debug)]
pub struct Server {
    child: Child,
    address: SocketAddr,
    pki: Pki,
    output: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts asimapd on 127.0.0.1 with a free port, serving `home`'s password file.
    pub fn start(home: &MailHome, options: &ServerOptions) -> Result<Server, E2eError> {
        let pki = Pki::create(home.dir())?;
        let mut command = Command::new(&binaries().asimapd);
        command
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .current_dir(home.dir())
            .arg("--address=127.0.0.1")
            .arg("--port=0")
            .arg(format!("--cert={}", pki.cert.display()))
            .arg(format!("--key={}", pki.key.display()))
            .arg(format!("--pwfile={}", home.pwfile().display()))
            .arg(format!(
                "--trace-dir={}",
                home.dir().join("traces").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if options.mh_file_locking {
            command.arg("--enable-mh-file-locking");
        }
        if std::env::var_os(DEBUG_VAR).is_some_and(|value| value == "1") {
            command.arg("--debug");
        }
        let mut child = command.spawn()?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let (sender, lines) = mpsc::channel();
        drain(child.stdout.take(), &output, Some(sender));
        drain(child.stderr.take(), &output, None);

        let mut server = Server {
            child,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            pki,
            output,
        };
        server.address = server.wait_for_address(&lines)?;
        Ok(server)
    }

    fn wait_for_address(&mut self, lines: &mpsc::Receiver<String>) -> Result<SocketAddr, E2eError> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines.recv_timeout(left).map_err(|_| {
                E2eError::ServerStart(format!("no listening line; output: {}", self.output()))
            })?;
            let Some(start) = line.find(LISTENING_LINE) else {
                continue;
            };
            let rest = &line[start + LISTENING_LINE.len()..];
            let text: String = rest
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"')
                .collect();
            return text
                .parse()
                .map_err(|_| E2eError::ServerStart(format!("no address in {line:?}")));
        }
    }

    /// Returns the address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Returns the certificates the server uses.
    pub fn pki(&self) -> &Pki {
        &self.pki
    }

    /// Returns the process id of the server.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Returns everything the server wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }

    /// Returns the process ids of the workers the server started.
    pub fn workers(&self) -> Vec<u32> {
        process_children(self.pid())
    }

    /// Connects and logs in as the test user.
    pub fn login(&self) -> Result<ImapClient, E2eError> {
        let mut client = ImapClient::connect(self.address, &self.pki)?;
        client.login(USER, PASSWORD)?;
        Ok(client)
    }

    /// Returns the IMAP URL prefix of the server, for curl.
    pub fn url(&self) -> String {
        format!("imaps://localhost:{}", self.address.port())
    }

    /// Returns true while the server process runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn stop(&mut self) {
        let workers = self.workers();
        let pid = Pid::from_raw(self.child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Workers whose server was killed are ended here, by the ids recorded before.
        for worker in workers {
            let _ = kill(Pid::from_raw(worker as i32), Signal::SIGKILL);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies lines from a pipe of the server into `output` (and to `sender`) until it closes.
fn drain<R: Read + Send + 'static>(
    pipe: Option<R>,
    output: &Arc<Mutex<Vec<String>>>,
    sender: Option<mpsc::Sender<String>>,
) {
    let Some(pipe) = pipe else { return };
    let output = Arc::clone(output);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(sender) = &sender {
                let _ = sender.send(line.clone());
            }
            if let Ok(mut lines) = output.lock() {
                lines.push(line);
            }
        }
    });
}

/// Returns the ids of the processes whose parent is `parent`, read from `/proc`.
pub fn process_children(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The command name in brackets may contain spaces, so fields are counted after it.
        let Some(after_name) = stat.rfind(')').map(|end| &stat[end + 1..]) else {
            continue;
        };
        let ppid = after_name
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok());
        if ppid == Some(parent) {
            children.push(pid);
        }
    }
    children
}
