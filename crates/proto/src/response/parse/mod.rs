//! A parser of server responses, for test clients and round-trip tests: reads one complete
//! response, literals included, as [`encode`](super::StatusResponse::encode) and the other
//! writers of this module produce it (RFC 9051 §7 and §9 `response`).

mod data;
mod fetch;

use crate::cursor::Cursor;
use crate::error::{ErrorKind, ParseError};
use crate::grammar::{parse_flag, parse_mod_seq, parse_sequence_set};
use crate::limits::Limits;
use crate::types::{Atom, SeqNum, Tag, Uid, UidValidity, is_tag_char};

use super::{Code, Continuation, Data, FetchValue, Status, StatusResponse};

/// One server response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Status(StatusResponse),
    Data(Data),
    /// `* n FETCH (...)`.
    Fetch {
        seq: SeqNum,
        values: Vec<FetchValue>,
    },
    Continuation(Continuation),
}

/// Parses one complete response, CRLF included. `utf8_accept` selects how mailbox names
/// are decoded.
pub fn parse_response(input: &[u8], utf8_accept: bool) -> Result<Response, ParseError> {
    let limits = Limits {
        utf8_accept,
        ..Limits::default()
    };
    let mut c = Cursor::new(input, &[], &limits);
    let response = parse_response_body(&mut c).map_err(|kind| kind.with_tag(None))?;
    c.finish().map_err(|kind| kind.with_tag(None))?;
    Ok(response)
}

fn parse_response_body(c: &mut Cursor<'_>) -> Result<Response, ErrorKind> {
    if c.eat(b'+') {
        c.sp()?;
        let text = parse_text(c);
        return Ok(Response::Continuation(Continuation::Text(text)));
    }
    if c.eat(b'*') {
        c.sp()?;
        if let Some(status) = parse_status_name(c) {
            return parse_status_rest(c, None, status).map(Response::Status);
        }
        return data::parse_untagged(c);
    }
    let tag = c.take_while(is_tag_char);
    let tag = Tag::new(String::from_utf8_lossy(tag))?;
    c.sp()?;
    let status = parse_status_name(c).ok_or_else(|| c.expected("OK, NO or BAD"))?;
    parse_status_rest(c, Some(tag), status).map(Response::Status)
}

fn parse_status_name(c: &mut Cursor<'_>) -> Option<Status> {
    [
        Status::Ok,
        Status::No,
        Status::Bad,
        Status::PreAuth,
        Status::Bye,
    ]
    .into_iter()
    .find(|status| c.eat_keyword(status.name()))
}

fn parse_status_rest(
    c: &mut Cursor<'_>,
    tag: Option<Tag>,
    status: Status,
) -> Result<StatusResponse, ErrorKind> {
    let mut code = None;
    let mut text = String::new();
    if c.eat(b' ') {
        if c.eat(b'[') {
            code = Some(parse_code(c)?);
            c.expect(b']', "]")?;
            if c.eat(b' ') {
                text = parse_text(c);
            }
        } else {
            text = parse_text(c);
        }
    }
    Ok(StatusResponse {
        tag,
        status,
        code,
        text,
    })
}

/// Reads `text` up to the CRLF.
fn parse_text(c: &mut Cursor<'_>) -> String {
    let text = c.take_while(|b| b != b'\r' && b != b'\n');
    String::from_utf8_lossy(text).into_owned()
}

fn parse_code(c: &mut Cursor<'_>) -> Result<Code, ErrorKind> {
    let raw_name = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    let raw_name = String::from_utf8_lossy(raw_name).into_owned();
    let name = raw_name.to_ascii_uppercase();
    if let Some(code) = simple_code(&name) {
        return Ok(code);
    }
    let code = match name.as_str() {
        "UIDNEXT" => Code::UidNext(after_sp_nz(c, Uid::new)?),
        "UIDVALIDITY" => Code::UidValidity(after_sp_nz(c, UidValidity::new)?),
        "UNSEEN" => Code::Unseen(after_sp_nz(c, SeqNum::new)?),
        "HIGHESTMODSEQ" => {
            c.sp()?;
            Code::HighestModSeq(parse_mod_seq(c)?)
        }
        "MODIFIED" => {
            c.sp()?;
            Code::Modified(parse_sequence_set(c)?)
        }
        "APPENDUID" => {
            let uid_validity = after_sp_nz(c, UidValidity::new)?;
            c.sp()?;
            let uids = parse_sequence_set(c)?;
            Code::AppendUid { uid_validity, uids }
        }
        "COPYUID" => parse_copyuid(c)?,
        "CAPABILITY" => Code::Capability(parse_atoms(c)?),
        "PERMANENTFLAGS" => parse_permanent_flags(c)?,
        "BADCHARSET" => parse_badcharset(c)?,
        "MAILBOXID" => {
            c.sp()?;
            c.expect(b'(', "(")?;
            let id = c.atom_string()?;
            c.expect(b')', ")")?;
            Code::MailboxId(id)
        }
        _ => {
            let text = if c.eat(b' ') {
                Some(
                    String::from_utf8_lossy(c.take_while(|b| b != b']' && b != b'\r')).into_owned(),
                )
            } else {
                None
            };
            Code::Other(Atom::new(raw_name)?, text)
        }
    };
    Ok(code)
}

fn simple_code(name: &str) -> Option<Code> {
    let mut encoded = Vec::new();
    ALL_SIMPLE.iter().find_map(|code| {
        encoded.clear();
        code.encode(&mut encoded);
        (encoded == name.as_bytes()).then(|| code.clone())
    })
}

const ALL_SIMPLE: [Code; 30] = [
    Code::Alert,
    Code::Parse,
    Code::ReadOnly,
    Code::ReadWrite,
    Code::TryCreate,
    Code::UidNotSticky,
    Code::NoModSeq,
    Code::Closed,
    Code::Unavailable,
    Code::AuthenticationFailed,
    Code::AuthorizationFailed,
    Code::Expired,
    Code::PrivacyRequired,
    Code::ContactAdmin,
    Code::NoPerm,
    Code::InUse,
    Code::ExpungeIssued,
    Code::Corruption,
    Code::ServerBug,
    Code::ClientBug,
    Code::Cannot,
    Code::Limit,
    Code::OverQuota,
    Code::AlreadyExists,
    Code::NonExistent,
    Code::TooBig,
    Code::UseAttr,
    Code::NotSaved,
    Code::HasChildren,
    Code::CompressionActive,
];

fn after_sp_nz<T>(c: &mut Cursor<'_>, make: fn(u32) -> Option<T>) -> Result<T, ErrorKind> {
    c.sp()?;
    let start = c.pos();
    let value = c.number()?;
    make(value).ok_or_else(|| ErrorKind::InvalidNumber {
        text: String::from_utf8_lossy(c.since(start)).into_owned(),
    })
}

fn parse_copyuid(c: &mut Cursor<'_>) -> Result<Code, ErrorKind> {
    let uid_validity = after_sp_nz(c, UidValidity::new)?;
    c.sp()?;
    let source = parse_sequence_set(c)?;
    c.sp()?;
    let destination = parse_sequence_set(c)?;
    Ok(Code::CopyUid {
        uid_validity,
        source,
        destination,
    })
}

/// Parses `*(SP atom)`.
pub(super) fn parse_atoms(c: &mut Cursor<'_>) -> Result<Vec<Atom>, ErrorKind> {
    let mut atoms = Vec::new();
    while c.eat(b' ') {
        atoms.push(Atom::new(c.atom_string()?)?);
    }
    Ok(atoms)
}

fn parse_permanent_flags(c: &mut Cursor<'_>) -> Result<Code, ErrorKind> {
    c.sp()?;
    let mut allows_new_keywords = false;
    let items = c.paren_list(true, |c| {
        if c.rest().starts_with(b"\\*") {
            c.eat(b'\\');
            c.eat(b'*');
            allows_new_keywords = true;
            Ok(None)
        } else {
            parse_flag(c).map(Some)
        }
    })?;
    Ok(Code::PermanentFlags {
        flags: items.into_iter().flatten().collect(),
        allows_new_keywords,
    })
}

fn parse_badcharset(c: &mut Cursor<'_>) -> Result<Code, ErrorKind> {
    if !c.eat(b' ') {
        return Ok(Code::BadCharset(Vec::new()));
    }
    c.paren_list(false, |c| c.astring_utf8())
        .map(Code::BadCharset)
}
