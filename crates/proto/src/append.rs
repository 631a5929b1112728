//! APPEND arguments (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND, RFC 3516 literal8, RFC 6855
//! §4 `UTF8 (literal8)`).

use crate::cursor::{Cursor, LiteralBody};
use crate::datetime::DateTime;
use crate::error::ErrorKind;
use crate::flag::Flag;
use crate::grammar::{parse_date_time, parse_flag_list};

/// One message of an APPEND command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    /// Flags to set on the new message.
    pub flags: Vec<Flag>,
    /// INTERNALDATE to give the message, if the client sent one.
    pub date: Option<DateTime>,
    /// The message.
    pub data: AppendData,
    /// Whether the message came as a literal8 (`~{n}`), so it may contain NUL bytes.
    pub is_binary: bool,
    /// Whether the message came as `UTF8 (~{n})` (RFC 6855 §4): a message with UTF-8
    /// headers from a client that enabled UTF8=ACCEPT. Implies `is_binary`.
    pub is_utf8: bool,
}

/// The message bytes of an APPEND: held in the command, or streamed by the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendData {
    /// The message bytes.
    Bytes(Vec<u8>),
    /// A literal of `len` bytes the session streamed elsewhere (a temporary file, say)
    /// after [`CommandParser::stream_literal`](crate::CommandParser::stream_literal).
    External { len: u64 },
}

/// Parses `1*append-message` after `APPEND SP mailbox`: each is `SP [flag-list SP]
/// [date-time SP] (literal / literal8)`.
pub(crate) fn parse_append_messages(c: &mut Cursor<'_>) -> Result<Vec<AppendMessage>, ErrorKind> {
    let mut messages = Vec::new();
    while c.eat(b' ') {
        messages.push(parse_append_message(c)?);
    }
    if messages.is_empty() {
        return Err(c.expected("SP message"));
    }
    Ok(messages)
}

fn parse_append_message(c: &mut Cursor<'_>) -> Result<AppendMessage, ErrorKind> {
    let flags = if c.peek() == Some(b'(') {
        let flags = parse_flag_list(c)?;
        c.sp()?;
        flags
    } else {
        Vec::new()
    };
    let date = if c.peek() == Some(b'"') {
        let date = parse_date_time(c)?;
        c.sp()?;
        Some(date)
    } else {
        None
    };
    let is_utf8 = parse_utf8_prefix(c)?;
    let literal = c.literal()?;
    if is_utf8 {
        if !literal.is_binary {
            return Err(c.expected("literal8 in UTF8 (...)"));
        }
        c.expect(b')', ")")?;
    }
    let data = match literal.body {
        LiteralBody::Bytes(bytes) => AppendData::Bytes(bytes.to_vec()),
        LiteralBody::External(len) => AppendData::External { len },
    };
    Ok(AppendMessage {
        flags,
        date,
        data,
        is_binary: literal.is_binary,
        is_utf8,
    })
}

/// Reads the optional `"UTF8" SP "("` before the literal8 of RFC 6855 §4.
fn parse_utf8_prefix(c: &mut Cursor<'_>) -> Result<bool, ErrorKind> {
    if !c.eat_keyword("UTF8") {
        return Ok(false);
    }
    c.sp()?;
    c.expect(b'(', "(")?;
    Ok(true)
}

/// Returns true when `prefix`, a command that ends in a literal header, is an APPEND whose
/// last literal is message data rather than the mailbox name.
pub(crate) fn ends_in_append_message(c: &mut Cursor<'_>) -> bool {
    let end = c.rest().len() + c.pos();
    let mut check = || -> Result<bool, ErrorKind> {
        c.take_while(crate::types::is_tag_char);
        c.sp()?;
        c.keyword("APPEND")?;
        c.sp()?;
        c.mailbox()?;
        loop {
            c.sp()?;
            if c.peek() == Some(b'(') {
                parse_flag_list(c)?;
                c.sp()?;
            }
            if c.peek() == Some(b'"') {
                parse_date_time(c)?;
                c.sp()?;
            }
            let is_utf8 = parse_utf8_prefix(c)?;
            let literal = c.literal()?;
            if c.pos() == end {
                return Ok(matches!(literal.body, LiteralBody::External(_)));
            }
            if is_utf8 {
                c.expect(b')', ")")?;
            }
        }
    };
    check().unwrap_or(false)
}
