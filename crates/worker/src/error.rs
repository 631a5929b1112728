//! Errors of the worker, and the one place where a command's failure becomes a response.

use asimapd_proto::response::{Code, Status, StatusResponse};
use asimapd_proto::{ErrorKind, ParseError, Tag};
use asimapd_store::StoreError;

/// Why [`serve`](crate::serve) stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// The control socket to the listener failed.
    #[error("control socket failed: {0}")]
    Control(#[from] asimapd_ipc::IpcError),
    /// The mail root could not be opened.
    #[error("mail root {path} cannot be opened: {source}")]
    MailRoot {
        /// The configured mail root.
        path: std::path::PathBuf,
        /// The MH error.
        #[source]
        source: asimapd_mh::MhError,
    },
    /// The store (index) could not be opened.
    #[error("mail store cannot be opened: {0}")]
    Store(#[from] StoreError),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Why a command failed. [`CommandError::to_response`] turns it into the tagged response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CommandError {
    /// The command was syntactically invalid or not valid in this state: `BAD`.
    #[error("{0}")]
    Bad(String),
    /// The command was valid but could not be carried out: `NO` with an optional code.
    #[error("{text}")]
    No { code: Option<Code>, text: String },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task panicked or was cancelled.
    #[error("background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// Writing a temporary file or reading a message failed.
    #[error("{op} failed: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl CommandError {
    pub(crate) fn bad(text: impl Into<String>) -> Self {
        CommandError::Bad(text.into())
    }

    pub(crate) fn no(code: Option<Code>, text: impl Into<String>) -> Self {
        CommandError::No {
            code,
            text: text.into(),
        }
    }

    /// Maps the error to the tagged response (RFC 9051 §7.1, RFC 5530 response codes).
    /// Internal failures are logged in full here; the client gets `NO [SERVERBUG]` with the
    /// session id, never the path or OS error.
    pub(crate) fn to_response(&self, tag: Tag, session_id: u64) -> StatusResponse {
        let (status, code, text) = match self {
            CommandError::Bad(text) => (Status::Bad, None, text.clone()),
            CommandError::No { code, text } => (Status::No, code.clone(), text.clone()),
            CommandError::Store(error) => store_error_response(error, session_id),
            CommandError::Task(_) | CommandError::Io { .. } => server_bug(self, session_id),
        };
        StatusResponse::tagged(tag, status, code, text)
    }
}

/// Maps a store failure to `NO` with the RFC 5530 code that describes it.
fn store_error_response(error: &StoreError, session_id: u64) -> (Status, Option<Code>, String) {
    match error {
        StoreError::MailboxNotFound { name } => (
            Status::No,
            Some(Code::NonExistent),
            format!("Mailbox does not exist: {name}"),
        ),
        StoreError::MailboxExists { name } => (
            Status::No,
            Some(Code::AlreadyExists),
            format!("Mailbox already exists: {name}"),
        ),
        StoreError::MessageNotFound { .. } => (
            Status::No,
            Some(Code::ExpungeIssued),
            "Some of the requested messages no longer exist".to_owned(),
        ),
        StoreError::UidsExhausted { name, .. } => (
            Status::No,
            Some(Code::Limit),
            format!("Mailbox {name} has no UIDs left"),
        ),
        StoreError::Mh(asimapd_mh::MhError::InvalidFolderName { name, reason }) => (
            Status::No,
            Some(Code::Cannot),
            format!("Invalid mailbox name {name:?}: {reason}"),
        ),
        StoreError::Mh(asimapd_mh::MhError::FolderNotFound { .. }) => (
            Status::No,
            Some(Code::NonExistent),
            "Mailbox does not exist".to_owned(),
        ),
        StoreError::Mh(asimapd_mh::MhError::FolderExists { .. }) => (
            Status::No,
            Some(Code::AlreadyExists),
            "Mailbox already exists".to_owned(),
        ),
        StoreError::Mh(asimapd_mh::MhError::FolderFull { .. }) => (
            Status::No,
            Some(Code::Limit),
            "Mailbox is full; pack it with folder -pack".to_owned(),
        ),
        StoreError::Corrupt { .. } => {
            tracing::error!(session = session_id, %error, "mail store is corrupt");
            (
                Status::No,
                Some(Code::Corruption),
                format!("Mail store is corrupt (session {session_id})"),
            )
        }
        _ => server_bug(error, session_id),
    }
}

fn server_bug(error: &dyn std::error::Error, session_id: u64) -> (Status, Option<Code>, String) {
    tracing::error!(session = session_id, %error, "command failed");
    (
        Status::No,
        Some(Code::ServerBug),
        format!("Internal server error (session {session_id})"),
    )
}

/// Maps a parse failure to the response: `BAD` for syntax, `NO [LIMIT]` for a literal or
/// command over the size limits. Tagged when the parser read a tag, else untagged.
pub(crate) fn parse_error_response(error: &ParseError) -> StatusResponse {
    let (status, code) = match error.kind {
        ErrorKind::LiteralTooLarge { .. } | ErrorKind::CommandTooLong { .. }
            if error.tag.is_some() =>
        {
            (Status::No, Some(Code::Limit))
        }
        _ => (Status::Bad, None),
    };
    let text = format!("Invalid command: {}", error.kind);
    match &error.tag {
        Some(tag) => StatusResponse::tagged(tag.clone(), status, code, text),
        None => StatusResponse::untagged(Status::Bad, None, text),
    }
}
