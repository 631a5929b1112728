//! LIST and LSUB arguments (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED, RFC 5819 LIST-STATUS,
//! RFC 6154 SPECIAL-USE).

use crate::cursor::Cursor;
use crate::error::ErrorKind;
use crate::mailbox::ListPattern;
use crate::status::{StatusItem, parse_status_att_list};
use crate::string::is_atom_char;
use crate::types::Atom;

/// The arguments of LIST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListArguments {
    /// Selection options (`list-select-opts`); empty without them.
    pub selection: Vec<ListSelection>,
    /// Reference name, decoded.
    pub reference: ListPattern,
    /// One or more patterns; several only with LIST-EXTENDED.
    pub patterns: Vec<ListPattern>,
    /// Return options (`list-return-opts`); empty without them.
    pub return_options: Vec<ListReturn>,
}

/// A `list-select-option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSelection {
    Subscribed,
    Remote,
    RecursiveMatch,
    SpecialUse,
    /// An `option-extension` name.
    Other(Atom),
}

/// A `return-option`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturn {
    Subscribed,
    Children,
    SpecialUse,
    /// `STATUS (items)` (RFC 5819).
    Status(Vec<StatusItem>),
    /// An `option-extension` name.
    Other(Atom),
}

/// Parses the arguments of LIST after `LIST SP`.
pub(crate) fn parse_list(c: &mut Cursor<'_>) -> Result<ListArguments, ErrorKind> {
    let selection = if c.peek() == Some(b'(') {
        let options = c.paren_list(true, parse_select_option)?;
        c.sp()?;
        options
    } else {
        Vec::new()
    };
    let reference = parse_reference(c)?;
    c.sp()?;
    let patterns = if c.peek() == Some(b'(') {
        c.paren_list(false, parse_list_mailbox)?
    } else {
        vec![parse_list_mailbox(c)?]
    };
    let return_options = if c.rest().starts_with(b" ") {
        c.sp()?;
        c.keyword("RETURN")?;
        c.sp()?;
        c.paren_list(true, parse_return_option)?
    } else {
        Vec::new()
    };
    Ok(ListArguments {
        selection,
        reference,
        patterns,
        return_options,
    })
}

/// Parses the reference and pattern of LSUB after `LSUB SP`.
pub(crate) fn parse_lsub(c: &mut Cursor<'_>) -> Result<(ListPattern, ListPattern), ErrorKind> {
    let reference = parse_reference(c)?;
    c.sp()?;
    let pattern = parse_list_mailbox(c)?;
    Ok((reference, pattern))
}

fn parse_reference(c: &mut Cursor<'_>) -> Result<ListPattern, ErrorKind> {
    let wire = c.astring()?;
    Ok(ListPattern::from_wire(&wire, c.utf8_accept)?)
}

/// Parses `list-mailbox`: `1*list-char / string`, where `list-char` adds `%`, `*` and `]`
/// to ATOM-CHAR.
pub(crate) fn parse_list_mailbox(c: &mut Cursor<'_>) -> Result<ListPattern, ErrorKind> {
    let wire = match c.peek() {
        Some(b'"' | b'{') => c.string()?,
        _ => {
            let chars = c.take_while(|b| is_atom_char(b) || matches!(b, b'%' | b'*' | b']'));
            if chars.is_empty() {
                return Err(c.expected("list-mailbox"));
            }
            chars.into()
        }
    };
    Ok(ListPattern::from_wire(&wire, c.utf8_accept)?)
}

// NOTE: an `option-extension` with an `option-value` (RFC 5258 §6) is rejected, because no
// extension this server plans to advertise defines one.
fn parse_select_option(c: &mut Cursor<'_>) -> Result<ListSelection, ErrorKind> {
    let name = c.atom_string()?;
    let option = match name.to_ascii_uppercase().as_str() {
        "SUBSCRIBED" => ListSelection::Subscribed,
        "REMOTE" => ListSelection::Remote,
        "RECURSIVEMATCH" => ListSelection::RecursiveMatch,
        "SPECIAL-USE" => ListSelection::SpecialUse,
        _ => ListSelection::Other(Atom::new(name)?),
    };
    Ok(option)
}

fn parse_return_option(c: &mut Cursor<'_>) -> Result<ListReturn, ErrorKind> {
    let name = c.atom_string()?;
    let option = match name.to_ascii_uppercase().as_str() {
        "SUBSCRIBED" => ListReturn::Subscribed,
        "CHILDREN" => ListReturn::Children,
        "SPECIAL-USE" => ListReturn::SpecialUse,
        "STATUS" => {
            c.sp()?;
            ListReturn::Status(parse_status_att_list(c)?)
        }
        _ => ListReturn::Other(Atom::new(name)?),
    };
    Ok(option)
}
