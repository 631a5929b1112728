//! The mail root: settings taken from the MH profile, and the folder tree.

use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{IoContext, MhError, Result};
use crate::folder::Folder;
use crate::lock::{DEFAULT_LOCK_TIMEOUT, LockPolicy};
use crate::name::{FolderName, is_folder_component};
use crate::profile::{
    DEFAULT_FOLDER_PROTECT, DEFAULT_MSG_PROTECT, DEFAULT_SEQUENCES_FILE, DataLocking, Profile,
    RemoveMode,
};
use crate::sequences::SequenceName;

/// Settings shared by every folder of a mail root.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) root: PathBuf,
    /// `None` when the profile turns public sequences off.
    pub(crate) sequences_file: Option<String>,
    pub(crate) unseen: Vec<SequenceName>,
    pub(crate) negation: Option<String>,
    pub(crate) lock: LockPolicy,
    pub(crate) msg_protect: u32,
    pub(crate) folder_protect: u32,
    pub(crate) remove_mode: RemoveMode,
    pub(crate) context_file: Option<PathBuf>,
    pub(crate) maildrop: Option<PathBuf>,
    pub(crate) inbox: String,
}

/// A tree of MH folders and the settings for working on it.
///
/// Cheap to clone, and keeps no file open.
#[derive(Clone, Debug)]
pub struct MailRoot {
    config: Arc<Config>,
}

impl MailRoot {
    /// Opens the mail root `root` with the user's MH profile, when one applies.
    ///
    /// `file_locking` is `ENABLE_MH_FILE_LOCKING`: when true the nmh-compatible locks
    /// (fcntl, plus dot or flock as `Datalocking` selects) are taken; when false only an `flock`
    /// that serialises this crate's own writers. Without a profile the nmh defaults apply,
    /// with no Unseen-Sequence and removal by `unlink`; with one, removal keeps a `,N` backup
    /// as `rmm` does unless the profile's `rmm` entry has `-unlink`.
    pub fn open(root: &Path, profile: Option<&Profile>, file_locking: bool) -> Result<Self> {
        let root = std::path::absolute(root).context("absolute", root)?;
        if !root.is_dir() {
            return Err(MhError::FolderNotFound { path: root });
        }
        let config = match profile {
            Some(profile) => config_from_profile(root, profile, file_locking)?,
            None => default_config(root, file_locking),
        };
        Ok(MailRoot {
            config: Arc::new(config),
        })
    }

    /// Sets what removing a message does.
    pub fn with_remove_mode(mut self, mode: RemoveMode) -> Self {
        Arc::make_mut(&mut self.config).remove_mode = mode;
        self
    }

    /// Sets how long to wait for a lock (default [`DEFAULT_LOCK_TIMEOUT`]).
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.config).lock.timeout = timeout;
        self
    }

    /// Sets the context file private sequences are read from (for `$MHCONTEXT`); `None`
    /// stops reading private sequences.
    pub fn with_context_file(mut self, path: Option<PathBuf>) -> Self {
        Arc::make_mut(&mut self.config).context_file = path;
        self
    }

    /// Returns the mail root directory (absolute).
    pub fn path(&self) -> &Path {
        &self.config.root
    }

    /// Returns the profile's Unseen-Sequence names; empty when the profile sets none.
    pub fn unseen_sequences(&self) -> &[SequenceName] {
        &self.config.unseen
    }

    /// Returns what removing a message does.
    pub fn remove_mode(&self) -> RemoveMode {
        self.config.remove_mode
    }

    /// Validates a sequence name for writing: nmh's rules, and not starting with the
    /// profile's `Sequence-Negation` prefix (nmh would read it as a negation).
    pub fn sequence_name(&self, name: &str) -> Result<SequenceName> {
        let valid = SequenceName::new(name)?;
        match &self.config.negation {
            Some(prefix) if name.starts_with(prefix.as_str()) => {
                Err(MhError::InvalidSequenceName {
                    name: name.to_owned(),
                    reason: "starts with the profile's Sequence-Negation prefix",
                })
            }
            _ => Ok(valid),
        }
    }

    /// Returns a handle on folder `name`; the folder need not exist yet.
    pub fn folder(&self, name: &str) -> Result<Folder> {
        let name = FolderName::new(name)?;
        Ok(Folder::new(Arc::clone(&self.config), name))
    }

    /// Returns the names of every folder in the tree, sub-folders included, sorted. Symbolic
    /// links are not followed.
    pub fn list_folders(&self) -> Result<Vec<FolderName>> {
        let mut found = Vec::new();
        collect_folders(&self.config.root, None, &mut found)?;
        found.sort();
        Ok(found)
    }

    /// Creates folder `name` with the profile's `Folder-Protect` mode, creating missing
    /// parent folders as well.
    pub fn create_folder(&self, name: &str) -> Result<Folder> {
        let folder = self.folder(name)?;
        let path = folder.path();
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(MhError::FolderExists {
                path: path.to_owned(),
            });
        }
        if let Some(parent) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(self.config.folder_protect)
                .create(parent)
                .context("mkdir", parent)?;
        }
        match std::fs::DirBuilder::new()
            .mode(self.config.folder_protect)
            .create(path)
        {
            Ok(()) => {
                // The umask may have cleared bits of Folder-Protect; nmh sets the mode as is.
                let mode = std::fs::Permissions::from_mode(self.config.folder_protect);
                std::fs::set_permissions(path, mode).context("chmod", path)?;
                Ok(folder)
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Err(MhError::FolderExists {
                path: path.to_owned(),
            }),
            Err(err) => Err(MhError::io("mkdir", path, err)),
        }
    }

    /// Deletes folder `name` with everything in it: messages, `,N` backups, dot files and
    /// sub-folders (nmh's `rmf` also removes dot files).
    pub fn delete_folder(&self, name: &str) -> Result<()> {
        let folder = self.folder(name)?;
        let path = folder.path();
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => {
                std::fs::remove_dir_all(path).context("remove_dir_all", path)
            }
            _ => Err(MhError::FolderNotFound {
                path: path.to_owned(),
            }),
        }
    }

    /// Renames folder `from` (with its sub-folders) to `to`, creating `to`'s missing parents.
    /// Private sequences in the context file keep the old path: this crate never writes it.
    pub fn rename_folder(&self, from: &str, to: &str) -> Result<Folder> {
        let source = self.folder(from)?;
        let target = self.folder(to)?;
        if !source.path().is_dir() {
            return Err(MhError::FolderNotFound {
                path: source.path().to_owned(),
            });
        }
        if target.path().starts_with(source.path()) {
            return Err(MhError::InvalidFolderName {
                name: to.to_owned(),
                reason: "a folder cannot be moved inside itself",
            });
        }
        if std::fs::symlink_metadata(target.path()).is_ok() {
            return Err(MhError::FolderExists {
                path: target.path().to_owned(),
            });
        }
        if let Some(parent) = target.path().parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(self.config.folder_protect)
                .create(parent)
                .context("mkdir", parent)?;
        }
        std::fs::rename(source.path(), target.path()).context("rename", source.path())?;
        Ok(target)
    }
}

fn config_from_profile(root: PathBuf, profile: &Profile, file_locking: bool) -> Result<Config> {
    let context_root = profile.mail_path().unwrap_or_else(|| root.clone());
    Ok(Config {
        sequences_file: profile.sequences_file(),
        unseen: profile.unseen_sequences()?,
        negation: profile.sequence_negation().map(str::to_owned),
        lock: LockPolicy {
            file_locking,
            data_locking: profile.data_locking()?,
            timeout: DEFAULT_LOCK_TIMEOUT,
        },
        msg_protect: profile.msg_protect()?,
        folder_protect: profile.folder_protect()?,
        remove_mode: profile.remove_mode(),
        context_file: Some(profile.context_file(&context_root)),
        maildrop: profile.maildrop(),
        inbox: profile.inbox().to_owned(),
        root,
    })
}

fn default_config(root: PathBuf, file_locking: bool) -> Config {
    Config {
        sequences_file: Some(DEFAULT_SEQUENCES_FILE.to_owned()),
        unseen: Vec::new(),
        negation: None,
        lock: LockPolicy {
            file_locking,
            data_locking: DataLocking::Fcntl,
            timeout: DEFAULT_LOCK_TIMEOUT,
        },
        msg_protect: DEFAULT_MSG_PROTECT,
        folder_protect: DEFAULT_FOLDER_PROTECT,
        remove_mode: RemoveMode::Unlink,
        context_file: None,
        maildrop: None,
        inbox: "inbox".to_owned(),
        root,
    }
}

fn collect_folders(
    dir: &Path,
    prefix: Option<&FolderName>,
    found: &mut Vec<FolderName>,
) -> Result<()> {
    for entry in std::fs::read_dir(dir).context("opendir", dir)? {
        let entry = entry.context("readdir", dir)?;
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        let Some(component) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !is_dir || !is_folder_component(&component) {
            continue;
        }
        let name = match prefix {
            Some(parent) => parent.child(&component),
            None => FolderName::new(&component),
        };
        // A name past the length limits is not a folder this crate can address.
        let Ok(name) = name else {
            continue;
        };
        collect_folders(&entry.path(), Some(&name), found)?;
        found.push(name);
    }
    Ok(())
}
