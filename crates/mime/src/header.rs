//! Header fields of one header block (RFC 5322 §2.2), read in place.
//!
//! A field is a line `name: value` followed by any continuation lines that start with a
//! space or tab. A line without a colon is kept as a field with an empty value, so that
//! HEADER.FIELDS.NOT passes it through unchanged. Names compare case-insensitively.

use crate::served::ByteRange;

/// One header field, borrowed from the header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderField<'a> {
    /// The field name without the colon or trailing white space.
    pub name: &'a [u8],
    /// The raw value after the colon, continuation lines included, without the final line
    /// end.
    pub value: &'a [u8],
    /// The whole field, final line end included, as offsets in the header block.
    pub range: ByteRange,
}

impl HeaderField<'_> {
    /// Returns true when the field is named `name`, compared case-insensitively.
    pub fn is(&self, name: &[u8]) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// Returns the value unfolded: line ends removed, outer white space trimmed.
    pub fn unfolded(&self) -> Vec<u8> {
        unfold(self.value)
    }
}

/// An iterator over the fields of a header block; it stops at the first empty line.
#[derive(Debug, Clone)]
pub struct HeaderFields<'a> {
    block: &'a [u8],
    pos: usize,
}

/// Iterates over the fields of `block`, a header block that may end with its empty line.
pub fn fields(block: &[u8]) -> HeaderFields<'_> {
    HeaderFields { block, pos: 0 }
}

impl<'a> Iterator for HeaderFields<'a> {
    type Item = HeaderField<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let start = self.pos;
            if start >= self.block.len() || is_empty_line(&self.block[start..]) {
                return None;
            }
            let end = field_end(self.block, start);
            self.pos = end;
            let field = &self.block[start..end];
            if matches!(field[0], b' ' | b'\t') {
                // A continuation line with no field before it has no name to belong to.
                continue;
            }
            let content = trim_line_end(field);
            let (name, value) = match memchr::memchr(b':', content) {
                Some(colon) => (name_before_nul(&content[..colon]), &content[colon + 1..]),
                None => (content, &content[content.len()..]),
            };
            return Some(HeaderField {
                name,
                value,
                range: ByteRange::new(start, end),
            });
        }
    }
}

/// Returns the value of the first field named `name` in `block`, unfolded.
pub fn first_value(block: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    fields(block)
        .find(|field| field.is(name))
        .map(|field| field.unfolded())
}

/// Unfolds a header value as Dovecot 2.3 does for ENVELOPE and BODYSTRUCTURE. Line ends
/// (LF or CRLF) are removed and a bare CR becomes a space. NUL becomes U+FFFD because an
/// IMAP string may not contain NUL. White space at both ends is trimmed.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let value = trim(value);
    if !value.iter().any(|&byte| matches!(byte, b'\r' | b'\n' | 0)) {
        return value.to_vec();
    }
    let mut unfolded = Vec::with_capacity(value.len());
    for (index, &byte) in value.iter().enumerate() {
        match byte {
            b'\n' => {}
            b'\r' if value.get(index + 1) == Some(&b'\n') => {}
            b'\r' => unfolded.push(b' '),
            0 => unfolded.extend_from_slice("\u{fffd}".as_bytes()),
            _ => unfolded.push(byte),
        }
    }
    trim(&unfolded).to_vec()
}

/// Trims spaces, tabs, CR and LF at both ends.
pub fn trim(bytes: &[u8]) -> &[u8] {
    trim_end(trim_start(bytes))
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|byte| is_space(**byte)).count();
    &bytes[skip..]
}

/// Returns the field name, cut at a NUL byte: Dovecot 2.3 reads names as C strings, so
/// `Subject\0X: v` is a Subject field there, and this crate agrees.
fn name_before_nul(name: &[u8]) -> &[u8] {
    let name = memchr::memchr(0, name).map_or(name, |nul| &name[..nul]);
    trim_end(name)
}

fn trim_end(bytes: &[u8]) -> &[u8] {
    let keep = bytes.len()
        - bytes
            .iter()
            .rev()
            .take_while(|byte| is_space(**byte))
            .count();
    &bytes[..keep]
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n')
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Returns true when `rest` starts with an empty line (LF or CRLF).
pub fn is_empty_line(rest: &[u8]) -> bool {
    rest.starts_with(b"\n") || rest.starts_with(b"\r\n")
}

/// Returns the offset just past the line that starts at `start`.
pub(crate) fn line_end(block: &[u8], start: usize) -> usize {
    memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |lf| start + lf + 1)
}

fn field_end(block: &[u8], start: usize) -> usize {
    let mut end = line_end(block, start);
    while end < block.len() && matches!(block[end], b' ' | b'\t') {
        end = line_end(block, end);
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_continuation_lines() {
        let block = b"Subject: one\n two\nFrom: a@b\n\nbody";
        let all: Vec<_> = fields(block).collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].name, b"Subject");
        assert_eq!(all[0].value, b" one\n two");
        assert_eq!(all[0].unfolded(), b"one two");
        assert_eq!(all[1].range, ByteRange::new(18, 28));
    }

    #[test]
    fn fields_accept_line_without_colon() {
        let block = b"garbage line\r\nTo: x\r\n";
        let all: Vec<_> = fields(block).collect();
        assert_eq!(all[0].name, b"garbage line");
        assert_eq!(all[0].value, b"");
        assert_eq!(all[1].name, b"To");
    }

    #[test]
    fn field_names_compare_case_insensitively() {
        assert_eq!(
            first_value(b"content-TYPE: text/html\n", b"Content-Type").unwrap(),
            b"text/html"
        );
    }

    #[test]
    fn unfold_replaces_bare_cr_and_nul() {
        assert_eq!(unfold(b" a\r\n b\rc\0d "), "a b c\u{fffd}d".as_bytes());
    }

    #[test]
    fn leading_continuation_line_is_skipped() {
        let all: Vec<_> = fields(b" stray\nX: 1\n").collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].name, b"X");
    }
}
