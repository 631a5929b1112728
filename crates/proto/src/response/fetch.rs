//! FETCH responses (RFC 9051 §7.5.2), written item by item so that a message body can be
//! streamed from a file between the literal header and the rest of the response.

use std::num::NonZeroU32;

use super::data::write_flag_list;
use crate::datetime::DateTime;
use crate::fetch::{Section, SectionText};
use crate::flag::Flag;
use crate::string::{write_astring, write_literal_header, write_nstring};
use crate::types::{ModSeq, SeqNum, Uid};

/// The name of a body data item: a section, a BINARY part or an RFC822 form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKey {
    /// `BODY[section]<origin>`; `origin` is the partial's start, written when the client
    /// asked for a partial range.
    Section {
        section: Section,
        origin: Option<u64>,
    },
    /// `BINARY[part]<origin>` (RFC 3516).
    Binary {
        part: Vec<NonZeroU32>,
        origin: Option<u64>,
    },
    /// `RFC822`
    Rfc822,
    /// `RFC822.HEADER`
    Rfc822Header,
    /// `RFC822.TEXT`
    Rfc822Text,
}

/// One FETCH response item (`msg-att`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchValue {
    Uid(Uid),
    Flags(Vec<Flag>),
    InternalDate(DateTime),
    Rfc822Size(u64),
    /// `MODSEQ (n)` (RFC 7162).
    ModSeq(ModSeq),
    /// The parenthesised ENVELOPE, already encoded.
    Envelope(Vec<u8>),
    /// The parenthesised BODYSTRUCTURE, already encoded.
    BodyStructure(Vec<u8>),
    /// The parenthesised non-extensible `BODY`, already encoded.
    Body(Vec<u8>),
    /// Body data; `None` is written as NIL. BINARY data with a NUL goes as a literal8.
    BodyData {
        key: BodyKey,
        data: Option<Vec<u8>>,
    },
    /// `BINARY.SIZE[part] n` (RFC 3516).
    BinarySize {
        part: Vec<NonZeroU32>,
        size: u64,
    },
    /// `EMAILID (id)` (RFC 8474).
    EmailId(String),
    /// `THREADID (id)` or `THREADID NIL` (RFC 8474).
    ThreadId(Option<String>),
    /// `SAVEDATE "date-time"` or `SAVEDATE NIL` (RFC 8514).
    SaveDate(Option<DateTime>),
}

/// Writes one `* n FETCH (...)` response in pieces: [`begin`](Self::begin), then items, then
/// [`finish`](Self::finish). Between [`body_literal_header`](Self::body_literal_header) and
/// the next call the caller writes exactly the announced number of bytes itself, so
/// `out` may be flushed to the socket at any point.
#[derive(Debug, Default)]
pub struct FetchWriter {
    has_items: bool,
}

impl FetchWriter {
    /// Writes `* n FETCH (`.
    pub fn begin(out: &mut Vec<u8>, seq: SeqNum) -> Self {
        out.extend_from_slice(format!("* {seq} FETCH (").as_bytes());
        FetchWriter { has_items: false }
    }

    /// Writes one item.
    pub fn item(&mut self, out: &mut Vec<u8>, value: &FetchValue) {
        self.separate(out);
        write_value(out, value);
    }

    /// Writes the name of a body item and the header of a literal of `len` bytes
    /// (`BODY[] {5000}` CRLF). The caller then writes the `len` bytes.
    pub fn body_literal_header(&mut self, out: &mut Vec<u8>, key: &BodyKey, len: u64) {
        self.separate(out);
        write_body_key(out, key);
        out.push(b' ');
        write_literal_header(out, len);
    }

    /// Writes the closing `)` and CRLF.
    pub fn finish(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b")\r\n");
    }

    fn separate(&mut self, out: &mut Vec<u8>) {
        if self.has_items {
            out.push(b' ');
        }
        self.has_items = true;
    }
}

/// Writes a whole FETCH response with the given items.
pub fn encode_fetch(out: &mut Vec<u8>, seq: SeqNum, values: &[FetchValue]) {
    let mut writer = FetchWriter::begin(out, seq);
    for value in values {
        writer.item(out, value);
    }
    writer.finish(out);
}

fn write_value(out: &mut Vec<u8>, value: &FetchValue) {
    let text = match value {
        FetchValue::Uid(uid) => format!("UID {uid}"),
        FetchValue::Flags(flags) => {
            out.extend_from_slice(b"FLAGS ");
            write_flag_list(out, flags);
            return;
        }
        FetchValue::InternalDate(date) => format!("INTERNALDATE \"{date}\""),
        FetchValue::Rfc822Size(size) => format!("RFC822.SIZE {size}"),
        FetchValue::ModSeq(modseq) => format!("MODSEQ ({modseq})"),
        FetchValue::Envelope(bytes) => return write_prefixed(out, b"ENVELOPE ", bytes),
        FetchValue::BodyStructure(bytes) => return write_prefixed(out, b"BODYSTRUCTURE ", bytes),
        FetchValue::Body(bytes) => return write_prefixed(out, b"BODY ", bytes),
        FetchValue::BodyData { key, data } => return write_body_data(out, key, data.as_deref()),
        FetchValue::BinarySize { part, size } => format!("BINARY.SIZE[{}] {size}", part_text(part)),
        FetchValue::EmailId(id) => format!("EMAILID ({id})"),
        FetchValue::ThreadId(Some(id)) => format!("THREADID ({id})"),
        FetchValue::ThreadId(None) => "THREADID NIL".to_owned(),
        FetchValue::SaveDate(Some(date)) => format!("SAVEDATE \"{date}\""),
        FetchValue::SaveDate(None) => "SAVEDATE NIL".to_owned(),
    };
    out.extend_from_slice(text.as_bytes());
}

fn write_prefixed(out: &mut Vec<u8>, name: &[u8], bytes: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(bytes);
}

fn write_body_data(out: &mut Vec<u8>, key: &BodyKey, data: Option<&[u8]>) {
    write_body_key(out, key);
    out.push(b' ');
    let is_binary = matches!(key, BodyKey::Binary { .. });
    match data {
        Some(bytes) if is_binary && bytes.contains(&0) => {
            out.push(b'~');
            write_literal_header(out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
        // Short 7-bit text without CR or LF goes quoted; anything else goes as a literal.
        _ => write_nstring(out, data),
    }
}

/// Writes the item name of body data: `BODY[1.HEADER.FIELDS (From)]<0>`.
pub(crate) fn write_body_key(out: &mut Vec<u8>, key: &BodyKey) {
    match key {
        BodyKey::Section { section, origin } => {
            out.extend_from_slice(b"BODY[");
            write_section(out, section);
            out.push(b']');
            write_origin(out, *origin);
        }
        BodyKey::Binary { part, origin } => {
            out.extend_from_slice(format!("BINARY[{}]", part_text(part)).as_bytes());
            write_origin(out, *origin);
        }
        BodyKey::Rfc822 => out.extend_from_slice(b"RFC822"),
        BodyKey::Rfc822Header => out.extend_from_slice(b"RFC822.HEADER"),
        BodyKey::Rfc822Text => out.extend_from_slice(b"RFC822.TEXT"),
    }
}

fn write_origin(out: &mut Vec<u8>, origin: Option<u64>) {
    if let Some(origin) = origin {
        out.extend_from_slice(format!("<{origin}>").as_bytes());
    }
}

fn part_text(part: &[NonZeroU32]) -> String {
    part.iter()
        .map(|number| number.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// Writes `section-spec` without brackets.
pub(crate) fn write_section(out: &mut Vec<u8>, section: &Section) {
    out.extend_from_slice(part_text(&section.part).as_bytes());
    let Some(text) = &section.text else {
        return;
    };
    if !section.part.is_empty() {
        out.push(b'.');
    }
    let (name, fields) = match text {
        SectionText::Header => ("HEADER", None),
        SectionText::Text => ("TEXT", None),
        SectionText::Mime => ("MIME", None),
        SectionText::HeaderFields(fields) => ("HEADER.FIELDS", Some(fields)),
        SectionText::HeaderFieldsNot(fields) => ("HEADER.FIELDS.NOT", Some(fields)),
    };
    out.extend_from_slice(name.as_bytes());
    if let Some(fields) = fields {
        out.extend_from_slice(b" (");
        for (index, field) in fields.iter().enumerate() {
            if index > 0 {
                out.push(b' ');
            }
            write_astring(out, field.as_bytes());
        }
        out.push(b')');
    }
}
