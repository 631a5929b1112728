//! Arguments of SELECT, EXAMINE, CREATE, ENABLE and ID (RFC 4466 select-params,
//! RFC 7162 §3.1.8 and §3.2.5 CONDSTORE and QRESYNC, RFC 6154 §5 CREATE-SPECIAL-USE,
//! RFC 5161 ENABLE, RFC 2971 ID).

use crate::cursor::Cursor;
use crate::error::ErrorKind;
use crate::grammar::{parse_mod_seq, parse_sequence_set};
use crate::sequence::SequenceSet;
use crate::string::is_atom_char;
use crate::types::{Atom, ModSeq, UidValidity};

/// A SELECT or EXAMINE parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectParam {
    /// `CONDSTORE` (RFC 7162 §3.1.8).
    CondStore,
    /// `QRESYNC (...)` (RFC 7162 §3.2.5).
    QResync(QResync),
}

/// The QRESYNC select parameter: what the client knew of the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QResync {
    pub uid_validity: UidValidity,
    pub modseq: ModSeq,
    /// UIDs known to the client, if it sent them.
    pub known_uids: Option<SequenceSet>,
    /// Matching sequence numbers and UIDs (`seq-match-data`), if sent.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// Parses `select-params` after the SP: `"(" select-param *(SP select-param) ")"`.
pub(crate) fn parse_select_params(c: &mut Cursor<'_>) -> Result<Vec<SelectParam>, ErrorKind> {
    c.paren_list(false, |c| {
        if c.eat_keyword("CONDSTORE") {
            Ok(SelectParam::CondStore)
        } else if c.eat_keyword("QRESYNC") {
            c.sp()?;
            parse_qresync(c).map(SelectParam::QResync)
        } else {
            Err(c.expected("CONDSTORE or QRESYNC"))
        }
    })
}

fn parse_qresync(c: &mut Cursor<'_>) -> Result<QResync, ErrorKind> {
    c.expect(b'(', "(")?;
    let start = c.pos();
    let uid_validity = UidValidity::new(c.number()?).ok_or_else(|| ErrorKind::InvalidNumber {
        text: String::from_utf8_lossy(c.since(start)).into_owned(),
    })?;
    c.sp()?;
    let modseq = parse_mod_seq(c)?;
    let mut known_uids = None;
    let mut seq_match = None;
    if c.eat(b' ') {
        if c.peek() == Some(b'(') {
            seq_match = Some(parse_seq_match(c)?);
        } else {
            known_uids = Some(parse_sequence_set(c)?);
            if c.eat(b' ') {
                seq_match = Some(parse_seq_match(c)?);
            }
        }
    }
    c.expect(b')', ")")?;
    Ok(QResync {
        uid_validity,
        modseq,
        known_uids,
        seq_match,
    })
}

fn parse_seq_match(c: &mut Cursor<'_>) -> Result<(SequenceSet, SequenceSet), ErrorKind> {
    c.expect(b'(', "(")?;
    let sequence_numbers = parse_sequence_set(c)?;
    c.sp()?;
    let uids = parse_sequence_set(c)?;
    c.expect(b')', ")")?;
    Ok((sequence_numbers, uids))
}

/// Parses `create-params` after the SP: `"(" "USE" SP "(" [use-attr *(SP use-attr)] ")" ")"`,
/// returning the special-use attributes with their backslash.
pub(crate) fn parse_create_params(c: &mut Cursor<'_>) -> Result<Vec<String>, ErrorKind> {
    let lists = c.paren_list(false, |c| {
        c.keyword("USE")?;
        c.sp()?;
        c.paren_list(true, parse_use_attr)
    })?;
    Ok(lists.into_iter().flatten().collect())
}

fn parse_use_attr(c: &mut Cursor<'_>) -> Result<String, ErrorKind> {
    c.expect(b'\\', "special-use attribute")?;
    let name = c.atom_string()?;
    Ok(format!("\\{name}"))
}

/// Parses `1*(SP capability)` of ENABLE.
pub(crate) fn parse_enable(c: &mut Cursor<'_>) -> Result<Vec<Atom>, ErrorKind> {
    let mut capabilities = Vec::new();
    while c.eat(b' ') {
        capabilities.push(Atom::new(c.atom_string()?)?);
    }
    if capabilities.is_empty() {
        return Err(c.expected("SP capability"));
    }
    Ok(capabilities)
}

/// Field and value pairs of ID; `None` for `NIL`.
pub type IdParams = Option<Vec<(String, Option<String>)>>;

/// Writes ID fields for a log line: `name="Thunderbird" version="115.3" os=NIL`.
pub fn id_fields_text(fields: &[(String, Option<String>)]) -> String {
    let mut text = String::new();
    for (field, value) in fields {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(field);
        match value {
            Some(value) => {
                text.push_str("=\"");
                text.push_str(&value.replace('"', "\\\""));
                text.push('"');
            }
            None => text.push_str("=NIL"),
        }
    }
    text
}

/// Parses `id-params-list`: `"(" *(string SP nstring) ")" / nil`.
pub(crate) fn parse_id_params(c: &mut Cursor<'_>) -> Result<IdParams, ErrorKind> {
    if c.eat_keyword("NIL") {
        return Ok(None);
    }
    let pairs = c.paren_list(true, |c| {
        let field = c.string_utf8()?;
        c.sp()?;
        let value = c.nstring_utf8()?;
        Ok((field, value))
    })?;
    Ok(Some(pairs))
}

/// Parses an atom argument such as a SASL mechanism or compression algorithm.
pub(crate) fn parse_atom(c: &mut Cursor<'_>) -> Result<Atom, ErrorKind> {
    let text = c.take_while(is_atom_char);
    if text.is_empty() {
        return Err(c.expected("atom"));
    }
    Atom::new(String::from_utf8_lossy(text).into_owned())
}
