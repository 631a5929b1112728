//! The crate's error type.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::number::MessageNumber;

/// Errors from MH folder operations.
///
/// Every variant that comes from the file system carries the path involved and the OS error,
/// so a caller can log `op(path) failed: error` without extra context.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MhError {
    /// A system call on `path` failed.
    #[error("{op}({path}) failed: {source}")]
    Io {
        /// The operation that failed (`open`, `link`, `rename`, ...).
        op: &'static str,
        /// The file or directory it was applied to.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A folder name that would escape the mail root or that nmh cannot use.
    #[error("invalid folder name {name:?}: {reason}")]
    InvalidFolderName {
        /// The name as given.
        name: String,
        /// The reason for the rejection.
        reason: &'static str,
    },

    /// A sequence name that nmh's `mark` would reject, or that the profile reserves.
    #[error("invalid sequence name {name:?}: {reason}")]
    InvalidSequenceName {
        /// The name as given.
        name: String,
        /// The reason for the rejection.
        reason: &'static str,
    },

    /// The folder directory does not exist.
    #[error("folder not found: {path}")]
    FolderNotFound {
        /// The folder directory.
        path: PathBuf,
    },

    /// A folder (or another file) already exists where a folder was to be created.
    #[error("folder already exists: {path}")]
    FolderExists {
        /// The existing path.
        path: PathBuf,
    },

    /// The message file does not exist (it may have been removed or renumbered by nmh).
    #[error("message {number} not found in {folder}")]
    MessageNotFound {
        /// The folder directory.
        folder: PathBuf,
        /// The message number.
        number: MessageNumber,
    },

    /// The next message number would exceed [`crate::MAX_MESSAGE_NUMBER`]; run
    /// `folder -pack` on the folder to close the gaps.
    #[error("folder {folder} is full: the next message number would exceed {max}")]
    FolderFull {
        /// The folder directory.
        folder: PathBuf,
        /// The highest number the crate creates.
        max: u32,
    },

    /// A lock could not be taken within the time limit, because another process held it.
    #[error("timed out after {waited:?} waiting for the lock on {path}")]
    LockTimeout {
        /// The locked file.
        path: PathBuf,
        /// How long the crate waited.
        waited: Duration,
    },

    /// The profile turns public sequences off (`mh-sequences:` with an empty value), so every
    /// sequence lives in the context file, which this crate never writes.
    #[error("public sequences are disabled by the MH profile; sequences of {folder} are read-only")]
    PublicSequencesDisabled {
        /// The folder directory.
        folder: PathBuf,
    },

    /// A profile or context file could not be understood.
    #[error("invalid MH profile {path}: {reason}")]
    InvalidProfile {
        /// The profile or context file.
        path: PathBuf,
        /// The problem found.
        reason: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = MhError> = std::result::Result<T, E>;

impl MhError {
    /// Builds an [`MhError::Io`] for `op` applied to `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        MhError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Returns the OS error kind when this is an I/O error.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            MhError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// Adds the operation and path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn context(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn context(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| MhError::io(op, path, source))
    }
}
