//! The user's MH profile (`~/.mh_profile` or `$MH`) and context file, read the way nmh
//! reads them: RFC 822 style `Name: value` fields, continuation lines starting with a space or
//! tab, `#:` comment lines, field names compared case-insensitively.
//!
//! Only the entries that change how folders must be handled are used: `Path`,
//! `mh-sequences`, `Unseen-Sequence`, `Sequence-Negation`, `Datalocking`, `Msg-Protect`,
//! `Folder-Protect`, `MailDrop`, `Inbox`, `context` and `rmm` (for `-unlink`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, MhError, Result};
use crate::sequences::SequenceName;

/// Default file name of a profile in the home directory.
pub const PROFILE_FILE: &str = ".mh_profile";
/// Default name of the public sequences file in each folder.
pub const DEFAULT_SEQUENCES_FILE: &str = ".mh_sequences";
/// Default name of the context file in the mail root.
pub const DEFAULT_CONTEXT_FILE: &str = "context";
/// Prefix nmh 1.8 gives a removed message (`rmm` renames `N` to `,N`). It is fixed when nmh
/// is built; there is no profile entry for it.
pub const BACKUP_PREFIX: &str = ",";
/// Mode of new message files when the profile sets no `Msg-Protect` (nmh's default).
pub const DEFAULT_MSG_PROTECT: u32 = 0o600;
/// Mode of new folders when the profile sets no `Folder-Protect` (nmh's default).
pub const DEFAULT_FOLDER_PROTECT: u32 = 0o700;

/// Lock type nmh uses on `.mh_sequences` and the context file (`Datalocking` in the profile).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DataLocking {
    /// POSIX `fcntl` record locks, nmh's default.
    #[default]
    Fcntl,
    /// `flock(2)` locks.
    Flock,
    /// `lockf(3)`, which is an `fcntl` write lock on Linux.
    Lockf,
    /// Dot locking with liblockfile: a `FILE.lock` file next to the locked file.
    Dot,
}

/// Action taken on the file of a removed message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RemoveMode {
    /// `unlink(N)`.
    #[default]
    Unlink,
    /// `rename(N, ",N")`, as nmh's `rmm` does by default; an older `,N` is replaced.
    Backup,
}

/// A parsed MH profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// The profile file, for error messages; `None` for a profile built in memory.
    path: Option<PathBuf>,
    /// The directory relative paths in the profile are resolved against (the home directory).
    home: PathBuf,
    /// Fields in file order, names as written.
    fields: Vec<(String, String)>,
}

impl Profile {
    /// Finds the profile nmh would use: `$MH` when set (relative to the home directory when
    /// relative), else `HOME/.mh_profile` when that file exists.
    pub fn locate(home: &Path, mh_env: Option<&OsStr>) -> Option<PathBuf> {
        if let Some(mh) = mh_env.filter(|value| !value.is_empty()) {
            return Some(home.join(mh));
        }
        let default = home.join(PROFILE_FILE);
        default.is_file().then_some(default)
    }

    /// Reads and parses the profile at `path`; `home` is the directory that a relative `Path`
    /// entry is resolved against.
    pub fn load(path: &Path, home: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).context("read", path)?;
        let mut profile = Profile::parse(&bytes, home);
        profile.path = Some(path.to_owned());
        Ok(profile)
    }

    /// Parses profile text; `home` is the directory relative paths are resolved against.
    pub fn parse(bytes: &[u8], home: &Path) -> Self {
        Profile {
            path: None,
            home: home.to_owned(),
            fields: parse_fields(bytes),
        }
    }

    /// Returns the value of field `name` (case-insensitive); the last one wins, as in nmh.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .rev()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Returns the mail root the profile's `Path` names, resolved against the home directory.
    pub fn mail_path(&self) -> Option<PathBuf> {
        self.get("path")
            .filter(|value| !value.is_empty())
            .map(|value| self.home.join(value))
    }

    /// Returns the public sequences file name, or `None` when the profile turns public
    /// sequences off with an empty `mh-sequences:` entry.
    pub fn sequences_file(&self) -> Option<String> {
        match self.get("mh-sequences") {
            None => Some(DEFAULT_SEQUENCES_FILE.to_owned()),
            Some("") => None,
            Some(name) => Some(name.to_owned()),
        }
    }

    /// Returns the `Unseen-Sequence` names (there may be several, or none).
    pub fn unseen_sequences(&self) -> Result<Vec<SequenceName>> {
        let Some(value) = self.get("unseen-sequence") else {
            return Ok(Vec::new());
        };
        value
            .split_ascii_whitespace()
            .map(|name| SequenceName::new(name).map_err(|err| self.invalid(err.to_string())))
            .collect()
    }

    /// Returns the `Sequence-Negation` prefix, if any.
    pub fn sequence_negation(&self) -> Option<&str> {
        self.get("sequence-negation")
            .filter(|value| !value.is_empty())
    }

    /// Returns the `Datalocking` setting (default `fcntl`).
    pub fn data_locking(&self) -> Result<DataLocking> {
        match self
            .get("datalocking")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("fcntl") => Ok(DataLocking::Fcntl),
            Some("flock") => Ok(DataLocking::Flock),
            Some("lockf") => Ok(DataLocking::Lockf),
            Some("dot") => Ok(DataLocking::Dot),
            Some(other) => Err(self.invalid(format!(
                "unknown datalocking {other:?} (expected fcntl, flock, lockf or dot)"
            ))),
        }
    }

    /// Returns the mode of new message files (`Msg-Protect`, octal).
    pub fn msg_protect(&self) -> Result<u32> {
        self.mode("msg-protect", DEFAULT_MSG_PROTECT)
    }

    /// Returns the mode of new folders (`Folder-Protect`, octal).
    pub fn folder_protect(&self) -> Result<u32> {
        self.mode("folder-protect", DEFAULT_FOLDER_PROTECT)
    }

    /// Returns the maildrop `inc` reads (`MailDrop`). nmh 1.8 resolves a relative value
    /// against the mail root (`Path`), so this does too, falling back to the home directory.
    pub fn maildrop(&self) -> Option<PathBuf> {
        let value = self.get("maildrop").filter(|value| !value.is_empty())?;
        let base = self.mail_path().unwrap_or_else(|| self.home.clone());
        Some(base.join(value))
    }

    /// Returns the name of the folder `inc` delivers to (`Inbox`, default `inbox`).
    pub fn inbox(&self) -> &str {
        self.get("inbox")
            .filter(|value| !value.is_empty())
            .unwrap_or("inbox")
    }

    /// Returns what removing a message should do: nmh's `rmm` keeps a `,N` backup unless the
    /// profile's `rmm` entry contains `-unlink`.
    pub fn remove_mode(&self) -> RemoveMode {
        let unlink = self
            .get("rmm")
            .is_some_and(|value| value.split_ascii_whitespace().any(|arg| arg == "-unlink"));
        if unlink {
            RemoveMode::Unlink
        } else {
            RemoveMode::Backup
        }
    }

    /// Returns the context file: the `context` entry resolved against `mail_root`, else
    /// `mail_root/context`.
    pub fn context_file(&self, mail_root: &Path) -> PathBuf {
        let name = self
            .get("context")
            .filter(|value| !value.is_empty())
            .unwrap_or(DEFAULT_CONTEXT_FILE);
        mail_root.join(name)
    }

    fn mode(&self, field: &str, default: u32) -> Result<u32> {
        match self.get(field) {
            None | Some("") => Ok(default),
            Some(value) => u32::from_str_radix(value, 8)
                .ok()
                .filter(|mode| *mode <= 0o7777)
                .ok_or_else(|| {
                    self.invalid(format!("{field} {value:?} is not an octal file mode"))
                }),
        }
    }

    fn invalid(&self, reason: String) -> MhError {
        MhError::InvalidProfile {
            path: self.path.clone().unwrap_or_default(),
            reason,
        }
    }
}

/// Parses `Name: value` fields with continuation lines, keeping the names as written. Lines
/// without a colon and `#:` comments are skipped.
pub(crate) fn parse_fields(bytes: &[u8]) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(line.strip_suffix(b"\r").unwrap_or(line));
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        fields.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    fields.retain(|(name, _)| !name.starts_with('#'));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(text: &str) -> Profile {
        Profile::parse(text.as_bytes(), Path::new("/home/u"))
    }

    #[test]
    fn fields_are_case_insensitive_and_continued() {
        let p = profile(
            "Path: Mail\n#: a comment\nUnseen-Sequence: unseen\n\tnew2\nDataLocking: DOT\n",
        );
        assert_eq!(p.mail_path(), Some(PathBuf::from("/home/u/Mail")));
        let unseen: Vec<String> = p
            .unseen_sequences()
            .unwrap()
            .into_iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(unseen, ["unseen", "new2"]);
        assert_eq!(p.data_locking().unwrap(), DataLocking::Dot);
        assert_eq!(p.get("#"), None);
    }

    #[test]
    fn defaults_follow_nmh() {
        let p = profile("Path: Mail\n");
        assert_eq!(p.sequences_file().as_deref(), Some(DEFAULT_SEQUENCES_FILE));
        assert!(p.unseen_sequences().unwrap().is_empty());
        assert_eq!(p.data_locking().unwrap(), DataLocking::Fcntl);
        assert_eq!(p.msg_protect().unwrap(), 0o600);
        assert_eq!(p.folder_protect().unwrap(), 0o700);
        assert_eq!(p.remove_mode(), RemoveMode::Backup);
        assert_eq!(p.inbox(), "inbox");
        assert_eq!(p.context_file(Path::new("/m")), PathBuf::from("/m/context"));
    }

    #[test]
    fn profile_entries_override_defaults() {
        let p = profile(
            "mh-sequences:\nMsg-Protect: 640\nFolder-Protect: 750\nrmm: -unlink\n\
             Sequence-Negation: not\nMailDrop: drop\nInbox: in\ncontext: ctx\n",
        );
        assert_eq!(p.sequences_file(), None);
        assert_eq!(p.msg_protect().unwrap(), 0o640);
        assert_eq!(p.folder_protect().unwrap(), 0o750);
        assert_eq!(p.remove_mode(), RemoveMode::Unlink);
        assert_eq!(p.sequence_negation(), Some("not"));
        assert_eq!(p.maildrop(), Some(PathBuf::from("/home/u/drop")));
        assert_eq!(p.inbox(), "in");
        let with_path = profile("Path: Mail\nMailDrop: drop\n");
        assert_eq!(
            with_path.maildrop(),
            Some(PathBuf::from("/home/u/Mail/drop"))
        );
        assert_eq!(p.context_file(Path::new("/m")), PathBuf::from("/m/ctx"));
    }

    #[test]
    fn invalid_entries_are_errors() {
        assert!(profile("Msg-Protect: 9x\n").msg_protect().is_err());
        assert!(profile("Datalocking: smoke\n").data_locking().is_err());
        assert!(
            profile("Unseen-Sequence: $bad\n")
                .unseen_sequences()
                .is_err()
        );
    }

    #[test]
    fn locate_prefers_mh_variable() {
        let home = Path::new("/nonexistent-home");
        assert_eq!(
            Profile::locate(home, Some(OsStr::new("alt_profile"))),
            Some(home.join("alt_profile"))
        );
        assert_eq!(Profile::locate(home, None), None);
    }
}
