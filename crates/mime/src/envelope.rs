//! The ENVELOPE of a message (RFC 9051 §7.5.2, RFC 3501 §7.4.2).
//!
//! Strings are the raw header values, unfolded and trimmed; RFC 2047 encoded words are not
//! decoded. The first occurrence of each field is used.

use asimapd_proto::string::write_nstring;

use crate::address::{Address, parse_address_list};
use crate::header;

/// The ENVELOPE fields of one message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    /// Date field, raw.
    pub date: Option<Vec<u8>>,
    /// Subject field, raw.
    pub subject: Option<Vec<u8>>,
    /// From addresses.
    pub from: Vec<Address>,
    /// Sender addresses; From when the field is missing or empty.
    pub sender: Vec<Address>,
    /// Reply-To addresses; From when the field is missing or empty.
    pub reply_to: Vec<Address>,
    /// To addresses.
    pub to: Vec<Address>,
    /// Cc addresses.
    pub cc: Vec<Address>,
    /// Bcc addresses.
    pub bcc: Vec<Address>,
    /// In-Reply-To field, raw.
    pub in_reply_to: Option<Vec<u8>>,
    /// Message-ID field, raw.
    pub message_id: Option<Vec<u8>>,
}

impl Envelope {
    /// Builds the envelope from a message's header block.
    pub fn from_header(block: &[u8]) -> Self {
        let mut envelope = Envelope::default();
        let mut seen = [false; 10];
        for field in header::fields(block) {
            let Some(index) = FIELDS.iter().position(|name| field.is(name)) else {
                continue;
            };
            if std::mem::replace(&mut seen[index], true) {
                continue;
            }
            let value = if index_is_address(index) {
                // Dovecot 2.3 stops reading an address list at a NUL byte.
                let end = memchr::memchr(0, field.value).unwrap_or(field.value.len());
                header::unfold(&field.value[..end])
            } else {
                field.unfolded()
            };
            envelope.set(index, value);
        }
        if envelope.sender.is_empty() {
            envelope.sender = envelope.from.clone();
        }
        if envelope.reply_to.is_empty() {
            envelope.reply_to = envelope.from.clone();
        }
        envelope
    }

    fn set(&mut self, index: usize, value: Vec<u8>) {
        match index {
            0 => self.date = Some(value),
            1 => self.subject = Some(value),
            2 => self.from = parse_address_list(&value),
            3 => self.sender = parse_address_list(&value),
            4 => self.reply_to = parse_address_list(&value),
            5 => self.to = parse_address_list(&value),
            6 => self.cc = parse_address_list(&value),
            7 => self.bcc = parse_address_list(&value),
            8 => self.in_reply_to = Some(value),
            _ => self.message_id = Some(value),
        }
    }

    /// Writes the envelope in IMAP syntax, starting with `(`.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(b'(');
        write_nstring(out, self.date.as_deref());
        out.push(b' ');
        write_nstring(out, self.subject.as_deref());
        for list in [
            &self.from,
            &self.sender,
            &self.reply_to,
            &self.to,
            &self.cc,
            &self.bcc,
        ] {
            out.push(b' ');
            write_address_list(out, list);
        }
        out.push(b' ');
        write_nstring(out, self.in_reply_to.as_deref());
        out.push(b' ');
        write_nstring(out, self.message_id.as_deref());
        out.push(b')');
    }

    /// Returns the envelope in IMAP syntax.
    pub fn to_imap(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(&mut out);
        out
    }
}

fn index_is_address(index: usize) -> bool {
    (2..=7).contains(&index)
}

/// Field names in the order [`Envelope::set`] indexes them.
const FIELDS: [&[u8]; 10] = [
    b"Date",
    b"Subject",
    b"From",
    b"Sender",
    b"Reply-To",
    b"To",
    b"Cc",
    b"Bcc",
    b"In-Reply-To",
    b"Message-ID",
];

fn write_address_list(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for address in list {
        out.push(b'(');
        write_nstring(out, address.name.as_deref());
        out.push(b' ');
        write_nstring(out, address.adl.as_deref());
        out.push(b' ');
        write_nstring(out, address.mailbox.as_deref());
        out.push(b' ');
        write_nstring(out, address.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_of_simple_message() {
        let header = b"Date: Mon, 7 Feb 1994 21:52:25 -0800\nSubject: hi\n there\n\
From: Fred <fred@example.com>\nTo: a@b\nMessage-ID: <1@x>\n\n";
        let envelope = Envelope::from_header(header);
        assert_eq!(
            String::from_utf8(envelope.to_imap()).unwrap(),
            "(\"Mon, 7 Feb 1994 21:52:25 -0800\" \"hi there\" \
((\"Fred\" NIL \"fred\" \"example.com\")) ((\"Fred\" NIL \"fred\" \"example.com\")) \
((\"Fred\" NIL \"fred\" \"example.com\")) ((NIL NIL \"a\" \"b\")) NIL NIL NIL \"<1@x>\")"
        );
    }

    #[test]
    fn envelope_of_empty_header_is_all_nil() {
        assert_eq!(
            Envelope::from_header(b"").to_imap(),
            b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn first_subject_wins() {
        let envelope = Envelope::from_header(b"Subject: one\nSubject: two\n");
        assert_eq!(envelope.subject.as_deref(), Some(&b"one"[..]));
    }
}
