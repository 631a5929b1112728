//! The error type of the parser and of the validating constructors.

use crate::mutf7::Mutf7Error;
use crate::types::Tag;

/// A command that could not be parsed, with its tag when one was read so the session can
/// reply `tag BAD reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// Tag of the rejected command, absent when the line did not start with a valid tag.
    pub tag: Option<Tag>,
    /// Reason for the rejection.
    pub kind: ErrorKind,
}

/// The reason a command or value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A line exceeded [`Limits::max_line_len`](crate::Limits::max_line_len).
    #[error("line longer than {max} bytes")]
    LineTooLong { max: usize },
    /// A literal exceeded the literal limit for its kind.
    #[error("literal of {len} bytes exceeds the maximum of {max} bytes")]
    LiteralTooLarge { len: u64, max: u64 },
    /// The command exceeded [`Limits::max_command_len`](crate::Limits::max_command_len).
    #[error("command longer than {max} bytes")]
    CommandTooLong { max: usize },
    /// Lists or search keys nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("nesting deeper than {max} levels")]
    TooDeep { max: usize },
    /// A line ended in LF without the CR that IMAP requires.
    #[error("line ends in LF without CR")]
    BareLineFeed,
    /// The input did not match the grammar at byte `offset` of the command.
    #[error("expected {expected} at offset {offset}")]
    Expected {
        expected: &'static str,
        offset: usize,
    },
    /// The command name is not one this parser recognizes.
    #[error("unknown command {name}")]
    UnknownCommand { name: String },
    /// A tag that contains a character outside ASTRING-CHAR or a `+`.
    #[error("invalid tag")]
    InvalidTag,
    /// A number that is zero where the grammar needs a non-zero one, or that overflows.
    #[error("invalid number {text}")]
    InvalidNumber { text: String },
    /// A mailbox name that is not valid modified UTF-7 (or UTF-8 under UTF8=ACCEPT).
    #[error("invalid mailbox name: {0}")]
    InvalidMailboxName(#[from] Mutf7Error),
    /// A date or date-time with an impossible field.
    #[error("invalid date {text}")]
    InvalidDate { text: String },
    /// A flag or keyword that breaks the atom grammar.
    #[error("invalid flag {text}")]
    InvalidFlag { text: String },
    /// Bytes that are not valid UTF-8 where text is required.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// A base64 value that cannot be decoded.
    #[error("invalid base64")]
    InvalidBase64,
    /// A literal streamed to a file where only APPEND message data may be.
    #[error("literal streamed outside APPEND message data")]
    UnexpectedExternalLiteral,
    /// A `~{n}` literal outside APPEND message data.
    #[error("literal8 outside APPEND message data")]
    UnexpectedLiteral8,
    /// The client ended IDLE with something other than DONE.
    #[error("expected DONE to end IDLE")]
    ExpectedDone,
}

impl ErrorKind {
    /// Attaches the command's tag, if any.
    pub fn with_tag(self, tag: Option<Tag>) -> ParseError {
        ParseError { tag, kind: self }
    }
}
