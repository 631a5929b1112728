//! The error type of the test support code.

use std::path::PathBuf;

/// Failures of the test support code: starting programs, files, TLS and the IMAP exchange.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum E2eError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A program could not be started or exited with a failure status.
    #[error("{program} failed: {message}")]
    Program { program: String, message: String },
    /// The server did not report its listening address in time.
    #[error("asimapd did not start: {0}")]
    ServerStart(String),
    /// The connection to the server failed or timed out.
    #[error("IMAP connection failed: {0}")]
    Connection(#[from] std::io::Error),
    /// The TLS setup failed.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    /// The server sent something that is not a valid IMAP response.
    #[error("invalid IMAP response: {0}")]
    Protocol(String),
    /// The server answered a command with NO or BAD.
    #[error("{command} was rejected: {response}")]
    Rejected { command: String, response: String },
    /// Creating the test certificate failed.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
}
