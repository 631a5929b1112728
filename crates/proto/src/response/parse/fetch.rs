//! Parser of the items of a FETCH response (`msg-att`).

use std::num::NonZeroU32;

use crate::cursor::{Cursor, LiteralBody};
use crate::error::ErrorKind;
use crate::fetch::parse_section;
use crate::grammar::{parse_date_time, parse_flag, parse_mod_seq};
use crate::response::{BodyKey, FetchValue};

// One arm per FETCH item, mirroring the writer.
pub(super) fn parse_fetch_value(c: &mut Cursor<'_>) -> Result<FetchValue, ErrorKind> {
    let start = c.pos();
    let name = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'.');
    let name = name.to_ascii_uppercase();
    let value = match name.as_slice() {
        b"UID" => {
            c.sp()?;
            let uid = c.nz_number()?;
            FetchValue::Uid(crate::Uid::from_nonzero(uid))
        }
        b"FLAGS" => {
            c.sp()?;
            FetchValue::Flags(c.paren_list(true, parse_flag)?)
        }
        b"INTERNALDATE" => {
            c.sp()?;
            FetchValue::InternalDate(parse_date_time(c)?)
        }
        b"RFC822.SIZE" => {
            c.sp()?;
            FetchValue::Rfc822Size(c.number64()?)
        }
        b"MODSEQ" => {
            c.sp()?;
            c.expect(b'(', "(")?;
            let modseq = parse_mod_seq(c)?;
            c.expect(b')', ")")?;
            FetchValue::ModSeq(modseq)
        }
        b"ENVELOPE" => FetchValue::Envelope(parse_raw_list(c)?),
        b"BODYSTRUCTURE" => FetchValue::BodyStructure(parse_raw_list(c)?),
        b"BODY" if c.peek() == Some(b' ') => FetchValue::Body(parse_raw_list(c)?),
        b"BODY" => {
            let section = parse_section(c)?;
            let origin = parse_origin(c)?;
            body_data(c, BodyKey::Section { section, origin })?
        }
        b"BINARY" => {
            let part = parse_part(c)?;
            let origin = parse_origin(c)?;
            body_data(c, BodyKey::Binary { part, origin })?
        }
        b"BINARY.SIZE" => {
            let part = parse_part(c)?;
            c.sp()?;
            FetchValue::BinarySize {
                part,
                size: c.number64()?,
            }
        }
        b"RFC822" => body_data(c, BodyKey::Rfc822)?,
        b"RFC822.HEADER" => body_data(c, BodyKey::Rfc822Header)?,
        b"RFC822.TEXT" => body_data(c, BodyKey::Rfc822Text)?,
        b"EMAILID" => FetchValue::EmailId(parse_paren_id(c)?),
        b"THREADID" if c.rest().starts_with(b" NIL") => {
            c.sp()?;
            c.keyword("NIL")?;
            FetchValue::ThreadId(None)
        }
        b"THREADID" => FetchValue::ThreadId(Some(parse_paren_id(c)?)),
        b"SAVEDATE" => {
            c.sp()?;
            if c.eat_keyword("NIL") {
                FetchValue::SaveDate(None)
            } else {
                FetchValue::SaveDate(Some(parse_date_time(c)?))
            }
        }
        _ => {
            return Err(ErrorKind::Expected {
                expected: "FETCH item",
                offset: start,
            });
        }
    };
    Ok(value)
}

fn parse_paren_id(c: &mut Cursor<'_>) -> Result<String, ErrorKind> {
    c.sp()?;
    c.expect(b'(', "(")?;
    let id = c.atom_string()?;
    c.expect(b')', ")")?;
    Ok(id)
}

fn parse_part(c: &mut Cursor<'_>) -> Result<Vec<NonZeroU32>, ErrorKind> {
    c.expect(b'[', "[")?;
    let mut part = Vec::new();
    if c.peek() != Some(b']') {
        part.push(c.nz_number()?);
        while c.eat(b'.') {
            part.push(c.nz_number()?);
        }
    }
    c.expect(b']', "]")?;
    Ok(part)
}

fn parse_origin(c: &mut Cursor<'_>) -> Result<Option<u64>, ErrorKind> {
    if !c.eat(b'<') {
        return Ok(None);
    }
    let origin = c.number64()?;
    c.expect(b'>', ">")?;
    Ok(Some(origin))
}

/// Parses `SP (nstring / literal8)` after a body item name.
fn body_data(c: &mut Cursor<'_>, key: BodyKey) -> Result<FetchValue, ErrorKind> {
    c.sp()?;
    let data = match c.peek() {
        Some(b'~' | b'{') => match c.literal()?.body {
            LiteralBody::Bytes(bytes) => Some(bytes.to_vec()),
            LiteralBody::External(_) => return Err(ErrorKind::UnexpectedExternalLiteral),
        },
        _ if c.eat_keyword("NIL") => None,
        _ => Some(c.quoted()?.into_owned()),
    };
    Ok(FetchValue::BodyData { key, data })
}

/// Reads `SP` and a parenthesised value (ENVELOPE, BODYSTRUCTURE) as raw bytes, stepping
/// over quoted strings and literals.
fn parse_raw_list(c: &mut Cursor<'_>) -> Result<Vec<u8>, ErrorKind> {
    c.sp()?;
    let start = c.pos();
    c.expect(b'(', "(")?;
    let mut depth = 1usize;
    while depth > 0 {
        match c.peek() {
            Some(b'(') => {
                c.eat(b'(');
                depth += 1;
            }
            Some(b')') => {
                c.eat(b')');
                depth -= 1;
            }
            Some(b'"') => {
                c.quoted()?;
            }
            Some(b'{') => {
                c.literal()?;
            }
            Some(b'\r') | None => return Err(c.expected(")")),
            Some(_) => {
                c.take_while(|b| !matches!(b, b'(' | b')' | b'"' | b'{' | b'\r'));
            }
        }
    }
    Ok(c.since(start).to_vec())
}
