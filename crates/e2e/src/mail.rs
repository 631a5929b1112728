//! A temporary home with an MH profile, a mail tree and a password file, and the nmh commands
//! run against it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime};

use asimapd_testkit::nmh::{BASE_PROFILE, NMH_BIN_DIR};

use crate::binaries::binaries;
use crate::error::E2eError;

/// The account every test logs in as.
pub const USER: &str = "alice";
/// Its password.
pub const PASSWORD: &str = "correct horse battery";

/// Account that owns the mail tree when the tests run as root, because the server never runs
/// a worker as root: it runs it as the owner of the maildir.
pub const UNPRIVILEGED_USER: &str = "nobody";

/// A temporary directory with `home/.mh_profile`, the mail root `home/Mail` with an empty
/// `inbox`, and `pwfile` naming the mail root for [`USER`]. Removed when dropped.
///
/// When the tests run as root, the tree belongs to [`UNPRIVILEGED_USER`] and the nmh commands
/// run as that user, like the worker does.
#[derive(Debug)]
pub struct MailHome {
    dir: tempfile::TempDir,
    owner: Option<(u32, u32)>,
}

impl MailHome {
    /// Creates the tree and the password file (with `asimapd_set_password`).
    pub fn create() -> Result<MailHome, E2eError> {
        let dir = tempfile::Builder::new().prefix("asimapd-e2e-").tempdir()?;
        let home = MailHome {
            dir,
            owner: unprivileged_owner()?,
        };
        std::fs::create_dir_all(home.mail_root().join("inbox"))?;
        std::fs::write(home.home().join(".mh_profile"), BASE_PROFILE)?;
        home.set_password()?;
        home.give_to_owner(home.dir.path())?;
        Ok(home)
    }

    /// Hands `path` and everything below it to the tree's owner (nothing when not root).
    pub fn give_to_owner(&self, path: &Path) -> Result<(), E2eError> {
        let Some((uid, gid)) = self.owner else {
            return Ok(());
        };
        let chown = |path: &Path| {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid)).map_err(|source| E2eError::File {
                path: path.to_path_buf(),
                source,
            })
        };
        chown(path)?;
        if path.is_dir() && !path.is_symlink() {
            for entry in std::fs::read_dir(path)? {
                self.give_to_owner(&entry?.path())?;
            }
        }
        Ok(())
    }

    /// Returns the uid and gid that own the tree and run nmh, or `None` when the tests do
    /// not run as root and everything runs as the current user.
    pub fn owner(&self) -> Option<(u32, u32)> {
        self.owner
    }

    /// Writes `contents` to `path` inside the tree, owned by the tree's owner.
    pub fn write_file(&self, path: &Path, contents: &[u8]) -> Result<(), E2eError> {
        std::fs::write(path, contents).map_err(|source| E2eError::File {
            path: path.to_path_buf(),
            source,
        })?;
        self.give_to_owner(path)
    }

    /// Creates folder `name` (and its parents) owned by the tree's owner.
    pub fn create_folder(&self, name: &str) -> Result<PathBuf, E2eError> {
        let folder = self.folder(name);
        std::fs::create_dir_all(&folder)?;
        self.give_to_owner(&self.mail_root())?;
        Ok(folder)
    }

    fn set_password(&self) -> Result<(), E2eError> {
        let program = &binaries().set_password;
        let mut child = Command::new(program)
            .arg(format!("--pwfile={}", self.pwfile().display()))
            .args([USER, "-"])
            .arg(self.mail_root())
            .env_clear()
            .current_dir(self.dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            writeln!(stdin, "{PASSWORD}")?;
        }
        let output = child.wait_with_output()?;
        check_output("asimapd_set_password", &output)?;
        Ok(())
    }

    /// Returns the temporary directory, where servers also keep their traces.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Returns the home directory whose profile nmh reads.
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Returns the mail root.
    pub fn mail_root(&self) -> PathBuf {
        self.home().join("Mail")
    }

    /// Returns the directory of MH folder `name`.
    pub fn folder(&self, name: &str) -> PathBuf {
        self.mail_root().join(name)
    }

    /// Returns the password file.
    pub fn pwfile(&self) -> PathBuf {
        self.dir.path().join("pwfile")
    }

    /// Returns a command for nmh program `program` with this home's environment.
    pub fn nmh(&self, program: &str) -> Command {
        let mut command = Command::new(Path::new(NMH_BIN_DIR).join(program));
        command
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", format!("{NMH_BIN_DIR}:/usr/bin:/bin"))
            .env("TZ", "UTC")
            .env("LC_ALL", "C")
            .current_dir(self.home());
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Runs nmh program `program` with `args` and returns its standard output; fails when the
    /// program fails.
    pub fn run_nmh(&self, program: &str, args: &[&str]) -> Result<String, E2eError> {
        let output = self.nmh(program).args(args).output()?;
        check_output(program, &output)?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Writes `messages` as MH files `first`, `first + 1`, … into folder `name` (created if
    /// needed), with modification times an hour old so the server treats them as complete.
    pub fn write_messages(
        &self,
        name: &str,
        first: u32,
        messages: &[TestMessage],
    ) -> Result<(), E2eError> {
        let folder = self.create_folder(name)?;
        let an_hour_ago = SystemTime::now() - Duration::from_secs(3600);
        for (offset, message) in messages.iter().enumerate() {
            let path = folder.join((first as usize + offset).to_string());
            std::fs::write(&path, message.to_mh())?;
            std::fs::File::options()
                .write(true)
                .open(&path)?
                .set_modified(an_hour_ago)?;
        }
        self.give_to_owner(&folder)
    }

    /// Writes `messages` to an mbox file in the temporary directory and returns its path, for
    /// `inc -file`.
    pub fn write_mbox(&self, name: &str, messages: &[TestMessage]) -> Result<PathBuf, E2eError> {
        let path = self.dir.path().join(name);
        let mut text = String::new();
        for message in messages {
            text.push_str("From sender@example.org Fri Dec  4 12:00:00 2026\n");
            text.push_str(&message.to_mh());
            text.push('\n');
        }
        self.write_file(&path, text.as_bytes())?;
        Ok(path)
    }
}

/// Returns the uid and gid of [`UNPRIVILEGED_USER`] when running as root, else `None`.
fn unprivileged_owner() -> Result<Option<(u32, u32)>, E2eError> {
    if !nix::unistd::Uid::effective().is_root() {
        return Ok(None);
    }
    let user = nix::unistd::User::from_name(UNPRIVILEGED_USER)
        .ok()
        .flatten()
        .ok_or_else(|| E2eError::Program {
            program: "getpwnam".into(),
            message: format!("user {UNPRIVILEGED_USER} not found; it owns the test mail tree"),
        })?;
    Ok(Some((user.uid.as_raw(), user.gid.as_raw())))
}

/// Returns an error naming `program` and its standard error when it exited with failure.
fn check_output(program: &str, output: &Output) -> Result<(), E2eError> {
    if output.status.success() {
        return Ok(());
    }
    Err(E2eError::Program {
        program: program.to_string(),
        message: format!(
            "{}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        ),
    })
}

/// Returns the standard output of an nmh command, or its error output after a failure, for
/// messages in assertions.
pub fn nmh_output(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A small message identified by its `Message-ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestMessage {
    /// The Message-ID without angle brackets.
    pub id: String,
    /// The subject.
    pub subject: String,
    /// The body text.
    pub body: String,
}

impl TestMessage {
    /// Creates message number `number` of a series named `series`.
    pub fn new(series: &str, number: usize) -> TestMessage {
        TestMessage {
            id: format!("{series}-{number}@e2e.example.org"),
            subject: format!("{series} message {number}"),
            body: format!("This is message {number} of the {series} series.\nSecond line.\n"),
        }
    }

    /// Returns the message with LF line ends, as MH stores it.
    pub fn to_mh(&self) -> String {
        format!(
            "From: Sender <sender@example.org>\nTo: {USER}@example.org\n\
             Subject: {}\nDate: Fri, 04 Dec 2026 12:00:00 +0000\nMessage-ID: <{}>\n\
             MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n{}",
            self.subject, self.id, self.body
        )
    }

    /// Returns the message with CRLF line ends, as IMAP transfers it.
    pub fn to_imap(&self) -> Vec<u8> {
        self.to_mh().replace('\n', "\r\n").into_bytes()
    }
}
