//! FETCH attributes, body sections and fetch modifiers (RFC 9051 §6.4.5, RFC 3516 BINARY,
//! RFC 7162 CHANGEDSINCE and VANISHED, RFC 8474 OBJECTID, RFC 8514 SAVEDATE).

use std::num::NonZeroU32;

use crate::cursor::{Cursor, UpperKeyword};
use crate::error::ErrorKind;
use crate::grammar::parse_mod_seq;
use crate::types::ModSeq;

/// The data a FETCH command requests: a macro or a list of attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchItems {
    /// `ALL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE.
    All,
    /// `FAST`: FLAGS INTERNALDATE RFC822.SIZE.
    Fast,
    /// `FULL`: FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.
    Full,
    /// One or more attributes.
    Attributes(Vec<FetchAttribute>),
}

/// One requested FETCH attribute (`fetch-att`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttribute {
    /// `ENVELOPE`
    Envelope,
    /// `FLAGS`
    Flags,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822`, equivalent to `BODY[]`.
    Rfc822,
    /// `RFC822.HEADER`, equivalent to `BODY.PEEK[HEADER]`.
    Rfc822Header,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `RFC822.TEXT`, equivalent to `BODY[TEXT]`.
    Rfc822Text,
    /// `BODY` without a section: the non-extensible BODYSTRUCTURE.
    Body,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `UID`
    Uid,
    /// `BODY[section]<partial>` or, with `peek`, `BODY.PEEK[...]`.
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516).
    Binary {
        peek: bool,
        part: Vec<NonZeroU32>,
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]` (RFC 3516).
    BinarySize { part: Vec<NonZeroU32> },
    /// `MODSEQ` (RFC 7162).
    ModSeq,
    /// `EMAILID` (RFC 8474).
    EmailId,
    /// `THREADID` (RFC 8474).
    ThreadId,
    /// `SAVEDATE` (RFC 8514).
    SaveDate,
}

/// A body section (`section-spec`): a part path and what of that part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers from the top, empty for the whole message.
    pub part: Vec<NonZeroU32>,
    /// The portion of the part; `None` means the whole part (or the whole message).
    pub text: Option<SectionText>,
}

/// The `section-msgtext` or `MIME` suffix of a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`
    Header,
    /// `HEADER.FIELDS (names)`
    HeaderFields(Vec<String>),
    /// `HEADER.FIELDS.NOT (names)`
    HeaderFieldsNot(Vec<String>),
    /// `TEXT`
    Text,
    /// `MIME`: the MIME header of a part; only valid after a part number.
    Mime,
}

/// A `<offset.length>` byte range of a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    /// First byte, from 0.
    pub offset: u64,
    /// Maximum number of bytes, at least 1.
    pub length: u64,
}

/// A fetch modifier (RFC 4466 `fetch-modifier`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchModifier {
    /// `CHANGEDSINCE n` (RFC 7162 §3.1.4).
    ChangedSince(ModSeq),
    /// `VANISHED`, valid in UID FETCH with CHANGEDSINCE (RFC 7162 §3.2.6).
    Vanished,
}

/// Parses the argument of FETCH after the sequence set: a macro, one `fetch-att`, or a list.
pub(crate) fn parse_fetch_items(c: &mut Cursor<'_>) -> Result<FetchItems, ErrorKind> {
    if c.peek() == Some(b'(') {
        return c
            .paren_list(false, parse_fetch_att)
            .map(FetchItems::Attributes);
    }
    if c.eat_keyword("ALL") {
        return Ok(FetchItems::All);
    }
    if c.eat_keyword("FAST") {
        return Ok(FetchItems::Fast);
    }
    if c.eat_keyword("FULL") {
        return Ok(FetchItems::Full);
    }
    Ok(FetchItems::Attributes(vec![parse_fetch_att(c)?]))
}

/// Parses `fetch-att`.
pub(crate) fn parse_fetch_att(c: &mut Cursor<'_>) -> Result<FetchAttribute, ErrorKind> {
    let start = c.pos();
    let name = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'.');
    let name = UpperKeyword::new(name);
    let name = name.as_bytes();
    let attribute = match name {
        b"ENVELOPE" => FetchAttribute::Envelope,
        b"FLAGS" => FetchAttribute::Flags,
        b"INTERNALDATE" => FetchAttribute::InternalDate,
        b"RFC822" => FetchAttribute::Rfc822,
        b"RFC822.HEADER" => FetchAttribute::Rfc822Header,
        b"RFC822.SIZE" => FetchAttribute::Rfc822Size,
        b"RFC822.TEXT" => FetchAttribute::Rfc822Text,
        b"BODYSTRUCTURE" => FetchAttribute::BodyStructure,
        b"UID" => FetchAttribute::Uid,
        b"MODSEQ" => FetchAttribute::ModSeq,
        b"EMAILID" => FetchAttribute::EmailId,
        b"THREADID" => FetchAttribute::ThreadId,
        b"SAVEDATE" => FetchAttribute::SaveDate,
        b"BODY" if c.peek() != Some(b'[') => FetchAttribute::Body,
        b"BODY" | b"BODY.PEEK" => FetchAttribute::BodySection {
            peek: name.len() > 4,
            section: parse_section(c)?,
            partial: parse_partial(c)?,
        },
        b"BINARY" | b"BINARY.PEEK" => FetchAttribute::Binary {
            peek: name.len() > 6,
            part: parse_section_binary(c)?,
            partial: parse_partial(c)?,
        },
        b"BINARY.SIZE" => FetchAttribute::BinarySize {
            part: parse_section_binary(c)?,
        },
        _ => {
            return Err(ErrorKind::Expected {
                expected: "fetch attribute",
                offset: start,
            });
        }
    };
    Ok(attribute)
}

/// Parses `section`: `"[" [section-spec] "]"`.
pub(crate) fn parse_section(c: &mut Cursor<'_>) -> Result<Section, ErrorKind> {
    c.expect(b'[', "[")?;
    let mut section = Section::default();
    if c.eat(b']') {
        return Ok(section);
    }
    if c.peek().is_some_and(|b| b.is_ascii_digit()) {
        section.part = parse_section_part(c)?;
        if c.eat(b'.') {
            section.text = Some(parse_section_text(c, true)?);
        }
    } else {
        section.text = Some(parse_section_text(c, false)?);
    }
    c.expect(b']', "]")?;
    Ok(section)
}

fn parse_section_part(c: &mut Cursor<'_>) -> Result<Vec<NonZeroU32>, ErrorKind> {
    let mut part = vec![c.nz_number()?];
    while c.rest().starts_with(b".") && c.rest().get(1).is_some_and(|b| b.is_ascii_digit()) {
        c.eat(b'.');
        part.push(c.nz_number()?);
    }
    Ok(part)
}

fn parse_section_text(c: &mut Cursor<'_>, allow_mime: bool) -> Result<SectionText, ErrorKind> {
    let start = c.pos();
    let name = c.take_while(|b| b.is_ascii_alphabetic() || b == b'.');
    let text = match UpperKeyword::new(name).as_bytes() {
        b"HEADER" => SectionText::Header,
        b"TEXT" => SectionText::Text,
        b"MIME" if allow_mime => SectionText::Mime,
        b"HEADER.FIELDS" => {
            c.sp()?;
            SectionText::HeaderFields(parse_header_list(c)?)
        }
        b"HEADER.FIELDS.NOT" => {
            c.sp()?;
            SectionText::HeaderFieldsNot(parse_header_list(c)?)
        }
        _ => {
            return Err(ErrorKind::Expected {
                expected: "section text",
                offset: start,
            });
        }
    };
    Ok(text)
}

/// Parses `header-list`: `"(" header-fld-name *(SP header-fld-name) ")"`.
fn parse_header_list(c: &mut Cursor<'_>) -> Result<Vec<String>, ErrorKind> {
    c.paren_list(false, |c| c.astring_utf8())
}

/// Parses `section-binary`: `"[" [section-part] "]"`.
fn parse_section_binary(c: &mut Cursor<'_>) -> Result<Vec<NonZeroU32>, ErrorKind> {
    c.expect(b'[', "[")?;
    let part = if c.peek() == Some(b']') {
        Vec::new()
    } else {
        parse_section_part(c)?
    };
    c.expect(b']', "]")?;
    Ok(part)
}

/// Parses an optional `partial`: `"<" number64 "." nz-number64 ">"`.
fn parse_partial(c: &mut Cursor<'_>) -> Result<Option<Partial>, ErrorKind> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let offset = c.number64()?;
    c.expect(b'.', ".")?;
    let start = c.pos();
    let length = c.number64()?;
    if length == 0 {
        return Err(ErrorKind::InvalidNumber {
            text: String::from_utf8_lossy(c.since(start)).into_owned(),
        });
    }
    c.expect(b'>', ">")?;
    Ok(Some(Partial { offset, length }))
}

/// Parses `fetch-modifiers`: `SP "(" fetch-modifier *(SP fetch-modifier) ")"`, after the SP.
pub(crate) fn parse_fetch_modifiers(c: &mut Cursor<'_>) -> Result<Vec<FetchModifier>, ErrorKind> {
    c.paren_list(false, |c| {
        if c.eat_keyword("CHANGEDSINCE") {
            c.sp()?;
            parse_mod_seq(c).map(FetchModifier::ChangedSince)
        } else if c.eat_keyword("VANISHED") {
            Ok(FetchModifier::Vanished)
        } else {
            Err(c.expected("CHANGEDSINCE or VANISHED"))
        }
    })
}
