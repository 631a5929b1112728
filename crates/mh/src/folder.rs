//! One folder: listing, change probes, snapshots and sequence updates.

use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirEntryExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::error::{IoContext, MhError, Result};
use crate::identity::{FileIdentity, Stamp};
use crate::lock::{LockMode, LockedFile};
use crate::name::{FolderName, is_folder_component};
use crate::number::MessageNumber;
use crate::number::NumberSet;
use crate::profile::parse_fields;
use crate::root::Config;
use crate::sequences::{SequenceChange, SequencesFile};

/// A `.mh_sequences` that is empty and was modified less than this long ago may be in the
/// middle of a rewrite. In nmh 1.8, `folder +F N` and the context writer truncate the file
/// before they take the lock, then retry the lock once a second.
pub const MID_REWRITE_WINDOW: Duration = Duration::from_secs(2);
/// How long to wait before reading such a file again: one nmh lock retry plus a margin.
pub const MID_REWRITE_WAIT: Duration = Duration::from_millis(1100);

/// A message in a listing: its number and the inode number the directory entry gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageRef {
    /// The message number (the file name).
    pub number: MessageNumber,
    /// The inode number from the directory entry; no `stat` was needed.
    pub ino: u64,
}

/// Messages and sub-folders of a folder, from one read of the directory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Messages in ascending number order: regular files with canonical numeric names.
    pub messages: Vec<MessageRef>,
    /// Names (last component) of sub-folders, sorted.
    pub subfolders: Vec<String>,
}

impl Listing {
    /// Returns the highest message number, if any message exists.
    pub fn highest(&self) -> Option<MessageNumber> {
        self.messages.last().map(|message| message.number)
    }

    /// Returns the message listed under `number`.
    pub fn get(&self, number: MessageNumber) -> Option<MessageRef> {
        self.messages
            .binary_search_by_key(&number, |message| message.number)
            .ok()
            .map(|index| self.messages[index])
    }
}

/// A cheap change probe: stamps of the folder directory and of `.mh_sequences`. Two equal
/// probes mean no message was added, removed or renamed and no sequence was rewritten, except
/// for in-place rewrites of message files (`inc` still writing, `anno`), which change no stamp
/// here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The folder directory.
    pub dir: Stamp,
    /// `.mh_sequences`, or `None` when it does not exist.
    pub sequences: Option<Stamp>,
}

/// Public sequences from `.mh_sequences` and private ones from the context file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sequences {
    /// The folder's `.mh_sequences`.
    pub public: SequencesFile,
    /// Private sequences of this folder from the context file, in file order.
    pub private: Vec<(String, NumberSet)>,
}

impl Sequences {
    /// Returns a public sequence, or else a private one, by name.
    pub fn get(&self, name: &str) -> Option<&NumberSet> {
        self.public.get(name).or_else(|| {
            self.private
                .iter()
                .rev()
                .find(|(private, _)| private == name)
                .map(|(_, numbers)| numbers)
        })
    }
}

/// A listing and the sequences, taken together under the `.mh_sequences` read lock, so that
/// no nmh command that renumbers the folder was half way through.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The probe taken under the lock; compare later probes with it.
    pub probe: Probe,
    /// The messages and sub-folders.
    pub listing: Listing,
    /// The sequences.
    pub sequences: Sequences,
}

/// A handle on one folder. Holds no open file.
#[derive(Clone, Debug)]
pub struct Folder {
    pub(crate) config: Arc<Config>,
    name: FolderName,
    path: PathBuf,
}

impl Folder {
    pub(crate) fn new(config: Arc<Config>, name: FolderName) -> Self {
        let path = name.path_in(&config.root);
        Folder { config, name, path }
    }

    /// Returns the folder's name.
    pub fn name(&self) -> &FolderName {
        &self.name
    }

    /// Returns the folder's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Returns true when the folder directory exists.
    pub fn exists(&self) -> bool {
        self.path.is_dir()
    }

    /// Returns the path of message `number`.
    pub fn message_path(&self, number: MessageNumber) -> PathBuf {
        self.path.join(number.to_string())
    }

    /// Returns the `.mh_sequences` path, or `None` when public sequences are turned off.
    pub fn sequences_path(&self) -> Option<PathBuf> {
        self.config
            .sequences_file
            .as_ref()
            .map(|name| self.path.join(name))
    }

    /// Lists messages and sub-folders with one pass over the directory. File types and inode
    /// numbers come from the directory entries; a file is `stat`ed only when the file system
    /// does not report its type there.
    pub fn list(&self) -> Result<Listing> {
        let mut listing = Listing::default();
        let entries = std::fs::read_dir(&self.path).map_err(|err| self.open_error(err))?;
        for entry in entries {
            let entry = entry.context("readdir", &self.path)?;
            let file_name = entry.file_name();
            let bytes = file_name.as_bytes();
            if let Some(number) = MessageNumber::parse_file_name(bytes) {
                if entry.file_type().is_ok_and(|kind| kind.is_file()) {
                    listing.messages.push(MessageRef {
                        number,
                        ino: entry.ino(),
                    });
                }
            } else if let Some(name) = file_name.to_str().filter(|n| is_folder_component(n))
                && entry.file_type().is_ok_and(|kind| kind.is_dir())
            {
                listing.subfolders.push(name.to_owned());
            }
        }
        listing.messages.sort_unstable();
        listing.subfolders.sort_unstable();
        Ok(listing)
    }

    /// Stats the folder directory and `.mh_sequences`: two `stat` calls.
    pub fn probe(&self) -> Result<Probe> {
        let dir = std::fs::metadata(&self.path).map_err(|err| self.open_error(err))?;
        let sequences = match self.sequences_path() {
            Some(path) => stat_if_exists(&path)?.map(|meta| Stamp::from_metadata(&meta)),
            None => None,
        };
        Ok(Probe {
            dir: Stamp::from_metadata(&dir),
            sequences,
        })
    }

    /// Takes a consistent snapshot: under the `.mh_sequences` read lock, probes, lists the
    /// directory and reads the sequences. An empty `.mh_sequences` modified within
    /// [`MID_REWRITE_WINDOW`] is read again after [`MID_REWRITE_WAIT`].
    pub fn snapshot(&self) -> Result<Snapshot> {
        let mut waited = false;
        loop {
            let lock = self.lock_if_enabled(LockMode::Read)?;
            let public = match &lock {
                Some(locked) => locked.read_all()?,
                None => Vec::new(),
            };
            if !waited
                && lock
                    .as_ref()
                    .is_some_and(|l| may_be_mid_rewrite(l, &public))
            {
                drop(lock);
                std::thread::sleep(MID_REWRITE_WAIT);
                waited = true;
                continue;
            }
            let probe = self.probe()?;
            let listing = self.list()?;
            drop(lock);
            let sequences = Sequences {
                public: SequencesFile::parse(&public),
                private: self.private_sequences()?,
            };
            return Ok(Snapshot {
                probe,
                listing,
                sequences,
            });
        }
    }

    /// Reads the sequences under the read lock (without listing the directory).
    pub fn sequences(&self) -> Result<Sequences> {
        let public = match self.lock_if_enabled(LockMode::Read)? {
            Some(locked) => SequencesFile::parse(&locked.read_all()?),
            None => SequencesFile::default(),
        };
        Ok(Sequences {
            public,
            private: self.private_sequences()?,
        })
    }

    /// Changes public sequences in one locked read-modify-write, in place, and returns the
    /// file as written. Only the named sequences change; every other byte is kept, and
    /// numbers of messages that no longer exist are left for nmh to drop. When no sequence is
    /// left the file is emptied, never unlinked. Applying changes that are already in effect
    /// writes nothing, so callers may re-issue recent changes to repair them after an nmh
    /// command wrote back a stale view.
    pub fn update_sequences(&self, changes: &[SequenceChange]) -> Result<SequencesFile> {
        self.check_writable_names(changes)?;
        self.modify_sequences(|file| file.apply(changes))
    }

    /// Opens message `number` and returns the file with its identity, taken with `fstat` on
    /// the open descriptor (so it describes exactly the bytes that will be read).
    pub fn open_message(&self, number: MessageNumber) -> Result<(File, FileIdentity)> {
        let path = self.message_path(number);
        let file = File::open(&path).map_err(|err| self.message_error(number, &path, err))?;
        let meta = file.metadata().context("fstat", &path)?;
        Ok((file, FileIdentity::from_metadata(&meta)))
    }

    /// Stats message `number`.
    pub fn identity(&self, number: MessageNumber) -> Result<FileIdentity> {
        let path = self.message_path(number);
        let meta = std::fs::symlink_metadata(&path)
            .map_err(|err| self.message_error(number, &path, err))?;
        if !meta.is_file() {
            return Err(MhError::MessageNotFound {
                folder: self.path.clone(),
                number,
            });
        }
        Ok(FileIdentity::from_metadata(&meta))
    }

    /// Runs `edit` on the parsed `.mh_sequences` under the write lock and writes the result
    /// back in place when it changed.
    pub(crate) fn modify_sequences(
        &self,
        edit: impl Fn(&mut SequencesFile),
    ) -> Result<SequencesFile> {
        self.modify_sequences_noting(edit).map(|(file, _, _)| file)
    }

    /// Modifies `.mh_sequences` as [`Folder::modify_sequences`] does, and also returns the
    /// stamps the file had under the write lock before this call wrote it (`None`: the lock
    /// created it) and after.
    pub(crate) fn modify_sequences_noting(
        &self,
        edit: impl Fn(&mut SequencesFile),
    ) -> Result<(SequencesFile, Option<Stamp>, Stamp)> {
        let mut waited = false;
        loop {
            let locked = self.lock(LockMode::Write)?.ok_or_else(|| self.disabled())?;
            let stamp_before = if locked.created {
                None
            } else {
                Some(locked.stamp()?)
            };
            let before = locked.read_all()?;
            if !waited && !locked.created && may_be_mid_rewrite(&locked, &before) {
                drop(locked);
                std::thread::sleep(MID_REWRITE_WAIT);
                waited = true;
                continue;
            }
            let mut file = SequencesFile::parse(&before);
            edit(&mut file);
            let after = file.to_bytes();
            if after != before {
                locked.replace_contents(&after)?;
            }
            // nmh's non-transactional writers (`folder +F N`, a missing file) truncate the
            // file without the lock and write what they read earlier once they get it. A
            // size that is not what this update left means one of them is waiting: let it
            // write, then apply the change again on top of its content.
            if !waited && locked.len()? != after.len() as u64 {
                drop(locked);
                std::thread::sleep(MID_REWRITE_WAIT);
                waited = true;
                continue;
            }
            let stamp_after = locked.stamp()?;
            return Ok((file, stamp_before, stamp_after));
        }
    }

    /// Takes the `.mh_sequences` lock; `None` for a read lock on a missing file. A write
    /// lock creates the file. Public sequences turned off give `PublicSequencesDisabled`.
    pub(crate) fn lock(&self, mode: LockMode) -> Result<Option<LockedFile>> {
        let path = self.sequences_path().ok_or_else(|| self.disabled())?;
        if !self.path.is_dir() {
            return Err(MhError::FolderNotFound {
                path: self.path.clone(),
            });
        }
        LockedFile::lock(&path, mode, &self.config.lock, self.config.msg_protect)
    }

    /// Takes the lock as [`Folder::lock`] does, or returns `None` when public sequences are
    /// turned off.
    pub(crate) fn lock_if_enabled(&self, mode: LockMode) -> Result<Option<LockedFile>> {
        match self.sequences_path() {
            Some(_) => self.lock(mode),
            None => Ok(None),
        }
    }

    /// Waits until no process holds the `.mh_sequences` lock, by taking the write lock and
    /// releasing it at once, so that `sortm`, `folder -pack`, `rmm` or `refile` are not half
    /// way through their renames. Does nothing when the file does not exist.
    pub(crate) fn wait_for_lock_holders(&self) -> Result<()> {
        let Some(path) = self.sequences_path() else {
            return Ok(());
        };
        if path.exists() {
            drop(self.lock(LockMode::Write)?);
        }
        Ok(())
    }

    fn private_sequences(&self) -> Result<Vec<(String, NumberSet)>> {
        let Some(context) = &self.config.context_file else {
            return Ok(Vec::new());
        };
        let bytes = match std::fs::read(context) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(err) => return Err(MhError::io("read", context, err)),
        };
        let suffix = format!("-{}", self.path.display());
        let private = parse_fields(&bytes)
            .into_iter()
            .filter_map(|(key, value)| {
                key.get(..4).filter(|p| p.eq_ignore_ascii_case("atr-"))?;
                let name = key[4..].strip_suffix(&suffix)?;
                Some((name.to_owned(), NumberSet::parse(value.as_bytes())))
            })
            .collect();
        Ok(private)
    }

    pub(crate) fn check_writable_names(&self, changes: &[SequenceChange]) -> Result<()> {
        if let Some(prefix) = &self.config.negation {
            for change in changes {
                if change.name.as_str().starts_with(prefix.as_str()) {
                    return Err(MhError::InvalidSequenceName {
                        name: change.name.to_string(),
                        reason: "starts with the profile's Sequence-Negation prefix",
                    });
                }
            }
        }
        Ok(())
    }

    fn disabled(&self) -> MhError {
        MhError::PublicSequencesDisabled {
            folder: self.path.clone(),
        }
    }

    fn open_error(&self, err: io::Error) -> MhError {
        match err.kind() {
            io::ErrorKind::NotFound => MhError::FolderNotFound {
                path: self.path.clone(),
            },
            _ => MhError::io("opendir", &self.path, err),
        }
    }

    pub(crate) fn message_error(
        &self,
        number: MessageNumber,
        path: &Path,
        err: io::Error,
    ) -> MhError {
        match err.kind() {
            io::ErrorKind::NotFound => MhError::MessageNotFound {
                folder: self.path.clone(),
                number,
            },
            _ => MhError::io("open", path, err),
        }
    }
}

fn stat_if_exists(path: &Path) -> Result<Option<std::fs::Metadata>> {
    match std::fs::metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(MhError::io("stat", path, err)),
    }
}

fn may_be_mid_rewrite(locked: &LockedFile, content: &[u8]) -> bool {
    content.is_empty()
        && !locked.was_emptied_here()
        && locked
            .modified()
            .ok()
            .and_then(|modified| SystemTime::now().duration_since(modified).ok())
            .is_some_and(|age| age < MID_REWRITE_WINDOW)
}
