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
        self.matches_body(&Needle::new(needle))
    }

    /// Returns true when any header value or body text contains `needle`, ignoring case
    /// (SEARCH TEXT).
    pub fn text_contains(&self, needle: &str) -> bool {
        self.matches_text(&Needle::new(needle))
    }

    /// Returns true when any body text contains `needle` (SEARCH BODY).
    pub fn matches_body(&self, needle: &Needle) -> bool {
        self.bodies.iter().any(|body| needle.is_in(body))
    }

    /// Returns true when any field, written as `name: value`, or any body text contains
    /// `needle` (SEARCH TEXT).
    pub fn matches_text(&self, needle: &Needle) -> bool {
        self.matches_body(needle)
            || self
                .headers
                .iter()
                .any(|(name, value)| needle.is_in(&format!("{name}: {value}")))
    }
}

/// A SEARCH string, case-folded once so that it can be tested against many messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needle {
    folded: String,
}

impl Needle {
    /// Folds `text` with [`fold_case`].
    pub fn new(text: &str) -> Self {
        Self {
            folded: fold_case(text),
        }
    }

    /// Returns true for the empty string, which every text contains.
    pub fn is_empty(&self) -> bool {
        self.folded.is_empty()
    }

    /// Returns true when `haystack` contains the needle, ignoring case with Unicode rules:
    /// the same result as `fold_case(haystack).contains(needle)`. An ASCII needle is
    /// compared in place unless the haystack has a character that folds to ASCII, and a
    /// needle outside ASCII cannot be in an ASCII haystack, so only the other cases
    /// lowercase a copy of the haystack.
    pub fn is_in(&self, haystack: &str) -> bool {
        let is_ascii_needle = self.folded.is_ascii();
        if haystack.is_ascii() {
            return is_ascii_needle
                && contains_ascii_lowercase(haystack.as_bytes(), self.folded.as_bytes());
        }
        if is_ascii_needle && !has_char_folding_to_ascii(haystack) {
            return contains_ascii_lowercase(haystack.as_bytes(), self.folded.as_bytes());
        }
        fold_case(haystack).contains(&self.folded)
    }
}

/// The characters outside ASCII whose Unicode lowercase contains ASCII characters: İ
/// (U+0130) folds to `i` and U+0307, and the Kelvin sign (U+212A) to `k`.
const FOLDS_TO_ASCII: [char; 2] = ['\u{130}', '\u{212a}'];

/// Returns true when `text` has a character outside ASCII that folds to ASCII characters.
/// Without one, every ASCII character of `fold_case(text)` comes from an ASCII character
/// of `text`, so an ASCII needle can be searched for in `text` ignoring ASCII case.
fn has_char_folding_to_ascii(text: &str) -> bool {
    // The UTF-8 forms are C4 B0 and E2 84 AA, so only their first bytes need a scan.
    let bytes = text.as_bytes();
    memchr::memchr2_iter(0xC4, 0xE2, bytes).any(|start| {
        FOLDS_TO_ASCII.iter().any(|&folding| {
            let mut buffer = [0; 4];
            let encoded = folding.encode_utf8(&mut buffer).as_bytes();
            bytes[start..].starts_with(encoded)
        })
    })
}

/// Returns true when `haystack`, read as ASCII lowercase, contains `needle`, which is
/// ASCII lowercase already.
fn contains_ascii_lowercase(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    let last_start = haystack.len() - needle.len();
    let upper = first.to_ascii_uppercase();
    let mut from = 0;
    while from <= last_start {
        let Some(offset) = memchr::memchr2(first, upper, &haystack[from..=last_start]) else {
            return false;
        };
        let start = from + offset;
        if haystack[start + 1..start + needle.len()].eq_ignore_ascii_case(rest) {
            return true;
        }
        from = start + 1;
    }
    false
}

/// Returns the decoded, unfolded values of the fields named `name` (case-insensitive) in
/// `block`, a top-level header block, in order. A leading mbox `From ` line is skipped.
/// For field names in UTF-8 the values are those of [`SearchText::header`] for the same
/// message, but the other fields are not decoded.
pub fn header_values<'a>(block: &'a [u8], name: &'a str) -> impl Iterator<Item = String> + 'a {
    let start = crate::parse::from_line_end(block);
    header::fields(&block[start..])
        .filter(move |field| field.is(name.as_bytes()))
        .map(|field| decode_header_value(&field.unfolded()))
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
        let bodies = self.body_texts(raw).collect();
        SearchText { headers, bodies }
    }

    /// Decodes the text of each `text/*` leaf part, in part order, as
    /// [`SearchText::bodies`] stores them. Each part is decoded only when the iterator
    /// reaches it, so SEARCH BODY stops decoding at the first part that matches.
    pub fn body_texts<'a>(&'a self, raw: &'a [u8]) -> impl Iterator<Item = String> + 'a {
        self.parts()
            .iter()
            .filter(|part| part.kind == PartKind::Leaf && part.content.is_type(b"text"))
            .map(move |part| {
                let body = part.body.slice(raw);
                let encoding = TransferEncoding::from_name(part.content.encoding.as_deref())
                    .unwrap_or(TransferEncoding::Identity);
                let decoded = decode_body(encoding, body);
                to_utf8(part.content.param(b"charset"), &decoded)
            })
    }
}

/// Returns `text` lowercased with Unicode rules, the form [`contains_ignore_case`]
/// compares; callers that test many messages fold the needle once.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

/// Returns true when `haystack` contains `needle`, ignoring case with Unicode rules.
pub fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    Needle::new(needle).is_in(haystack)
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
    fn needle_matches_as_folded_text() {
        let cases = [
            ("Hello World", "WORLD", true),
            ("Hello World", "worlds", false),
            ("", "", true),
            ("abc", "", true),
            ("ab", "abc", false),
            ("xxAbAbC", "ababc", true),
            ("GRÜSSE aus KÖLN", "köln", true),
            // The Kelvin sign folds to an ASCII k, and İ to i and a combining dot.
            ("\u{212a}elvin", "kelvin", true),
            ("\u{130}stanbul", "i", true),
            ("plain ascii", "ö", false),
            ("Grüße, KELVIN", "kelvin", true),
            ("Grüße, KELVIN", "grüsse", false),
            ("\u{212a}\u{130} Köln", "ki", true),
            ("Köln", "kö", true),
        ];
        for (haystack, needle, expected) in cases {
            let folded = fold_case(haystack).contains(&fold_case(needle));
            assert_eq!(folded, expected, "fold_case of {haystack:?} and {needle:?}");
            assert_eq!(
                Needle::new(needle).is_in(haystack),
                expected,
                "{needle:?} in {haystack:?}"
            );
        }
    }

    #[test]
    fn only_listed_characters_fold_to_ascii() {
        let folding: Vec<char> = (0x80..=0x10_FFFF)
            .filter_map(char::from_u32)
            .filter(|c| c.to_lowercase().any(|folded| folded.is_ascii()))
            .collect();
        assert_eq!(folding, FOLDS_TO_ASCII);
        let lead_bytes: Vec<u8> = FOLDS_TO_ASCII
            .iter()
            .map(|c| c.encode_utf8(&mut [0; 4]).as_bytes()[0])
            .collect();
        assert_eq!(lead_bytes, [0xC4, 0xE2]);
    }

    #[test]
    fn header_values_decode_only_named_fields() {
        let block = b"From x@example.org Sat Dec  5 01:00:00 2026\n\
            Subject: =?UTF-8?Q?K=C3=B6ln?=\n\
            To: a@example.org\n\
            subject: second\n\tline\n\n";
        let values: Vec<String> = header_values(block, "SUBJECT").collect();
        assert_eq!(values, ["Köln", "second\tline"]);
        assert_eq!(header_values(block, "From").count(), 0);
    }

    #[test]
    fn body_texts_skip_non_text_parts() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
            Content-Type: text/plain; charset=iso-8859-1\n\
            Content-Transfer-Encoding: quoted-printable\n\ncaf=E9\n--b\n\
            Content-Type: application/octet-stream\n\nbinary\n--b--\n";
        let analysis = Analysis::parse(raw);
        let bodies: Vec<String> = analysis.body_texts(raw).collect();
        assert_eq!(bodies, ["café"]);
    }

    #[test]
    fn latin1_body_is_converted() {
        assert_eq!(to_utf8(Some(b"iso-8859-1"), b"caf\xe9"), "café");
        assert_eq!(to_utf8(Some(b"no-such-charset"), b"caf\xe9"), "caf\u{fffd}");
    }
}
