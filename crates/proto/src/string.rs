//! Writers for the IMAP string forms: atom, quoted string, literal and NIL
//! (RFC 9051 §4.2 and §4.3, formal syntax in §9).
//!
//! Each writer picks the cheapest form the content allows. Content with CR, LF, NUL or any
//! 8-bit byte is always sent as a literal, which is valid whether or not the client enabled
//! UTF8=ACCEPT.

/// Maximum length written as a quoted string; longer values go as literals so that a client
/// never has to scan a huge quoted string for escapes.
pub const MAX_QUOTED_LEN: usize = 1024;

/// Returns true for bytes that may appear in an atom (`ATOM-CHAR`).
pub fn is_atom_char(byte: u8) -> bool {
    matches!(byte, 0x21..=0x7e)
        && !matches!(byte, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// Returns true for bytes that may appear in an unquoted `astring` (`ASTRING-CHAR`, which
/// adds `]` to `ATOM-CHAR`).
pub fn is_astring_char(byte: u8) -> bool {
    is_atom_char(byte) || byte == b']'
}

/// Returns true for bytes that may appear inside a quoted string (`QUOTED-CHAR`, escapes
/// aside): 7-bit, not NUL, CR or LF.
pub fn is_quotable(byte: u8) -> bool {
    matches!(byte, 0x01..=0x7f) && byte != b'\r' && byte != b'\n'
}

/// Writes `value` as a quoted string when it can be one, else as a literal.
pub fn write_string(out: &mut Vec<u8>, value: &[u8]) {
    if value.len() <= MAX_QUOTED_LEN && value.iter().all(|&b| is_quotable(b)) {
        write_quoted(out, value);
    } else {
        write_literal(out, value);
    }
}

/// Writes `NIL` for `None`, else the value as [`write_string`] does.
pub fn write_nstring(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(value) => write_string(out, value),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// Writes `value` as an atom when it is a non-empty run of `ASTRING-CHAR`s other than the
/// word `NIL` (which a client would read as the NIL token), else as [`write_string`] does.
pub fn write_astring(out: &mut Vec<u8>, value: &[u8]) {
    let is_atom = !value.is_empty()
        && value.iter().all(|&b| is_astring_char(b))
        && !value.eq_ignore_ascii_case(b"NIL");
    if is_atom {
        out.extend_from_slice(value);
    } else {
        write_string(out, value);
    }
}

/// Writes UTF-8 text as a quoted string when it can be one under UTF8=ACCEPT (RFC 9051
/// allows UTF-8 in quoted strings), else as a literal. Use only toward clients that
/// enabled UTF8=ACCEPT or IMAP4rev2; others get [`write_string`].
pub fn write_utf8_string(out: &mut Vec<u8>, value: &str) {
    let is_quotable_utf8 =
        value.len() <= MAX_QUOTED_LEN && value.bytes().all(|b| !matches!(b, 0 | b'\r' | b'\n'));
    if is_quotable_utf8 {
        write_quoted(out, value.as_bytes());
    } else {
        write_literal(out, value.as_bytes());
    }
}

/// Writes a quoted string, escaping `"` and `\`. The caller guarantees every byte passes
/// [`is_quotable`], or is UTF-8 for a client that accepts it.
pub fn write_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.reserve(value.len() + 2);
    out.push(b'"');
    for &byte in value {
        if byte == b'"' || byte == b'\\' {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out.push(b'"');
}

/// Writes a synchronising-form literal (`{n}` CRLF followed by the bytes).
pub fn write_literal(out: &mut Vec<u8>, value: &[u8]) {
    write_literal_header(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// Writes only the `{n}` CRLF prefix of a literal, for callers that stream the `n` bytes
/// themselves (a message body read from a file, for example).
pub fn write_literal_header(out: &mut Vec<u8>, len: u64) {
    out.push(b'{');
    out.extend_from_slice(len.to_string().as_bytes());
    out.extend_from_slice(b"}\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_string(&mut out, value);
        out
    }

    fn astring(value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_astring(&mut out, value);
        out
    }

    #[test]
    fn string_plain_is_quoted() {
        assert_eq!(string(b"hello world"), b"\"hello world\"");
    }

    #[test]
    fn string_escapes_quote_and_backslash() {
        assert_eq!(string(br#"a"b\c"#), br#""a\"b\\c""#);
    }

    #[test]
    fn string_with_crlf_is_literal() {
        assert_eq!(string(b"a\r\nb"), b"{4}\r\na\r\nb");
    }

    #[test]
    fn string_with_8bit_is_literal() {
        assert_eq!(string("café".as_bytes()), b"{5}\r\ncaf\xc3\xa9");
    }

    #[test]
    fn string_with_nul_is_literal() {
        assert_eq!(string(b"a\0b"), b"{3}\r\na\0b");
    }

    #[test]
    fn string_longer_than_quoted_limit_is_literal() {
        let value = vec![b'x'; MAX_QUOTED_LEN + 1];
        assert!(string(&value).starts_with(b"{1025}\r\n"));
    }

    #[test]
    fn nstring_none_is_nil() {
        let mut out = Vec::new();
        write_nstring(&mut out, None);
        assert_eq!(out, b"NIL");
    }

    #[test]
    fn astring_atom_stays_bare() {
        assert_eq!(astring(b"INBOX"), b"INBOX");
        assert_eq!(astring(b"a]b"), b"a]b");
    }

    #[test]
    fn astring_needing_quotes_is_quoted() {
        assert_eq!(astring(b""), b"\"\"");
        assert_eq!(astring(b"two words"), b"\"two words\"");
        assert_eq!(astring(b"a*"), b"\"a*\"");
        assert_eq!(astring(b"nil"), b"\"nil\"");
    }
}
