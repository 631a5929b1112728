//! Editing the password file for `asimapd_set_password`.
//!
//! The file is rewritten atomically: the new contents go to a temporary file in the same
//! folder, which is synced and renamed over the old one, so a concurrent reader sees either
//! the old or the new file. Comments, blank lines, the order of lines, maildirs as written
//! (relative ones stay relative), the file mode and, where permitted, the owner are kept.
//! Writers take an exclusive `flock` on the password file, so two edits at once do not lose
//! either change.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::AuthError;
use crate::hashers::PasswordHash;
use crate::password_file::{Line, parse_line};

/// Mode of a password file created from scratch: it contains hashes, so only the owner may
/// read it.
const NEW_FILE_MODE: u32 = 0o600;

/// Change made by [`set_account`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// A line for a new user was appended.
    Created,
    /// The existing line of the user was updated.
    Updated,
}

/// Sets the password hash of `user` in the password file at `path`, and the maildir when
/// `maildir` is given. Creates the file (mode 0600) when it is missing and appends the user
/// when it has no line yet. Every line of `user` is updated; the others are kept byte for
/// byte.
///
/// # Errors
/// [`AuthError::InvalidField`] when the user name or maildir cannot be stored in the
/// `user:hash:maildir` format, [`AuthError::MaildirRequired`] for a new user without a
/// maildir, and [`AuthError::ReadPasswordFile`] or [`AuthError::WritePasswordFile`] when
/// file I/O fails.
pub fn set_account(
    path: &Path,
    user: &str,
    password_hash: &PasswordHash,
    maildir: Option<&str>,
) -> Result<AccountChange, AuthError> {
    validate_field("user name", user)?;
    validate_field("password hash", password_hash.as_str())?;
    if let Some(maildir) = maildir {
        validate_field("maildir", maildir)?;
    }

    let path = resolve_symlink(path);
    let (locked, contents) = lock_and_read(&path)?;
    let (new_contents, change) = edit_contents(&contents, user, password_hash, maildir)?;
    write_atomically(&path, &locked, &new_contents)?;
    Ok(change)
}

/// Returns the text of the file after setting `user`'s line.
fn edit_contents(
    contents: &[u8],
    user: &str,
    password_hash: &PasswordHash,
    maildir: Option<&str>,
) -> Result<(Vec<u8>, AccountChange), AuthError> {
    let mut output = Vec::with_capacity(contents.len() + 128);
    let mut change = None;

    for raw_line in contents.split_inclusive(|&byte| byte == b'\n') {
        let (body, ending) = split_line_ending(raw_line);
        let existing = std::str::from_utf8(body)
            .ok()
            .and_then(|line| match parse_line(line) {
                Line::Account(fields) if fields.user == user => Some(fields.maildir.to_owned()),
                _ => None,
            });
        match existing {
            Some(old_maildir) => {
                let maildir = maildir.unwrap_or(&old_maildir);
                write!(output, "{user}:{}:{maildir}", password_hash.as_str()).expect("Vec write");
                output.extend_from_slice(ending);
                change = Some(AccountChange::Updated);
            }
            None => output.extend_from_slice(raw_line),
        }
    }

    if let Some(change) = change {
        return Ok((output, change));
    }
    let Some(maildir) = maildir else {
        return Err(AuthError::MaildirRequired {
            user: user.to_owned(),
        });
    };
    if !output.is_empty() && !output.ends_with(b"\n") {
        output.push(b'\n');
    }
    writeln!(output, "{user}:{}:{maildir}", password_hash.as_str()).expect("Vec write");
    Ok((output, AccountChange::Created))
}

fn split_line_ending(raw_line: &[u8]) -> (&[u8], &[u8]) {
    let body_len = raw_line
        .strip_suffix(b"\r\n")
        .or_else(|| raw_line.strip_suffix(b"\n"))
        .map_or(raw_line.len(), <[u8]>::len);
    raw_line.split_at(body_len)
}

/// Rejects values that would break the line format or read back differently after the
/// reader trims fields.
fn validate_field(field: &'static str, value: &str) -> Result<(), AuthError> {
    let is_comment = field == "user name" && value.starts_with('#');
    let is_invalid = value.is_empty()
        || value.trim() != value
        || value.contains([':', '\n', '\r'])
        || is_comment;
    if !is_invalid {
        Ok(())
    } else {
        Err(AuthError::InvalidField {
            field,
            value: value.to_owned(),
        })
    }
}

/// Follows a symlinked password file, so the rename replaces the target and keeps the link.
fn resolve_symlink(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Opens (creating it if needed) and locks the password file, then reads it. Another writer
/// may have renamed a new file into place while this one waited for the lock, so the lock is
/// taken again until the locked file is the one at `path`.
fn lock_and_read(path: &Path) -> Result<(File, Vec<u8>), AuthError> {
    let read_error = |source| AuthError::ReadPasswordFile {
        path: path.to_owned(),
        source,
    };
    loop {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(NEW_FILE_MODE)
            .open(path)
            .map_err(read_error)?;
        file.lock().map_err(read_error)?;

        let locked = file.metadata().map_err(read_error)?;
        let current = std::fs::metadata(path).map_err(read_error)?;
        if (locked.dev(), locked.ino()) != (current.dev(), current.ino()) {
            continue;
        }

        let mut contents = Vec::new();
        file.read_to_end(&mut contents).map_err(read_error)?;
        return Ok((file, contents));
    }
}

fn write_atomically(path: &Path, old: &File, contents: &[u8]) -> Result<(), AuthError> {
    let write_error = |source| AuthError::WritePasswordFile {
        path: path.to_owned(),
        source,
    };
    let folder = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let old_metadata = old.metadata().map_err(write_error)?;

    let mut temporary = tempfile::Builder::new()
        .prefix(".pwfile-")
        .tempfile_in(folder)
        .map_err(write_error)?;
    copy_owner(temporary.as_file(), &old_metadata).map_err(write_error)?;
    temporary
        .as_file()
        .set_permissions(Permissions::from_mode(old_metadata.mode() & 0o7777))
        .map_err(write_error)?;
    temporary.write_all(contents).map_err(write_error)?;
    temporary.as_file().sync_all().map_err(write_error)?;
    temporary
        .persist(path)
        .map_err(|error| write_error(error.error))?;

    // The rename is durable only once the folder itself is synced.
    File::open(folder)
        .and_then(|dir| dir.sync_all())
        .map_err(write_error)
}

/// Gives the new file the old one's owner and group. Only root may change them, so an
/// unchanged owner is not an error and nothing is attempted.
fn copy_owner(new: &File, old: &std::fs::Metadata) -> io::Result<()> {
    let new_metadata = new.metadata()?;
    if (new_metadata.uid(), new_metadata.gid()) == (old.uid(), old.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(new, Some(old.uid()), Some(old.gid()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(text: &str) -> PasswordHash {
        PasswordHash::new(text)
    }

    fn edit(contents: &str, user: &str, maildir: Option<&str>) -> (String, AccountChange) {
        let (output, change) =
            edit_contents(contents.as_bytes(), user, &hash("new$hash"), maildir).unwrap();
        (String::from_utf8(output).unwrap(), change)
    }

    #[test]
    fn update_keeps_other_lines_and_relative_maildir() {
        let contents =
            "# accounts\nalice:old$hash:Mail/alice\n\nbob : other : /abs/bob\r\nbroken\n";

        let (output, change) = edit(contents, "bob", None);

        assert_eq!(change, AccountChange::Updated);
        assert_eq!(
            output,
            "# accounts\nalice:old$hash:Mail/alice\n\nbob:new$hash:/abs/bob\r\nbroken\n"
        );
    }

    #[test]
    fn update_replaces_maildir_when_given() {
        let (output, _) = edit("alice:old:Mail/alice\n", "alice", Some("other"));

        assert_eq!(output, "alice:new$hash:other\n");
    }

    #[test]
    fn create_appends_line() {
        let (output, change) = edit("alice:old:Mail/alice", "carol", Some("Mail/carol"));

        assert_eq!(change, AccountChange::Created);
        assert_eq!(output, "alice:old:Mail/alice\ncarol:new$hash:Mail/carol\n");
    }

    #[test]
    fn create_without_maildir_is_error() {
        let result = edit_contents(b"alice:old:Mail\n", "carol", &hash("h"), None);

        assert!(matches!(result, Err(AuthError::MaildirRequired { user }) if user == "carol"));
    }

    #[test]
    fn comment_mentioning_user_is_kept() {
        let (output, change) = edit("#alice:old:Mail\n", "alice", Some("Mail"));

        assert_eq!(change, AccountChange::Created);
        assert_eq!(output, "#alice:old:Mail\nalice:new$hash:Mail\n");
    }

    #[test]
    fn invalid_fields_are_rejected() {
        for (field, value) in [
            ("user name", ""),
            ("user name", "a:b"),
            ("user name", " alice"),
            ("user name", "#alice"),
            ("user name", "al\nice"),
            ("maildir", "Mail:x"),
            ("maildir", "Mail\r"),
        ] {
            let result = validate_field(field, value);

            assert!(
                matches!(result, Err(AuthError::InvalidField { .. })),
                "{field} {value:?}: {result:?}"
            );
        }
        assert!(validate_field("maildir", "Mail/alice").is_ok());
    }

    #[test]
    fn set_account_keeps_file_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pwfile");

        set_account(&path, "alice", &hash("h1"), Some("Mail")).unwrap();
        let created_mode = std::fs::metadata(&path).unwrap().mode() & 0o777;
        std::fs::set_permissions(&path, Permissions::from_mode(0o640)).unwrap();
        set_account(&path, "alice", &hash("h2"), None).unwrap();

        assert_eq!(created_mode, NEW_FILE_MODE);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o640);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "alice:h2:Mail\n");
    }

    #[test]
    fn set_account_through_symlink_keeps_link() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real");
        let link = dir.path().join("link");
        std::fs::write(&target, "alice:h1:Mail\n").unwrap();
        std::os::unix::fs::symlink(&target, &link).unwrap();

        set_account(&link, "alice", &hash("h2"), None).unwrap();

        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "alice:h2:Mail\n");
    }

    #[test]
    fn concurrent_edits_keep_every_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pwfile");
        std::fs::write(&path, "# header\n").unwrap();

        std::thread::scope(|scope| {
            for writer in 0..4 {
                let path = &path;
                scope.spawn(move || {
                    for index in 0..10 {
                        let user = format!("user{writer}x{index}");
                        set_account(path, &user, &hash("h"), Some("Mail")).unwrap();
                    }
                });
            }
        });

        let contents = std::fs::read_to_string(&path).unwrap();
        assert_eq!(contents.lines().count(), 41, "{contents}");
        assert!(contents.starts_with("# header\n"));
    }
}
