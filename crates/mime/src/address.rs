//! Address lists of the ENVELOPE (RFC 5322 §3.4, RFC 9051 §7.5.2).
//!
//! The parser is tolerant. It never fails and skips bytes it cannot place. A missing local
//! part or domain becomes `MISSING_MAILBOX` or `MISSING_DOMAIN`, as in Dovecot 2.3, because
//! a NIL host would make a client read the address as a group marker. RFC 2047
//! encoded words in display names stay encoded, as the ENVELOPE requires.

/// One element of an ENVELOPE address list: a mailbox, or a group start or end marker.
///
/// RFC 9051 §7.5.2 encodes a group as a start marker (host NIL, mailbox the group name)
/// followed by its members and an end marker (mailbox and host NIL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Display name (phrase), or the comment of `user@host (Name)`.
    pub name: Option<Vec<u8>>,
    /// Source route (`@a,@b`), obsolete but still reported.
    pub adl: Option<Vec<u8>>,
    /// Local part; the group name for a group start marker.
    pub mailbox: Option<Vec<u8>>,
    /// Domain; NIL only for group markers.
    pub host: Option<Vec<u8>>,
}

/// Local part reported for an address that has none.
pub const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
/// Domain reported for an address that has none.
pub const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";
/// Domain reported for an address whose `<` is never closed, as Dovecot 2.3 reports it.
pub const SYNTAX_ERROR_DOMAIN: &[u8] = b"SYNTAX_ERROR";

impl Address {
    /// Returns true for a group start or end marker.
    pub fn is_group_marker(&self) -> bool {
        self.host.is_none()
    }

    fn group_start(name: Vec<u8>) -> Self {
        Self {
            mailbox: Some(name),
            ..Self::default()
        }
    }

    fn group_end() -> Self {
        Self::default()
    }
}

/// Parses an unfolded address-list header value into ENVELOPE address entries.
pub fn parse_address_list(input: &[u8]) -> Vec<Address> {
    let mut parser = Parser {
        input,
        pos: 0,
        comment: None,
        has_unclosed_comment: false,
    };
    let mut out = Vec::new();
    let mut in_group = false;
    loop {
        parser.skip_cfws();
        let Some(byte) = parser.peek() else { break };
        let start = parser.pos;
        match byte {
            b',' => parser.pos += 1,
            b';' => {
                parser.pos += 1;
                if in_group {
                    out.push(Address::group_end());
                    in_group = false;
                }
            }
            _ => match parser.address(in_group) {
                Item::GroupStart(name) => {
                    out.push(Address::group_start(name));
                    in_group = true;
                }
                Item::Mailbox(address) => out.push(address),
                Item::Nothing => {}
            },
        }
        if parser.pos == start {
            parser.pos += 1;
        }
    }
    if in_group {
        out.push(Address::group_end());
    }
    out
}

enum Item {
    GroupStart(Vec<u8>),
    Mailbox(Address),
    Nothing,
}

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    comment: Option<Vec<u8>>,
    has_unclosed_comment: bool,
}

/// RFC 5322 `specials`, and the bytes that may appear in an atom, as a lookup table
/// because header parsing tests every byte.
const ATOM_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0x21;
    while byte < 256 {
        table[byte] = byte != 0x7f;
        byte += 1;
    }
    let specials = b"()<>[]:;@\\,.\"";
    let mut index = 0;
    while index < specials.len() {
        table[specials[index] as usize] = false;
        index += 1;
    }
    table
};

fn is_atom_byte(byte: u8) -> bool {
    ATOM_BYTES[usize::from(byte)]
}

/// Words of a phrase and the text of a local part read so far.
#[derive(Default)]
struct Words {
    phrase: Vec<Vec<u8>>,
    local: Vec<u8>,
}

impl Words {
    fn display_name(&self) -> Option<Vec<u8>> {
        (!self.phrase.is_empty()).then(|| self.phrase.join(&b' '))
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_cfws(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => {
                    let comment = self.comment_text();
                    self.comment = Some(comment);
                }
                _ => return,
            }
        }
    }

    /// Reads a comment after the current `(`, returning its text without the outer
    /// parentheses; an unclosed comment runs to the end.
    fn comment_text(&mut self) -> Vec<u8> {
        let mut depth = 0usize;
        let mut text = Vec::new();
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b'(' => {
                    depth += 1;
                    if depth == 1 {
                        continue;
                    }
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return crate::header::trim(&text).to_vec();
                    }
                }
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        self.pos += 1;
                        text.push(escaped);
                    }
                    continue;
                }
                _ => {}
            }
            text.push(byte);
        }
        self.has_unclosed_comment = true;
        crate::header::trim(&text).to_vec()
    }

    /// Reads a quoted string after the current `"` and returns its unescaped content. A
    /// quoted local part is reported without its quotes, as Dovecot 2.3 reports it.
    fn quoted(&mut self) -> Vec<u8> {
        self.pos += 1;
        let mut value = Vec::new();
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b'"' => break,
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        self.pos += 1;
                        value.push(escaped);
                    }
                }
                _ => value.push(byte),
            }
        }
        value
    }

    fn atom(&mut self) -> Vec<u8> {
        let start = self.pos;
        while self.peek().is_some_and(is_atom_byte) {
            self.pos += 1;
        }
        self.input[start..self.pos].to_vec()
    }

    /// Reads one mailbox or a group start.
    fn address(&mut self, in_group: bool) -> Item {
        self.comment = None;
        let mut words = Words::default();
        loop {
            self.skip_cfws();
            let Some(byte) = self.peek() else { break };
            match byte {
                b',' | b';' => break,
                b'<' => return Item::Mailbox(self.angle_addr(words.display_name())),
                b':' if !in_group => {
                    self.pos += 1;
                    return Item::GroupStart(words.display_name().unwrap_or_default());
                }
                b'@' => {
                    self.pos += 1;
                    let host = self.domain(b",;");
                    return Item::Mailbox(self.addr_spec(words.local, host));
                }
                b'.' => {
                    self.pos += 1;
                    words.local.push(b'.');
                    match words.phrase.last_mut() {
                        Some(word) => word.push(b'.'),
                        None => words.phrase.push(b".".to_vec()),
                    }
                }
                b'"' => {
                    let value = self.quoted();
                    words.local.extend_from_slice(&value);
                    words.phrase.push(value);
                }
                _ if is_atom_byte(byte) => {
                    let atom = self.atom();
                    words.local.extend_from_slice(&atom);
                    words.phrase.push(atom);
                }
                _ => self.pos += 1,
            }
        }
        if words.local.is_empty() {
            return Item::Nothing;
        }
        Item::Mailbox(self.addr_spec(words.local, None))
    }

    /// Builds an address from `local@host`. An unclosed comment after it makes the domain
    /// and the name invalid, as in Dovecot 2.3.
    fn addr_spec(&self, local: Vec<u8>, host: Option<Vec<u8>>) -> Address {
        let (name, host) = if self.has_unclosed_comment {
            (None, None)
        } else {
            (self.comment.clone().filter(|name| !name.is_empty()), host)
        };
        Address {
            name,
            adl: None,
            mailbox: Some(non_empty_or(local, MISSING_MAILBOX)),
            host: Some(non_empty_or(host.unwrap_or_default(), MISSING_DOMAIN)),
        }
    }

    /// Reads `<[route:]local@domain>` after the current `<`.
    fn angle_addr(&mut self, name: Option<Vec<u8>>) -> Address {
        self.pos += 1;
        self.skip_cfws();
        let adl = if self.peek() == Some(b'@') {
            self.route()
        } else {
            None
        };
        let mut local = Vec::new();
        let mut host = None;
        let mut is_closed = false;
        loop {
            self.skip_cfws();
            let Some(byte) = self.peek() else { break };
            match byte {
                b'>' => {
                    self.pos += 1;
                    is_closed = true;
                    break;
                }
                b'@' => {
                    self.pos += 1;
                    host = self.domain(b">");
                }
                b'"' => local.extend_from_slice(&self.quoted()),
                b'.' => {
                    self.pos += 1;
                    local.push(b'.');
                }
                _ if is_atom_byte(byte) => local.extend_from_slice(&self.atom()),
                _ => self.pos += 1,
            }
        }
        let host = if is_closed {
            non_empty_or(host.unwrap_or_default(), MISSING_DOMAIN)
        } else {
            SYNTAX_ERROR_DOMAIN.to_vec()
        };
        Address {
            name,
            adl,
            mailbox: Some(non_empty_or(local, MISSING_MAILBOX)),
            host: Some(host),
        }
    }

    /// Reads an obsolete source route `@a,@b:` (RFC 5322 §4.4).
    fn route(&mut self) -> Option<Vec<u8>> {
        let start = self.pos;
        let colon = memchr::memchr2(b':', b'>', &self.input[start..])?;
        if self.input[start + colon] != b':' {
            return None;
        }
        self.pos = start + colon + 1;
        let route: Vec<u8> = self.input[start..start + colon]
            .iter()
            .copied()
            .filter(|byte| !byte.is_ascii_whitespace())
            .collect();
        Some(route)
    }

    /// Reads a domain (dot-atom or domain literal) up to one of `stops`.
    fn domain(&mut self, stops: &[u8]) -> Option<Vec<u8>> {
        let mut domain = Vec::new();
        loop {
            self.skip_cfws();
            let Some(byte) = self.peek() else { break };
            if stops.contains(&byte) || byte == b'<' {
                break;
            }
            match byte {
                b'[' => {
                    let end = memchr::memchr(b']', &self.input[self.pos..])
                        .map_or(self.input.len(), |offset| self.pos + offset + 1);
                    domain.extend_from_slice(&self.input[self.pos..end]);
                    self.pos = end;
                }
                b'.' => {
                    self.pos += 1;
                    domain.push(b'.');
                }
                _ if is_atom_byte(byte) => domain.extend_from_slice(&self.atom()),
                _ => self.pos += 1,
            }
        }
        (!domain.is_empty()).then_some(domain)
    }
}

fn non_empty_or(value: Vec<u8>, fallback: &[u8]) -> Vec<u8> {
    if value.is_empty() {
        fallback.to_vec()
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(name: Option<&str>, mailbox: &str, host: &str) -> Address {
        Address {
            name: name.map(|name| name.as_bytes().to_vec()),
            adl: None,
            mailbox: Some(mailbox.as_bytes().to_vec()),
            host: Some(host.as_bytes().to_vec()),
        }
    }

    #[test]
    fn name_addr_and_addr_spec() {
        let list = parse_address_list(b"\"Doe, John\" <john@example.com>, jane@example.org");
        assert_eq!(
            list,
            vec![
                mailbox(Some("Doe, John"), "john", "example.com"),
                mailbox(None, "jane", "example.org"),
            ]
        );
    }

    #[test]
    fn comment_becomes_name_of_addr_spec() {
        let list = parse_address_list(b"root@localhost (Charlie Root)");
        assert_eq!(
            list,
            vec![mailbox(Some("Charlie Root"), "root", "localhost")]
        );
    }

    #[test]
    fn group_has_start_and_end_markers() {
        let list = parse_address_list(b"Team: a@x, b@y;, c@z");
        assert_eq!(list.len(), 5);
        assert_eq!(list[0], Address::group_start(b"Team".to_vec()));
        assert_eq!(list[3], Address::group_end());
        assert_eq!(list[4], mailbox(None, "c", "z"));
    }

    #[test]
    fn empty_group_is_start_and_end() {
        let list = parse_address_list(b"undisclosed-recipients:;");
        assert_eq!(
            list,
            vec![
                Address::group_start(b"undisclosed-recipients".to_vec()),
                Address::group_end()
            ]
        );
    }

    #[test]
    fn missing_domain_is_filled() {
        assert_eq!(
            parse_address_list(b"root"),
            vec![mailbox(None, "root", "MISSING_DOMAIN")]
        );
    }

    #[test]
    fn route_is_reported_as_adl() {
        let list = parse_address_list(b"<@relay.example:user@example.com>");
        assert_eq!(list[0].adl.as_deref(), Some(&b"@relay.example"[..]));
        assert_eq!(list[0].mailbox.as_deref(), Some(&b"user"[..]));
    }

    #[test]
    fn display_name_keeps_encoded_words() {
        let list = parse_address_list(b"=?utf-8?q?J=C3=B6rg?= <j@example.de>");
        assert_eq!(list[0].name.as_deref(), Some(&b"=?utf-8?q?J=C3=B6rg?="[..]));
    }
}
