//! MIME content headers of one part (RFC 2045, RFC 2183, RFC 2231, RFC 3282).
//!
//! Values are kept as received: parameter values are unquoted but not decoded, and RFC 2231
//! continuations (`name*0`, `name*1*`, ...) are joined into one parameter named `name`, or
//! `name*` when any segment is extended, as Dovecot 2.3 does.

use crate::header::{self, HeaderField};

/// One `name=value` parameter of a Content-Type or Content-Disposition field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameter {
    /// Parameter name as received.
    pub name: Vec<u8>,
    /// Value with quoting removed, not decoded.
    pub value: Vec<u8>,
}

/// The Content-Disposition field: its type and parameters (RFC 2183).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disposition {
    /// `inline`, `attachment` or another token, as received.
    pub kind: Vec<u8>,
    /// Parameters such as `filename`.
    pub params: Vec<Parameter>,
}

/// The MIME description of one part: what BODYSTRUCTURE reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentInfo {
    /// Media type, `text` when the header is missing or invalid.
    pub media_type: Vec<u8>,
    /// Media subtype, `plain` when the header is missing or invalid.
    pub subtype: Vec<u8>,
    /// Content-Type parameters; `charset=us-ascii` is added for text parts without any.
    pub params: Vec<Parameter>,
    /// Content-ID, unfolded.
    pub id: Option<Vec<u8>>,
    /// Content-Description, unfolded, RFC 2047 words left encoded.
    pub description: Option<Vec<u8>>,
    /// Content-Transfer-Encoding as received; `None` means the RFC 2045 default `7bit`.
    pub encoding: Option<Vec<u8>>,
    /// Content-MD5, unfolded.
    pub md5: Option<Vec<u8>>,
    /// Content-Disposition, when present and valid.
    pub disposition: Option<Disposition>,
    /// Content-Language tags.
    pub language: Vec<Vec<u8>>,
    /// Content-Location, unfolded.
    pub location: Option<Vec<u8>>,
}

/// The media type a part has when its header does not declare a valid one (RFC 2046 §5.1.5:
/// parts of `multipart/digest` default to `message/rfc822`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultType {
    /// `text/plain; charset=us-ascii` (RFC 2045 §5.2).
    TextPlain,
    /// `message/rfc822`, inside `multipart/digest`.
    MessageRfc822,
}

impl ContentInfo {
    /// Builds the description of a part from its header block.
    pub fn from_header(block: &[u8], default: DefaultType) -> Self {
        let mut info = ContentInfo::default();
        let mut has_type = false;
        for field in header::fields(block) {
            apply_field(&mut info, &field, &mut has_type);
        }
        if !has_type {
            set_default_type(&mut info, default);
        }
        if info.is_type(b"text") && !info.params.iter().any(|p| is_name(p, b"charset")) {
            info.params.push(Parameter {
                name: b"charset".to_vec(),
                value: b"us-ascii".to_vec(),
            });
        }
        info
    }

    /// Returns true when the media type is `media_type`, compared case-insensitively.
    pub fn is_type(&self, media_type: &[u8]) -> bool {
        self.media_type.eq_ignore_ascii_case(media_type)
    }

    /// Returns true when the type is `media_type/subtype`, compared case-insensitively.
    pub fn is(&self, media_type: &[u8], subtype: &[u8]) -> bool {
        self.is_type(media_type) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// Returns the value of the Content-Type parameter `name` (case-insensitive).
    pub fn param(&self, name: &[u8]) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|param| is_name(param, name))
            .map(|param| param.value.as_slice())
    }

    /// Returns true for `message/rfc822` and `message/global` parts, whose body is a message.
    pub fn is_encapsulated_message(&self) -> bool {
        self.is(b"message", b"rfc822") || self.is(b"message", b"global")
    }
}

fn is_name(param: &Parameter, name: &[u8]) -> bool {
    param.name.eq_ignore_ascii_case(name)
}

fn set_default_type(info: &mut ContentInfo, default: DefaultType) {
    let (media_type, subtype): (&[u8], &[u8]) = match default {
        DefaultType::TextPlain => (b"text", b"plain"),
        DefaultType::MessageRfc822 => (b"message", b"rfc822"),
    };
    info.media_type = media_type.to_vec();
    info.subtype = subtype.to_vec();
}

/// Applies the first occurrence of each content field; later duplicates are ignored.
fn apply_field(info: &mut ContentInfo, field: &HeaderField<'_>, has_type: &mut bool) {
    let name = field.name;
    if name.len() < 8 || !name[..8].eq_ignore_ascii_case(b"Content-") {
        return;
    }
    if name.eq_ignore_ascii_case(b"Content-Type") {
        if !*has_type && let Some((media_type, subtype, params)) = parse_content_type(field.value) {
            info.media_type = media_type;
            info.subtype = subtype;
            info.params = params;
            *has_type = true;
        }
    } else if name.eq_ignore_ascii_case(b"Content-Transfer-Encoding") {
        // An invalid value leaves the RFC 2045 default in place.
        if info.encoding.is_none() {
            info.encoding = Lexer::new(field.value).token();
        }
    } else if name.eq_ignore_ascii_case(b"Content-ID") {
        set_once(&mut info.id, field);
    } else if name.eq_ignore_ascii_case(b"Content-Description") {
        set_once(&mut info.description, field);
    } else if name.eq_ignore_ascii_case(b"Content-MD5") {
        set_once(&mut info.md5, field);
    } else if name.eq_ignore_ascii_case(b"Content-Location") {
        set_once(&mut info.location, field);
    } else if name.eq_ignore_ascii_case(b"Content-Disposition") {
        if info.disposition.is_none() {
            info.disposition = parse_disposition(field.value);
        }
    } else if name.eq_ignore_ascii_case(b"Content-Language") && info.language.is_empty() {
        info.language = parse_language(field.value);
    }
}

fn set_once(slot: &mut Option<Vec<u8>>, field: &HeaderField<'_>) {
    if slot.is_none() {
        *slot = Some(field.unfolded());
    }
}

/// Parses `type/subtype *(; parameter)`; returns `None` when the type is invalid.
pub fn parse_content_type(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>, Vec<Parameter>)> {
    let mut lexer = Lexer::new(value);
    let media_type = lexer.token()?;
    lexer.skip_cfws();
    if !lexer.eat(b'/') {
        return None;
    }
    let subtype = lexer.token()?;
    Some((media_type, subtype, lexer.parameters()))
}

/// Parses `disposition-type *(; parameter)` (RFC 2183).
pub fn parse_disposition(value: &[u8]) -> Option<Disposition> {
    let mut lexer = Lexer::new(value);
    let kind = lexer.token()?;
    Some(Disposition {
        kind,
        params: lexer.parameters(),
    })
}

/// Parses a comma-separated list of language tags (RFC 3282).
pub fn parse_language(value: &[u8]) -> Vec<Vec<u8>> {
    let mut lexer = Lexer::new(value);
    let mut tags = Vec::new();
    loop {
        if let Some(tag) = lexer.token() {
            tags.push(tag);
        }
        lexer.skip_cfws();
        if !lexer.eat(b',') {
            return tags;
        }
    }
}

/// Bytes allowed in an RFC 2045 `token`: printable and not `tspecials`. 8-bit bytes are
/// accepted, as mail carries them. A lookup table, because header parsing tests every byte.
const TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0x21;
    while byte < 256 {
        table[byte] = byte != 0x7f;
        byte += 1;
    }
    let tspecials = b"()<>@,;:\\\"/[]?=";
    let mut index = 0;
    while index < tspecials.len() {
        table[tspecials[index] as usize] = false;
        index += 1;
    }
    table
};

fn is_token_byte(byte: u8) -> bool {
    TOKEN_BYTES[usize::from(byte)]
}

/// A small lexer for MIME structured field values: tokens, quoted strings and comments.
struct Lexer<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn new(input: &'a [u8]) -> Self {
        Self { input, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips white space and comments; an unclosed comment runs to the end.
    fn skip_cfws(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'(' => self.skip_comment(),
                _ => return,
            }
        }
    }

    fn skip_comment(&mut self) {
        let mut depth = 0usize;
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b'\\' => self.pos += 1,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return;
                    }
                }
                _ => {}
            }
        }
        self.pos = self.pos.min(self.input.len());
    }

    fn token(&mut self) -> Option<Vec<u8>> {
        self.skip_cfws();
        let start = self.pos;
        while self.peek().is_some_and(is_token_byte) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.input[start..self.pos].to_vec())
    }

    /// Reads a quoted string after its opening quote; `None` when it is never closed,
    /// which makes the parameter invalid, as in Dovecot 2.3.
    fn quoted(&mut self) -> Option<Vec<u8>> {
        let mut value = Vec::new();
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b'"' => return Some(value),
                b'\\' => {
                    if let Some(escaped) = self.peek() {
                        value.push(escaped);
                        self.pos += 1;
                    }
                }
                b'\r' | b'\n' => {}
                _ => value.push(byte),
            }
        }
        None
    }

    /// Reads a parameter value. An unquoted value may contain tspecials other than `;`,
    /// `"` and `(`, because mail such as `boundary==_abc` is common and Dovecot 2.3 reads
    /// it the same way.
    fn value(&mut self) -> Option<Vec<u8>> {
        self.skip_cfws();
        if self.eat(b'"') {
            return self.quoted();
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|byte| byte > b' ' && byte != 0x7f && !b";\"(".contains(&byte))
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.input[start..self.pos].to_vec())
    }

    fn skip_to_semicolon(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b';' => return,
                b'"' => {
                    self.pos += 1;
                    let _ = self.quoted();
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Reads `*(; name=value)` to the end of the input, skipping invalid parameters.
    fn parameters(&mut self) -> Vec<Parameter> {
        let mut params = Vec::new();
        loop {
            self.skip_to_semicolon();
            if !self.eat(b';') {
                break;
            }
            let Some(name) = self.token() else { continue };
            self.skip_cfws();
            if !self.eat(b'=') {
                continue;
            }
            if let Some(value) = self.value() {
                params.push(Parameter { name, value });
            }
        }
        merge_rfc2231(params)
    }
}

/// One segment of an RFC 2231 parameter: `name*index` with `*` at the end when extended.
struct Segment {
    base: Vec<u8>,
    index: u32,
    is_extended: bool,
    value: Vec<u8>,
}

fn split_rfc2231(param: &Parameter) -> Option<Segment> {
    let star = memchr::memchr(b'*', &param.name)?;
    let base = param.name[..star].to_vec();
    let rest = &param.name[star + 1..];
    let (digits, is_extended) = match rest.strip_suffix(b"*") {
        Some(digits) => (digits, true),
        None if rest.is_empty() => (rest, true),
        None => (rest, false),
    };
    let index = if digits.is_empty() {
        0
    } else {
        std::str::from_utf8(digits).ok()?.parse().ok()?
    };
    Some(Segment {
        base,
        index,
        is_extended,
        value: param.value.clone(),
    })
}

/// Joins RFC 2231 continuations. Plain parameters keep their order and come first, joined
/// ones follow sorted by name, as Dovecot 2.3 writes them.
fn merge_rfc2231(params: Vec<Parameter>) -> Vec<Parameter> {
    let mut plain = Vec::new();
    let mut segments = Vec::new();
    for param in params {
        match split_rfc2231(&param) {
            Some(segment) => segments.push(segment),
            None => plain.push(param),
        }
    }
    if segments.is_empty() {
        return plain;
    }
    segments.sort_by(|a, b| a.base.cmp(&b.base).then(a.index.cmp(&b.index)));
    for group in segments.chunk_by(|a, b| a.base == b.base) {
        plain.push(join_segments(group));
    }
    plain
}

fn join_segments(group: &[Segment]) -> Parameter {
    let is_extended = group.iter().any(|segment| segment.is_extended);
    let mut name = group[0].base.clone();
    let mut value = Vec::new();
    if is_extended {
        name.push(b'*');
        if !group[0].is_extended {
            // An extended value must start with `charset'language'`; both are empty here.
            value.extend_from_slice(b"''");
        }
    }
    for segment in group {
        if is_extended && !segment.is_extended {
            percent_escape(&mut value, &segment.value);
        } else {
            value.extend_from_slice(&segment.value);
        }
    }
    Parameter { name, value }
}

/// Escapes `%` in a plain segment joined to an extended value, as Dovecot 2.3 does; other
/// bytes are kept so the value stays as received.
fn percent_escape(out: &mut Vec<u8>, value: &[u8]) {
    for &byte in value {
        if byte == b'%' {
            out.extend_from_slice(b"%25");
        } else {
            out.push(byte);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, value: &str) -> Parameter {
        Parameter {
            name: name.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
        }
    }

    #[test]
    fn content_type_with_quoted_parameter() {
        let (media_type, subtype, params) =
            parse_content_type(b" Multipart/Mixed; boundary=\"a b\"; x=y (comment)").unwrap();
        assert_eq!(media_type, b"Multipart");
        assert_eq!(subtype, b"Mixed");
        assert_eq!(params, vec![param("boundary", "a b"), param("x", "y")]);
    }

    #[test]
    fn content_type_without_slash_is_invalid() {
        assert!(parse_content_type(b"text").is_none());
    }

    #[test]
    fn unbalanced_quote_drops_parameter() {
        let (_, _, params) = parse_content_type(b"text/plain; x=y; name=\"abc; z=1").unwrap();
        assert_eq!(params, vec![param("x", "y")]);
    }

    #[test]
    fn rfc2231_continuations_are_joined() {
        let (_, _, params) =
            parse_content_type(b"application/x; name*0=\"a b\"; name*1=c; x=1").unwrap();
        assert_eq!(params, vec![param("x", "1"), param("name", "a bc")]);
    }

    #[test]
    fn rfc2231_extended_value_stays_encoded() {
        let (_, _, params) =
            parse_content_type(b"application/x; title*=us-ascii'en'This%20is").unwrap();
        assert_eq!(params, vec![param("title*", "us-ascii'en'This%20is")]);
    }

    #[test]
    fn missing_header_defaults_to_text_plain_us_ascii() {
        let info = ContentInfo::from_header(b"Subject: x\n\n", DefaultType::TextPlain);
        assert!(info.is(b"text", b"plain"));
        assert_eq!(info.param(b"charset"), Some(&b"us-ascii"[..]));
    }

    #[test]
    fn first_content_type_wins() {
        let info = ContentInfo::from_header(
            b"Content-Type: text/html\nContent-Type: image/png\n\n",
            DefaultType::TextPlain,
        );
        assert!(info.is(b"text", b"html"));
    }

    #[test]
    fn disposition_and_language_are_parsed() {
        let info = ContentInfo::from_header(
            b"Content-Disposition: attachment; filename=a.txt\nContent-Language: en, fi\n\n",
            DefaultType::TextPlain,
        );
        let disposition = info.disposition.unwrap();
        assert_eq!(disposition.kind, b"attachment");
        assert_eq!(disposition.params, vec![param("filename", "a.txt")]);
        assert_eq!(info.language, vec![b"en".to_vec(), b"fi".to_vec()]);
    }
}
