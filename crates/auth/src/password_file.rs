//! The password file: one account per line, `user:password_hash:maildir`.
//!
//! Blank lines and lines starting with `#` are skipped, fields are trimmed, and a relative
//! maildir is resolved against the folder of the password file. The file is read again when
//! its inode, size, mtime or ctime change. A malformed line is logged with its line number and
//! skipped; the other lines still load.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::{error, info, warn};

use crate::error::AuthError;
use crate::hashers::PasswordHash;

/// Maximum size of the password file. At about 150 bytes a line this allows more than
/// 100,000 accounts, and it stops a misconfigured path such as a device file from filling
/// memory.
pub const MAX_PASSWORD_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// One account of the password file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    user: String,
    password_hash: PasswordHash,
    maildir: PathBuf,
}

impl Account {
    /// Builds an account from its fields; `maildir` should already be absolute.
    pub fn new(user: impl Into<String>, password_hash: PasswordHash, maildir: PathBuf) -> Self {
        Self {
            user: user.into(),
            password_hash,
            maildir,
        }
    }

    /// Returns the user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Returns the stored Django password hash.
    pub fn password_hash(&self) -> &PasswordHash {
        &self.password_hash
    }

    /// Returns the maildir, resolved against the password file's folder when it was relative.
    pub fn maildir(&self) -> &Path {
        &self.maildir
    }
}

/// Result of [`PasswordFile::reload_if_changed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The file is the one loaded before.
    Unchanged,
    /// The file was read again; cached credentials must be dropped.
    Reloaded,
}

/// The accounts of a password file, read again whenever the file changes.
#[derive(Debug)]
pub struct PasswordFile {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    identity: Option<FileIdentity>,
    accounts: Arc<HashMap<String, Account>>,
    has_failed: bool,
}

/// Identity of one version of the file. Comparing mtime alone misses a rewrite within
/// the file system's timestamp granularity and a copy that keeps the old mtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    device: u64,
    inode: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileIdentity {
    fn of(metadata: &Metadata) -> Self {
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.size(),
            mtime: (metadata.mtime(), metadata.mtime_nsec()),
            ctime: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

impl PasswordFile {
    /// Creates a handle on the password file at `path`; nothing is read until
    /// [`reload_if_changed`](Self::reload_if_changed). A relative path is made absolute
    /// against the current directory now, so relative maildirs keep their meaning if the
    /// process changes directory later.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            path: std::path::absolute(&path).unwrap_or(path),
            state: Mutex::new(State::default()),
        }
    }

    /// Returns the path of the password file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file again when it changed since the last load. Blocks on file I/O.
    ///
    /// # Errors
    /// [`AuthError::ReadPasswordFile`] when the file is missing or unreadable. All accounts
    /// are then dropped, so logins fail until the file is back. The first failure after a
    /// success is logged at error level.
    pub fn reload_if_changed(&self) -> Result<Reload, AuthError> {
        // The file is read without holding the lock, so lookups do not wait for the I/O.
        // Two reloads at once both read the file and store the same accounts.
        let loaded = self.lock_state().identity;
        let result = self.read_if_changed(loaded);
        let mut state = self.lock_state();
        match result {
            Ok(None) => Ok(Reload::Unchanged),
            Ok(Some((identity, accounts))) => {
                info!(path = %self.path.display(), accounts = accounts.len(), "password file loaded");
                *state = State {
                    identity: Some(identity),
                    accounts: Arc::new(accounts),
                    has_failed: false,
                };
                Ok(Reload::Reloaded)
            }
            Err(error) => {
                if !state.has_failed {
                    error!(%error, "password file unavailable, logins fail until it is readable");
                }
                *state = State {
                    has_failed: true,
                    ..State::default()
                };
                Err(error)
            }
        }
    }

    /// Returns the account of `user` from the last successful load.
    pub fn lookup(&self, user: &str) -> Option<Account> {
        self.lock_state().accounts.get(user).cloned()
    }

    /// Returns the number of accounts from the last successful load.
    pub fn len(&self) -> usize {
        self.lock_state().accounts.len()
    }

    /// Returns true when no account is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock_state(&self) -> MutexGuard<'_, State> {
        // The state is replaced in one assignment, so a panic elsewhere cannot leave it
        // half-updated, and the poison flag can be ignored.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn read_if_changed(&self, loaded: Option<FileIdentity>) -> Result<Option<Loaded>, AuthError> {
        let read_error = |source| AuthError::ReadPasswordFile {
            path: self.path.clone(),
            source,
        };

        let current = FileIdentity::of(&std::fs::metadata(&self.path).map_err(read_error)?);
        if loaded == Some(current) {
            return Ok(None);
        }

        // Identify the version from the open handle, so a rename between stat and open
        // cannot pair the old identity with new contents.
        let file = File::open(&self.path).map_err(read_error)?;
        let identity = FileIdentity::of(&file.metadata().map_err(read_error)?);
        let mut contents = Vec::new();
        file.take(MAX_PASSWORD_FILE_BYTES + 1)
            .read_to_end(&mut contents)
            .map_err(read_error)?;
        if contents.len() as u64 > MAX_PASSWORD_FILE_BYTES {
            return Err(read_error(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("file is larger than the maximum of {MAX_PASSWORD_FILE_BYTES} bytes"),
            )));
        }

        let base = self.path.parent().unwrap_or(Path::new("."));
        Ok(Some((
            identity,
            parse_accounts(&contents, base, &self.path),
        )))
    }
}

/// One version of the file: its identity and its accounts.
type Loaded = (FileIdentity, HashMap<String, Account>);

/// Fields of one account line, before the maildir is resolved.
pub(crate) struct AccountLine<'a> {
    pub(crate) user: &'a str,
    pub(crate) password_hash: &'a str,
    pub(crate) maildir: &'a str,
}

/// Outcome of reading one line of the password file.
pub(crate) enum Line<'a> {
    /// A blank line or a comment.
    Skip,
    Account(AccountLine<'a>),
    Malformed(&'static str),
}

/// Parses one line: exactly three `:`-separated fields, each trimmed and non-empty.
pub(crate) fn parse_line(line: &str) -> Line<'_> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Line::Skip;
    }
    let fields: Vec<&str> = line.split(':').map(str::trim).collect();
    let [user, password_hash, maildir] = fields.as_slice() else {
        return Line::Malformed("expected user:password_hash:maildir");
    };
    if user.is_empty() || password_hash.is_empty() || maildir.is_empty() {
        return Line::Malformed("empty field");
    }
    Line::Account(AccountLine {
        user,
        password_hash,
        maildir,
    })
}

fn parse_accounts(contents: &[u8], base: &Path, path: &Path) -> HashMap<String, Account> {
    let mut accounts = HashMap::new();
    for (index, raw_line) in contents.split(|&byte| byte == b'\n').enumerate() {
        let line_number = index + 1;
        let Ok(line) = std::str::from_utf8(raw_line) else {
            warn!(path = %path.display(), line_number, "skipping password file line: not UTF-8");
            continue;
        };
        let fields = match parse_line(line) {
            Line::Skip => continue,
            Line::Malformed(reason) => {
                warn!(path = %path.display(), line_number, reason, "skipping malformed password file line");
                continue;
            }
            Line::Account(fields) => fields,
        };

        let account = Account::new(
            fields.user,
            PasswordHash::new(fields.password_hash),
            base.join(fields.maildir),
        );
        if accounts.insert(fields.user.to_owned(), account).is_some() {
            warn!(path = %path.display(), line_number, user = fields.user, "user listed twice in password file, the later line wins");
        }
    }
    accounts
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn write_file(dir: &Path, contents: &str) -> PathBuf {
        let path = dir.join("pwfile");
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn parse_skips_comments_blanks_and_malformed_lines() {
        let contents: &[u8] = b"# comment\n\n  alice : md5$s$x : Mail \nbroken line\n\
            bob:hash:/abs/bob:extra\n\xff:x:y\ncarol:h:/var/mail/carol\n";

        let accounts = parse_accounts(contents, Path::new("/etc/asimap"), Path::new("pwfile"));

        assert_eq!(accounts.len(), 2);
        let alice = &accounts["alice"];
        assert_eq!(alice.password_hash().as_str(), "md5$s$x");
        assert_eq!(alice.maildir(), Path::new("/etc/asimap/Mail"));
        assert_eq!(accounts["carol"].maildir(), Path::new("/var/mail/carol"));
    }

    #[test]
    fn parse_rejects_empty_fields() {
        for line in ["alice::/mail", ":hash:/mail", "alice:hash:", "alice:hash"] {
            assert!(matches!(parse_line(line), Line::Malformed(_)), "{line:?}");
        }
    }

    #[test]
    fn malformed_line_log_names_line_not_content() {
        if !crate::test_logs::run_alone(
            "password_file::tests::malformed_line_log_names_line_not_content",
        ) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(
            dir.path(),
            "# header\nalice:hash:/mail\nbob:pbkdf2_sha256$1$s$SECRETKEY\n",
        );
        let logs = crate::test_logs::LogCapture::start();

        PasswordFile::new(&path).reload_if_changed().unwrap();

        let text = logs.text();
        assert!(text.contains("line_number=3"), "{text}");
        assert!(
            text.contains("skipping malformed password file line"),
            "{text}"
        );
        assert!(!text.contains("SECRETKEY"), "{text}");
    }

    #[test]
    fn missing_file_error_is_logged_once() {
        if !crate::test_logs::run_alone("password_file::tests::missing_file_error_is_logged_once") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = PasswordFile::new(dir.path().join("pwfile"));
        let logs = crate::test_logs::LogCapture::start();

        assert!(file.reload_if_changed().is_err());
        assert!(file.reload_if_changed().is_err());

        let text = logs.text();
        assert_eq!(
            text.matches("password file unavailable").count(),
            1,
            "{text}"
        );
        assert!(text.contains("ERROR"), "{text}");
        assert!(text.contains("pwfile"), "{text}");
    }

    #[test]
    fn later_duplicate_line_wins() {
        let accounts = parse_accounts(
            b"alice:one:/a\nalice:two:/b\n",
            Path::new("/"),
            Path::new("pwfile"),
        );

        assert_eq!(accounts["alice"].password_hash().as_str(), "two");
    }

    #[test]
    fn reload_detects_same_size_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "alice:hash1:/mail\n");
        let file = PasswordFile::new(&path);
        assert_eq!(file.reload_if_changed().unwrap(), Reload::Reloaded);
        assert_eq!(file.reload_if_changed().unwrap(), Reload::Unchanged);

        // Same size, same mtime (restored below): only ctime and content differ.
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let mut handle = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        handle.write_all(b"alice:hash2:/mail\n").unwrap();
        handle.set_modified(mtime).unwrap();
        drop(handle);

        assert_eq!(file.reload_if_changed().unwrap(), Reload::Reloaded);
        assert_eq!(
            file.lookup("alice").unwrap().password_hash().as_str(),
            "hash2"
        );
    }

    #[test]
    fn reload_detects_replaced_inode() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "alice:hash1:/mail\n");
        let file = PasswordFile::new(&path);
        file.reload_if_changed().unwrap();

        let replacement = dir.path().join("new");
        std::fs::write(&replacement, "bob:hash1:/mail\n").unwrap();
        std::fs::rename(&replacement, &path).unwrap();

        assert_eq!(file.reload_if_changed().unwrap(), Reload::Reloaded);
        assert!(file.lookup("alice").is_none());
        assert!(file.lookup("bob").is_some());
    }

    #[test]
    fn missing_file_drops_accounts() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "alice:hash:/mail\n");
        let file = PasswordFile::new(&path);
        file.reload_if_changed().unwrap();

        std::fs::remove_file(&path).unwrap();
        let result = file.reload_if_changed();

        assert!(
            matches!(result, Err(AuthError::ReadPasswordFile { .. })),
            "{result:?}"
        );
        assert!(file.lookup("alice").is_none());
        assert!(file.is_empty());
    }

    #[test]
    fn oversized_file_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_file(dir.path(), "alice:hash:/mail\n");
        let handle = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        handle.set_len(MAX_PASSWORD_FILE_BYTES + 1).unwrap();
        let file = PasswordFile::new(&path);

        let result = file.reload_if_changed();

        let Err(AuthError::ReadPasswordFile { source, .. }) = result else {
            panic!("expected a read error, got {result:?}");
        };
        assert_eq!(source.kind(), io::ErrorKind::InvalidData);
        assert!(file.is_empty());
    }

    #[test]
    fn relative_path_is_made_absolute() {
        let file = PasswordFile::new("relative/pwfile");

        assert!(file.path().is_absolute());
        assert!(file.path().ends_with("relative/pwfile"));
    }

    #[test]
    fn file_coming_back_is_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let file = PasswordFile::new(dir.path().join("pwfile"));
        assert!(file.reload_if_changed().is_err());

        write_file(dir.path(), "alice:hash:/mail\n");

        assert_eq!(file.reload_if_changed().unwrap(), Reload::Reloaded);
        assert_eq!(file.len(), 1);
    }
}
