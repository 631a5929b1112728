//! Errors of the worker, and the one place where a command's failure becomes a response.

use asimapd_proto::response::{Code, Status, StatusResponse};
use asimapd_proto::{Atom, ErrorKind, ParseError, Tag};
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

/// A command's failure; [`CommandError::to_response`] turns it into the tagged response.
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
    /// A FETCH item could not be computed from the message content.
    #[error(transparent)]
    Mime(#[from] asimapd_mime::MimeError),
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

    /// Maps the error to the response of the command with `tag` (RFC 9051 §7.1, RFC 5530
    /// response codes); untagged when the command's tag is unknown. Internal failures are
    /// logged in full here, and the client gets `NO [SERVERBUG]` with the session id, never
    /// the path or OS error.
    pub(crate) fn to_response(&self, tag: Option<Tag>, session_id: u64) -> StatusResponse {
        let (status, code, text) = match self {
            CommandError::Bad(text) => (Status::Bad, None, text.clone()),
            CommandError::No { code, text } => (Status::No, code.clone(), text.clone()),
            CommandError::Store(error) => store_error_response(error, session_id),
            CommandError::Mime(error) => mime_error_response(error),
            CommandError::Task(_) | CommandError::Io { .. } => server_bug(self, session_id),
        };
        StatusResponse {
            tag,
            status,
            code,
            text,
        }
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
        StoreError::Mh(asimapd_mh::MhError::MessageNotFound { .. }) => (
            Status::No,
            Some(Code::ExpungeIssued),
            "Some of the requested messages no longer exist".to_owned(),
        ),
        StoreError::Mh(asimapd_mh::MhError::LockTimeout { .. }) => {
            tracing::warn!(session = session_id, %error, "mailbox lock timed out");
            (
                Status::No,
                Some(Code::InUse),
                "Mailbox is locked by another process; try again".to_owned(),
            )
        }
        StoreError::Mh(asimapd_mh::MhError::PublicSequencesDisabled { .. }) => (
            Status::No,
            Some(Code::Cannot),
            "Flags cannot be changed: the MH profile disables public sequences".to_owned(),
        ),
        StoreError::Io { source, .. } | StoreError::Mh(asimapd_mh::MhError::Io { source, .. })
            if io_error_code(source).is_some() =>
        {
            tracing::warn!(session = session_id, %error, "mail store operation failed");
            let (code, text) = io_error_code(source).expect("checked by the guard");
            (Status::No, Some(code), text.to_owned())
        }
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

/// Maps the OS errors a client can act on to RFC 5530 codes: a full disk or quota is
/// OVERQUOTA, a permission error is NOPERM. Other OS errors are server faults.
fn io_error_code(error: &std::io::Error) -> Option<(Code, &'static str)> {
    match error.raw_os_error() {
        Some(libc::ENOSPC | libc::EDQUOT) => {
            Some((Code::OverQuota, "Mail storage is full or over quota"))
        }
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => Some((
            Code::NoPerm,
            "Permission denied by the file system of the mail store",
        )),
        _ => None,
    }
}

/// Maps a failure to compute a FETCH item: BINARY of a part whose transfer encoding RFC
/// 2045 does not define is `NO [UNKNOWN-CTE]` (RFC 3516).
fn mime_error_response(error: &asimapd_mime::MimeError) -> (Status, Option<Code>, String) {
    let code = match error {
        asimapd_mime::MimeError::UnknownTransferEncoding { .. } => Atom::new("UNKNOWN-CTE")
            .ok()
            .map(|name| Code::Other(name, None)),
        _ => None,
    };
    (Status::No, code, capitalize(&error.to_string()))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
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
    let text = match code {
        Some(_) => error.kind.to_string(),
        None => format!("Invalid command: {}", error.kind),
    };
    match &error.tag {
        Some(tag) => StatusResponse::tagged(tag.clone(), status, code, text),
        None => StatusResponse::untagged(Status::Bad, None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn response(error: CommandError) -> String {
        let mut out = Vec::new();
        error
            .to_response(Some(Tag::new("a1").unwrap()), 7)
            .encode(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn store_errors_map_to_rfc5530_codes() {
        let cases = [
            (
                StoreError::MailboxNotFound { name: "x".into() },
                "a1 NO [NONEXISTENT]",
            ),
            (
                StoreError::MailboxExists { name: "x".into() },
                "a1 NO [ALREADYEXISTS]",
            ),
            (
                StoreError::MessageNotFound {
                    mailbox: "x".into(),
                    uid: 4,
                },
                "a1 NO [EXPUNGEISSUED]",
            ),
            (
                StoreError::UidsExhausted {
                    name: "x".into(),
                    max: 9,
                },
                "a1 NO [LIMIT]",
            ),
            (
                StoreError::Mh(asimapd_mh::MhError::InvalidFolderName {
                    name: "..".into(),
                    reason: "escapes",
                }),
                "a1 NO [CANNOT]",
            ),
            (
                StoreError::Corrupt {
                    path: PathBuf::from("/x"),
                    reason: "bad".into(),
                },
                "a1 NO [CORRUPTION]",
            ),
            (
                StoreError::Mh(asimapd_mh::MhError::LockTimeout {
                    path: PathBuf::from("/x/.mh_sequences"),
                    waited: std::time::Duration::from_secs(2),
                }),
                "a1 NO [INUSE]",
            ),
            (
                StoreError::Mh(asimapd_mh::MhError::FolderFull {
                    folder: PathBuf::from("/x"),
                    max: 9,
                }),
                "a1 NO [LIMIT]",
            ),
            (
                StoreError::Mh(asimapd_mh::MhError::FolderNotFound {
                    path: PathBuf::from("/x"),
                }),
                "a1 NO [NONEXISTENT]",
            ),
            (
                StoreError::Io {
                    op: "write",
                    path: PathBuf::from("/x/1"),
                    source: std::io::Error::from_raw_os_error(libc::ENOSPC),
                },
                "a1 NO [OVERQUOTA]",
            ),
            (
                StoreError::Mh(asimapd_mh::MhError::Io {
                    op: "link",
                    path: PathBuf::from("/x/2"),
                    source: std::io::Error::from_raw_os_error(libc::EACCES),
                }),
                "a1 NO [NOPERM]",
            ),
            (
                StoreError::Io {
                    op: "read",
                    path: PathBuf::from("/x/3"),
                    source: std::io::Error::from_raw_os_error(libc::EIO),
                },
                "a1 NO [SERVERBUG]",
            ),
        ];
        for (error, expected) in cases {
            let line = response(CommandError::Store(error));
            assert!(line.starts_with(expected), "{line}");
        }
    }

    #[test]
    fn internal_errors_hide_details() {
        let error = CommandError::Io {
            op: "reading",
            source: std::io::Error::other("/secret/path failed"),
        };
        let line = response(error);
        assert_eq!(
            line,
            "a1 NO [SERVERBUG] Internal server error (session 7)\r\n"
        );
    }

    #[test]
    fn unknown_transfer_encoding_is_unknown_cte() {
        let error = asimapd_mime::MimeError::UnknownTransferEncoding {
            encoding: "x-uuencode".into(),
        };
        let line = response(CommandError::Mime(error));
        assert!(line.starts_with("a1 NO [UNKNOWN-CTE] "), "{line}");
    }

    #[test]
    fn io_errors_never_show_paths() {
        let error = StoreError::Io {
            op: "write",
            path: PathBuf::from("/secret/inbox/1"),
            source: std::io::Error::from_raw_os_error(libc::ENOSPC),
        };
        let line = response(CommandError::Store(error));
        assert!(!line.contains("/secret"), "{line}");
    }

    #[test]
    fn syntax_errors_are_bad() {
        let line = response(CommandError::bad("Invalid"));
        assert_eq!(line, "a1 BAD Invalid\r\n");
    }

    #[test]
    fn oversized_literal_is_no_limit() {
        let error =
            ErrorKind::LiteralTooLarge { len: 10, max: 5 }.with_tag(Some(Tag::new("a2").unwrap()));
        let mut out = Vec::new();
        parse_error_response(&error).encode(&mut out);
        let line = String::from_utf8(out).unwrap();
        assert!(line.starts_with("a2 NO [LIMIT] "), "{line}");
        assert!(!line.contains("Invalid command"), "{line}");
    }

    #[test]
    fn untagged_parse_error_is_untagged_bad() {
        let error = ErrorKind::BareLineFeed.with_tag(None);
        let mut out = Vec::new();
        parse_error_response(&error).encode(&mut out);
        assert!(String::from_utf8(out).unwrap().starts_with("* BAD"));
    }
}
