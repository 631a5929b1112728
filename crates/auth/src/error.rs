//! Errors of the accounts crate.

use std::io;
use std::path::PathBuf;

/// Failure of a password file operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The password file could not be read.
    #[error("failed to read password file {path}: {source}")]
    ReadPasswordFile { path: PathBuf, source: io::Error },

    /// The password file could not be written.
    #[error("failed to write password file {path}: {source}")]
    WritePasswordFile { path: PathBuf, source: io::Error },

    /// A new account needs a maildir, and none was given.
    #[error("user {user} does not exist, so a maildir is required to create it")]
    MaildirRequired { user: String },

    /// A field contains a character that the `user:hash:maildir` format cannot store.
    #[error("invalid {field} {value:?}: it must be non-empty and contain no ':' or line break")]
    InvalidField { field: &'static str, value: String },
}

/// Reason a stored hash cannot be checked. A wrong password is not an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The hash starts with `!`: Django's marker for a disabled password.
    #[error("password is unusable (disabled account)")]
    Unusable,

    /// The prefix before the first `$` names no known Django hasher.
    #[error("unknown password hash algorithm {algorithm:?}")]
    UnknownAlgorithm { algorithm: String },

    /// The hash names a known algorithm but its fields cannot be parsed.
    #[error("malformed {algorithm} hash: {reason}")]
    Malformed {
        algorithm: &'static str,
        reason: &'static str,
    },

    /// A cost parameter is far above Django's defaults, so checking it would waste CPU or
    /// memory; the hash is rejected without computing it.
    #[error("{algorithm} {parameter} {value} exceeds the maximum {max}")]
    ParameterTooLarge {
        algorithm: &'static str,
        parameter: &'static str,
        value: u64,
        max: u64,
    },
}
