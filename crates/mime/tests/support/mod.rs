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
