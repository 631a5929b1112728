//! The response encoder (RFC 9051 §7): status responses with response codes, untagged
//! data, FETCH responses that can be written in pieces, and continuation requests.
//!
//! Every `encode` method appends the complete response, CRLF included, to a `Vec<u8>`.

mod code;
mod data;
pub(crate) mod fetch;
mod parse;

use crate::mailbox::MailboxName;
use crate::string::{write_astring, write_utf8_string};
use crate::types::Tag;

pub use code::Code;
pub use data::{Data, ListItem, MailboxListing, NamespaceEntry, StatusValue, ThreadNode};
pub use fetch::{BodyKey, FetchValue, FetchWriter, encode_fetch};
pub use parse::{Response, parse_response};

/// The condition of a status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    No,
    Bad,
    /// `PREAUTH`, only in the greeting.
    PreAuth,
    /// `BYE`, only untagged.
    Bye,
}

impl Status {
    /// Returns the condition's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::No => "NO",
            Status::Bad => "BAD",
            Status::PreAuth => "PREAUTH",
            Status::Bye => "BYE",
        }
    }
}

/// A tagged or untagged status response: `tag OK [code] text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusResponse {
    /// The command's tag; `None` for an untagged (`*`) response.
    pub tag: Option<Tag>,
    pub status: Status,
    pub code: Option<Code>,
    /// Human-readable text; CR and LF in it are written as spaces.
    pub text: String,
}

impl StatusResponse {
    /// Creates a tagged response to the command with `tag`.
    pub fn tagged(tag: Tag, status: Status, code: Option<Code>, text: impl Into<String>) -> Self {
        StatusResponse {
            tag: Some(tag),
            status,
            code,
            text: text.into(),
        }
    }

    /// Creates an untagged response.
    pub fn untagged(status: Status, code: Option<Code>, text: impl Into<String>) -> Self {
        StatusResponse {
            tag: None,
            status,
            code,
            text: text.into(),
        }
    }

    /// Appends the response line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match &self.tag {
            Some(tag) => out.extend_from_slice(tag.as_str().as_bytes()),
            None => out.push(b'*'),
        }
        out.push(b' ');
        out.extend_from_slice(self.status.name().as_bytes());
        if let Some(code) = &self.code {
            out.extend_from_slice(b" [");
            code.encode(out);
            out.push(b']');
        }
        if !self.text.is_empty() {
            out.push(b' ');
            write_text(out, &self.text);
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// A continuation request: `+ text` or `+ base64` (RFC 9051 §7.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Continuation {
    /// Free text, such as the reply to a synchronising literal.
    Text(String),
    /// An AUTHENTICATE challenge, base64-encoded on the wire.
    Challenge(Vec<u8>),
}

impl Continuation {
    /// Appends the continuation line.
    pub fn encode(&self, out: &mut Vec<u8>) {
        use base64::Engine;
        out.extend_from_slice(b"+ ");
        match self {
            Continuation::Text(text) => write_text(out, text),
            Continuation::Challenge(data) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(data);
                out.extend_from_slice(encoded.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Maximum bytes of the human-readable text of a status response or continuation. Longer
/// text comes from echoing a client's input (a mailbox name), and is cut to end in `...`.
pub const MAX_RESPONSE_TEXT_LEN: usize = 1024;

/// Writes `text` (RFC 9051 `text`), replacing CR, LF and NUL, which it may not contain,
/// with spaces, and cutting it at [`MAX_RESPONSE_TEXT_LEN`] bytes.
pub(crate) fn write_text(out: &mut Vec<u8>, text: &str) {
    let within_limit = match text.len() > MAX_RESPONSE_TEXT_LEN {
        true => &text[..text.floor_char_boundary(MAX_RESPONSE_TEXT_LEN - "...".len())],
        false => text,
    };
    out.extend(within_limit.bytes().map(|b| {
        if matches!(b, 0 | b'\r' | b'\n') {
            b' '
        } else {
            b
        }
    }));
    if within_limit.len() < text.len() {
        out.extend_from_slice(b"...");
    }
}

/// Writes a mailbox name in modified UTF-7, or in UTF-8 when `utf8_accept`.
pub fn write_mailbox(out: &mut Vec<u8>, name: &MailboxName, utf8_accept: bool) {
    let wire = name.to_wire(utf8_accept);
    if wire.is_ascii() {
        write_astring(out, wire.as_bytes());
    } else {
        write_utf8_string(out, &wire);
    }
}
