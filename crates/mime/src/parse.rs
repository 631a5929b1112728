//! The part tree: one pass over the message bytes that records where every header and body
//! lies (RFC 2045, RFC 2046 §5.1 for multipart boundaries, RFC 2046 §5.2.1 for
//! `message/rfc822`).
//!
//! Boundaries match as Dovecot 2.3 matches them: a line that starts with `--` and a boundary
//! of the part or of any enclosing multipart ends the current part, whatever follows the
//! boundary on that line. The line end before a boundary line belongs to the delimiter.

use memchr::memmem;

use crate::content::{ContentInfo, DefaultType};
use crate::envelope::Envelope;
use crate::header::{is_empty_line, line_end};
use crate::served::{ByteRange, ServedSize};

/// Maximum number of nested entities, the top-level message included. A multipart or
/// message part at the last level is kept as a single leaf part (BODYSTRUCTURE shows it as
/// `application/octet-stream`), so hostile nesting costs neither stack nor time. Dovecot
/// 2.3 cuts nesting at the same level.
pub const MAX_NESTING_DEPTH: usize = 100;

/// Maximum number of parts recorded for one message. Parts after the limit stay inside
/// their enclosing multipart's body, so BODY[] still serves every byte.
pub const MAX_PARTS: usize = 10_000;

/// Index of a part in [`Analysis::parts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartId(pub usize);

/// The structure of a part's body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// A body with no recorded structure: text, an attachment, or a multipart or message
    /// part at the nesting limit [`MAX_NESTING_DEPTH`].
    Leaf,
    /// A multipart body; its parts are the children (possibly none).
    Multipart,
    /// A `message/rfc822` or `message/global` body; its only child is the encapsulated
    /// message, whose header is that message's header.
    Message,
}

/// One entity of the message: the message itself, a body part, or an encapsulated message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The header block in the file, the empty line that ends it included.
    pub header: ByteRange,
    /// The body in the file.
    pub body: ByteRange,
    /// Served size of the header block.
    pub header_size: ServedSize,
    /// Served size of the body.
    pub body_size: ServedSize,
    /// The MIME description from the header.
    pub content: ContentInfo,
    /// The structure of the body.
    pub kind: PartKind,
    /// Parts of a multipart, or the encapsulated message of a message part.
    pub children: Vec<PartId>,
    /// The envelope, for the top-level message and encapsulated messages only.
    pub envelope: Option<Envelope>,
}

impl Part {
    /// Returns the served size of header and body together.
    pub fn total_size(&self) -> ServedSize {
        add(self.header_size, self.body_size)
    }
}

/// The analysis of one message file: every part with its offsets and sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    parts: Vec<Part>,
    message: ByteRange,
}

impl Analysis {
    /// Analyses the raw bytes of one message file. Never fails: malformed structure is read
    /// as well as it can be, and the result always describes every byte served.
    pub fn parse(raw: &[u8]) -> Self {
        let start = from_line_end(raw);
        let mut parser = Parser {
            raw,
            parts: Vec::new(),
            boundaries: Vec::new(),
        };
        parser.entity(start, 0, DefaultType::TextPlain, true);
        Self {
            parts: parser.parts,
            message: ByteRange::new(start, raw.len()),
        }
    }

    /// Returns the top-level message entity.
    pub fn root(&self) -> &Part {
        &self.parts[0]
    }

    /// Returns the part with index `id`.
    pub fn part(&self, id: PartId) -> &Part {
        &self.parts[id.0]
    }

    /// Returns every part, the top-level message first, in file order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Returns the range of the served message in the file: everything after a leading
    /// `From ` line.
    pub fn message_range(&self) -> ByteRange {
        self.message
    }

    /// Returns RFC822.SIZE: the octets of the served message.
    pub fn size(&self) -> u64 {
        self.root().total_size().octets
    }

    /// Returns the ENVELOPE of the message.
    pub fn envelope(&self) -> &Envelope {
        self.root()
            .envelope
            .as_ref()
            .expect("the root part is a message and always has an envelope")
    }
}

/// Returns the offset after a leading mbox `From ` line, or 0 when there is none.
pub(crate) fn from_line_end(raw: &[u8]) -> usize {
    if raw.starts_with(b"From ") {
        line_end(raw, 0)
    } else {
        0
    }
}

fn add(a: ServedSize, b: ServedSize) -> ServedSize {
    ServedSize {
        octets: a.octets + b.octets,
        lines: a.lines + b.lines,
    }
}

/// A boundary line found while scanning a body.
#[derive(Debug, Clone, Copy)]
struct Hit {
    /// Index in the boundary stack of the boundary that matched.
    level: usize,
    is_close: bool,
    /// Offset of the `--` that starts the line.
    line_start: usize,
    /// Offset just past the boundary line.
    next: usize,
}

/// The end of an entity's body and the boundary line that ended it, if any.
#[derive(Debug, Clone, Copy)]
struct Stop {
    body_end: usize,
    hit: Option<Hit>,
}

struct Parser<'a> {
    raw: &'a [u8],
    parts: Vec<Part>,
    boundaries: Vec<Vec<u8>>,
}

impl Parser<'_> {
    /// Parses the entity whose header starts at `start`.
    fn entity(
        &mut self,
        start: usize,
        depth: usize,
        default: DefaultType,
        is_message: bool,
    ) -> Stop {
        let (header_end, interrupted) = self.scan_header(start, is_message);
        let id = self.push_part(ByteRange::new(start, header_end), default, is_message);
        let can_nest = depth + 1 < MAX_NESTING_DEPTH;
        if let Some(hit) = interrupted {
            self.keep_kind_of_cut_part(id, can_nest);
            return Stop {
                body_end: header_end,
                hit: Some(hit),
            };
        }

        let (stop, body_size) = self.body(id, header_end, depth, can_nest);
        let part = &mut self.parts[id];
        part.body = ByteRange::new(header_end, stop.body_end);
        part.body_size = body_size;
        stop
    }

    /// Adds a part for the header block `header`, with an empty body for now.
    fn push_part(&mut self, header: ByteRange, default: DefaultType, is_message: bool) -> usize {
        let block = header.slice(self.raw);
        let id = self.parts.len();
        self.parts.push(Part {
            header,
            body: ByteRange::new(header.end, header.end),
            header_size: ServedSize::of(self.raw, header),
            body_size: ServedSize::default(),
            envelope: is_message.then(|| Envelope::from_header(block)),
            kind: PartKind::Leaf,
            children: Vec::new(),
            content: ContentInfo::from_header(block, default),
        });
        id
    }

    /// Gives a part whose header a boundary cut (so it has no body) the kind its header
    /// declares, so that BODYSTRUCTURE still shows a multipart or message part.
    fn keep_kind_of_cut_part(&mut self, id: usize, can_nest: bool) {
        let content = &self.parts[id].content;
        if can_nest && content.is_type(b"multipart") {
            self.parts[id].kind = PartKind::Multipart;
        } else if can_nest && content.is_encapsulated_message() {
            self.parts[id].kind = PartKind::Message;
            let child = self.parts.len();
            let offset = self.parts[id].header.end;
            self.entity_without_bytes(offset);
            self.parts[id].children.push(PartId(child));
        }
    }

    /// Parses the body of part `id` from `body_start`: a multipart, an encapsulated
    /// message, or a leaf. Returns where it ended and its served size.
    fn body(
        &mut self,
        id: usize,
        body_start: usize,
        depth: usize,
        can_nest: bool,
    ) -> (Stop, ServedSize) {
        let content = &self.parts[id].content;
        if can_nest && content.is_type(b"multipart") {
            let boundary = content.param(b"boundary").unwrap_or_default().to_vec();
            let child_default = if content.subtype.eq_ignore_ascii_case(b"digest") {
                DefaultType::MessageRfc822
            } else {
                DefaultType::TextPlain
            };
            self.parts[id].kind = PartKind::Multipart;
            self.multipart(id, body_start, depth, boundary, child_default)
        } else if can_nest && content.is_encapsulated_message() {
            self.parts[id].kind = PartKind::Message;
            let child = self.parts.len();
            let stop = self.entity(body_start, depth + 1, DefaultType::TextPlain, true);
            self.parts[id].children.push(PartId(child));
            (stop, self.parts[child].total_size())
        } else {
            let stop = self.scan_body(body_start);
            let size = ServedSize::of(self.raw, ByteRange::new(body_start, stop.body_end));
            (stop, size)
        }
    }

    /// Adds an empty encapsulated message at `offset`, for a message part without a body.
    fn entity_without_bytes(&mut self, offset: usize) {
        let empty = ByteRange::new(offset, offset);
        self.parts.push(Part {
            header: empty,
            body: empty,
            header_size: ServedSize::default(),
            body_size: ServedSize::default(),
            content: ContentInfo::from_header(b"", DefaultType::TextPlain),
            kind: PartKind::Leaf,
            children: Vec::new(),
            envelope: Some(Envelope::default()),
        });
    }

    /// Parses a multipart body that starts at `body_start` and returns where it ended with
    /// its served size. The size adds up the children and the gaps between them, so every
    /// byte is counted once.
    fn multipart(
        &mut self,
        id: usize,
        body_start: usize,
        depth: usize,
        boundary: Vec<u8>,
        child_default: DefaultType,
    ) -> (Stop, ServedSize) {
        if boundary.is_empty() {
            let stop = self.scan_body(body_start);
            let size = ServedSize::of(self.raw, ByteRange::new(body_start, stop.body_end));
            return (stop, size);
        }
        self.boundaries.push(boundary);
        let level = self.boundaries.len() - 1;
        let mut size = ServedSize::default();
        let mut cursor = body_start;
        // The boundary line found last, with the end of the content before it. A hit passed
        // up from a child keeps the child's end, so every level agrees where it stops.
        let mut pending = self.scan_body(body_start);
        let stop = loop {
            let Some(current) = pending.hit else {
                break pending;
            };
            if current.level < level {
                break pending;
            }
            if current.is_close {
                // The epilogue runs to the next boundary of an enclosing multipart.
                self.boundaries.pop();
                let stop = self.scan_body(current.next);
                size = add(
                    size,
                    ServedSize::of(self.raw, ByteRange::new(cursor, stop.body_end)),
                );
                return (stop, size);
            }
            if self.parts.len() >= MAX_PARTS {
                pending = self.scan_body(current.next);
                continue;
            }
            let child = self.parts.len();
            pending = self.entity(current.next, depth + 1, child_default, false);
            self.parts[id].children.push(PartId(child));
            let child_part = &self.parts[child];
            size = add(
                size,
                ServedSize::of(self.raw, ByteRange::new(cursor, child_part.header.start)),
            );
            size = add(size, child_part.total_size());
            cursor = child_part.body.end;
        };
        self.boundaries.pop();
        size = add(
            size,
            ServedSize::of(self.raw, ByteRange::new(cursor, stop.body_end)),
        );
        (stop, size)
    }

    /// Finds the end of a header block that starts at `start`: after its empty line, at the
    /// end of the file, or at a boundary line (returned as the interruption). A MIME part
    /// header cut by a boundary leaves its last line end to the delimiter, while the header
    /// of an encapsulated message keeps it, as Dovecot 2.3 counts them.
    fn scan_header(&self, start: usize, is_message: bool) -> (usize, Option<Hit>) {
        let mut line = start;
        while line < self.raw.len() {
            let rest = &self.raw[line..];
            if is_empty_line(rest) {
                return (line_end(self.raw, line), None);
            }
            if rest.starts_with(b"--")
                && let Some(hit) = self.match_boundary(line)
            {
                let end = if is_message {
                    line
                } else {
                    break_before(self.raw, line, start)
                };
                return (end, Some(hit));
            }
            line = line_end(self.raw, line);
        }
        (self.raw.len(), None)
    }

    /// Scans from `start` (a line start) to the next boundary line or the end of the file.
    /// The line end before the boundary line belongs to the delimiter unless it lies before
    /// `start`, where it ended an earlier line such as a close delimiter.
    fn scan_body(&self, start: usize) -> Stop {
        match self.next_boundary(start) {
            Some(hit) => Stop {
                body_end: break_before(self.raw, hit.line_start, start),
                hit: Some(hit),
            },
            None => Stop {
                body_end: self.raw.len(),
                hit: None,
            },
        }
    }

    /// Finds the next line at or after `from` (a line start) that is a boundary line.
    fn next_boundary(&self, from: usize) -> Option<Hit> {
        if self.boundaries.iter().all(|boundary| boundary.is_empty()) {
            return None;
        }
        let finder = memmem::Finder::new(b"\n--");
        let mut line = from;
        loop {
            if self.raw[line..].starts_with(b"--")
                && let Some(hit) = self.match_boundary(line)
            {
                return Some(hit);
            }
            let offset = finder.find(&self.raw[line..])?;
            line += offset + 1;
        }
    }

    /// Matches the line at `line` (which starts with `--`) against the boundary stack,
    /// innermost boundary first.
    fn match_boundary(&self, line: usize) -> Option<Hit> {
        let rest = &self.raw[line + 2..];
        let level = (0..self.boundaries.len()).rev().find(|&level| {
            let boundary = &self.boundaries[level];
            !boundary.is_empty() && rest.starts_with(boundary)
        })?;
        let after = &rest[self.boundaries[level].len()..];
        Some(Hit {
            level,
            is_close: after.starts_with(b"--"),
            line_start: line,
            next: line_end(self.raw, line),
        })
    }
}

/// Returns the end of the content before the boundary line at `line_start`: the CRLF or LF
/// before the line belongs to the delimiter (RFC 2046 §5.1.1). Never before `floor`.
fn break_before(raw: &[u8], line_start: usize, floor: usize) -> usize {
    let mut end = line_start;
    if end > floor && raw[end - 1] == b'\n' {
        end -= 1;
        if end > floor && raw[end - 1] == b'\r' {
            end -= 1;
        }
    }
    end
}
