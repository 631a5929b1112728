//! Message analysis: part offsets, ENVELOPE, BODYSTRUCTURE, sections, sizes and search text.
//!
//! The crate does no I/O. [`Analysis::parse`] reads the raw bytes of one message file once
//! and records the byte offsets of every part's header and body, including parts nested
//! inside `message/rfc822` and `message/global`. Everything a FETCH needs is then served by
//! slicing the same bytes:
//!
//! - files on disk usually end lines with LF, and some with CRLF; the served form converts
//!   every bare LF to CRLF and keeps the rest (see [`served`]);
//! - a leading `From ` line written by delivery tools is not part of the served message;
//! - sizes and line counts in [`Part`] are those of the served form.
//!
//! ENVELOPE and BODYSTRUCTURE follow RFC 9051 §7.5.2 (RFC 3501 §7.4.2), sections follow
//! RFC 9051 §6.4.5, BINARY follows RFC 3516, and the search text decodes RFC 2047 words and
//! transfer encodings and converts charsets to UTF-8.
//!
//! ```
//! use std::io::Read;
//! use asimapd_mime::{Analysis, Section, SectionText};
//!
//! let raw = b"From: a@example.com\nSubject: hi\n\nbody\n";
//! let analysis = Analysis::parse(raw);
//! assert_eq!(analysis.size(), 42); // 38 bytes and a CR for each of 4 lines
//!
//! let text = Section { part: vec![], text: Some(SectionText::Text) };
//! let body = analysis.section(raw, &text).unwrap();
//! let mut served = Vec::new();
//! body.reader(raw, 0, u64::MAX).read_to_end(&mut served).unwrap();
//! assert_eq!(served, b"body\r\n");
//!
//! let mut structure = Vec::new();
//! analysis.write_body_structure(&mut structure, false);
//! assert_eq!(structure, br#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1)"#);
//! ```

pub mod address;
pub mod bodystructure;
pub mod content;
pub mod date;
pub mod decode;
pub mod envelope;
mod error;
pub mod header;
mod parse;
pub mod search;
pub mod section;
pub mod served;

pub use address::Address;
pub use content::{ContentInfo, Disposition, Parameter};
pub use date::{DateTime, format_imap_date_time, parse_imap_date_time, parse_rfc5322_date};
pub use decode::{TransferEncoding, decode_body};
pub use envelope::Envelope;
pub use error::MimeError;
pub use parse::{Analysis, MAX_NESTING_DEPTH, MAX_PARTS, Part, PartId, PartKind};
pub use section::{Section, SectionBody, SectionReader, SectionText};
pub use served::{ByteRange, ServedReader, ServedSize};
