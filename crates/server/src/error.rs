//! Errors of the listener.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure that stops the listener.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// A file the listener needs cannot be read.
    #[error("failed to read {path}: {source}")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },

    /// The certificate or key file is unusable.
    #[error("invalid TLS file {path}: {reason}")]
    Tls { path: PathBuf, reason: String },

    /// A listening socket cannot be opened.
    #[error("failed to listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },

    /// Signal handlers cannot be installed.
    #[error("failed to install the handler of {signal}: {source}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
}
