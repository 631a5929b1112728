//! Body sections of FETCH BODY[...] and BINARY[...] (RFC 9051 §6.4.5), resolved to bytes.
//!
//! Part numbers follow RFC 9051 §6.4.5. A message that is not multipart has only part 1,
//! its body. The parts of a `message/rfc822` part are the parts of the message it
//! contains, and a leaf part has no parts below it. HEADER, HEADER.FIELDS and TEXT apply to the top-level
//! message or to a `message/rfc822` part; MIME applies to any numbered part.

use std::fmt;
use std::io::{self, Cursor, Read};

use crate::error::MimeError;
use crate::header;
use crate::parse::{Analysis, Part, PartId, PartKind, from_line_end};
use crate::served::{ByteRange, ServedReader, ServedSize, to_served};

/// The text part of a section specifier, after the part numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// The header of the message, its empty line included.
    Header,
    /// Only the named header fields (case-insensitive), then an empty line.
    HeaderFields(Vec<Vec<u8>>),
    /// Every header field except the named ones, then an empty line.
    HeaderFieldsNot(Vec<Vec<u8>>),
    /// The body of the message.
    Text,
    /// The MIME header of a numbered part.
    Mime,
}

/// A section specifier: part numbers such as `1.2.3` (empty for the whole message) and an
/// optional text part. With neither, the section is the whole part.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers, each 1 or more.
    pub part: Vec<u32>,
    /// HEADER, HEADER.FIELDS, TEXT or MIME; `None` for the whole part.
    pub text: Option<SectionText>,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numbers: Vec<String> = self.part.iter().map(u32::to_string).collect();
        f.write_str(&numbers.join("."))?;
        let Some(text) = &self.text else {
            return Ok(());
        };
        if !self.part.is_empty() {
            f.write_str(".")?;
        }
        let (keyword, names) = match text {
            SectionText::Header => ("HEADER", None),
            SectionText::HeaderFields(names) => ("HEADER.FIELDS", Some(names)),
            SectionText::HeaderFieldsNot(names) => ("HEADER.FIELDS.NOT", Some(names)),
            SectionText::Text => ("TEXT", None),
            SectionText::Mime => ("MIME", None),
        };
        f.write_str(keyword)?;
        if let Some(names) = names {
            let names: Vec<String> = names
                .iter()
                .map(|name| String::from_utf8_lossy(name).into_owned())
                .collect();
            write!(f, " ({})", names.join(" "))?;
        }
        Ok(())
    }
}

/// The served content of a section: a range of the file, or bytes built for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionBody {
    /// A range of the message file, served with LF converted to CRLF; `size` is the
    /// served length.
    File {
        /// The range in the file.
        range: ByteRange,
        /// Octets of the served form.
        size: u64,
    },
    /// Bytes already in served form (a filtered header).
    Built(Vec<u8>),
}

impl SectionBody {
    /// Returns the whole message of the file `raw` (BODY[], RFC822) without analysing its
    /// structure: everything after a leading mbox `From ` line, as
    /// [`Analysis::message_range`] gives it.
    pub fn whole_message(raw: &[u8]) -> SectionBody {
        let range = ByteRange::new(from_line_end(raw), raw.len());
        SectionBody::File {
            range,
            size: ServedSize::of(raw, range).octets,
        }
    }

    /// Returns the served length of the whole section.
    pub fn len(&self) -> u64 {
        match self {
            SectionBody::File { size, .. } => *size,
            SectionBody::Built(bytes) => bytes.len() as u64,
        }
    }

    /// Returns true when the section is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Returns a reader of the served octets `origin..origin + count`; pass `0, u64::MAX`
    /// for the whole section. `raw` must be the file the analysis was made from.
    pub fn reader<'a>(&'a self, raw: &'a [u8], origin: u64, count: u64) -> SectionReader<'a> {
        match self {
            SectionBody::File { range, .. } => {
                SectionReader::File(ServedReader::window(raw, *range, origin, count))
            }
            SectionBody::Built(bytes) => {
                let start = (origin.min(bytes.len() as u64)) as usize;
                let len = ServedReader::window_len(bytes.len() as u64, origin, count) as usize;
                SectionReader::Built(Cursor::new(&bytes[start..start + len]))
            }
        }
    }

    /// Returns the served bytes of the window `origin..origin + count` in memory.
    pub fn to_vec(&self, raw: &[u8], origin: u64, count: u64) -> Vec<u8> {
        let mut out = Vec::new();
        // Reading from memory cannot fail.
        let _ = self.reader(raw, origin, count).read_to_end(&mut out);
        out
    }
}

/// A reader of a section window, as returned by [`SectionBody::reader`].
#[derive(Debug)]
pub enum SectionReader<'a> {
    /// Reads a file range in served form.
    File(ServedReader<'a>),
    /// Reads built bytes.
    Built(Cursor<&'a [u8]>),
}

impl Read for SectionReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            SectionReader::File(reader) => reader.read(buf),
            SectionReader::Built(reader) => reader.read(buf),
        }
    }
}

impl Analysis {
    /// Resolves `section` to its served content. `raw` must be the file the analysis was
    /// made from.
    ///
    /// # Errors
    /// [`MimeError::SectionNotFound`] when a part number does not exist, or when HEADER,
    /// HEADER.FIELDS or TEXT follow a part that is not a `message/rfc822` part.
    pub fn section(&self, raw: &[u8], section: &Section) -> Result<SectionBody, MimeError> {
        let not_found = || MimeError::SectionNotFound {
            section: section.to_string(),
        };
        if section.part.is_empty() {
            return match &section.text {
                None => Ok(self.file_body(self.message_range(), self.size())),
                // MIME needs a part number (RFC 9051 §6.4.5).
                Some(SectionText::Mime) => Err(not_found()),
                Some(text) => Ok(self
                    .message_section(raw, self.root(), Some(text))
                    .expect("a text other than MIME always resolves on a message")),
            };
        }
        let id = self.resolve_part(&section.part).ok_or_else(not_found)?;
        let part = self.part(id);
        match &section.text {
            None => Ok(self.file_body(part.body, part.body_size.octets)),
            Some(SectionText::Mime) => Ok(self.file_body(part.header, part.header_size.octets)),
            Some(text) => {
                if part.kind != PartKind::Message {
                    return Err(not_found());
                }
                let inner = self.part(part.children[0]);
                Ok(self
                    .message_section(raw, inner, Some(text))
                    .expect("a text other than MIME always resolves on a message"))
            }
        }
    }

    /// Finds the part that `numbers` (each 1 or more) names.
    pub fn resolve_part(&self, numbers: &[u32]) -> Option<PartId> {
        let mut current = PartId(0);
        for (index, &number) in numbers.iter().enumerate() {
            let position = (number as usize).checked_sub(1)?;
            let current_part = self.part(current);
            let (container, is_message) = if index == 0 {
                (PartId(0), true)
            } else if current_part.kind == PartKind::Message {
                (current_part.children[0], true)
            } else {
                (current, false)
            };
            let container_part = self.part(container);
            current = if container_part.kind == PartKind::Multipart {
                *container_part.children.get(position)?
            } else if is_message && position == 0 {
                container
            } else {
                return None;
            };
        }
        Some(current)
    }

    /// Returns every numbered part with its part number, in file order: what a client can
    /// name in `BODY[1.2]`. The top-level message has no number and is not listed.
    pub fn numbered_parts(&self) -> Vec<(Vec<u32>, PartId)> {
        let mut out = Vec::new();
        self.number_message(PartId(0), &mut Vec::new(), &mut out);
        out
    }

    fn number_message(
        &self,
        message: PartId,
        path: &mut Vec<u32>,
        out: &mut Vec<(Vec<u32>, PartId)>,
    ) {
        let part = self.part(message);
        if part.kind == PartKind::Multipart {
            self.number_children(part, path, out);
        } else {
            path.push(1);
            self.number_part(message, path, out);
            path.pop();
        }
    }

    fn number_children(&self, part: &Part, path: &mut Vec<u32>, out: &mut Vec<(Vec<u32>, PartId)>) {
        for (index, &child) in part.children.iter().enumerate() {
            path.push(index as u32 + 1);
            self.number_part(child, path, out);
            path.pop();
        }
    }

    fn number_part(&self, id: PartId, path: &mut Vec<u32>, out: &mut Vec<(Vec<u32>, PartId)>) {
        out.push((path.clone(), id));
        let part = self.part(id);
        match part.kind {
            PartKind::Multipart => self.number_children(part, path, out),
            PartKind::Message => self.number_message(part.children[0], path, out),
            PartKind::Leaf => {}
        }
    }

    /// Returns HEADER, HEADER.FIELDS or TEXT of the message entity `message`, or `None`
    /// for the whole-part and MIME cases that the caller resolves itself.
    fn message_section(
        &self,
        raw: &[u8],
        message: &Part,
        text: Option<&SectionText>,
    ) -> Option<SectionBody> {
        let body = match text? {
            SectionText::Header => self.file_body(message.header, message.header_size.octets),
            SectionText::Text => self.file_body(message.body, message.body_size.octets),
            SectionText::HeaderFields(names) => {
                SectionBody::Built(filter_header(message.header.slice(raw), names, true))
            }
            SectionText::HeaderFieldsNot(names) => {
                SectionBody::Built(filter_header(message.header.slice(raw), names, false))
            }
            SectionText::Mime => return None,
        };
        Some(body)
    }

    fn file_body(&self, range: ByteRange, size: u64) -> SectionBody {
        SectionBody::File { range, size }
    }
}

/// Returns the served form of HEADER.FIELDS (`keep` true) or HEADER.FIELDS.NOT (`keep`
/// false) of the header `block`, as Dovecot 2.3 writes them. HEADER.FIELDS is the listed
/// fields followed by an empty line. HEADER.FIELDS.NOT is the header without the listed
/// fields, so it ends with the header's own empty line when there is one.
pub fn filter_header(block: &[u8], names: &[Vec<u8>], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut end = 0;
    for field in header::fields(block) {
        end = field.range.end;
        let is_listed = names.iter().any(|name| field.is(name));
        if is_listed == keep {
            out.extend_from_slice(&to_served(field.range.slice(block)));
        }
    }
    if keep {
        out.extend_from_slice(b"\r\n");
    } else {
        out.extend_from_slice(&to_served(&block[end..]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_displays_in_imap_syntax() {
        let section = Section {
            part: vec![2, 1],
            text: Some(SectionText::HeaderFields(vec![
                b"From".to_vec(),
                b"To".to_vec(),
            ])),
        };
        assert_eq!(section.to_string(), "2.1.HEADER.FIELDS (From To)");
        let header = Section {
            part: vec![],
            text: Some(SectionText::Header),
        };
        assert_eq!(header.to_string(), "HEADER");
    }

    #[test]
    fn header_fields_keep_continuation_lines() {
        let block = b"From: a\nSubject: x\n  y\nTo: b\n\n";
        let names = vec![b"subject".to_vec()];
        assert_eq!(
            filter_header(block, &names, true),
            b"Subject: x\r\n  y\r\n\r\n"
        );
        assert_eq!(
            filter_header(block, &names, false),
            b"From: a\r\nTo: b\r\n\r\n"
        );
    }
}
