//! Newtypes for protocol values, each refusing values the grammar forbids
//! (RFC 9051 §9: `tag`, `uniqueid`, `seq-number`, `mod-sequence-value`, `nz-number`).

use std::fmt;
use std::num::NonZeroU32;

use crate::error::ErrorKind;
use crate::string::is_astring_char;

/// A command tag: one or more ASTRING-CHARs other than `+`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag(String);

impl Tag {
    /// Validates and wraps a tag.
    pub fn new(text: impl Into<String>) -> Result<Self, ErrorKind> {
        let text = text.into();
        let is_valid = !text.is_empty() && text.bytes().all(is_tag_char);
        if is_valid {
            Ok(Tag(text))
        } else {
            Err(ErrorKind::InvalidTag)
        }
    }

    /// Returns the tag text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Returns true for bytes allowed in a tag.
pub fn is_tag_char(byte: u8) -> bool {
    is_astring_char(byte) && byte != b'+'
}

macro_rules! nonzero_u32_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(NonZeroU32);

        impl $name {
            /// Wraps a value, returning `None` for zero, which the grammar forbids.
            pub const fn new(value: u32) -> Option<Self> {
                match NonZeroU32::new(value) {
                    Some(value) => Some($name(value)),
                    None => None,
                }
            }

            /// Wraps a value already known to be non-zero.
            pub const fn from_nonzero(value: NonZeroU32) -> Self {
                $name(value)
            }

            /// Returns the numeric value, never zero.
            pub const fn get(self) -> u32 {
                self.0.get()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

nonzero_u32_newtype!(
    /// A message UID (RFC 9051 §2.3.1.1), unique within one UIDVALIDITY of a mailbox.
    Uid
);
nonzero_u32_newtype!(
    /// A message sequence number (RFC 9051 §2.3.1.2): the 1-based position in the session's
    /// view of the selected mailbox.
    SeqNum
);
nonzero_u32_newtype!(
    /// A mailbox's UIDVALIDITY value.
    UidValidity
);

/// The largest mod-sequence value: RFC 7162 §7 limits `mod-sequence-value` to 63 bits.
pub const MAX_MOD_SEQ: u64 = i64::MAX as u64;

/// A CONDSTORE mod-sequence (RFC 7162 §3.1.1), 1 to 2^63 - 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModSeq(u64);

impl ModSeq {
    /// Wraps a value, returning `None` for zero or values above [`MAX_MOD_SEQ`].
    pub const fn new(value: u64) -> Option<Self> {
        if value == 0 || value > MAX_MOD_SEQ {
            None
        } else {
            Some(ModSeq(value))
        }
    }

    /// Returns the numeric value.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ModSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A secret value, such as a LOGIN password, whose `Debug` output hides the content.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Wraps secret bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }

    /// Returns the secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// An atom (RFC 9051 `atom`): one or more ATOM-CHARs. Used for capability names,
/// SASL mechanism names and other extension words.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Atom(String);

impl Atom {
    /// Validates and wraps an atom.
    pub fn new(text: impl Into<String>) -> Result<Self, ErrorKind> {
        let text = text.into();
        let is_valid = !text.is_empty() && text.bytes().all(crate::string::is_atom_char);
        if is_valid {
            Ok(Atom(text))
        } else {
            Err(ErrorKind::Expected {
                expected: "atom",
                offset: 0,
            })
        }
    }

    /// Returns the atom text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares with `other` ignoring ASCII case, as IMAP keywords are compared.
    pub fn eq_ignore_case(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rejects_plus_and_specials() {
        assert!(Tag::new("a+1").is_err());
        assert!(Tag::new("a b").is_err());
        assert!(Tag::new("").is_err());
        assert!(Tag::new("a(").is_err());
        assert_eq!(Tag::new("A001]").unwrap().as_str(), "A001]");
    }

    #[test]
    fn uid_and_seqnum_reject_zero() {
        assert!(Uid::new(0).is_none());
        assert!(SeqNum::new(0).is_none());
        assert_eq!(Uid::new(7).unwrap().get(), 7);
    }

    #[test]
    fn modseq_rejects_zero_and_64th_bit() {
        assert!(ModSeq::new(0).is_none());
        assert!(ModSeq::new(MAX_MOD_SEQ + 1).is_none());
        assert!(ModSeq::new(MAX_MOD_SEQ).is_some());
    }

    #[test]
    fn secret_debug_hides_content() {
        let secret = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{secret:?}"), "Secret(..)");
    }
}
