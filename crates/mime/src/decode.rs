//! Content-Transfer-Encoding decoding for BINARY (RFC 3516) and SEARCH (RFC 2045 §6).
//!
//! Decoders are tolerant, as mail readers are: base64 skips bytes outside its alphabet and
//! stops at the first `=` padding, and quoted-printable keeps a malformed `=` escape as it
//! is. Hard line ends decode to CRLF, the canonical form of RFC 2045 §6.7.

use crate::error::MimeError;
use crate::parse::{Analysis, PartKind};
use crate::served::to_served_keeping_nul;

/// A Content-Transfer-Encoding that RFC 2045 §6.1 defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// `7bit`, `8bit` or `binary`: the body is the content.
    Identity,
    /// `base64` (RFC 2045 §6.8).
    Base64,
    /// `quoted-printable` (RFC 2045 §6.7).
    QuotedPrintable,
}

impl TransferEncoding {
    /// Reads an encoding name; `None` (no header) means `7bit`.
    ///
    /// # Errors
    /// [`MimeError::UnknownTransferEncoding`] for any other name, such as `x-uuencode`.
    pub fn from_name(name: Option<&[u8]>) -> Result<Self, MimeError> {
        let Some(name) = name else {
            return Ok(Self::Identity);
        };
        let lower = name.to_ascii_lowercase();
        match lower.as_slice() {
            b"7bit" | b"8bit" | b"binary" => Ok(Self::Identity),
            b"base64" => Ok(Self::Base64),
            b"quoted-printable" => Ok(Self::QuotedPrintable),
            _ => Err(MimeError::UnknownTransferEncoding {
                encoding: String::from_utf8_lossy(name).into_owned(),
            }),
        }
    }
}

/// Decodes a body in `encoding`; identity bodies are returned with served (CRLF) line
/// ends, NUL bytes kept.
pub fn decode_body(encoding: TransferEncoding, body: &[u8]) -> Vec<u8> {
    match encoding {
        TransferEncoding::Identity => to_served_keeping_nul(body),
        TransferEncoding::Base64 => decode_base64(body),
        TransferEncoding::QuotedPrintable => decode_quoted_printable(body),
    }
}

impl Analysis {
    /// Returns the decoded content of `BINARY[part]` (RFC 3516). An empty `part` is the
    /// whole message, which has no single encoding and is returned as served. Multipart and
    /// message parts are returned as served too, since RFC 2045 §6.4 forbids encoding them.
    ///
    /// # Errors
    /// [`MimeError::SectionNotFound`] for a part that does not exist, and
    /// [`MimeError::UnknownTransferEncoding`] for an encoding BINARY cannot decode.
    pub fn binary(&self, raw: &[u8], part: &[u32]) -> Result<Vec<u8>, MimeError> {
        if part.is_empty() {
            return Ok(to_served_keeping_nul(self.message_range().slice(raw)));
        }
        let id = self
            .resolve_part(part)
            .ok_or_else(|| MimeError::SectionNotFound {
                section: part
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("."),
            })?;
        let found = self.part(id);
        let body = found.body.slice(raw);
        if found.kind != PartKind::Leaf {
            return Ok(to_served_keeping_nul(body));
        }
        let encoding = TransferEncoding::from_name(found.content.encoding.as_deref())?;
        Ok(decode_body(encoding, body))
    }
}

impl Analysis {
    /// Returns `BINARY.SIZE[part]`: the length of [`Analysis::binary`]'s content.
    ///
    /// # Errors
    /// The errors of [`Analysis::binary`].
    pub fn binary_size(&self, raw: &[u8], part: &[u32]) -> Result<u64, MimeError> {
        self.binary(raw, part).map(|content| content.len() as u64)
    }
}

/// Marks a byte outside the base64 alphabet in [`BASE64_VALUES`].
const NOT_BASE64: u8 = 0xFF;

/// The 6-bit value of each byte of the base64 alphabet (RFC 2045 §6.8), and
/// [`NOT_BASE64`] for every other byte, so decoding looks each byte up once.
const BASE64_VALUES: [u8; 256] = {
    let mut values = [NOT_BASE64; 256];
    let mut byte = 0;
    while byte < 256 {
        values[byte] = match byte as u8 {
            b'A'..=b'Z' => byte as u8 - b'A',
            b'a'..=b'z' => byte as u8 - b'a' + 26,
            b'0'..=b'9' => byte as u8 - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => NOT_BASE64,
        };
        byte += 1;
    }
    values
};

fn base64_value(byte: u8) -> Option<u8> {
    let value = BASE64_VALUES[usize::from(byte)];
    (value != NOT_BASE64).then_some(value)
}

/// Decodes base64, skipping line ends and other bytes outside the alphabet.
pub fn decode_base64(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let mut buffer = 0u32;
    let mut bits = 0u32;
    for &byte in input {
        if byte == b'=' {
            break;
        }
        let Some(value) = base64_value(byte) else {
            continue;
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|digit| digit as u8)
}

/// Decodes quoted-printable: `=XX` escapes, soft line breaks (`=` at a line end) removed,
/// white space at line ends dropped (RFC 2045 §6.7 rule 3), hard line ends as CRLF.
pub fn decode_quoted_printable(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for line in input.split_inclusive(|&byte| byte == b'\n') {
        let has_line_end = line.ends_with(b"\n");
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let trimmed_len = content.len()
            - content
                .iter()
                .rev()
                .take_while(|byte| matches!(byte, b' ' | b'\t'))
                .count();
        let content = &content[..trimmed_len];
        let is_soft_break = content.ends_with(b"=");
        let content = if is_soft_break {
            &content[..content.len() - 1]
        } else {
            content
        };
        decode_qp_line(content, &mut out);
        if has_line_end && !is_soft_break {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn decode_qp_line(line: &[u8], out: &mut Vec<u8>) {
    let mut index = 0;
    while index < line.len() {
        let byte = line[index];
        if byte == b'='
            && let (Some(high), Some(low)) = (
                line.get(index + 1).copied().and_then(hex_value),
                line.get(index + 2).copied().and_then(hex_value),
            )
        {
            out.push(high << 4 | low);
            index += 3;
            continue;
        }
        out.push(byte);
        index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_ignores_line_ends_and_stops_at_padding() {
        assert_eq!(decode_base64(b"aGVs\nbG8=\nignored"), b"hello");
    }

    #[test]
    fn base64_decodes_whole_alphabet() {
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let decoded = decode_base64(alphabet);
        let expected: Vec<u8> = (0u8..64)
            .collect::<Vec<u8>>()
            .chunks(4)
            .flat_map(|quad| {
                let bits = quad
                    .iter()
                    .fold(0u32, |bits, &value| (bits << 6) | u32::from(value));
                [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]
            })
            .collect();
        assert_eq!(decoded, expected);
    }

    #[test]
    fn quoted_printable_decodes_escapes_and_soft_breaks() {
        assert_eq!(
            decode_quoted_printable(b"caf=C3=A9 =\nau lait  \nx=3Dy"),
            "café au lait\r\nx=y".as_bytes()
        );
    }

    #[test]
    fn quoted_printable_keeps_malformed_escape() {
        assert_eq!(decode_quoted_printable(b"a=ZZb"), b"a=ZZb");
    }

    #[test]
    fn unknown_encoding_is_an_error() {
        assert_eq!(
            TransferEncoding::from_name(Some(b"x-uuencode")),
            Err(MimeError::UnknownTransferEncoding {
                encoding: "x-uuencode".to_string()
            })
        );
        assert_eq!(
            TransferEncoding::from_name(Some(b"BASE64")),
            Ok(TransferEncoding::Base64)
        );
        assert_eq!(
            TransferEncoding::from_name(None),
            Ok(TransferEncoding::Identity)
        );
    }
}
