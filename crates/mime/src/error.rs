//! The crate's error type.

/// Failures of message analysis that a caller must turn into a protocol response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MimeError {
    /// The requested section names a part that the message does not have, or a suffix
    /// (HEADER, TEXT) on a part that is not a message.
    #[error("section {section} does not exist in this message")]
    SectionNotFound {
        /// The section as written in IMAP syntax, for example `2.3.HEADER`.
        section: String,
    },
    /// The part's Content-Transfer-Encoding is not one that RFC 2045 defines, so BINARY
    /// cannot decode it. The session responds `NO [UNKNOWN-CTE]` (RFC 3516).
    #[error("unknown content transfer encoding {encoding:?}")]
    UnknownTransferEncoding {
        /// The encoding name as written in the part's header.
        encoding: String,
    },
    /// A date-time string does not have the IMAP `date-time` form
    /// `dd-Mon-yyyy hh:mm:ss +zzzz`.
    #[error("invalid IMAP date-time {input:?}: expected dd-Mon-yyyy hh:mm:ss +zzzz")]
    InvalidDateTime {
        /// The rejected input, lossily converted to UTF-8.
        input: String,
    },
}
