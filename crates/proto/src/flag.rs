//! Message flags (RFC 9051 §2.3.2 and `flag` in §9).

use std::fmt;

use crate::error::ErrorKind;
use crate::string::is_atom_char;

/// A message flag. System flags match case-insensitively; keywords keep the client's case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    /// `\Seen`
    Seen,
    /// `\Answered`
    Answered,
    /// `\Flagged`
    Flagged,
    /// `\Deleted`
    Deleted,
    /// `\Draft`
    Draft,
    /// `\Recent`, only valid in responses (RFC 3501).
    Recent,
    /// A keyword: an atom without a leading backslash.
    Keyword(String),
    /// A `\`-prefixed flag this grammar does not define (`flag-extension`), stored without
    /// the backslash.
    Extension(String),
}

impl Flag {
    /// Parses the wire form of a flag (`\Seen`, `$Junk`, `NonJunk`).
    pub fn parse(text: &str) -> Result<Self, ErrorKind> {
        let invalid = || ErrorKind::InvalidFlag {
            text: text.to_owned(),
        };
        if let Some(name) = text.strip_prefix('\\') {
            if !is_atom(name) {
                return Err(invalid());
            }
            return Ok(system_flag(name).unwrap_or_else(|| Flag::Extension(name.to_owned())));
        }
        if is_atom(text) {
            Ok(Flag::Keyword(text.to_owned()))
        } else {
            Err(invalid())
        }
    }

    /// Returns a keyword, validating it as an atom.
    pub fn keyword(name: &str) -> Result<Self, ErrorKind> {
        if is_atom(name) {
            Ok(Flag::Keyword(name.to_owned()))
        } else {
            Err(ErrorKind::InvalidFlag {
                text: name.to_owned(),
            })
        }
    }
}

fn is_atom(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_atom_char)
}

fn system_flag(name: &str) -> Option<Flag> {
    const SYSTEM: [(&str, Flag); 6] = [
        ("Seen", Flag::Seen),
        ("Answered", Flag::Answered),
        ("Flagged", Flag::Flagged),
        ("Deleted", Flag::Deleted),
        ("Draft", Flag::Draft),
        ("Recent", Flag::Recent),
    ];
    SYSTEM
        .iter()
        .find(|(system, _)| system.eq_ignore_ascii_case(name))
        .map(|(_, flag)| flag.clone())
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Seen => f.write_str("\\Seen"),
            Flag::Answered => f.write_str("\\Answered"),
            Flag::Flagged => f.write_str("\\Flagged"),
            Flag::Deleted => f.write_str("\\Deleted"),
            Flag::Draft => f.write_str("\\Draft"),
            Flag::Recent => f.write_str("\\Recent"),
            Flag::Keyword(name) => f.write_str(name),
            Flag::Extension(name) => write!(f, "\\{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_flags_match_any_case() {
        assert_eq!(Flag::parse("\\SEEN").unwrap(), Flag::Seen);
        assert_eq!(Flag::parse("\\deleted").unwrap(), Flag::Deleted);
    }

    #[test]
    fn keywords_and_extensions_keep_case() {
        assert_eq!(Flag::parse("$Junk").unwrap(), Flag::Keyword("$Junk".into()));
        assert_eq!(Flag::parse("\\Foo").unwrap(), Flag::Extension("Foo".into()));
        assert_eq!(Flag::parse("\\Foo").unwrap().to_string(), "\\Foo");
    }

    #[test]
    fn invalid_flags_are_rejected() {
        assert!(Flag::parse("").is_err());
        assert!(Flag::parse("\\").is_err());
        assert!(Flag::parse("a b").is_err());
        assert!(Flag::parse("a(").is_err());
        assert!(Flag::parse("\\*").is_err());
    }
}
