//! Removing, copying and moving messages.

use std::io;
use std::path::Path;

use crate::append::{TEMP_PREFIX, rename_no_replace};
use crate::error::{IoContext, MhError, Result};
use crate::folder::Folder;
use crate::identity::FileIdentity;
use crate::lock::{LockMode, LockedFile};
use crate::number::{MessageNumber, NumberSet};
use crate::profile::{BACKUP_PREFIX, RemoveMode};
use crate::sequences::{SequenceChange, SequenceName, SequencesFile};

/// A message as the caller last saw it: its number and the identity of its file then.
/// Operations check the identity again before touching the file, because nmh may have
/// renumbered the folder or put another message under the number since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KnownMessage {
    /// The message number.
    pub number: MessageNumber,
    /// The file's identity when the caller saw it.
    pub identity: FileIdentity,
}

/// Outcome of [`Folder::remove`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Messages removed.
    pub removed: Vec<KnownMessage>,
    /// Messages that were already gone, or whose number now names another file or changed
    /// content (nmh renumbered, replaced or rewrote them); they were left alone.
    pub missing: Vec<KnownMessage>,
}

/// A message to copy, with the sequences it gets in the target folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyRequest {
    /// The message in the source folder.
    pub message: KnownMessage,
    /// Sequences to add the copy to.
    pub sequences: Vec<SequenceName>,
}

/// One copied message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Copied {
    /// The message in the source folder.
    pub source: KnownMessage,
    /// Its number in the target folder.
    pub number: MessageNumber,
    /// The identity of the target file. A hard link shares the source's inode.
    pub identity: FileIdentity,
}

/// Outcome of [`Folder::copy_to`] and [`Folder::move_to`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transferred {
    /// Messages copied (moved, for [`Folder::move_to`]), in request order.
    pub copied: Vec<Copied>,
    /// Source messages that were gone or replaced; nothing was copied for them.
    pub missing: Vec<KnownMessage>,
}

impl Folder {
    /// Removes messages under the `.mh_sequences` write lock and drops their numbers from
    /// every public sequence (but `cur`, as `rmm` does) in the same locked update. A message
    /// is removed only when its number still names a file with the identity the caller knew
    /// (inode numbers alone are reused at once). Removal is
    /// `unlink(N)` or `rename(N, ",N")` as the mail root's [`RemoveMode`] selects. Numbers are
    /// never changed.
    pub fn remove(&self, messages: &[KnownMessage]) -> Result<Removed> {
        let mut outcome = Removed::default();
        let locked = self.lock_if_enabled(LockMode::Write)?;
        for &message in messages {
            if self.remove_one(message)? {
                outcome.removed.push(message);
            } else {
                outcome.missing.push(message);
            }
        }
        if let Some(locked) = locked {
            let gone: NumberSet = outcome.removed.iter().map(|m| m.number).collect();
            drop_from_sequences(&locked, &gone)?;
        }
        Ok(outcome)
    }

    /// Copies messages into `target` by hard link (by copying the bytes when the folders are
    /// on different file systems), each under the next free number there, then adds the
    /// requested sequences in one short lock on the target. No lock on this folder is held
    /// meanwhile; a message whose number no longer names the file the caller knew is reported
    /// missing.
    pub fn copy_to(&self, target: &Folder, requests: &[CopyRequest]) -> Result<Transferred> {
        let mut outcome = Transferred::default();
        target.wait_for_lock_holders()?;
        // The target is listed for the first link only; later ones start one above the
        // number the previous link took.
        let mut next = None;
        for request in requests {
            match self.copy_one(target, request.message, &mut next)? {
                Some(copied) => outcome.copied.push(copied),
                None => outcome.missing.push(request.message),
            }
        }
        let changes = target_changes(requests, &outcome.copied);
        if !changes.is_empty() {
            target.update_sequences(&changes)?;
        }
        Ok(outcome)
    }

    /// Moves messages into `target`, each under the next free number there, then adds the
    /// requested sequences there in one short lock. Each file is renamed with
    /// `RENAME_NOREPLACE`, so at every instant the message is in exactly one of the folders:
    /// a crash never leaves it in both or in neither. The renames, and the removal of the
    /// moved numbers from this folder's sequences, happen under this folder's write lock,
    /// which `folder -pack`, `sortm`, `rmm` and `refile` also take. The two folders are never
    /// locked at the same time. With [`RemoveMode::Backup`], a `,N` link to each moved file
    /// is kept here, as `rmm` keeps one.
    ///
    /// On another file system, or one that cannot rename without replacing, a message is
    /// copied and then removed as [`Folder::copy_to`] and [`Folder::remove`] do, and a crash
    /// between the two leaves it in both folders.
    // NOTE: unlike an APPEND, a moved message is not watched afterwards. A `sortm` that renames
    // over its new number in the target at that moment destroys it unless a `,N` backup was
    // kept.
    pub fn move_to(&self, target: &Folder, requests: &[CopyRequest]) -> Result<Transferred> {
        let mut outcome = Transferred::default();
        target.wait_for_lock_holders()?;
        let locked = self.lock_if_enabled(LockMode::Write)?;
        let mut next = None;
        let mut result = Ok(());
        for request in requests {
            match self.move_one(target, request.message, &mut next) {
                Ok(Some(moved)) => outcome.copied.push(moved),
                Ok(None) => outcome.missing.push(request.message),
                Err(err) => {
                    // The files moved so far stay moved, so their numbers still leave this
                    // folder's sequences below.
                    result = Err(err);
                    break;
                }
            }
        }
        if let Some(locked) = locked {
            let gone: NumberSet = outcome.copied.iter().map(|m| m.source.number).collect();
            drop_from_sequences(&locked, &gone)?;
        }
        result?;
        let changes = target_changes(requests, &outcome.copied);
        if !changes.is_empty() {
            target.update_sequences(&changes)?;
        }
        Ok(outcome)
    }

    /// Moves one message; the caller holds this folder's write lock.
    fn move_one(
        &self,
        target: &Folder,
        message: KnownMessage,
        next: &mut Option<u32>,
    ) -> Result<Option<Copied>> {
        let path = self.message_path(message.number);
        if !self.still_names(message)? {
            return Ok(None);
        }
        if self.config.remove_mode == RemoveMode::Backup {
            self.link_backup(message.number, &path)?;
        }
        let number = match target.rename_from(&path, next) {
            Ok(number) => number,
            Err(err) if err.io_kind() == Some(io::ErrorKind::NotFound) => return Ok(None),
            Err(err)
                if matches!(
                    err.io_kind(),
                    Some(io::ErrorKind::CrossesDevices | io::ErrorKind::Unsupported)
                ) =>
            {
                let copied = self.copy_one(target, message, next)?;
                if copied.is_some() {
                    self.remove_one(message)?;
                }
                return Ok(copied);
            }
            Err(err) => return Err(err),
        };
        let moved = target.identity(number)?;
        if !moved.is_same_file(&message.identity) {
            // A writer that ignores the lock put another file under the number between the
            // check and the rename, so put that file back. If its number was taken meanwhile,
            // it stays in the target, where the next reconciliation indexes it.
            let _ = rename_no_replace(&target.message_path(number), &path);
            return Ok(None);
        }
        Ok(Some(Copied {
            source: message,
            number,
            identity: moved,
        }))
    }

    /// Makes `,N` a hard link to message `number`'s file, replacing an older backup as
    /// `rmm` does.
    fn link_backup(&self, number: MessageNumber, path: &Path) -> Result<()> {
        let backup = self.path().join(format!("{BACKUP_PREFIX}{number}"));
        let temp = self.temp_path(TEMP_PREFIX);
        std::fs::hard_link(path, &temp).context("link", &temp)?;
        let renamed = std::fs::rename(&temp, &backup).context("rename", &temp);
        if renamed.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        renamed
    }

    /// True when the message's number still names the file the caller knew.
    fn still_names(&self, message: KnownMessage) -> Result<bool> {
        let path = self.message_path(message.number);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) => Ok(FileIdentity::from_metadata(&meta).is_same_message(&message.identity)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(err) => Err(MhError::io("stat", &path, err)),
        }
    }

    fn remove_one(&self, message: KnownMessage) -> Result<bool> {
        let path = self.message_path(message.number);
        if !self.still_names(message)? {
            return Ok(false);
        }
        let result = match self.config.remove_mode {
            RemoveMode::Unlink => std::fs::remove_file(&path).context("unlink", &path),
            RemoveMode::Backup => self.rename_to_backup(message.number, &path),
        };
        match result {
            Err(err) if err.io_kind() == Some(io::ErrorKind::NotFound) => Ok(false),
            Err(err) => Err(err),
            Ok(()) => Ok(true),
        }
    }

    fn rename_to_backup(&self, number: MessageNumber, path: &Path) -> Result<()> {
        let backup = self.path().join(format!("{BACKUP_PREFIX}{number}"));
        // rmm replaces an older backup the same way; rename() would also replace it.
        std::fs::rename(path, &backup).context("rename", path)
    }

    fn copy_one(
        &self,
        target: &Folder,
        message: KnownMessage,
        next: &mut Option<u32>,
    ) -> Result<Option<Copied>> {
        let identity = match self.identity(message.number) {
            Ok(identity) => identity,
            Err(MhError::MessageNotFound { .. }) => return Ok(None),
            Err(err) => return Err(err),
        };
        if !identity.is_same_message(&message.identity) {
            return Ok(None);
        }
        let source_path = self.message_path(message.number);
        let number = match target.link_from(&source_path, next) {
            Ok(number) => number,
            Err(err) if err.io_kind() == Some(io::ErrorKind::CrossesDevices) => {
                let file = match self.open_message(message.number) {
                    Ok((file, opened)) if opened.is_same_message(&identity) => file,
                    Ok(_) | Err(MhError::MessageNotFound { .. }) => return Ok(None),
                    Err(err) => return Err(err),
                };
                target.copy_bytes_in(file, next)?
            }
            Err(err) if err.io_kind() == Some(io::ErrorKind::NotFound) => return Ok(None),
            Err(err) => return Err(err),
        };
        let linked = target.identity(number)?;
        if linked.ino != identity.ino && linked.dev == identity.dev {
            // The name was renamed to another file between our look and the link: undo.
            let _ = std::fs::remove_file(target.message_path(number));
            return Ok(None);
        }
        Ok(Some(Copied {
            source: message,
            number,
            identity: linked,
        }))
    }

    /// Copies an open message into a temporary file here and links it to the next number,
    /// starting at `*next` as [`Folder::link_from`] does.
    fn copy_bytes_in(
        &self,
        mut source: std::fs::File,
        next: &mut Option<u32>,
    ) -> Result<MessageNumber> {
        let temp = self.temp_path(TEMP_PREFIX);
        let result = self.create_message_file(&temp).and_then(|mut file| {
            io::copy(&mut source, &mut file).context("copy", &temp)?;
            file.sync_all().context("fsync", &temp)?;
            self.link_from(&temp, next)
        });
        let _ = std::fs::remove_file(&temp);
        result
    }
}

/// Takes `gone` out of every public sequence but `cur`, in the locked `.mh_sequences`.
fn drop_from_sequences(locked: &LockedFile, gone: &NumberSet) -> Result<()> {
    let before = locked.read_all()?;
    let mut file = SequencesFile::parse(&before);
    file.remove_everywhere(gone, false);
    let after = file.to_bytes();
    if after != before {
        locked.replace_contents(&after)?;
    }
    Ok(())
}

fn target_changes(requests: &[CopyRequest], copied: &[Copied]) -> Vec<SequenceChange> {
    let mut by_name: Vec<(SequenceName, NumberSet)> = Vec::new();
    for copy in copied {
        let Some(request) = requests.iter().find(|r| r.message == copy.source) else {
            continue;
        };
        for name in &request.sequences {
            match by_name.iter_mut().find(|(existing, _)| existing == name) {
                Some((_, numbers)) => numbers.insert(copy.number),
                None => by_name.push((name.clone(), [copy.number].into_iter().collect())),
            }
        }
    }
    by_name
        .into_iter()
        .map(|(name, numbers)| SequenceChange::add(name, numbers))
        .collect()
}
