//! The error type of the store.

use std::path::PathBuf;

use asimapd_mh::MhError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The index file could not be read or written.
    #[error("index {path} failed: {source}")]
    Sqlite {
        /// The index file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },

    /// A folder operation failed.
    #[error(transparent)]
    Mh(#[from] MhError),

    /// The index was written by a newer asimapd: its schema version is above the highest
    /// this build knows, so it is left untouched.
    #[error("index {path} has schema version {found}, newer than {supported}; upgrade asimapd")]
    SchemaTooNew {
        /// The index file.
        path: PathBuf,
        /// The version found in the file.
        found: i64,
        /// The highest version this build migrates to.
        supported: i64,
    },

    /// The index contains a value that no version of asimapd writes.
    #[error("index {path} is corrupt: {reason}")]
    Corrupt {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// The mailbox is not in the index and no folder of that name exists.
    #[error("mailbox not found: {name}")]
    MailboxNotFound {
        /// The mailbox name.
        name: String,
    },

    /// A mailbox of that name exists already.
    #[error("mailbox already exists: {name}")]
    MailboxExists {
        /// The mailbox name.
        name: String,
    },

    /// The mailbox has handed out every UID up to [`crate::MAX_UID`]; it needs a new
    /// UIDVALIDITY before it can take more messages.
    #[error("mailbox {name} has no UIDs left (UIDNEXT would exceed {max})")]
    UidsExhausted {
        /// The mailbox name.
        name: String,
        /// The highest UID.
        max: u32,
    },

    /// A message given by UID is not (or no longer) in the mailbox.
    #[error("message UID {uid} not found in {mailbox}")]
    MessageNotFound {
        /// The mailbox name.
        mailbox: String,
        /// The UID.
        uid: u32,
    },

    /// An `asimap.db` of the Python server could not be imported.
    #[error("cannot import {path}: {reason}")]
    Import {
        /// The `asimap.db` file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Reading a message file or the message given to APPEND failed.
    #[error("{op}({path}) failed: {source}")]
    Io {
        /// The operation.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
