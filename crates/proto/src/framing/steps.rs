//! The framing steps of [`CommandParser`]: finding line ends, reading literal headers, and
//! recovering after a rejected command.

use memchr::memchr;

use super::{Announce, CommandParser, DISCARD_TAIL, Event, LiteralRequest, State};
use crate::append::ends_in_append_message;
use crate::cursor::Cursor;
use crate::error::{ErrorKind, ParseError};
use crate::parse::{parse_command_with_externals, peek_tag};

impl CommandParser {
    /// Removes the bytes handed out by the last [`Event::LiteralData`].
    pub(super) fn apply_drain(&mut self) {
        if self.pending_drain > 0 {
            self.buf.drain(self.pos..self.pos + self.pending_drain);
            self.pending_drain = 0;
            self.scanned = self.pos;
        }
    }

    /// Drops the bytes of finished commands from the front of the buffer.
    pub(super) fn compact(&mut self) {
        if self.start == 0 {
            return;
        }
        if self.start == self.buf.len() {
            self.buf.clear();
        } else if self.start < self.buf.len() / 2 {
            return;
        } else {
            self.buf.drain(..self.start);
        }
        self.pos -= self.start;
        self.line_start -= self.start;
        self.scanned -= self.start;
        self.start = 0;
    }

    /// Returns the number of buffered bytes after `pos`, at most `remaining`.
    pub(super) fn available(&self, remaining: u64) -> u64 {
        remaining.min((self.buf.len() - self.pos) as u64)
    }

    pub(super) fn start_line(&mut self, at: usize) {
        self.state = State::Line;
        self.line_start = at;
        self.scanned = at;
    }

    /// Starts a new command at `at`, forgetting the current one.
    pub(super) fn reset_at(&mut self, at: usize) {
        self.start = at;
        self.pos = at;
        self.externals.clear();
        self.start_line(at);
    }

    /// Discards everything before `end` without changing the state.
    pub(super) fn discard_to(&mut self, end: usize) {
        self.start = end;
        self.pos = end;
        self.line_start = end;
        self.scanned = end;
        self.externals.clear();
    }

    pub(super) fn stream_chunk(&mut self, remaining: u64) -> Event<'_> {
        if remaining == 0 {
            // A zero-length literal is complete before any of its bytes arrive.
            self.start_line(self.pos);
            return Event::LiteralData(&[]);
        }
        let taken = self.available(remaining);
        if taken == 0 {
            return Event::NeedMore;
        }
        self.pending_drain = taken as usize;
        if taken == remaining {
            self.start_line(self.pos);
        } else {
            self.state = State::Stream {
                remaining: remaining - taken,
            };
        }
        Event::LiteralData(&self.buf[self.pos..self.pos + taken as usize])
    }

    /// Forgets the current command, whose last line ended before `after`. A
    /// non-synchronising literal announced at its end is skipped, because the client sends
    /// it without waiting. After a synchronising one the client waits for a continuation
    /// that never comes, so the next line is a new command.
    pub(super) fn abandon_command(&mut self, after: usize, announce: Option<Announce>) {
        self.reset_at(after);
        if let Some(announce) = announce.filter(|announce| announce.is_non_sync) {
            self.state = State::Skip {
                remaining: announce.len,
            };
        }
    }

    /// Discards input up to the end of the current line. Returns false when the line end
    /// has not arrived yet.
    pub(super) fn discard_line(&mut self) -> bool {
        let Some(offset) = memchr(b'\n', &self.buf[self.pos..]) else {
            let keep_from = self.buf.len().saturating_sub(DISCARD_TAIL).max(self.pos);
            self.discard_to(keep_from);
            return false;
        };
        let lf = self.pos + offset;
        let announce = line_announce(&self.buf[self.pos..lf]);
        self.abandon_command(lf + 1, announce);
        true
    }

    /// Frames the current line: a complete command, a literal request, or a request for
    /// more input.
    pub(super) fn frame_line(&mut self) -> Result<Event<'_>, ParseError> {
        let from = self.scanned.max(self.line_start);
        let Some(offset) = memchr(b'\n', &self.buf[from..]) else {
            self.scanned = self.buf.len();
            if self.buf.len() - self.line_start > self.limits.max_line_len {
                return Err(self.reject_long_line());
            }
            return Ok(Event::NeedMore);
        };
        let lf = from + offset;
        // The tag is read only when needed, so a valid command costs no extra allocation.
        let tag = |parser: &Self| peek_tag(&parser.buf[parser.start..lf]);
        let announce = line_announce(&self.buf[self.line_start..lf]);
        if lf + 1 - self.line_start > self.limits.max_line_len {
            let tag = tag(self);
            self.abandon_command(lf + 1, announce);
            let max = self.limits.max_line_len;
            return Err(ErrorKind::LineTooLong { max }.with_tag(tag));
        }
        if lf == self.line_start || self.buf[lf - 1] != b'\r' {
            let tag = tag(self);
            self.abandon_command(lf + 1, announce);
            return Err(ErrorKind::BareLineFeed.with_tag(tag));
        }
        self.pos = lf + 1;
        match announce {
            None => self.finish_command(),
            Some(announce) => {
                let tag = tag(self);
                self.request_literal(announce, tag)
            }
        }
    }

    fn reject_long_line(&mut self) -> ParseError {
        let tag = peek_tag(&self.buf[self.start..]);
        self.pos = self.line_start;
        self.state = State::DiscardLine;
        let max = self.limits.max_line_len;
        ErrorKind::LineTooLong { max }.with_tag(tag)
    }

    fn finish_command(&mut self) -> Result<Event<'_>, ParseError> {
        let end = self.pos;
        let input = &self.buf[self.start..end];
        let result = parse_command_with_externals(input, &self.externals, &self.limits);
        self.reset_at(end);
        result.map(Event::Command)
    }

    fn request_literal(
        &mut self,
        announce: Announce,
        tag: Option<crate::Tag>,
    ) -> Result<Event<'_>, ParseError> {
        let max = if announce.is_non_sync {
            self.limits.max_non_sync_literal_len
        } else {
            self.limits.max_literal_len
        };
        if announce.len > max {
            self.abandon_command(self.pos, Some(announce));
            let len = announce.len;
            return Err(ErrorKind::LiteralTooLarge { len, max }.with_tag(tag));
        }
        let request = LiteralRequest {
            tag,
            len: announce.len,
            is_synchronizing: !announce.is_non_sync,
            is_binary: announce.is_binary,
            is_append_message: self.is_append_message(),
        };
        self.state = State::AwaitingDecision(request.clone(), announce);
        Ok(Event::Literal(request))
    }

    /// Returns true when the literal just announced is APPEND message data.
    fn is_append_message(&self) -> bool {
        let prefix = &self.buf[self.start..self.pos];
        let mut externals = self.externals.clone();
        externals.push(prefix.len());
        let mut cursor = Cursor::new(prefix, &externals, &self.limits);
        ends_in_append_message(&mut cursor)
    }
}

/// Reads the literal header that ends `line` (a line without its LF), if any:
/// `["~"] "{" number ["+"] "}"` before the CR.
fn line_announce(line: &[u8]) -> Option<Announce> {
    let line = line.strip_suffix(b"\r")?;
    let line = line.strip_suffix(b"}")?;
    let (line, is_non_sync) = match line.strip_suffix(b"+") {
        Some(line) => (line, true),
        None => (line, false),
    };
    let digit_count = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digit_count == 0 {
        return None;
    }
    let (line, digits) = line.split_at(line.len() - digit_count);
    let line = line.strip_suffix(b"{")?;
    // A length that overflows is kept as u64::MAX so the limit check rejects it.
    let len = digits.iter().try_fold(0u64, |value, &digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    });
    Some(Announce {
        len: len.unwrap_or(u64::MAX),
        is_non_sync,
        is_binary: line.ends_with(b"~"),
    })
}
