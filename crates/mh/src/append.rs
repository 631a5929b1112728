//! Appending messages, and detecting and repairing what concurrent nmh commands do to them.
//!
//! A new message is written to a dot temporary file in the folder (nmh ignores dot files)
//! with LF line ends and fsynced. The crate then waits until no process holds the
//! `.mh_sequences` lock, `link()`s the file to one above the highest number **without** holding the lock
//! (holding it would make every nmh command that has already listed the folder write back a
//! stale view), retries with the next number on `EEXIST`, and adds the sequences in a second,
//! short lock.
//!
//! Nothing stops `inc` from overwriting the new file: it picks its numbers from a listing
//! taken before it starts and opens them with `O_TRUNC`, with no folder lock. `sortm` renames
//! into one above its own highest number. So a private copy is kept, and the caller runs
//! [`Folder::check_append`] for [`APPEND_WATCH_PERIOD`] after the append; it links the copy in
//! again under a new number when the message was destroyed.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirEntryExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{IoContext, MhError, Result};
use crate::folder::{Folder, Sequences};
use crate::identity::{FileIdentity, Stamp};
use crate::lock::is_locked_by_other;
use crate::number::{MAX_MESSAGE_NUMBER, MessageNumber, NumberSet};
use crate::profile::BACKUP_PREFIX;
use crate::sequences::{DEFAULT_UNSEEN_SEQUENCE, SequenceChange, SequenceName};

/// How long after an append the caller should keep calling [`Folder::check_append`]. nmh
/// retries a lock for 60 s, so a command that listed the folder before the append may act on
/// that stale listing up to a minute later. Five seconds are added as a margin.
pub const APPEND_WATCH_PERIOD: Duration = Duration::from_secs(65);
/// Prefix of the temporary file that is linked to the new message number.
pub const TEMP_PREFIX: &str = ".asimapd-tmp.";
/// Prefix of the private copy kept while an append is watched.
pub const COPY_PREFIX: &str = ".asimapd-copy.";
/// Suffix of the watch link: a second name of an appended message's file, next to its
/// private copy, so the file's link count shows whether it lives on in another folder.
const WATCH_LINK_SUFFIX: &str = ".link";
/// How often to look again while waiting for `inc` to release the maildrop.
const INC_POLL: Duration = Duration::from_millis(20);

/// A message appended to a folder, with what is needed to watch it.
#[derive(Debug)]
pub struct Appended {
    /// The message's current number.
    pub number: MessageNumber,
    /// The message file's identity (taken before linking, so a later rewrite shows).
    pub identity: FileIdentity,
    /// The sequences the message was added to.
    pub sequences: Vec<SequenceName>,
    /// The private copy, removed by [`Folder::finish_append`].
    copy: PathBuf,
}

/// The write an append made to `.mh_sequences`. With it, a caller that has an earlier
/// [`crate::Probe`] can tell whether anyone else wrote the file in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SequencesWrite {
    /// The message went into no sequence, and the file was left alone.
    Untouched,
    /// The file was rewritten under its write lock.
    Rewritten {
        /// The stamp when the lock was taken, or `None` when the lock created the file.
        before: Option<Stamp>,
        /// The stamp after the write, still under the lock.
        after: Stamp,
    },
}

/// Outcome of [`Folder::check_append`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendCheck {
    /// The message is where it was left, unchanged, with its sequences.
    Intact,
    /// A renumbering command (`sortm`, `folder -pack`) moved the message; its sequences
    /// moved with it.
    Renumbered {
        /// The number before.
        from: MessageNumber,
        /// The number now.
        to: MessageNumber,
    },
    /// The message lost every sequence it was given (an nmh command with a stale listing
    /// rewrote `.mh_sequences`); they were added again.
    SequencesRestored,
    /// The file was overwritten in place (`inc`) or replaced (`sortm` renaming over it). The
    /// private copy was appended again under a new number, and `lost` now belongs to the
    /// other writer.
    Redelivered {
        /// The number the destroyed message had.
        lost: MessageNumber,
    },
    /// The message was removed by someone (its file is now a `,N` backup) or moved to
    /// another folder (`refile -unlink`); nothing was done.
    Removed,
}

impl Appended {
    /// Rebuilds the record of a watched append, for a caller that stored it (for example
    /// across a restart); `private_copy` is the path [`Appended::private_copy`] returned.
    pub fn from_parts(
        number: MessageNumber,
        identity: FileIdentity,
        sequences: Vec<SequenceName>,
        private_copy: PathBuf,
    ) -> Self {
        Appended {
            number,
            identity,
            sequences,
            copy: private_copy,
        }
    }

    /// Returns the private copy kept while the append is watched.
    pub fn private_copy(&self) -> &Path {
        &self.copy
    }

    /// Returns the path of the second hard link to the message's file, kept while the append
    /// is watched. Its link count shows whether the file still has a name anywhere else.
    fn watch_link(&self) -> PathBuf {
        let mut path = self.copy.clone().into_os_string();
        path.push(WATCH_LINK_SUFFIX);
        PathBuf::from(path)
    }
}

impl Folder {
    /// Appends a message read from `message`, converting CRLF line ends to LF, and adds it to
    /// `sequences`. Returns the number it got and its identity; the caller then watches it
    /// with [`Folder::check_append`] and ends with [`Folder::finish_append`].
    pub fn append(&self, message: &mut dyn Read, sequences: &[SequenceName]) -> Result<Appended> {
        self.append_from(message, sequences, None)
            .map(|(appended, _)| appended)
    }

    /// Appends as [`Folder::append`] does, but tries numbers from `next` up instead of
    /// listing the folder for its highest number, and also reports what the append did to
    /// `.mh_sequences`. A caller that listed the folder and saw its directory stamp unchanged
    /// since passes one above the highest number of that listing. A number that another
    /// writer took meanwhile is skipped (`EEXIST`), never replaced.
    pub fn append_from(
        &self,
        message: &mut dyn Read,
        sequences: &[SequenceName],
        next: Option<MessageNumber>,
    ) -> Result<(Appended, SequencesWrite)> {
        let copy = self.write_copy(message)?;
        let mut next = next.map(MessageNumber::get);
        match self.link_and_mark(&copy, sequences, &mut next, Vec::new()) {
            Ok((number, identity, written)) => {
                let appended = Appended {
                    number,
                    identity,
                    sequences: sequences.to_vec(),
                    copy,
                };
                self.link_for_watch(&appended);
                Ok((appended, written))
            }
            Err(err) => {
                let _ = std::fs::remove_file(&copy);
                Err(err)
            }
        }
    }

    /// Checks an appended message and repairs it: links the private copy in again when the
    /// file was overwritten or replaced, and adds its sequences again when all of them lost
    /// it. Updates `appended` to the message's current number and identity.
    pub fn check_append(&self, appended: &mut Appended) -> Result<AppendCheck> {
        let Some((number, is_backup)) = self.find_inode(appended.identity.ino)? else {
            if has_other_names(appended) {
                // `refile -unlink` moved the file to another folder.
                return Ok(AppendCheck::Removed);
            }
            return self.redeliver(appended);
        };
        if is_backup {
            return Ok(AppendCheck::Removed);
        }
        let now = match self.identity(number) {
            Ok(identity) => identity,
            Err(MhError::MessageNotFound { .. }) => return self.redeliver(appended),
            Err(err) => return Err(err),
        };
        if !now.is_same_message(&appended.identity) {
            return self.redeliver(appended);
        }
        let previous = appended.number;
        appended.number = number;
        if previous != number {
            return Ok(AppendCheck::Renumbered {
                from: previous,
                to: number,
            });
        }
        self.restore_sequences(appended)
    }

    /// Runs [`Folder::check_append`] on several appends of this folder and returns their
    /// outcomes in order. The directory is listed once and the sequences are read at most
    /// once for all of them, instead of once per append. An append that does not look intact
    /// in that shared view is checked again on its own, with a fresh listing, so a view made
    /// stale by a concurrent nmh command never leads to a repair by itself.
    pub fn check_appends<'a>(
        &self,
        appends: impl IntoIterator<Item = &'a mut Appended>,
    ) -> Result<Vec<AppendCheck>> {
        let inodes = self.message_inodes()?;
        let mut sequences = None;
        let mut checks = Vec::new();
        for appended in appends {
            let check = if self.looks_intact(&inodes, &mut sequences, appended)? {
                AppendCheck::Intact
            } else {
                // The check on its own may rewrite `.mh_sequences`, so read them again
                // for the appends after this one.
                sequences = None;
                self.check_append(appended)?
            };
            checks.push(check);
        }
        Ok(checks)
    }

    /// Ends the watch on an appended message: removes the private copy.
    pub fn finish_append(&self, appended: Appended) -> Result<()> {
        let _ = std::fs::remove_file(appended.watch_link());
        match std::fs::remove_file(&appended.copy) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => {
                Err(MhError::io("unlink", &appended.copy, err))
            }
            _ => Ok(()),
        }
    }

    /// Returns true when `inc` is delivering: another process holds a lock on the profile's
    /// maildrop. Always false when the profile names no `MailDrop`.
    pub fn is_inc_running(&self) -> Result<bool> {
        match &self.config.maildrop {
            Some(maildrop) => is_locked_by_other(maildrop),
            None => Ok(false),
        }
    }

    /// Links a finished file (LF line ends, already synced) into the folder under the next
    /// free number and returns the number. `source` keeps its name. The first number tried
    /// is `*next` when the caller set it (an earlier link of the same batch, or a listing
    /// that the folder's stamp shows is current), else one above the folder's highest
    /// number. Sets `*next` to one above the number used. `EEXIST` moves on to the next
    /// number, so a file that another writer added meanwhile is never replaced.
    // NOTE: when another writer adds files above `*next` and removes some of them during a
    // batch, a later link can take a freed number below the folder's highest one, where
    // `refile` would take one above the highest. The index orders messages by UID, so IMAP
    // order is unaffected.
    pub(crate) fn link_from(&self, source: &Path, next: &mut Option<u32>) -> Result<MessageNumber> {
        self.place_at_next(next, "link", |target| std::fs::hard_link(source, target))
    }

    /// Renames `source` to the next free number here, as [`Folder::link_from`] links it: the
    /// rename never replaces an existing file (`RENAME_NOREPLACE`), and `source` is gone once
    /// it succeeds, in one atomic step. Fails with [`io::ErrorKind::CrossesDevices`] when
    /// `source` is on another file system, and with [`io::ErrorKind::Unsupported`] when the
    /// kernel or file system cannot rename without replacing.
    pub(crate) fn rename_from(
        &self,
        source: &Path,
        next: &mut Option<u32>,
    ) -> Result<MessageNumber> {
        self.place_at_next(next, "rename", |target| rename_no_replace(source, target))
    }

    /// Calls `place` with the path of each candidate number, from `*next` or one above the
    /// folder's highest, until it succeeds. `EEXIST` moves on to the next number.
    fn place_at_next(
        &self,
        next: &mut Option<u32>,
        operation: &'static str,
        mut place: impl FnMut(&Path) -> io::Result<()>,
    ) -> Result<MessageNumber> {
        let mut candidate = match *next {
            Some(carried) => carried,
            None => self.list()?.highest().map_or(0, MessageNumber::get) + 1,
        };
        loop {
            let number = MessageNumber::new(candidate).ok_or_else(|| MhError::FolderFull {
                folder: self.path().to_owned(),
                max: MAX_MESSAGE_NUMBER,
            })?;
            let target = self.message_path(number);
            match place(&target) {
                Ok(()) => {
                    *next = Some(candidate.saturating_add(1));
                    return Ok(number);
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => candidate += 1,
                Err(err) => return Err(MhError::io(operation, target, err)),
            }
        }
    }

    /// Returns a unique dot-file path in this folder with `prefix`.
    pub(crate) fn temp_path(&self, prefix: &str) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.subsec_nanos());
        self.path()
            .join(format!("{prefix}{}.{unique}.{nanos}", std::process::id()))
    }

    /// Writes the private copy: LF line ends, the profile's `Msg-Protect` mode. It is not
    /// synced: only this process reads it, during the watch, and the first pass after a
    /// restart removes it. The message file made from it is synced.
    fn write_copy(&self, message: &mut dyn Read) -> Result<PathBuf> {
        if !self.exists() {
            return Err(MhError::FolderNotFound {
                path: self.path().to_owned(),
            });
        }
        let copy = self.temp_path(COPY_PREFIX);
        let result = self.write_lf_file(&copy, message);
        if result.is_err() {
            let _ = std::fs::remove_file(&copy);
        }
        result.map(|()| copy)
    }

    fn write_lf_file(&self, path: &Path, message: &mut dyn Read) -> Result<()> {
        let mut file = self.create_message_file(path)?;
        let mut converter = CrlfToLf::default();
        let mut buffer = vec![0u8; 64 * 1024];
        let mut output = Vec::with_capacity(buffer.len());
        loop {
            let count = match message.read(&mut buffer) {
                Ok(0) => break,
                Ok(count) => count,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(MhError::io("read message", path, err)),
            };
            output.clear();
            converter.convert(&buffer[..count], &mut output);
            file.write_all(&output).context("write", path)?;
        }
        output.clear();
        converter.finish(&mut output);
        file.write_all(&output).context("write", path)
    }

    /// Creates a new file with exactly the profile's `Msg-Protect` mode. The mode is set
    /// again after creation because the process umask would otherwise clear bits of it, which
    /// nmh avoids by setting its own umask.
    pub(crate) fn create_message_file(&self, path: &Path) -> Result<File> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(self.config.msg_protect)
            .open(path)
            .context("open", path)?;
        let mode = std::fs::Permissions::from_mode(self.config.msg_protect);
        file.set_permissions(mode).context("fchmod", path)?;
        Ok(file)
    }

    /// Removes this crate's temporary files and private copies older than `min_age`, which a
    /// process that ended during an append or its watch leaves behind. Pass at least
    /// [`APPEND_WATCH_PERIOD`] so that copies still watched by a running process stay.
    /// Returns how many files were removed.
    pub fn remove_stale_temp_files(&self, min_age: Duration) -> Result<usize> {
        let mut removed = 0;
        let entries = std::fs::read_dir(self.path()).context("opendir", self.path())?;
        for entry in entries {
            let entry = entry.context("readdir", self.path())?;
            let name = entry.file_name();
            let ours = name.as_bytes().starts_with(TEMP_PREFIX.as_bytes())
                || name.as_bytes().starts_with(COPY_PREFIX.as_bytes());
            let old_enough = entry
                .metadata()
                .and_then(|meta| meta.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age >= min_age);
            if ours && old_enough && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Copies the private copy to a temporary file, links it to a new number, and adds the
    /// sequences. The message file is a separate inode from the private copy, so whatever
    /// destroys the message leaves the copy intact.
    /// `next` is the first number to try, as in [`Folder::link_from`]. `extra_changes` are
    /// made in the same write of `.mh_sequences`.
    fn link_and_mark(
        &self,
        copy: &Path,
        sequences: &[SequenceName],
        next: &mut Option<u32>,
        extra_changes: Vec<SequenceChange>,
    ) -> Result<(MessageNumber, FileIdentity, SequencesWrite)> {
        let temp = self.temp_path(TEMP_PREFIX);
        let linked = self.copy_file(copy, &temp).and_then(|identity| {
            self.wait_for_inc()?;
            self.wait_for_lock_holders()?;
            self.link_from(&temp, next).map(|number| (number, identity))
        });
        let _ = std::fs::remove_file(&temp);
        let (number, identity) = linked?;
        if sequences.is_empty() && extra_changes.is_empty() {
            return Ok((number, identity, SequencesWrite::Untouched));
        }
        let numbers: NumberSet = [number].into_iter().collect();
        let mut changes: Vec<SequenceChange> = sequences
            .iter()
            .map(|name| SequenceChange::add(name.clone(), numbers.clone()))
            .collect();
        changes.extend(extra_changes);
        self.check_writable_names(&changes)?;
        let (_, before, after) = self.modify_sequences_noting(|file| file.apply(&changes))?;
        Ok((
            number,
            identity,
            SequencesWrite::Rewritten { before, after },
        ))
    }

    fn copy_file(&self, from: &Path, to: &Path) -> Result<FileIdentity> {
        let mut source = File::open(from).context("open", from)?;
        let mut target = self.create_message_file(to)?;
        io::copy(&mut source, &mut target).context("copy", to)?;
        target.sync_all().context("fsync", to)?;
        let meta = target.metadata().context("fstat", to)?;
        Ok(FileIdentity::from_metadata(&meta))
    }

    /// Waits (up to the lock timeout) while `inc` delivers into this folder, the profile's
    /// inbox; other folders do not wait.
    fn wait_for_inc(&self) -> Result<()> {
        if self.name().as_str() != self.config.inbox {
            return Ok(());
        }
        let deadline = Instant::now() + self.config.lock.timeout;
        while self.is_inc_running()? && Instant::now() < deadline {
            std::thread::sleep(INC_POLL);
        }
        Ok(())
    }

    /// Finds the inode among the messages and `,N` backups; returns its number and whether
    /// it is a backup.
    fn find_inode(&self, ino: u64) -> Result<Option<(MessageNumber, bool)>> {
        let entries = std::fs::read_dir(self.path()).context("opendir", self.path())?;
        for entry in entries {
            let entry = entry.context("readdir", self.path())?;
            if entry.ino() != ino {
                continue;
            }
            if let Some(found) = message_or_backup(entry.file_name().as_bytes()) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Lists the directory once: the inode of every message and `,N` backup, mapped to what
    /// `find_inode` would return for it (the first name in directory order).
    fn message_inodes(&self) -> Result<HashMap<u64, (MessageNumber, bool)>> {
        let mut inodes = HashMap::new();
        let entries = std::fs::read_dir(self.path()).context("opendir", self.path())?;
        for entry in entries {
            let entry = entry.context("readdir", self.path())?;
            if let Some(found) = message_or_backup(entry.file_name().as_bytes()) {
                inodes.entry(entry.ino()).or_insert(found);
            }
        }
        Ok(inodes)
    }

    /// True when, in the shared view of one [`Folder::check_appends`] pass, the append is
    /// under its number, unchanged, and in one of its sequences. `sequences` is read on first
    /// use.
    fn looks_intact(
        &self,
        inodes: &HashMap<u64, (MessageNumber, bool)>,
        sequences: &mut Option<Sequences>,
        appended: &Appended,
    ) -> Result<bool> {
        if inodes.get(&appended.identity.ino) != Some(&(appended.number, false)) {
            return Ok(false);
        }
        match self.identity(appended.number) {
            Ok(now) if now.is_same_message(&appended.identity) => {}
            Ok(_) | Err(MhError::MessageNotFound { .. }) => return Ok(false),
            Err(err) => return Err(err),
        }
        if appended.sequences.is_empty() {
            return Ok(true);
        }
        let sequences = match sequences {
            Some(read) => read,
            None => sequences.insert(self.sequences()?),
        };
        Ok(is_in_any_sequence(sequences, appended))
    }

    /// Links the private copy in under a new number with the append's sequences, and takes
    /// the `lost` number out of those sequences: the message now under it is another
    /// writer's, and the append's flags must not stick to it. The profile's Unseen-Sequence
    /// is the exception, because `inc` adds its own deliveries to it. Without one,
    /// [`DEFAULT_UNSEEN_SEQUENCE`] stays, the name that IMAP servers on MH folders read as not
    /// `\Seen`: an `inc` run with another profile may have filled it, and a new delivery
    /// shown unseen misleads no one.
    fn redeliver(&self, appended: &mut Appended) -> Result<AppendCheck> {
        let lost = appended.number;
        let lost_numbers: NumberSet = [lost].into_iter().collect();
        let is_unseen = |name: &SequenceName| match self.config.unseen.is_empty() {
            true => name.as_str() == DEFAULT_UNSEEN_SEQUENCE,
            false => self.config.unseen.contains(name),
        };
        let release: Vec<SequenceChange> = appended
            .sequences
            .iter()
            .filter(|name| !is_unseen(name))
            .map(|name| SequenceChange::remove(name.clone(), lost_numbers.clone()))
            .collect();
        let (number, identity, _) =
            self.link_and_mark(&appended.copy, &appended.sequences, &mut None, release)?;
        appended.number = number;
        appended.identity = identity;
        self.link_for_watch(appended);
        Ok(AppendCheck::Redelivered { lost })
    }

    /// Makes the watch link of `appended` name its message file. Without it (a failed link, or
    /// a file replaced meanwhile), [`Folder::check_append`] treats a file it cannot find in
    /// this folder as destroyed.
    fn link_for_watch(&self, appended: &Appended) {
        let link = appended.watch_link();
        let _ = std::fs::remove_file(&link);
        if std::fs::hard_link(self.message_path(appended.number), &link).is_err() {
            return;
        }
        let same = std::fs::symlink_metadata(&link)
            .is_ok_and(|meta| FileIdentity::from_metadata(&meta).is_same_file(&appended.identity));
        if !same {
            let _ = std::fs::remove_file(&link);
        }
    }

    fn restore_sequences(&self, appended: &Appended) -> Result<AppendCheck> {
        if appended.sequences.is_empty() {
            return Ok(AppendCheck::Intact);
        }
        if is_in_any_sequence(&self.sequences()?, appended) {
            return Ok(AppendCheck::Intact);
        }
        // NOTE: a user who removed the message from all of these sequences on purpose within
        // the watch period (for example `show`, which takes it out of unseen) finds the change
        // undone, because nmh's stale-listing rewrites look exactly the same on disk.
        let numbers: NumberSet = [appended.number].into_iter().collect();
        let changes: Vec<SequenceChange> = appended
            .sequences
            .iter()
            .map(|name| SequenceChange::add(name.clone(), numbers.clone()))
            .collect();
        self.update_sequences(&changes)?;
        Ok(AppendCheck::SequencesRestored)
    }
}

/// True when the appended message's file, gone from its folder, still has a name other than
/// its watch link: another folder took it with `refile -unlink` or `mv`. False when the file
/// was unlinked (`rmm -unlink`) or replaced (`sortm` renaming over it), or has no watch link.
fn has_other_names(appended: &Appended) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(appended.watch_link()).is_ok_and(|meta| {
        FileIdentity::from_metadata(&meta).is_same_file(&appended.identity) && meta.nlink() > 1
    })
}

/// Parses a directory entry's name as a message (`N`) or a backup (`,N`); the flag is true for
/// a backup.
fn message_or_backup(name: &[u8]) -> Option<(MessageNumber, bool)> {
    if let Some(number) = MessageNumber::parse_file_name(name) {
        return Some((number, false));
    }
    let backup = name.strip_prefix(BACKUP_PREFIX.as_bytes())?;
    MessageNumber::parse_file_name(backup).map(|number| (number, true))
}

/// True when the appended message is in at least one of the public sequences it was given.
fn is_in_any_sequence(sequences: &Sequences, appended: &Appended) -> bool {
    appended.sequences.iter().any(|name| {
        sequences
            .public
            .get(name.as_str())
            .is_some_and(|numbers| numbers.contains(appended.number))
    })
}

/// Streaming conversion of CRLF to LF. A CR at the end of one chunk is held back until the
/// next chunk shows whether an LF follows. A CR not followed by LF is kept.
#[derive(Debug, Default)]
struct CrlfToLf {
    pending_cr: bool,
}

impl CrlfToLf {
    fn convert(&mut self, input: &[u8], output: &mut Vec<u8>) {
        for &byte in input {
            if self.pending_cr {
                self.pending_cr = false;
                if byte != b'\n' {
                    output.push(b'\r');
                }
            }
            if byte == b'\r' {
                self.pending_cr = true;
            } else {
                output.push(byte);
            }
        }
    }

    fn finish(&mut self, output: &mut Vec<u8>) {
        if std::mem::take(&mut self.pending_cr) {
            output.push(b'\r');
        }
    }
}

/// `renameat2(from, to, RENAME_NOREPLACE)`: fails with `EEXIST` instead of replacing `to`.
/// `EINVAL` and `ENOSYS` (a file system or kernel without the flag) come back as
/// [`io::ErrorKind::Unsupported`].
pub(crate) fn rename_no_replace(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = |path: &Path| {
        std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
    };
    let (from, to) = (c_path(from)?, c_path(to)?);
    // SAFETY: both arguments are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL | libc::ENOSYS) => Err(io::Error::new(io::ErrorKind::Unsupported, err)),
        _ => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert_in_chunks(input: &[u8], chunk: usize) -> Vec<u8> {
        let mut converter = CrlfToLf::default();
        let mut output = Vec::new();
        for piece in input.chunks(chunk) {
            converter.convert(piece, &mut output);
        }
        converter.finish(&mut output);
        output
    }

    #[test]
    fn crlf_becomes_lf_at_every_split() {
        let input = b"Subject: a\r\n\r\nline\r\nbare\rcr\r\n\r";
        for chunk in 1..=input.len() {
            assert_eq!(
                convert_in_chunks(input, chunk),
                b"Subject: a\n\nline\nbare\rcr\n\r",
                "chunk size {chunk}"
            );
        }
    }
}
