//! Mailbox names and LIST patterns (RFC 9051 §5.1, RFC 3501 §5.1.3, RFC 6855 §3).

use std::fmt;

use crate::mutf7::{self, Mutf7Error};

/// A mailbox name, decoded to UTF-8. The name `INBOX` is matched case-insensitively and
/// stored as `INBOX`; other names, including `INBOX` children and `INBOXES`, keep their case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxName(String);

impl MailboxName {
    /// Wraps a decoded name, normalising any case of `INBOX` to `INBOX`.
    pub fn new(name: impl Into<String>) -> Self {
        let name = name.into();
        if name.eq_ignore_ascii_case("INBOX") {
            MailboxName("INBOX".to_owned())
        } else {
            MailboxName(name)
        }
    }

    /// Returns the special mailbox `INBOX`.
    pub fn inbox() -> Self {
        MailboxName("INBOX".to_owned())
    }

    /// Decodes a name as the client sent it: modified UTF-7, or UTF-8 when `utf8_accept`.
    pub fn from_wire(wire: &[u8], utf8_accept: bool) -> Result<Self, Mutf7Error> {
        decode_name(wire, utf8_accept).map(MailboxName::new)
    }

    /// Returns the decoded name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Returns true for `INBOX`.
    pub fn is_inbox(&self) -> bool {
        self.0 == "INBOX"
    }

    /// Encodes the name for the wire: modified UTF-7, or UTF-8 when `utf8_accept`.
    pub fn to_wire(&self, utf8_accept: bool) -> String {
        if utf8_accept {
            self.0.clone()
        } else {
            mutf7::encode(&self.0)
        }
    }
}

impl fmt::Display for MailboxName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A LIST or LSUB pattern (`list-mailbox`), decoded to UTF-8, with `*` and `%` wildcards.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListPattern(String);

impl ListPattern {
    /// Wraps a decoded pattern.
    pub fn new(pattern: impl Into<String>) -> Self {
        ListPattern(pattern.into())
    }

    /// Decodes a pattern as the client sent it.
    pub fn from_wire(wire: &[u8], utf8_accept: bool) -> Result<Self, Mutf7Error> {
        decode_name(wire, utf8_accept).map(ListPattern)
    }

    /// Returns the decoded pattern.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Encodes the pattern for the wire.
    pub fn to_wire(&self, utf8_accept: bool) -> String {
        if utf8_accept {
            self.0.clone()
        } else {
            mutf7::encode(&self.0)
        }
    }
}

fn decode_name(wire: &[u8], utf8_accept: bool) -> Result<String, Mutf7Error> {
    if utf8_accept {
        // RFC 6855 §3: after ENABLE UTF8=ACCEPT mailbox names are UTF-8 and are not
        // decoded as modified UTF-7, so `&` stands for itself.
        let text = std::str::from_utf8(wire).map_err(|_| Mutf7Error::InvalidUtf8)?;
        Ok(text.to_owned())
    } else {
        mutf7::decode(wire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbox_matches_any_case() {
        assert!(MailboxName::new("inBoX").is_inbox());
        assert_eq!(MailboxName::new("inbox").as_str(), "INBOX");
    }

    #[test]
    fn inbox_prefixes_keep_case() {
        assert_eq!(MailboxName::new("inboxes").as_str(), "inboxes");
        assert_eq!(MailboxName::new("inbox/sub").as_str(), "inbox/sub");
        assert!(!MailboxName::new("Inboxes").is_inbox());
    }

    #[test]
    fn utf8_mode_takes_bytes_as_utf8() {
        let name = MailboxName::from_wire("Entwürfe".as_bytes(), true).unwrap();
        assert_eq!(name.as_str(), "Entwürfe");
        assert_eq!(name.to_wire(true), "Entwürfe");
        assert_eq!(name.to_wire(false), "Entw&APw-rfe");
    }

    #[test]
    fn mutf7_mode_rejects_8bit() {
        assert!(MailboxName::from_wire("Entwürfe".as_bytes(), false).is_err());
    }
}
