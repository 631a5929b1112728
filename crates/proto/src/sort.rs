//! SORT and THREAD arguments (RFC 5256, RFC 5957 DISPLAYFROM and DISPLAYTO).

use crate::cursor::Cursor;
use crate::error::ErrorKind;
use crate::search::{SearchKey, parse_search_criteria};
use crate::types::Atom;

/// A sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

const SORT_KEYS: [(&str, SortKey); 9] = [
    ("ARRIVAL", SortKey::Arrival),
    ("CC", SortKey::Cc),
    ("DATE", SortKey::Date),
    ("FROM", SortKey::From),
    ("SIZE", SortKey::Size),
    ("SUBJECT", SortKey::Subject),
    ("TO", SortKey::To),
    ("DISPLAYFROM", SortKey::DisplayFrom),
    ("DISPLAYTO", SortKey::DisplayTo),
];

impl SortKey {
    /// Returns the key's name on the wire.
    pub fn name(self) -> &'static str {
        SORT_KEYS
            .iter()
            .find(|(_, key)| *key == self)
            .map_or("", |(name, _)| name)
    }
}

/// One `sort-criterion`: a key, optionally reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SortCriterion {
    pub is_reverse: bool,
    pub key: SortKey,
}

/// The arguments of SORT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortArguments {
    pub criteria: Vec<SortCriterion>,
    pub charset: String,
    pub keys: Vec<SearchKey>,
}

/// A threading algorithm of THREAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
    /// Another algorithm name.
    Other(Atom),
}

/// The arguments of THREAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadArguments {
    pub algorithm: ThreadAlgorithm,
    pub charset: String,
    pub keys: Vec<SearchKey>,
}

/// Parses `sort-criteria SP search-criteria` after `SORT SP`.
pub(crate) fn parse_sort(c: &mut Cursor<'_>) -> Result<SortArguments, ErrorKind> {
    let criteria = c.paren_list(false, parse_sort_criterion)?;
    c.sp()?;
    let (charset, keys) = parse_search_criteria(c)?;
    Ok(SortArguments {
        criteria,
        charset,
        keys,
    })
}

fn parse_sort_criterion(c: &mut Cursor<'_>) -> Result<SortCriterion, ErrorKind> {
    let is_reverse = c.eat_keyword("REVERSE");
    if is_reverse {
        c.sp()?;
    }
    for (name, key) in SORT_KEYS {
        if c.eat_keyword(name) {
            return Ok(SortCriterion { is_reverse, key });
        }
    }
    Err(c.expected("sort key"))
}

/// Parses `thread-alg SP search-criteria` after `THREAD SP`.
pub(crate) fn parse_thread(c: &mut Cursor<'_>) -> Result<ThreadArguments, ErrorKind> {
    let name = c.atom_string()?;
    let algorithm = match name.to_ascii_uppercase().as_str() {
        "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        "REFERENCES" => ThreadAlgorithm::References,
        _ => ThreadAlgorithm::Other(Atom::new(name)?),
    };
    c.sp()?;
    let (charset, keys) = parse_search_criteria(c)?;
    Ok(ThreadArguments {
        algorithm,
        charset,
        keys,
    })
}
