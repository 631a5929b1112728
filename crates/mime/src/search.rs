//! Text for SEARCH (RFC 9051 §6.4.4): header values with RFC 2047 words decoded, and the
//! text of every `text/*` part with its transfer encoding removed, both in UTF-8.
//!
//! Charsets are converted with `encoding_rs`, which implements the WHATWG Encoding
//! Standard labels. Text in an unknown charset is read as UTF-8 with invalid sequences
//! replaced by U+FFFD, so a search can still match its ASCII words.

use encoding_rs::Encoding;

use crate::decode::{TransferEncoding, decode_body};
use crate::header;
use crate::parse::{Analysis, PartKind};

/// Decoded text of one message for SEARCH.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchText {
    /// Every field of the top-level header: name and decoded, unfolded value.
    pub headers: Vec<(String, String)>,
    /// The decoded text of each `text/*` leaf part, in part order.
    pub bodies: Vec<String>,
}

impl SearchText {
    /// Returns the decoded values of the fields named `name` (case-insensitive).
    pub fn header<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Returns true when any body text contains `needle`, ignoring case (SEARCH BODY).
    pub fn body_contains(&self, needle: &str) -> bool {
        let needle = fold_case(needle);
        self.bodies
            .iter()
            .any(|body| fold_case(body).contains(&needle))
    }

    /// Returns true when any header value or body text contains `needle`, ignoring case
    /// (SEARCH TEXT).
    pub fn text_contains(&self, needle: &str) -> bool {
        let needle = fold_case(needle);
        self.body_contains(&needle)
            || self
                .headers
                .iter()
                .any(|(name, value)| fold_case(&format!("{name}: {value}")).contains(&needle))
    }
}

impl Analysis {
    /// Builds the decoded header values and body texts of the message for SEARCH. Parts
    /// whose transfer encoding is unknown are searched as they are stored.
    pub fn search_text(&self, raw: &[u8]) -> SearchText {
        let block = self.root().header.slice(raw);
        let headers = header::fields(block)
            .map(|field| {
                let name = String::from_utf8_lossy(field.name).into_owned();
                (name, decode_header_value(&field.unfolded()))
            })
            .collect();
        let bodies = self
            .parts()
            .iter()
            .filter(|part| part.kind == PartKind::Leaf && part.content.is_type(b"text"))
            .map(|part| {
                let body = part.body.slice(raw);
                let encoding = TransferEncoding::from_name(part.content.encoding.as_deref())
                    .unwrap_or(TransferEncoding::Identity);
                let decoded = decode_body(encoding, body);
                to_utf8(part.content.param(b"charset"), &decoded)
            })
            .collect();
        SearchText { headers, bodies }
    }
}

/// Returns `text` lowercased with Unicode rules, the form [`contains_ignore_case`]
/// compares; callers that test many messages fold the needle once.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

/// Returns true when `haystack` contains `needle`, ignoring case with Unicode rules.
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    fold_case(haystack).contains(&fold_case(needle))
}

/// Converts `bytes` in `charset` to UTF-8. An unknown or missing charset reads the bytes
/// as UTF-8, replacing invalid sequences.
pub fn to_utf8(charset: Option<&[u8]>, bytes: &[u8]) -> String {
    match charset.and_then(Encoding::for_label) {
        Some(encoding) => encoding.decode_without_bom_handling(bytes).0.into_owned(),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes the RFC 2047 encoded words of an unfolded header value. White space between
/// two encoded words is dropped (RFC 2047 §6.2). A word in an unknown charset or with an
/// invalid encoding is kept as written.
pub fn decode_header_value(value: &[u8]) -> String {
    let mut out = String::new();
    let mut pending_space = String::new();
    let mut previous_was_word = false;
    let mut rest = value;
    while !rest.is_empty() {
        let space_len = rest
            .iter()
            .take_while(|byte| matches!(byte, b' ' | b'\t'))
            .count();
        if space_len > 0 {
            pending_space = String::from_utf8_lossy(&rest[..space_len]).into_owned();
            rest = &rest[space_len..];
            continue;
        }
        let token_len = rest
            .iter()
            .take_while(|byte| !matches!(byte, b' ' | b'\t'))
            .count();
        let token = &rest[..token_len];
        rest = &rest[token_len..];
        match decode_encoded_word(token) {
            Some(decoded) => {
                if !previous_was_word {
                    out.push_str(&pending_space);
                }
                out.push_str(&decoded);
                previous_was_word = true;
            }
            None => {
                out.push_str(&pending_space);
                out.push_str(&String::from_utf8_lossy(token));
                previous_was_word = false;
            }
        }
        pending_space.clear();
    }
    out
}

/// Decodes one `=?charset?encoding?text?=` word (RFC 2047 §2, with the RFC 2231 §5
/// `charset*language` form).
fn decode_encoded_word(token: &[u8]) -> Option<String> {
    let inner = token.strip_prefix(b"=?")?.strip_suffix(b"?=")?;
    let mut pieces = inner.splitn(3, |&byte| byte == b'?');
    let charset = pieces.next()?;
    let encoding = pieces.next()?;
    let text = pieces.next()?;
    let charset = charset.split(|&byte| byte == b'*').next()?;
    let label = Encoding::for_label(charset)?;
    let bytes = match encoding {
        b"B" | b"b" => crate::decode::decode_base64(text),
        b"Q" | b"q" => decode_q(text),
        _ => return None,
    };
    Some(label.decode_without_bom_handling(&bytes).0.into_owned())
}

/// Decodes the RFC 2047 "Q" encoding: quoted-printable where `_` is a space.
fn decode_q(text: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = text
        .iter()
        .map(|&byte| if byte == b'_' { b' ' } else { byte })
        .collect();
    crate::decode::decode_quoted_printable(&spaced)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_are_decoded_and_joined() {
        assert_eq!(
            decode_header_value(b"=?utf-8?q?caf=C3=A9?= =?ISO-8859-1?B?6Q==?= ok"),
            "caféé ok"
        );
    }

    #[test]
    fn unknown_charset_word_is_kept() {
        assert_eq!(
            decode_header_value(b"a =?x-none?q?b?= c"),
            "a =?x-none?q?b?= c"
        );
    }

    #[test]
    fn case_folding_is_unicode_aware() {
        assert!(contains_ignore_case("GRÜSSE aus KÖLN", "köln"));
        assert!(!contains_ignore_case("abc", "abd"));
    }

    #[test]
    fn latin1_body_is_converted() {
        assert_eq!(to_utf8(Some(b"iso-8859-1"), b"caf\xe9"), "café");
        assert_eq!(to_utf8(Some(b"no-such-charset"), b"caf\xe9"), "caf\u{fffd}");
    }
}
