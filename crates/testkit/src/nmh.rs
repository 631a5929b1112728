//! Running the real nmh commands against a temporary home directory.
//!
//! [`NmhHome`] creates a home with a `.mh_profile` (`Path: Mail`, `Unseen-Sequence: unseen`
//! and any extra entries) and runs nmh commands with `HOME` pointing at it, `MH` and
//! `MHCONTEXT` unset, `/usr/bin/mh` first on `PATH` and `TZ=UTC`. The directory is removed
//! when the value is dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::require_tool;

/// Directory where Debian's nmh package installs its commands.
pub const NMH_BIN_DIR: &str = "/usr/bin/mh";

/// Profile entries every temporary home gets.
pub const BASE_PROFILE: &str = "Path: Mail\nUnseen-Sequence: unseen\n";

/// Returns true when nmh is installed; panics (through [`require_tool`]) when it is missing
/// and skipping was not requested, so CI never passes by skipping.
pub fn require_nmh() -> bool {
    require_tool("inc", "nmh").is_some()
}

/// A temporary home directory with an MH profile and an empty mail root `Mail`.
#[derive(Debug)]
pub struct NmhHome {
    home: PathBuf,
}

impl NmhHome {
    /// Creates a home whose profile is [`BASE_PROFILE`] followed by `extra_profile`.
    ///
    /// # Panics
    /// When the directory or the profile cannot be written.
    pub fn new(extra_profile: &str) -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        let home = std::env::temp_dir().join(format!(
            "asimapd-nmh-{}-{unique}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(home.join("Mail")).expect("create temporary nmh home");
        let profile = format!("{BASE_PROFILE}{extra_profile}");
        std::fs::write(home.join(".mh_profile"), profile).expect("write .mh_profile");
        NmhHome { home }
    }

    /// Returns the home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Returns the profile file.
    pub fn profile_path(&self) -> PathBuf {
        self.home.join(".mh_profile")
    }

    /// Returns the mail root (`HOME/Mail`).
    pub fn mail_root(&self) -> PathBuf {
        self.home.join("Mail")
    }

    /// Returns the directory of folder `name`.
    pub fn folder_path(&self, name: &str) -> PathBuf {
        self.mail_root().join(name)
    }

    /// Returns a command for nmh program `program` with this home's environment.
    pub fn command(&self, program: &str) -> Command {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![PathBuf::from(NMH_BIN_DIR)];
        dirs.extend(std::env::split_paths(&path));
        let mut command = Command::new(program);
        command
            .env("HOME", &self.home)
            .env("PATH", std::env::join_paths(dirs).expect("PATH entries"))
            .env("TZ", "UTC")
            .env_remove("MH")
            .env_remove("MHCONTEXT")
            .env_remove("MAILDROP")
            .current_dir(&self.home);
        command
    }

    /// Runs `program args...` and returns its output whatever the exit status.
    ///
    /// # Panics
    /// When the program cannot be started.
    pub fn output(&self, program: &str, args: &[&str]) -> Output {
        self.command(program)
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run {program}: {err}"))
    }

    /// Runs `program args...` and returns its standard output.
    ///
    /// # Panics
    /// When the program fails; the message shows its arguments and standard error.
    pub fn run(&self, program: &str, args: &[&str]) -> String {
        let output = self.output(program, args);
        assert!(
            output.status.success(),
            "{program} {args:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Creates folder `name` with `folder -create`.
    pub fn create_folder(&self, name: &str) {
        self.run("folder", &["-create", &format!("+{name}"), "-fast"]);
    }

    /// Writes `messages` straight into folder `name` as files 1, 2, ...
    ///
    /// # Panics
    /// When a file cannot be written.
    pub fn fill(&self, name: &str, messages: &[Vec<u8>]) {
        for (index, message) in messages.iter().enumerate() {
            let path = self.folder_path(name).join((index + 1).to_string());
            std::fs::write(&path, message).expect("write message file");
        }
    }

    /// Returns the Message-ID of every message that nmh's `scan` lists in `folder`, restricted to
    /// `sequence` when given, in message order; empty when the selection is empty.
    pub fn message_ids(&self, folder: &str, sequence: Option<&str>) -> Vec<String> {
        let folder_arg = format!("+{folder}");
        let mut args = vec![folder_arg.as_str()];
        args.extend(sequence);
        args.extend(["-format", "%{message-id}"]);
        let output = self.output("scan", &args);
        if !output.status.success() {
            return Vec::new();
        }
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Returns `mark -list` for `folder`, failing when nmh cannot parse its sequences.
    pub fn mark_list(&self, folder: &str) -> String {
        self.run("mark", &[&format!("+{folder}"), "-list"])
    }

    /// Delivers `messages` into `folder` with `inc -file` from an mbox maildrop at `drop`.
    pub fn inc_mbox(&self, folder: &str, drop: &Path, messages: &[Vec<u8>]) -> Output {
        std::fs::write(drop, mbox(messages)).expect("write maildrop");
        let drop_arg = drop.to_string_lossy().into_owned();
        self.output(
            "inc",
            &[
                &format!("+{folder}"),
                "-file",
                &drop_arg,
                "-truncate",
                "-silent",
            ],
        )
    }
}

impl Drop for NmhHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Builds a message with Message-ID `<ID@test>` and LF line ends. `day` sets the Date day
/// (for `sortm`) and `padding` adds that many body lines.
pub fn message(id: &str, day: u32, padding: usize) -> Vec<u8> {
    let mut text = format!(
        "From: test@example.org\nTo: me@example.org\nSubject: {id}\n\
         Date: {day:02} Jan 2024 12:00:00 +0000\nMessage-ID: <{id}@test>\n\nbody of {id}\n"
    );
    for line in 0..padding {
        text.push_str(&format!("padding line {line} of {id}\n"));
    }
    text.into_bytes()
}

/// Builds an mbox maildrop for `inc -file`: each message after a `From ` separator line and
/// followed by a blank line.
pub fn mbox(messages: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for message in messages {
        out.extend_from_slice(b"From x@example.org Mon Jan  1 00:00:00 2024\n");
        out.extend_from_slice(message);
        out.push(b'\n');
    }
    out
}
