//! A reader over the bytes of one complete command, with one method per ABNF primitive of
//! RFC 9051 §9 (`atom`, `astring`, `string`, `quoted`, `literal`, `number`, ...).

use std::borrow::Cow;
use std::num::NonZeroU32;

use crate::error::ErrorKind;
use crate::limits::Limits;
use crate::mailbox::MailboxName;
use crate::string::{is_astring_char, is_atom_char};

/// The payload of a literal: in the command's bytes, or streamed by the session elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LiteralBody<'a> {
    Bytes(&'a [u8]),
    External(u64),
}

/// A literal header: its length, whether it was a literal8 (`~{n}`), and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Literal<'a> {
    pub is_binary: bool,
    pub body: LiteralBody<'a>,
}

pub(crate) struct Cursor<'a> {
    input: &'a [u8],
    pos: usize,
    /// Offsets of payloads the session streamed elsewhere, relative to `input`.
    externals: &'a [usize],
    depth: usize,
    max_depth: usize,
    pub utf8_accept: bool,
}

impl<'a> Cursor<'a> {
    pub fn new(input: &'a [u8], externals: &'a [usize], limits: &Limits) -> Self {
        Cursor {
            input,
            pos: 0,
            externals,
            depth: 0,
            max_depth: limits.max_depth,
            utf8_accept: limits.utf8_accept,
        }
    }

    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Returns the bytes read since offset `start`.
    pub fn since(&self, start: usize) -> &'a [u8] {
        &self.input[start..self.pos]
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.input[self.pos..]
    }

    pub fn expected(&self, expected: &'static str) -> ErrorKind {
        ErrorKind::Expected {
            expected,
            offset: self.pos,
        }
    }

    pub fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    pub fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    pub fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), ErrorKind> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.expected(expected))
        }
    }

    pub fn sp(&mut self) -> Result<(), ErrorKind> {
        self.expect(b' ', "SP")
    }

    /// Consumes the final CRLF, which must end the input.
    pub fn finish(&mut self) -> Result<(), ErrorKind> {
        if self.rest() == b"\r\n" {
            self.pos += 2;
            Ok(())
        } else {
            Err(self.expected("CRLF"))
        }
    }

    /// Enters one nesting level of a list or search key.
    pub fn enter(&mut self) -> Result<(), ErrorKind> {
        if self.depth >= self.max_depth {
            return Err(ErrorKind::TooDeep {
                max: self.max_depth,
            });
        }
        self.depth += 1;
        Ok(())
    }

    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    pub fn take_while(&mut self, predicate: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        let len = self.rest().iter().take_while(|&&b| predicate(b)).count();
        self.pos += len;
        &self.input[start..self.pos]
    }

    pub fn atom(&mut self) -> Result<&'a [u8], ErrorKind> {
        let atom = self.take_while(is_atom_char);
        if atom.is_empty() {
            Err(self.expected("atom"))
        } else {
            Ok(atom)
        }
    }

    pub fn atom_string(&mut self) -> Result<String, ErrorKind> {
        // Atoms are ASCII by definition.
        Ok(String::from_utf8_lossy(self.atom()?).into_owned())
    }

    /// Consumes `keyword` if the input continues with it (in any case) followed by a byte
    /// that cannot continue an atom.
    pub fn eat_keyword(&mut self, keyword: &str) -> bool {
        let rest = self.rest();
        let matches = rest.len() >= keyword.len()
            && rest[..keyword.len()].eq_ignore_ascii_case(keyword.as_bytes())
            && rest.get(keyword.len()).is_none_or(|&b| !is_atom_char(b));
        if matches {
            self.pos += keyword.len();
        }
        matches
    }

    pub fn keyword(&mut self, keyword: &'static str) -> Result<(), ErrorKind> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.expected(keyword))
        }
    }

    fn digits(&mut self) -> Result<&'a [u8], ErrorKind> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            Err(self.expected("number"))
        } else {
            Ok(digits)
        }
    }

    /// Reads `number64`: up to 2^63 - 1.
    pub fn number64(&mut self) -> Result<u64, ErrorKind> {
        let digits = self.digits()?;
        parse_decimal(digits)
            .filter(|&value| value <= i64::MAX as u64)
            .ok_or_else(|| invalid_number(digits))
    }

    /// Reads `number`: up to 2^32 - 1.
    pub fn number(&mut self) -> Result<u32, ErrorKind> {
        let digits = self.digits()?;
        parse_decimal(digits)
            .and_then(|value| u32::try_from(value).ok())
            .ok_or_else(|| invalid_number(digits))
    }

    pub fn nz_number(&mut self) -> Result<NonZeroU32, ErrorKind> {
        let start = self.pos;
        let value = self.number()?;
        NonZeroU32::new(value).ok_or_else(|| invalid_number(&self.input[start..self.pos]))
    }

    pub fn quoted(&mut self) -> Result<Cow<'a, [u8]>, ErrorKind> {
        self.expect(b'"', "quoted string")?;
        let start = self.pos;
        let body = self.take_while(|b| b != b'"' && b != b'\\' && is_text_byte(b));
        if self.eat(b'"') {
            check_utf8_runs(body)?;
            return Ok(Cow::Borrowed(body));
        }
        self.pos = start;
        self.quoted_with_escapes().map(Cow::Owned)
    }

    fn quoted_with_escapes(&mut self) -> Result<Vec<u8>, ErrorKind> {
        let mut value = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    check_utf8_runs(&value)?;
                    return Ok(value);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(byte @ (b'"' | b'\\')) => value.push(byte),
                        _ => return Err(self.expected("quoted-specials after backslash")),
                    }
                    self.pos += 1;
                }
                Some(byte) if is_text_byte(byte) => {
                    value.push(byte);
                    self.pos += 1;
                }
                _ => return Err(self.expected("closing quote")),
            }
        }
    }

    /// Reads a literal or literal8 header and its payload.
    pub fn literal(&mut self) -> Result<Literal<'a>, ErrorKind> {
        let is_binary = self.eat(b'~');
        self.expect(b'{', "literal")?;
        let len = self.number64()?;
        self.eat(b'+');
        self.expect(b'}', "}")?;
        if !self.rest().starts_with(b"\r\n") {
            return Err(self.expected("CRLF after literal length"));
        }
        self.pos += 2;
        if self.externals.contains(&self.pos) {
            return Ok(Literal {
                is_binary,
                body: LiteralBody::External(len),
            });
        }
        let available = (self.input.len() - self.pos) as u64;
        if len > available {
            return Err(self.expected("literal data"));
        }
        let bytes = &self.input[self.pos..self.pos + len as usize];
        self.pos += len as usize;
        Ok(Literal {
            is_binary,
            body: LiteralBody::Bytes(bytes),
        })
    }

    /// Reads `string`: quoted or an in-memory, non-binary literal.
    pub fn string(&mut self) -> Result<Cow<'a, [u8]>, ErrorKind> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => {
                let literal = self.literal()?;
                match literal.body {
                    LiteralBody::Bytes(bytes) => Ok(Cow::Borrowed(bytes)),
                    LiteralBody::External(_) => Err(ErrorKind::UnexpectedExternalLiteral),
                }
            }
            Some(b'~') if self.rest().starts_with(b"~{") => Err(ErrorKind::UnexpectedLiteral8),
            _ => Err(self.expected("string")),
        }
    }

    pub fn astring(&mut self) -> Result<Cow<'a, [u8]>, ErrorKind> {
        let is_literal8 = self.rest().starts_with(b"~{");
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ if is_literal8 => self.string(),
            _ => {
                let atom = self.take_while(is_astring_char);
                if atom.is_empty() {
                    Err(self.expected("astring"))
                } else {
                    Ok(Cow::Borrowed(atom))
                }
            }
        }
    }

    pub fn astring_utf8(&mut self) -> Result<String, ErrorKind> {
        let bytes = self.astring()?;
        String::from_utf8(bytes.into_owned()).map_err(|_| ErrorKind::InvalidUtf8)
    }

    pub fn string_utf8(&mut self) -> Result<String, ErrorKind> {
        let bytes = self.string()?;
        String::from_utf8(bytes.into_owned()).map_err(|_| ErrorKind::InvalidUtf8)
    }

    pub fn nstring_utf8(&mut self) -> Result<Option<String>, ErrorKind> {
        if self.eat_keyword("NIL") {
            Ok(None)
        } else {
            self.string_utf8().map(Some)
        }
    }

    /// Reads `mailbox`: an astring decoded as modified UTF-7 or, under UTF8=ACCEPT, UTF-8.
    pub fn mailbox(&mut self) -> Result<MailboxName, ErrorKind> {
        let wire = self.astring()?;
        Ok(MailboxName::from_wire(&wire, self.utf8_accept)?)
    }

    /// Reads `"(" item *(SP item) ")"`, or `"(" ")"` when `allow_empty`.
    pub fn paren_list<T>(
        &mut self,
        allow_empty: bool,
        mut item: impl FnMut(&mut Self) -> Result<T, ErrorKind>,
    ) -> Result<Vec<T>, ErrorKind> {
        self.expect(b'(', "(")?;
        self.enter()?;
        let mut items = Vec::new();
        if !(allow_empty && self.peek() == Some(b')')) {
            items.push(item(self)?);
            while self.eat(b' ') {
                items.push(item(self)?);
            }
        }
        self.expect(b')', ")")?;
        self.leave();
        Ok(items)
    }
}

/// Longest keyword [`UpperKeyword`] folds; longer words match no keyword.
const MAX_KEYWORD_LEN: usize = 32;

/// A word folded to upper case on the stack, so matching a keyword costs no allocation.
pub(crate) struct UpperKeyword {
    bytes: [u8; MAX_KEYWORD_LEN],
    len: usize,
}

impl UpperKeyword {
    /// Folds `word`; a word longer than any keyword folds to the empty word.
    pub fn new(word: &[u8]) -> Self {
        let mut bytes = [0u8; MAX_KEYWORD_LEN];
        if word.len() > MAX_KEYWORD_LEN {
            return UpperKeyword { bytes, len: 0 };
        }
        for (target, source) in bytes.iter_mut().zip(word) {
            *target = source.to_ascii_uppercase();
        }
        UpperKeyword {
            bytes,
            len: word.len(),
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |value, &digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })
}

fn invalid_number(digits: &[u8]) -> ErrorKind {
    ErrorKind::InvalidNumber {
        text: String::from_utf8_lossy(digits).into_owned(),
    }
}

/// `TEXT-CHAR` of RFC 3501 widened by the UTF-8 of RFC 9051: any byte but NUL, CR and LF.
fn is_text_byte(byte: u8) -> bool {
    !matches!(byte, 0 | b'\r' | b'\n')
}

/// Rejects 8-bit bytes in a quoted string unless they form valid UTF-8 (RFC 9051 `QUOTED-CHAR`).
fn check_utf8_runs(body: &[u8]) -> Result<(), ErrorKind> {
    if body.is_ascii() || std::str::from_utf8(body).is_ok() {
        Ok(())
    } else {
        Err(ErrorKind::InvalidUtf8)
    }
}
