//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3).
//!
//! Printable US-ASCII other than `&` stands for itself, `&-` is `&`, and any other text is
//! UTF-16 in modified base64 (`,` instead of `/`, no padding) between `&` and `-`.

use base64::Engine;
use base64::alphabet::Alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};

/// Reason a mailbox name is not valid modified UTF-7.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Mutf7Error {
    /// A byte outside printable US-ASCII appeared unencoded.
    #[error("byte 0x{0:02x} must be encoded")]
    UnencodedByte(u8),
    /// A `&` run had no closing `-`.
    #[error("unterminated base64 run")]
    Unterminated,
    /// A base64 run had a character outside the modified base64 alphabet, or bits left over.
    #[error("invalid modified base64")]
    InvalidBase64,
    /// The UTF-16 in a base64 run had an unpaired surrogate.
    #[error("invalid UTF-16 in base64 run")]
    InvalidUtf16,
    /// A base64 run encoded printable US-ASCII, which must stand for itself.
    #[error("base64 run encodes printable US-ASCII")]
    EncodedAscii,
    /// Two base64 runs were adjacent (`&...-&...-`), which must be one run.
    #[error("adjacent base64 runs")]
    AdjacentRuns,
    /// The name is not valid UTF-8 (UTF8=ACCEPT mode).
    #[error("invalid UTF-8")]
    InvalidUtf8,
}

const ALPHABET: Alphabet =
    match Alphabet::new("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,") {
        Ok(alphabet) => alphabet,
        Err(_) => panic!("modified base64 alphabet is valid"),
    };

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &ALPHABET,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

/// Decodes a modified UTF-7 mailbox name.
pub fn decode(wire: &[u8]) -> Result<String, Mutf7Error> {
    let mut name = String::with_capacity(wire.len());
    let mut rest = wire;
    let mut last_run_end: Option<usize> = None;
    while let Some((&byte, tail)) = rest.split_first() {
        let offset = wire.len() - rest.len();
        match byte {
            b'&' => {
                let end = tail
                    .iter()
                    .position(|&b| b == b'-')
                    .ok_or(Mutf7Error::Unterminated)?;
                if end == 0 {
                    name.push('&');
                } else {
                    if last_run_end == Some(offset) {
                        return Err(Mutf7Error::AdjacentRuns);
                    }
                    decode_run(&tail[..end], &mut name)?;
                    last_run_end = Some(offset + end + 2);
                }
                rest = &tail[end + 1..];
            }
            0x20..=0x7e => {
                name.push(byte as char);
                rest = tail;
            }
            _ => return Err(Mutf7Error::UnencodedByte(byte)),
        }
    }
    Ok(name)
}

fn decode_run(run: &[u8], name: &mut String) -> Result<(), Mutf7Error> {
    let bytes = ENGINE.decode(run).map_err(|_| Mutf7Error::InvalidBase64)?;
    if bytes.len() % 2 != 0 {
        return Err(Mutf7Error::InvalidBase64);
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    for decoded in char::decode_utf16(units) {
        let ch = decoded.map_err(|_| Mutf7Error::InvalidUtf16)?;
        if (' '..='~').contains(&ch) {
            return Err(Mutf7Error::EncodedAscii);
        }
        name.push(ch);
    }
    Ok(())
}

/// Encodes a mailbox name in modified UTF-7.
pub fn encode(name: &str) -> String {
    let mut wire = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for ch in name.chars() {
        if (' '..='~').contains(&ch) {
            flush_run(&mut pending, &mut wire);
            wire.push(ch);
            if ch == '&' {
                wire.push('-');
            }
        } else {
            let mut units = [0u16; 2];
            pending.extend_from_slice(ch.encode_utf16(&mut units));
        }
    }
    flush_run(&mut pending, &mut wire);
    wire
}

fn flush_run(pending: &mut Vec<u16>, wire: &mut String) {
    if pending.is_empty() {
        return;
    }
    let bytes: Vec<u8> = pending.iter().flat_map(|unit| unit.to_be_bytes()).collect();
    wire.push('&');
    wire.push_str(&ENGINE.encode(bytes));
    wire.push('-');
    pending.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc_3501_example() {
        // RFC 3501 §5.1.3 example: "~peter/mail/台北/日本語".
        let name = decode(b"~peter/mail/&U,BTFw-/&ZeVnLIqe-").unwrap();
        assert_eq!(name, "~peter/mail/台北/日本語");
    }

    #[test]
    fn encodes_rfc_3501_example() {
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
    }

    #[test]
    fn ampersand_round_trips() {
        assert_eq!(encode("A&B"), "A&-B");
        assert_eq!(decode(b"A&-B").unwrap(), "A&B");
    }

    #[test]
    fn astral_plane_uses_surrogate_pair() {
        let wire = encode("mail 📬");
        assert_eq!(decode(wire.as_bytes()).unwrap(), "mail 📬");
    }

    proptest::proptest! {
        #[test]
        fn any_name_round_trips(name in "\\PC{0,24}") {
            let wire = encode(&name);
            proptest::prop_assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            proptest::prop_assert_eq!(decode(wire.as_bytes()), Ok(name));
        }
    }

    #[test]
    fn rejects_invalid_forms() {
        assert_eq!(decode(b"caf\xc3\xa9"), Err(Mutf7Error::UnencodedByte(0xc3)));
        assert_eq!(decode(b"&U,BTFw"), Err(Mutf7Error::Unterminated));
        assert_eq!(decode(b"&U,B!Fw-"), Err(Mutf7Error::InvalidBase64));
        assert_eq!(decode(b"&AGE-"), Err(Mutf7Error::EncodedAscii));
        assert_eq!(decode(b"&U,A-&ZeU-"), Err(Mutf7Error::AdjacentRuns));
        assert_eq!(decode(b"&2D0-"), Err(Mutf7Error::InvalidUtf16));
        assert_eq!(decode(b"a\tb"), Err(Mutf7Error::UnencodedByte(b'\t')));
    }
}
