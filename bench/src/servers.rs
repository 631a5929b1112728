//! Launchers for Dovecot and asimapd on 127.0.0.1, each serving the same corpus over
//! implicit TLS with the same certificate, and the memory of their process trees.

use std::collections::HashMap;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;

use crate::tls::Certificate;

/// Time a server may take to accept connections after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Time a server may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// PBKDF2 iterations of the asimapd password hash, far below Django's default of
/// 1,000,000, so that logins do not dominate the timings.
pub const PBKDF2_ITERATIONS: u32 = 1_000;
/// Connections each server must accept from 127.0.0.1: the idle-memory workload opens up
/// to 1,000 at once.
pub const MAX_CONNECTIONS: usize = 2_000;

/// A running server, stopped by its process id when dropped.
#[derive(Debug)]
pub struct Server {
    pub name: &'static str,
    pub port: u16,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Returns the process id of the server's main process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_until_accepting(&mut self) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} before accepting connections; see {}",
                    self.name,
                    self.log.display()
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not accept connections on port {} within {START_TIMEOUT:?}",
                    self.name,
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM to the main process, waits for it, then sends SIGKILL to it and to any
    /// process of its tree that is left.
    pub fn stop(&mut self) {
        let pid = self.child.id();
        let tree = process_tree(pid);
        signal(pid, libc::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            eprintln!(
                "{} (pid {pid}) did not exit on SIGTERM; killing it",
                self.name
            );
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for leftover in tree.into_iter().filter(|&p| p != pid && is_alive(p)) {
            eprintln!("{}: killing leftover process {leftover}", self.name);
            signal(leftover, libc::SIGKILL);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(Some(_))) {
            self.stop();
        }
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory effects; the pid comes from a process this tool started
        // or from its process tree.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

fn is_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Returns a port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Where the Dovecot run keeps its files.
#[derive(Debug)]
pub struct DovecotSetup<'a> {
    pub program: &'a Path,
    pub root: &'a Path,
    pub maildir: &'a Path,
    pub home: &'a Path,
    pub certificate: &'a Certificate,
    /// Uid and gid of the mail processes; Dovecot serves mail only as an unprivileged user.
    pub mail_uid: u32,
    pub mail_gid: u32,
    pub user: &'a str,
    pub password: &'a str,
}

/// Starts Dovecot with a generated configuration: implicit TLS on a free port, the user in a
/// passwd-file with a PLAIN password (the cheapest scheme), and limits raised for
/// [`MAX_CONNECTIONS`].
pub fn start_dovecot(setup: &DovecotSetup<'_>) -> Result<Server> {
    let root = setup.root;
    fs::create_dir_all(root)?;
    fs::write(
        root.join("passwd"),
        format!(
            "{}:{{PLAIN}}{}:{}:{}::{}::\n",
            setup.user,
            setup.password,
            setup.mail_uid,
            setup.mail_gid,
            setup.home.display()
        ),
    )?;
    let port = free_port()?;
    let config = root.join("dovecot.conf");
    fs::write(&config, dovecot_config(setup, port))?;
    let log = root.join("dovecot.log");
    let child = Command::new(setup.program)
        .arg("-F")
        .arg("-c")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fs::File::create(root.join("dovecot.stderr"))?)
        .spawn()
        .with_context(|| format!("failed to start {}", setup.program.display()))?;
    let mut server = Server {
        name: "Dovecot",
        port,
        child,
        log,
    };
    server.wait_until_accepting()?;
    Ok(server)
}

fn dovecot_config(setup: &DovecotSetup<'_>, port: u16) -> String {
    let root = setup.root.display();
    let maildir = setup.maildir.display();
    let cert = setup.certificate.cert_path.display();
    let key = setup.certificate.key_path.display();
    let limit = MAX_CONNECTIONS;
    format!(
        "base_dir = {root}/run\n\
         state_dir = {root}/state\n\
         log_path = {root}/dovecot.log\n\
         protocols = imap\n\
         listen = 127.0.0.1\n\
         ssl = required\n\
         ssl_cert = <{cert}\n\
         ssl_key = <{key}\n\
         auth_mechanisms = plain\n\
         first_valid_uid = 1\n\
         mail_location = maildir:{maildir}\n\
         default_internal_user = dovecot\n\
         default_internal_group = dovecot\n\
         default_login_user = dovenull\n\
         default_process_limit = {limit}\n\
         default_client_limit = {client_limit}\n\
         passdb {{\n  driver = passwd-file\n  args = {root}/passwd\n}}\n\
         userdb {{\n  driver = passwd-file\n  args = {root}/passwd\n}}\n\
         protocol imap {{\n  mail_max_userip_connections = {limit}\n}}\n\
         service anvil {{\n  chroot =\n}}\n\
         service imap-login {{\n  chroot =\n  inet_listener imap {{\n    port = 0\n  }}\n  \
         inet_listener imaps {{\n    address = 127.0.0.1\n    port = {port}\n    ssl = yes\n  }}\n}}\n",
        client_limit = limit * 4,
    )
}

/// Where the asimapd run keeps its files.
#[derive(Debug)]
pub struct AsimapdSetup<'a> {
    pub program: &'a Path,
    pub root: &'a Path,
    pub mh_root: &'a Path,
    pub certificate: &'a Certificate,
    pub user: &'a str,
    pub password: &'a str,
}

/// Starts asimapd on a free port with the shared certificate and a password file whose
/// hash uses [`PBKDF2_ITERATIONS`].
pub fn start_asimapd(setup: &AsimapdSetup<'_>) -> Result<Server> {
    let root = setup.root;
    fs::create_dir_all(root)?;
    let pwfile = root.join("pwfile");
    fs::write(
        &pwfile,
        format!(
            "{}:{}:{}\n",
            setup.user,
            django_pbkdf2_sha256(setup.password, "benchsalt", PBKDF2_ITERATIONS),
            setup.mh_root.display()
        ),
    )?;
    let port = free_port()?;
    let log = root.join("asimapd.log");
    let child = Command::new(setup.program)
        .arg("--address=127.0.0.1")
        .arg(format!("--port={port}"))
        .arg(format!("--cert={}", setup.certificate.cert_path.display()))
        .arg(format!("--key={}", setup.certificate.key_path.display()))
        .arg(format!("--pwfile={}", pwfile.display()))
        .arg(format!("--max-connections-per-address={MAX_CONNECTIONS}"))
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&log)?)
        .stderr(fs::File::create(root.join("asimapd.stderr"))?)
        .spawn()
        .with_context(|| format!("failed to start {}", setup.program.display()))?;
    let mut server = Server {
        name: "asimapd",
        port,
        child,
        log,
    };
    server.wait_until_accepting()?;
    Ok(server)
}

/// Returns a Django `pbkdf2_sha256` password hash.
pub fn django_pbkdf2_sha256(password: &str, salt: &str, iterations: u32) -> String {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut key);
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    format!("pbkdf2_sha256${iterations}${salt}${encoded}")
}

/// Returns `pid` and all its descendants.
pub fn process_tree(pid: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for (child, parent) in parent_pids() {
        children.entry(parent).or_default().push(child);
    }
    let mut tree = vec![pid];
    let mut index = 0;
    while index < tree.len() {
        if let Some(list) = children.get(&tree[index]) {
            tree.extend(list);
        }
        index += 1;
    }
    tree
}

fn parent_pids() -> Vec<(u32, u32)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // The command name may contain spaces and parentheses, so fields are counted
            // after its closing parenthesis: state, then the parent pid.
            let after_name = &stat[stat.rfind(')')? + 1..];
            let parent = after_name.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, parent))
        })
        .collect()
}

/// Memory of a process tree in KiB, summed over its processes.
#[derive(Debug, Clone, Copy)]
pub struct TreeMemory {
    /// Sum of resident set sizes; pages shared between processes count once per process.
    pub rss_kib: u64,
    /// Sum of proportional set sizes; a page shared by n processes counts 1/n in each.
    pub pss_kib: u64,
    pub processes: usize,
}

/// Sums `Rss` and `Pss` of `/proc/PID/smaps_rollup` over `pid` and all its descendants.
pub fn tree_memory(pid: u32) -> TreeMemory {
    let tree = process_tree(pid);
    let mut memory = TreeMemory {
        rss_kib: 0,
        pss_kib: 0,
        processes: tree.len(),
    };
    for pid in tree {
        let Ok(rollup) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) else {
            continue;
        };
        memory.rss_kib += rollup_field(&rollup, "Rss:").unwrap_or(0);
        memory.pss_kib += rollup_field(&rollup, "Pss:").unwrap_or(0);
    }
    memory
}

fn rollup_field(rollup: &str, name: &str) -> Option<u64> {
    let line = rollup.lines().find(|line| line.starts_with(name))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn django_hash_matches_known_vector() {
        // Python 3.11: base64 of hashlib.pbkdf2_hmac("sha256", b"secret", b"benchsalt", 1000),
        // the digest Django's PBKDF2PasswordHasher stores.
        assert_eq!(
            django_pbkdf2_sha256("secret", "benchsalt", 1000),
            "pbkdf2_sha256$1000$benchsalt$OSDnO/EPVgelCxZdXMqOON5HGmjUpZ9DyZfgxEmhcFI="
        );
    }

    #[test]
    fn own_process_tree_has_memory() {
        let memory = tree_memory(std::process::id());
        assert!(memory.processes >= 1);
        assert!(memory.rss_kib > 0);
        assert!(memory.pss_kib > 0);
        assert!(memory.pss_kib <= memory.rss_kib);
    }
}
