//! Errors of the listener.

use std::net::SocketAddr;
use std::path::PathBuf;

/// A failure that stops the listener or one of its workers.
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

    /// A worker process cannot be started.
    #[error("failed to start the worker of user {user}: {reason}")]
    WorkerStart { user: String, reason: String },

    /// The control socket to a worker failed.
    #[error("control socket of the worker of user {user} failed: {source}")]
    Control {
        user: String,
        source: asimapd_ipc::IpcError,
    },

    /// Signal handlers cannot be installed.
    #[error("failed to install the handler of {signal}: {source}")]
    Signal {
        signal: &'static str,
        source: std::io::Error,
    },
}
