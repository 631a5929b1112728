//! SEARCH keys and options (RFC 9051 §6.4.4, RFC 4731 ESEARCH, RFC 5182 SEARCHRES,
//! RFC 7162 MODSEQ, RFC 5032 WITHIN, RFC 8514 SAVEDATE, RFC 8474 OBJECTID).

use std::num::NonZeroU32;

use crate::cursor::{Cursor, UpperKeyword};
use crate::datetime::Date;
use crate::error::ErrorKind;
use crate::grammar::{parse_date, parse_mod_seq_valzer, parse_sequence_set};
use crate::sequence::SequenceSet;
use crate::string::is_atom_char;

/// The arguments of SEARCH: result options, charset and the keys, all of which must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchProgram {
    /// `RETURN (...)` options; `None` without RETURN, which requests a plain SEARCH response.
    pub return_options: Option<Vec<SearchReturn>>,
    /// `CHARSET` of the string arguments, if given.
    pub charset: Option<String>,
    /// One or more keys, combined with AND.
    pub keys: Vec<SearchKey>,
}

/// A `search-return-opt` (RFC 4731, RFC 5182).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SearchReturn {
    /// `MIN`
    Min,
    /// `MAX`
    Max,
    /// `ALL`
    All,
    /// `COUNT`
    Count,
    /// `SAVE`: keep the result for `$`.
    Save,
}

/// A search key (`search-key`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(Vec<u8>),
    Before(Date),
    Body(Vec<u8>),
    Cc(Vec<u8>),
    Deleted,
    Draft,
    Flagged,
    From(Vec<u8>),
    /// `HEADER field-name value`
    Header(String, Vec<u8>),
    Keyword(String),
    Larger(u64),
    New,
    Not(Box<SearchKey>),
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(Vec<u8>),
    Text(Vec<u8>),
    To(Vec<u8>),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// A bare sequence set of message sequence numbers.
    SequenceSet(SequenceSet),
    /// A parenthesised list of keys, all of which must match.
    And(Vec<SearchKey>),
    /// `MODSEQ [entry-name entry-type] n` (RFC 7162 §3.1.5).
    ModSeq {
        entry: Option<ModSeqEntry>,
        modseq: u64,
    },
    /// `OLDER n`: INTERNALDATE more than n seconds ago (RFC 5032).
    Older(NonZeroU32),
    /// `YOUNGER n`: INTERNALDATE at most n seconds ago (RFC 5032).
    Younger(NonZeroU32),
    /// `SAVEDBEFORE date` (RFC 8514).
    SavedBefore(Date),
    /// `SAVEDON date` (RFC 8514).
    SavedOn(Date),
    /// `SAVEDSINCE date` (RFC 8514).
    SavedSince(Date),
    /// `SAVEDATESUPPORTED` (RFC 8514).
    SaveDateSupported,
    /// `EMAILID objectid` (RFC 8474).
    EmailId(String),
    /// `THREADID objectid` (RFC 8474).
    ThreadId(String),
}

/// The metadata entry of a MODSEQ search key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModSeqEntry {
    /// `entry-name`, such as `/flags/\draft`.
    pub name: String,
    /// `entry-type-req`: `priv`, `shared` or `all`.
    pub kind: String,
}

/// Parses `[search-return-opts] [SP "CHARSET" SP charset] 1*(SP search-key)`, starting at
/// the SP that follows the command name.
pub(crate) fn parse_search_program(c: &mut Cursor<'_>) -> Result<SearchProgram, ErrorKind> {
    c.sp()?;
    let return_options = if c.eat_keyword("RETURN") {
        c.sp()?;
        let options = c.paren_list(true, parse_search_return)?;
        c.sp()?;
        Some(options)
    } else {
        None
    };
    let charset = parse_charset_prefix(c)?;
    let keys = parse_search_keys(c)?;
    Ok(SearchProgram {
        return_options,
        charset,
        keys,
    })
}

fn parse_search_return(c: &mut Cursor<'_>) -> Result<SearchReturn, ErrorKind> {
    const OPTIONS: [(&str, SearchReturn); 5] = [
        ("MIN", SearchReturn::Min),
        ("MAX", SearchReturn::Max),
        ("ALL", SearchReturn::All),
        ("COUNT", SearchReturn::Count),
        ("SAVE", SearchReturn::Save),
    ];
    for (name, option) in OPTIONS {
        if c.eat_keyword(name) {
            return Ok(option);
        }
    }
    Err(c.expected("search return option"))
}

/// Parses an optional `"CHARSET" SP charset SP`.
fn parse_charset_prefix(c: &mut Cursor<'_>) -> Result<Option<String>, ErrorKind> {
    if !c.eat_keyword("CHARSET") {
        return Ok(None);
    }
    c.sp()?;
    let charset = c.astring_utf8()?;
    c.sp()?;
    Ok(Some(charset))
}

/// Parses `search-criteria` of SORT and THREAD: `charset 1*(SP search-key)`.
pub(crate) fn parse_search_criteria(
    c: &mut Cursor<'_>,
) -> Result<(String, Vec<SearchKey>), ErrorKind> {
    let charset = c.astring_utf8()?;
    c.sp()?;
    Ok((charset, parse_search_keys(c)?))
}

/// Parses `search-key *(SP search-key)` up to the end of the line or a closing bracket.
fn parse_search_keys(c: &mut Cursor<'_>) -> Result<Vec<SearchKey>, ErrorKind> {
    let mut keys = vec![parse_search_key(c)?];
    while c.peek() == Some(b' ') {
        c.sp()?;
        keys.push(parse_search_key(c)?);
    }
    Ok(keys)
}

/// Parses one `search-key`.
pub(crate) fn parse_search_key(c: &mut Cursor<'_>) -> Result<SearchKey, ErrorKind> {
    match c.peek() {
        Some(b'(') => {
            c.eat(b'(');
            c.enter()?;
            let keys = parse_search_keys(c)?;
            c.expect(b')', ")")?;
            c.leave();
            return Ok(SearchKey::And(keys));
        }
        Some(b'0'..=b'9' | b'*' | b'$') => {
            return parse_sequence_set(c).map(SearchKey::SequenceSet);
        }
        _ => {}
    }
    let start = c.pos();
    let name = UpperKeyword::new(c.atom()?);
    let name = name.as_bytes();
    if let Some(key) = flag_key(name) {
        return Ok(key);
    }
    let key = match name {
        b"NOT" => {
            c.sp()?;
            c.enter()?;
            let key = parse_search_key(c)?;
            c.leave();
            SearchKey::Not(Box::new(key))
        }
        b"OR" => parse_or(c)?,
        _ => parse_key_with_argument(c, name, start)?,
    };
    Ok(key)
}

fn flag_key(name: &[u8]) -> Option<SearchKey> {
    let key = match name {
        b"ALL" => SearchKey::All,
        b"ANSWERED" => SearchKey::Answered,
        b"DELETED" => SearchKey::Deleted,
        b"DRAFT" => SearchKey::Draft,
        b"FLAGGED" => SearchKey::Flagged,
        b"NEW" => SearchKey::New,
        b"OLD" => SearchKey::Old,
        b"RECENT" => SearchKey::Recent,
        b"SEEN" => SearchKey::Seen,
        b"UNANSWERED" => SearchKey::Unanswered,
        b"UNDELETED" => SearchKey::Undeleted,
        b"UNDRAFT" => SearchKey::Undraft,
        b"UNFLAGGED" => SearchKey::Unflagged,
        b"UNSEEN" => SearchKey::Unseen,
        b"SAVEDATESUPPORTED" => SearchKey::SaveDateSupported,
        _ => return None,
    };
    Some(key)
}

fn parse_or(c: &mut Cursor<'_>) -> Result<SearchKey, ErrorKind> {
    c.sp()?;
    c.enter()?;
    let left = parse_search_key(c)?;
    c.sp()?;
    let right = parse_search_key(c)?;
    c.leave();
    Ok(SearchKey::Or(Box::new(left), Box::new(right)))
}

// A flat table of keyword to argument type keeps every key of RFC 9051 and its extensions
// in one place, so this match is longer than most functions.
fn parse_key_with_argument(
    c: &mut Cursor<'_>,
    name: &[u8],
    start: usize,
) -> Result<SearchKey, ErrorKind> {
    let unknown = ErrorKind::Expected {
        expected: "search key",
        offset: start,
    };
    let constructor: fn(Vec<u8>) -> SearchKey = match name {
        b"BCC" => SearchKey::Bcc,
        b"BODY" => SearchKey::Body,
        b"CC" => SearchKey::Cc,
        b"FROM" => SearchKey::From,
        b"SUBJECT" => SearchKey::Subject,
        b"TEXT" => SearchKey::Text,
        b"TO" => SearchKey::To,
        _ => return parse_non_string_key(c, name).ok_or(unknown)?,
    };
    c.sp()?;
    Ok(constructor(c.astring()?.into_owned()))
}

fn parse_non_string_key(c: &mut Cursor<'_>, name: &[u8]) -> Option<Result<SearchKey, ErrorKind>> {
    let date_key: Option<fn(Date) -> SearchKey> = match name {
        b"BEFORE" => Some(SearchKey::Before),
        b"ON" => Some(SearchKey::On),
        b"SINCE" => Some(SearchKey::Since),
        b"SENTBEFORE" => Some(SearchKey::SentBefore),
        b"SENTON" => Some(SearchKey::SentOn),
        b"SENTSINCE" => Some(SearchKey::SentSince),
        b"SAVEDBEFORE" => Some(SearchKey::SavedBefore),
        b"SAVEDON" => Some(SearchKey::SavedOn),
        b"SAVEDSINCE" => Some(SearchKey::SavedSince),
        _ => None,
    };
    if let Some(constructor) = date_key {
        return Some(c.sp().and_then(|()| parse_date(c)).map(constructor));
    }
    let result = match name {
        b"HEADER" => parse_header_key(c),
        b"KEYWORD" => parse_keyword(c).map(SearchKey::Keyword),
        b"UNKEYWORD" => parse_keyword(c).map(SearchKey::Unkeyword),
        b"LARGER" => c.sp().and_then(|()| c.number64()).map(SearchKey::Larger),
        b"SMALLER" => c.sp().and_then(|()| c.number64()).map(SearchKey::Smaller),
        b"UID" => c
            .sp()
            .and_then(|()| parse_sequence_set(c))
            .map(SearchKey::Uid),
        b"OLDER" => c.sp().and_then(|()| c.nz_number()).map(SearchKey::Older),
        b"YOUNGER" => c.sp().and_then(|()| c.nz_number()).map(SearchKey::Younger),
        b"MODSEQ" => parse_modseq_key(c),
        b"EMAILID" => parse_object_id(c).map(SearchKey::EmailId),
        b"THREADID" => parse_object_id(c).map(SearchKey::ThreadId),
        _ => return None,
    };
    Some(result)
}

fn parse_header_key(c: &mut Cursor<'_>) -> Result<SearchKey, ErrorKind> {
    c.sp()?;
    let field = c.astring_utf8()?;
    c.sp()?;
    let value = c.astring()?.into_owned();
    Ok(SearchKey::Header(field, value))
}

fn parse_keyword(c: &mut Cursor<'_>) -> Result<String, ErrorKind> {
    c.sp()?;
    c.atom_string()
}

/// Parses `SP [entry-name SP entry-type-req SP] mod-sequence-valzer` after MODSEQ.
fn parse_modseq_key(c: &mut Cursor<'_>) -> Result<SearchKey, ErrorKind> {
    c.sp()?;
    let entry = if c.peek() == Some(b'"') {
        let name = c.string_utf8()?;
        c.sp()?;
        let kind = c.atom_string()?.to_ascii_lowercase();
        if !matches!(kind.as_str(), "priv" | "shared" | "all") {
            return Err(c.expected("priv, shared or all"));
        }
        c.sp()?;
        Some(ModSeqEntry { name, kind })
    } else {
        None
    };
    let modseq = parse_mod_seq_valzer(c)?;
    Ok(SearchKey::ModSeq { entry, modseq })
}

/// Parses `objectid`: 1 to 255 of ALPHA, DIGIT, `_` and `-` (RFC 8474 §7).
pub(crate) fn parse_object_id(c: &mut Cursor<'_>) -> Result<String, ErrorKind> {
    c.sp()?;
    let id = c.take_while(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let is_end = c.peek().is_none_or(|b| !is_atom_char(b));
    if id.is_empty() || id.len() > 255 || !is_end {
        return Err(c.expected("objectid"));
    }
    Ok(String::from_utf8_lossy(id).into_owned())
}
