//! Words, names, dates and encoders used to build messages.

use crate::random::Rng;

const WORDS: &[&str] = &[
    "meeting",
    "budget",
    "report",
    "schedule",
    "invoice",
    "project",
    "review",
    "draft",
    "please",
    "attached",
    "thanks",
    "tomorrow",
    "agenda",
    "release",
    "server",
    "mailbox",
    "folder",
    "update",
    "question",
    "answer",
    "quarterly",
    "numbers",
    "team",
    "office",
    "travel",
    "coffee",
    "weekend",
    "contract",
    "signature",
    "deadline",
    "Zürich",
    "Grüße",
    "naïve",
    "café",
    "déjà",
    "Привет",
    "日本語",
    "Ελλάδα",
    "smørrebrød",
    "façade",
];

const FIRST_NAMES: &[&str] = &[
    "Alice",
    "Bob",
    "Carol",
    "Dave",
    "Eve",
    "Frank",
    "Grace",
    "Heidi",
    "Jörg",
    "Zoë",
    "François",
    "Søren",
    "Małgorzata",
    "Игорь",
    "Ана",
    "Yūko",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Jones",
    "Müller",
    "García",
    "O'Brien",
    "Nguyen",
    "Østergaard",
    "Dvořák",
    "Kowalski",
    "Петров",
    "Tanaka",
    "Doe, Jr.",
];

const DOMAINS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    "mail.example.de",
];

/// Returns one word, sometimes with non-ASCII letters.
pub fn word(rng: &mut Rng) -> &'static str {
    let word: &&str = rng.pick(WORDS);
    word
}

fn ascii_local_part(name: &str) -> String {
    let local: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase();
    if local.is_empty() {
        "user".to_string()
    } else {
        local
    }
}

/// Returns a bare address `local@domain`.
pub fn address(rng: &mut Rng) -> String {
    let first = *rng.pick(FIRST_NAMES);
    format!(
        "{}{}@{}",
        ascii_local_part(first),
        rng.below(100),
        rng.pick(DOMAINS)
    )
}

/// Returns a mailbox in one of the forms mail carries: bare, with a quoted or an encoded
/// display name, or with a comment.
pub fn person(rng: &mut Rng) -> String {
    let first = *rng.pick(FIRST_NAMES);
    let last = *rng.pick(LAST_NAMES);
    let name = format!("{first} {last}");
    let addr = format!(
        "{}.{}@{}",
        ascii_local_part(first),
        ascii_local_part(last),
        rng.pick(DOMAINS)
    );
    let is_ascii = name.is_ascii();
    match rng.below(5) {
        0 => addr,
        1 if is_ascii => format!("{addr} ({name})"),
        2 | 1 if is_ascii && !name.contains([',', '.', '\'']) => format!("{name} <{addr}>"),
        _ if is_ascii => format!("\"{name}\" <{addr}>"),
        _ => format!("{} <{addr}>", encoded_word(&name)),
    }
}

/// Returns a subject line, encoded with RFC 2047 when it is not ASCII.
pub fn subject(rng: &mut Rng) -> String {
    let count = 2 + rng.below(6) as usize;
    let words: Vec<&str> = (0..count).map(|_| word(rng)).collect();
    let prefix = *rng.pick(&["", "", "Re: ", "Fwd: ", "RE: "]);
    let text = format!("{prefix}{}", words.join(" "));
    if text.is_ascii() {
        text
    } else {
        encoded_word(&text)
    }
}

/// Returns an RFC 5322 date, now and then in an obsolete or broken form.
pub fn date(rng: &mut Rng) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = 1 + rng.below(28);
    let month = rng.pick(&MONTHS);
    let year = 2000 + rng.below(27);
    let (hour, minute, second) = (rng.below(24), rng.below(60), rng.below(60));
    let zone = rng.pick(&[
        "+0000",
        "-0500",
        "+0100",
        "+0530",
        "-0800",
        "GMT",
        "+0200 (CEST)",
    ]);
    match rng.below(8) {
        0 => format!("{day} {month} {} {hour:02}:{minute:02} {zone}", year % 100),
        _ => format!(
            "{}, {day} {month} {year} {hour:02}:{minute:02}:{second:02} {zone}",
            rng.pick(&DAYS)
        ),
    }
}

/// Returns `count` paragraphs of wrapped text, each ended by an empty line.
pub fn paragraphs(rng: &mut Rng, count: usize) -> String {
    let mut out = String::new();
    for _ in 0..count {
        let mut line_len = 0;
        for _ in 0..(10 + rng.below(60)) {
            let next = word(rng);
            if line_len > 60 {
                out.push('\n');
                line_len = 0;
            } else if line_len > 0 {
                out.push(' ');
                line_len += 1;
            }
            out.push_str(next);
            line_len += next.chars().count();
        }
        out.push_str(".\n\n");
    }
    out
}

/// Encodes `text` as one RFC 2047 word in UTF-8 with the B encoding.
pub fn encoded_word(text: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64(text.as_bytes()))
}

/// Percent-encodes `text` for an RFC 2231 extended parameter value.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let value = chunk.iter().enumerate().fold(0u32, |acc, (index, &byte)| {
            acc | u32::from(byte) << (16 - 8 * index)
        });
        for index in 0..4 {
            if index <= chunk.len() {
                out.push(char::from(
                    ALPHABET[(value >> (18 - 6 * index) & 63) as usize],
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Encodes `bytes` in base64 with lines of 76 characters, each ended by LF.
pub fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 76 + 1);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 output is ASCII"));
        out.push('\n');
    }
    out
}

/// Encodes text in quoted-printable with soft line breaks before 76 characters.
pub fn quoted_printable(bytes: &[u8]) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for &byte in bytes {
        if byte == b'\n' {
            out.push('\n');
            line_len = 0;
            continue;
        }
        let piece = if (b' '..=b'~').contains(&byte) && byte != b'=' {
            char::from(byte).to_string()
        } else {
            format!("={byte:02X}")
        };
        if line_len + piece.len() > 75 {
            out.push_str("=\n");
            line_len = 0;
        }
        line_len += piece.len();
        out.push_str(&piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn quoted_printable_lines_stay_short() {
        let text = "é".repeat(100);
        for line in quoted_printable(text.as_bytes()).lines() {
            assert!(line.len() <= 76, "{line}");
        }
    }
}
