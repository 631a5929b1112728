//! Test support: an IMAP response value reader and readable byte dumps.

#![allow(dead_code)]

use std::fmt::Write as _;

/// An IMAP value of a FETCH response, with quoting forms made equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Nil,
    Atom(Vec<u8>),
    Str(Vec<u8>),
    List(Vec<Value>),
}

impl Value {
    /// Parses one value from `input` at `pos`, advancing `pos`.
    pub fn parse(input: &[u8], pos: &mut usize) -> Value {
        skip_spaces(input, pos);
        match input.get(*pos) {
            Some(b'(') => {
                *pos += 1;
                let mut items = Vec::new();
                loop {
                    skip_spaces(input, pos);
                    match input.get(*pos) {
                        Some(b')') => {
                            *pos += 1;
                            return Value::List(items);
                        }
                        None => panic!("unterminated list in {}", escape(input)),
                        _ => items.push(Value::parse(input, pos)),
                    }
                }
            }
            Some(b'"') => {
                *pos += 1;
                let mut out = Vec::new();
                while let Some(&byte) = input.get(*pos) {
                    *pos += 1;
                    match byte {
                        b'"' => return Value::Str(out),
                        b'\\' => {
                            out.push(input[*pos]);
                            *pos += 1;
                        }
                        _ => out.push(byte),
                    }
                }
                panic!("unterminated quoted string in {}", escape(input))
            }
            Some(b'{') | Some(b'~') => {
                if input[*pos] == b'~' {
                    *pos += 1;
                }
                let close = *pos + input[*pos..].iter().position(|&b| b == b'}').unwrap();
                let len: usize = std::str::from_utf8(&input[*pos + 1..close])
                    .unwrap()
                    .parse()
                    .unwrap();
                let start = close + 3;
                *pos = start + len;
                Value::Str(input[start..start + len].to_vec())
            }
            _ => {
                let start = *pos;
                let mut depth = 0;
                while let Some(&byte) = input.get(*pos) {
                    match byte {
                        b'[' => depth += 1,
                        b']' => depth -= 1,
                        b' ' | b'(' | b')' if depth == 0 => break,
                        _ => {}
                    }
                    *pos += 1;
                }
                let atom = input[start..*pos].to_vec();
                if atom.eq_ignore_ascii_case(b"NIL") {
                    Value::Nil
                } else {
                    Value::Atom(atom)
                }
            }
        }
    }

    /// Parses a whole value.
    pub fn parse_all(input: &[u8]) -> Value {
        let mut pos = 0;
        Value::parse(input, &mut pos)
    }

    /// Returns the bytes of a string or atom; NIL gives `None`.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Atom(bytes) | Value::Str(bytes) => Some(bytes),
            _ => None,
        }
    }
}

fn skip_spaces(input: &[u8], pos: &mut usize) {
    while input.get(*pos) == Some(&b' ') {
        *pos += 1;
    }
}

/// Returns `bytes` with CR, LF, quotes and non-ASCII bytes escaped, for failure messages.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &byte in bytes.iter().take(2000) {
        match byte {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            0x20..=0x7e => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "\\x{byte:02x}");
            }
        }
    }
    if bytes.len() > 2000 {
        let _ = write!(out, "... ({} bytes)", bytes.len());
    }
    out
}

/// Returns the fixture messages in file name order, with their names.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// Malformed messages that analysis must survive, by name. Each yields a valid ENVELOPE
/// and BODYSTRUCTURE.
pub fn malformed_cases() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty_file", Vec::new()),
        ("headers_only", b"From: a@example.com\nSubject: no body\n\n".to_vec()),
        ("no_blank_line", b"From: a@example.com\nSubject: header runs to the end".to_vec()),
        ("body_only", b"\njust a body\nwith two lines\n".to_vec()),
        ("bare_cr", b"Subject: bare\rCR\r\nFrom: a@example.com\n\nline\rwith CR\r\nend\r".to_vec()),
        ("nul_bytes", b"Subject: n\0l\nFrom: a@example.com\n\nbody\0with NUL\n".to_vec()),
        (
            "eight_bit_headers",
            b"Subject: caf\xc3\xa9 \xff\xfe invalid\nFrom: J\xc3\xb6rg \xe9 <j@example.com>\nContent-Type: text/plain; name=\"\xe9t\xe9.txt\"\n\nbody\n"
                .to_vec(),
        ),
        ("one_megabyte_header_line", {
            let mut raw = b"Subject: ".to_vec();
            raw.extend(std::iter::repeat_n(b'x', 1 << 20));
            raw.extend_from_slice(b"\nFrom: a@example.com\n\nbody\n");
            raw
        }),
        ("ten_thousand_headers", {
            let mut raw = Vec::new();
            for index in 0..10_000 {
                raw.extend_from_slice(format!("X-Header-{index}: value {index}\n").as_bytes());
            }
            raw.extend_from_slice(b"Subject: many\n\nbody\n");
            raw
        }),
        (
            "missing_boundary_parameter",
            b"Subject: m\nContent-Type: multipart/mixed\n\n--x\nContent-Type: text/plain\n\nhi\n--x--\n".to_vec(),
        ),
        (
            "unterminated_multipart",
            b"Subject: u\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nfirst\n--b\nContent-Type: text/html\n\n<p>second, never closed\n"
                .to_vec(),
        ),
        (
            "boundary_never_appears",
            b"Subject: u\nContent-Type: multipart/alternative; boundary=nothere\n\nonly a preamble\n".to_vec(),
        ),
        (
            "boundary_inside_part",
            b"Subject: b\nContent-Type: multipart/mixed; boundary=ab\n\n--ab\nContent-Type: text/plain\n\ntext that quotes --ab in a line\n--abc is not ours but matches as a prefix\n--ab--\n"
                .to_vec(),
        ),
        (
            "multipart_with_no_parts",
            b"Subject: e\nContent-Type: multipart/mixed; boundary=e\n\n--e--\n".to_vec(),
        ),
        ("nested_multipart_200_deep", nested_multipart(200)),
        ("nested_message_200_deep", nested_message(200)),
        (
            "broken_message_rfc822",
            b"Subject: outer\nContent-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: message/rfc822\n\nSubject inner without colon\nContent-Type: multipart/mixed; boundary=i\n--i\nno blank line\n--o--\n"
                .to_vec(),
        ),
        (
            "duplicate_content_type",
            b"Subject: d\nContent-Type: text/html; charset=utf-8\nContent-Type: multipart/mixed; boundary=z\n\n--z\n\nx\n--z--\n"
                .to_vec(),
        ),
        (
            "unbalanced_quotes_in_parameters",
            b"Subject: q\nContent-Type: text/plain; charset=\"utf-8; format=flowed\nContent-Disposition: attachment; filename=\"a.txt\n\nbody\n"
                .to_vec(),
        ),
        (
            "encoded_words_unknown_charset",
            b"Subject: =?x-unknown?Q?abc?= =?utf-8?Q?ok?= =?utf-8?X?bad?=\nFrom: =?x-unknown?B?Zm9v?= <f@example.com>\n\nbody\n"
                .to_vec(),
        ),
    ]
}

fn nested_multipart(depth: usize) -> Vec<u8> {
    let mut raw = b"Subject: deep multipart\n".to_vec();
    for level in 0..depth {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{level}\"\n\n--b{level}\n")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"Content-Type: text/plain\n\ninnermost\n");
    for level in (0..depth).rev() {
        raw.extend_from_slice(format!("--b{level}--\n").as_bytes());
    }
    raw
}

fn nested_message(depth: usize) -> Vec<u8> {
    let mut raw = Vec::new();
    for level in 0..depth {
        raw.extend_from_slice(
            format!("Subject: level {level}\nContent-Type: message/rfc822\n\n").as_bytes(),
        );
    }
    raw.extend_from_slice(b"Subject: innermost\n\nbody\n");
    raw
}

/// Checks that `value` follows the `body` grammar of RFC 9051 §9.
pub fn check_body(value: &Value, extensible: bool) -> Result<(), String> {
    let Value::List(items) = value else {
        return Err(format!("body is not a list: {value:?}"));
    };
    if matches!(items.first(), Some(Value::List(_))) {
        let parts = items
            .iter()
            .take_while(|item| matches!(item, Value::List(_)))
            .count();
        for part in &items[..parts] {
            check_body(part, extensible)?;
        }
        if !matches!(items.get(parts), Some(Value::Str(_))) {
            return Err(format!("multipart without subtype: {items:?}"));
        }
        let has_extension = items.len() > parts + 1;
        return if has_extension == extensible {
            Ok(())
        } else {
            Err(format!("multipart extension data present: {has_extension}"))
        };
    }
    let is_string = |index: usize| matches!(items.get(index), Some(Value::Str(_)));
    let is_nstring = |index: usize| matches!(items.get(index), Some(Value::Str(_) | Value::Nil));
    let is_number = |index: usize| matches!(items.get(index), Some(Value::Atom(digits)) if digits.iter().all(u8::is_ascii_digit));
    if !(is_string(0)
        && is_string(1)
        && is_nstring(3)
        && is_nstring(4)
        && is_string(5)
        && is_number(6))
    {
        return Err(format!("invalid basic fields: {items:?}"));
    }
    match &items[2] {
        Value::Nil => {}
        Value::List(params)
            if params.len() % 2 == 0 && params.iter().all(|p| matches!(p, Value::Str(_))) => {}
        other => return Err(format!("invalid parameters: {other:?}")),
    }
    let media_type = items[0].bytes().unwrap().to_ascii_lowercase();
    let subtype = items[1].bytes().unwrap().to_ascii_lowercase();
    let basic_len = if media_type == b"message" && (subtype == b"rfc822" || subtype == b"global") {
        check_envelope(items.get(7).ok_or("message without envelope")?)?;
        check_body(items.get(8).ok_or("message without body")?, extensible)?;
        if !is_number(9) {
            return Err("message without line count".into());
        }
        10
    } else if media_type == b"text" {
        if !is_number(7) {
            return Err("text without line count".into());
        }
        8
    } else {
        7
    };
    // Extension data: md5, disposition, language, location.
    let expected_len = if extensible { basic_len + 4 } else { basic_len };
    if items.len() == expected_len {
        Ok(())
    } else {
        Err(format!(
            "body has {} fields, expected {expected_len}: {items:?}",
            items.len()
        ))
    }
}

/// Checks that `value` follows the `envelope` grammar of RFC 9051 §9.
pub fn check_envelope(value: &Value) -> Result<(), String> {
    let Value::List(items) = value else {
        return Err(format!("envelope is not a list: {value:?}"));
    };
    if items.len() != 10 {
        return Err(format!("envelope has {} fields", items.len()));
    }
    for index in [0, 1, 8, 9] {
        if !matches!(items[index], Value::Nil | Value::Str(_)) {
            return Err(format!("envelope field {index} is not an nstring"));
        }
    }
    for list in &items[2..8] {
        match list {
            Value::Nil => {}
            Value::List(addresses) if !addresses.is_empty() => {
                for address in addresses {
                    let Value::List(fields) = address else {
                        return Err("address is not a list".into());
                    };
                    if fields.len() != 4
                        || !fields
                            .iter()
                            .all(|f| matches!(f, Value::Nil | Value::Str(_)))
                    {
                        return Err(format!("invalid address {fields:?}"));
                    }
                }
            }
            other => return Err(format!("invalid address list {other:?}")),
        }
    }
    Ok(())
}

/// Returns `count` generated messages from `seed`, each damaged one to four times.
pub fn damaged_messages(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = asimapd_corpus::Rng::new(seed);
    asimapd_corpus::generate(seed, count)
        .into_iter()
        .map(|mut raw| {
            for _ in 0..1 + rng.below(4) {
                damage(&mut rng, &mut raw);
            }
            raw
        })
        .collect()
}

/// Damages `raw` once: truncation, a random byte, a stray boundary line, a multipart
/// header with an unclosed boundary, or a NUL byte.
fn damage(rng: &mut asimapd_corpus::Rng, raw: &mut Vec<u8>) {
    if raw.is_empty() {
        return;
    }
    let at = rng.below(raw.len() as u64) as usize;
    match rng.below(5) {
        0 => raw.truncate(at),
        1 => raw[at] = rng.below(256) as u8,
        2 => raw.splice(at..at, b"\n--=_".iter().copied()).for_each(drop),
        3 => raw
            .splice(
                at..at,
                b"\nContent-Type: multipart/mixed; boundary=\"\n\n"
                    .iter()
                    .copied(),
            )
            .for_each(drop),
        _ => raw[at] = 0,
    }
}
