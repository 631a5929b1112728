//! The served form of a message: what the server sends, computed from the file on demand.
//!
//! Files on disk usually end lines with a bare LF. IMAP requires CRLF, so
//! the served form inserts a CR before every LF that does not already follow one, keeps
//! existing CRLF pairs, and passes any other byte (a bare CR included) through unchanged.
//! The decision is made inside the range being served: a LF at the first byte of a range
//! always gets a CR, so every served slice is valid on its own.
//!
//! Sizes are computed by counting LF bytes, and [`ServedReader`] streams any window of the
//! served form straight from the file bytes, so a large message never has to be copied.

use std::io::{self, Read};

/// A half-open range of byte offsets in the message file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct ByteRange {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl ByteRange {
    /// Creates a range; an `end` before `start` is raised to `start`, giving an empty range.
    pub fn new(start: usize, end: usize) -> Self {
        Self {
            start,
            end: end.max(start),
        }
    }

    /// Returns the number of file bytes in the range.
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Returns true when the range is empty.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// Returns the bytes of `raw` that the range covers, clamped to `raw`'s length.
    pub fn slice<'a>(&self, raw: &'a [u8]) -> &'a [u8] {
        let end = self.end.min(raw.len());
        &raw[self.start.min(end)..end]
    }
}

/// Size of a range in the served form: octets and text lines (LF count).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServedSize {
    /// Octets in the served (CRLF) form.
    pub octets: u64,
    /// Number of line ends in the range.
    pub lines: u64,
}

impl ServedSize {
    /// Measures the served form of `range` within `raw`.
    pub fn of(raw: &[u8], range: ByteRange) -> Self {
        let bytes = range.slice(raw);
        let mut lines = 0u64;
        let mut missing_cr = 0u64;
        for lf in memchr::memchr_iter(b'\n', bytes) {
            lines += 1;
            if lf == 0 || bytes[lf - 1] != b'\r' {
                missing_cr += 1;
            }
        }
        Self {
            octets: bytes.len() as u64 + missing_cr,
            lines,
        }
    }
}

/// Byte that replaces NUL in the served form of BODY sections: an IMAP literal may not
/// contain NUL (RFC 9051 §9, `CHAR8`), and Dovecot 2.3 sends 0x80 in its place, which
/// keeps every size and offset unchanged. BINARY content keeps NUL, since `literal8`
/// allows it.
pub const NUL_REPLACEMENT: u8 = 0x80;

/// Converts `bytes` to the served form in memory, for small values such as a filtered
/// header. Large ranges should be streamed with [`ServedReader`] instead.
pub fn to_served(bytes: &[u8]) -> Vec<u8> {
    read_all(ServedReader::new(bytes, ByteRange::new(0, bytes.len())))
}

/// Converts `bytes` to the served line ends but keeps NUL bytes, for BINARY content.
pub fn to_served_keeping_nul(bytes: &[u8]) -> Vec<u8> {
    read_all(ServedReader::new(bytes, ByteRange::new(0, bytes.len())).keeping_nul())
}

fn read_all(mut reader: ServedReader<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(reader.range.len() + reader.range.len() / 32);
    // Reading from a slice cannot fail.
    let _ = reader.read_to_end(&mut out);
    out
}

/// A reader of the served form of one byte range of a message file, optionally limited to a
/// window `<origin.count>` in served-form coordinates (RFC 9051 §6.4.5 partial fetch).
#[derive(Debug, Clone)]
pub struct ServedReader<'a> {
    raw: &'a [u8],
    range: ByteRange,
    pos: usize,
    pending_lf: bool,
    remaining: u64,
    replaces_nul: bool,
}

impl<'a> ServedReader<'a> {
    /// Creates a reader of the whole served form of `range`.
    pub fn new(raw: &'a [u8], range: ByteRange) -> Self {
        let range = ByteRange::new(range.start.min(raw.len()), range.end.min(raw.len()));
        Self {
            raw,
            range,
            pos: range.start,
            pending_lf: false,
            remaining: u64::MAX,
            replaces_nul: true,
        }
    }

    /// Returns the reader with NUL bytes passed through instead of replaced by
    /// [`NUL_REPLACEMENT`].
    pub fn keeping_nul(mut self) -> Self {
        self.replaces_nul = false;
        self
    }

    /// Creates a reader of the served octets `origin..origin + count` of `range`. The window
    /// is cut at the end of the range; its exact length is [`ServedReader::window_len`].
    pub fn window(raw: &'a [u8], range: ByteRange, origin: u64, count: u64) -> Self {
        let mut reader = Self::new(raw, range);
        reader.skip(origin);
        reader.remaining = count;
        reader
    }

    /// Returns the number of served octets of `range` inside the window `origin`, `count`:
    /// the length of the literal that carries a partial fetch.
    pub fn window_len(total: u64, origin: u64, count: u64) -> u64 {
        total.saturating_sub(origin).min(count)
    }

    fn needs_cr(&self, lf: usize) -> bool {
        lf == self.range.start || self.raw[lf - 1] != b'\r'
    }

    /// Advances past `count` served octets without producing them.
    fn skip(&mut self, mut count: u64) {
        while count > 0 && self.pos < self.range.end {
            let line = &self.raw[self.pos..self.range.end];
            let Some(offset) = memchr::memchr(b'\n', line) else {
                self.pos += (count as usize).min(line.len());
                return;
            };
            let lf = self.pos + offset;
            let text = offset as u64;
            let needs_cr = self.needs_cr(lf);
            let segment = text + 1 + u64::from(needs_cr);
            if count >= segment {
                count -= segment;
                self.pos = lf + 1;
            } else if count <= text {
                self.pos += count as usize;
                return;
            } else {
                // The window starts between an inserted CR and its LF.
                self.pos = lf + 1;
                self.pending_lf = true;
                return;
            }
        }
    }
}

impl Read for ServedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        let limit = (buf.len() as u64).min(self.remaining) as usize;
        while written < limit {
            if self.pending_lf {
                buf[written] = b'\n';
                written += 1;
                self.pending_lf = false;
                continue;
            }
            if self.pos >= self.range.end {
                break;
            }
            let room = limit - written;
            let end = self.range.end.min(self.pos + room);
            let chunk = &self.raw[self.pos..end];
            match memchr::memchr(b'\n', chunk) {
                None => {
                    buf[written..written + chunk.len()].copy_from_slice(chunk);
                    written += chunk.len();
                    self.pos = end;
                }
                Some(offset) => {
                    let lf = self.pos + offset;
                    buf[written..written + offset].copy_from_slice(&chunk[..offset]);
                    written += offset;
                    self.pos = lf + 1;
                    if self.needs_cr(lf) {
                        buf[written] = b'\r';
                        written += 1;
                        self.pending_lf = true;
                    } else {
                        buf[written] = b'\n';
                        written += 1;
                    }
                }
            }
        }
        self.remaining -= written as u64;
        if self.replaces_nul {
            for byte in &mut buf[..written] {
                if *byte == 0 {
                    *byte = NUL_REPLACEMENT;
                }
            }
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(raw: &[u8]) -> Vec<u8> {
        to_served(raw)
    }

    fn window(raw: &[u8], origin: u64, count: u64) -> Vec<u8> {
        let mut out = Vec::new();
        ServedReader::window(raw, ByteRange::new(0, raw.len()), origin, count)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn served_form_converts_bare_lf() {
        assert_eq!(served(b"a\nb\n"), b"a\r\nb\r\n");
    }

    #[test]
    fn served_form_keeps_crlf_and_bare_cr() {
        assert_eq!(served(b"a\r\nb\rc\n"), b"a\r\nb\rc\r\n");
    }

    #[test]
    fn served_form_of_leading_lf_gets_cr() {
        assert_eq!(served(b"\n\nx"), b"\r\n\r\nx");
    }

    #[test]
    fn served_form_replaces_nul_unless_kept() {
        assert_eq!(served(b"a\0b"), b"a\x80b");
        assert_eq!(to_served_keeping_nul(b"a\0b\n"), b"a\0b\r\n");
    }

    #[test]
    fn served_size_counts_inserted_cr() {
        let raw = b"a\nb\r\nc\rd\n";
        let size = ServedSize::of(raw, ByteRange::new(0, raw.len()));
        assert_eq!(size.octets, served(raw).len() as u64);
        assert_eq!(size.lines, 3);
    }

    #[test]
    fn window_matches_served_slice() {
        let raw = b"ab\ncd\r\n\nef\rg\nh";
        let full = served(raw);
        for origin in 0..=full.len() as u64 + 1 {
            for count in 0..=full.len() as u64 + 1 {
                let start = (origin as usize).min(full.len());
                let end = (start + count as usize).min(full.len());
                assert_eq!(
                    window(raw, origin, count),
                    &full[start..end],
                    "origin {origin} count {count}"
                );
            }
        }
    }

    #[test]
    fn reader_with_tiny_buffer_matches_served_form() {
        let raw = b"one\ntwo\r\nthree\n";
        let mut reader = ServedReader::new(raw, ByteRange::new(0, raw.len()));
        let mut out = Vec::new();
        let mut buf = [0u8; 1];
        while reader.read(&mut buf).unwrap() == 1 {
            out.push(buf[0]);
        }
        assert_eq!(out, served(raw));
    }

    #[test]
    fn window_len_is_cut_at_end() {
        assert_eq!(ServedReader::window_len(10, 4, 100), 6);
        assert_eq!(ServedReader::window_len(10, 20, 5), 0);
        assert_eq!(ServedReader::window_len(10, 2, 3), 3);
    }
}
