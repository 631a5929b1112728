//! The streaming command parser: splits the input into lines and literals, requests the
//! session's decision on each literal, and parses each complete command (RFC 9051 §2.2, §4.3,
//! §7.5; RFC 7888 LITERAL+ and LITERAL-; RFC 3516 literal8).

mod steps;

use memchr::memchr;

use crate::command::Command;
use crate::error::{ErrorKind, ParseError};
use crate::limits::Limits;
use crate::parse::decode_sasl_response;
use crate::types::{Secret, Tag};

/// An event that [`CommandParser::next_event`] reports from the input.
#[derive(Debug)]
pub enum Event<'a> {
    /// A complete command.
    Command(Command),
    /// The input ends inside a command or before one; feed more bytes.
    NeedMore,
    /// A line ended with a literal header. The session then calls
    /// [`CommandParser::accept_literal`], [`CommandParser::stream_literal`] or
    /// [`CommandParser::reject_literal`].
    Literal(LiteralRequest),
    /// Bytes of a literal the session chose to stream; they are removed from the parser.
    LiteralData(&'a [u8]),
}

/// A literal announced by the client, awaiting the session's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralRequest {
    /// Tag of the command, when the command started with a valid one.
    pub tag: Option<Tag>,
    /// Length in bytes.
    pub len: u64,
    /// True for `{n}`: the client waits for a `+` continuation before sending the bytes.
    /// False for `{n+}` (LITERAL+ and LITERAL-), whose bytes follow at once.
    pub is_synchronizing: bool,
    /// True for a literal8 (`~{n}`, RFC 3516), which may contain NUL bytes.
    pub is_binary: bool,
    /// True when the literal is the message data of an APPEND, which the session may
    /// stream to a file.
    pub is_append_message: bool,
}

/// A client's reply to an AUTHENTICATE challenge (RFC 9051 §6.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthenticateResponse {
    /// The decoded response.
    Data(Secret),
    /// `*`: the client cancelled the exchange.
    Cancel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Announce {
    len: u64,
    is_non_sync: bool,
    is_binary: bool,
}

#[derive(Debug)]
enum State {
    /// Reading a line of the current command.
    Line,
    /// A literal was announced and the session has not decided yet.
    AwaitingDecision(LiteralRequest, Announce),
    /// Reading literal bytes into the command.
    Literal { remaining: u64 },
    /// Handing literal bytes to the session.
    Stream { remaining: u64 },
    /// Discarding the bytes of a rejected non-synchronising literal.
    Skip { remaining: u64 },
    /// Discarding the rest of a rejected command up to its line end.
    DiscardLine,
}

/// Bytes kept from a discarded line so that a literal header at its end can still be read.
const DISCARD_TAIL: usize = 32;

/// A streaming parser of client commands. Feed it bytes with [`feed`](Self::feed), then
/// call [`next_event`](Self::next_event) until it returns [`Event::NeedMore`].
///
/// ```
/// use asimapd_proto::{CommandBody, CommandParser, Event, Limits};
///
/// let mut parser = CommandParser::new(Limits::default());
/// let mut to_client = Vec::new();
/// let mut commands = Vec::new();
/// for read in [&b"a1 LOGIN {4}\r\n"[..], b"user secret\r\na2 NOOP\r\n"] {
///     parser.feed(read);
///     loop {
///         match parser.next_event() {
///             Ok(Event::NeedMore) => break,
///             Ok(Event::Literal(request)) => {
///                 parser.accept_literal().expect("literal fits the command limit");
///                 if request.is_synchronizing {
///                     to_client.extend_from_slice(b"+ Ready\r\n");
///                 }
///             }
///             Ok(Event::LiteralData(_)) => unreachable!("no literal is streamed here"),
///             Ok(Event::Command(command)) => commands.push(command),
///             Err(error) => panic!("{error}"),
///         }
///     }
/// }
/// assert_eq!(to_client, b"+ Ready\r\n");
/// assert!(matches!(commands[0].body, CommandBody::Login { .. }));
/// assert_eq!(commands[1].body, CommandBody::Noop);
/// ```
#[derive(Debug)]
pub struct CommandParser {
    limits: Limits,
    buf: Vec<u8>,
    /// Start of the current command in `buf`.
    start: usize,
    /// End of the bytes of the current command already framed.
    pos: usize,
    /// Start of the current line.
    line_start: usize,
    /// Bytes after `pos` known to hold no LF.
    scanned: usize,
    /// Payload offsets, relative to `start`, of literals streamed to the session.
    externals: Vec<usize>,
    /// Bytes at `pos` handed out as [`Event::LiteralData`] and still to be removed.
    pending_drain: usize,
    state: State,
}

impl CommandParser {
    /// Creates a parser with the given limits.
    pub fn new(limits: Limits) -> Self {
        CommandParser {
            limits,
            buf: Vec::new(),
            start: 0,
            pos: 0,
            line_start: 0,
            scanned: 0,
            externals: Vec::new(),
            pending_drain: 0,
            state: State::Line,
        }
    }

    /// Returns the limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Replaces the limits, for example after login or after ENABLE UTF8=ACCEPT. The new
    /// limits apply from the next line on.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Appends bytes read from the client.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.apply_drain();
        self.compact();
        self.buf.extend_from_slice(bytes);
    }

    /// Returns true when no bytes are buffered, so the client sent nothing more yet.
    pub fn is_empty(&self) -> bool {
        self.buf.len() - self.pending_drain == self.start
    }

    /// Reads the next event from the buffered input.
    pub fn next_event(&mut self) -> Result<Event<'_>, ParseError> {
        self.apply_drain();
        loop {
            match self.state {
                State::Line => return self.frame_line(),
                State::AwaitingDecision(ref request, _) => {
                    return Ok(Event::Literal(request.clone()));
                }
                State::Literal { remaining } => {
                    let taken = self.available(remaining);
                    self.pos += taken as usize;
                    if taken < remaining {
                        self.state = State::Literal {
                            remaining: remaining - taken,
                        };
                        return Ok(Event::NeedMore);
                    }
                    self.start_line(self.pos);
                }
                State::Stream { remaining } => return Ok(self.stream_chunk(remaining)),
                State::Skip { remaining } => {
                    let taken = self.available(remaining);
                    self.discard_to(self.pos + taken as usize);
                    if taken < remaining {
                        self.state = State::Skip {
                            remaining: remaining - taken,
                        };
                        return Ok(Event::NeedMore);
                    }
                    self.state = State::DiscardLine;
                }
                State::DiscardLine => {
                    if !self.discard_line() {
                        return Ok(Event::NeedMore);
                    }
                }
            }
        }
    }

    /// Reads the literal announced by the last [`Event::Literal`] into the command. For a
    /// synchronising literal the session sends a `+` continuation first. Fails, rejecting
    /// the command, when the literal would exceed the command length limit.
    pub fn accept_literal(&mut self) -> Result<(), ParseError> {
        let State::AwaitingDecision(ref request, announce) = self.state else {
            return Ok(());
        };
        let command_len = (self.pos - self.start) as u64 + announce.len;
        if command_len > self.limits.max_command_len as u64 {
            let tag = request.tag.clone();
            self.abandon_command(self.pos, Some(announce));
            let max = self.limits.max_command_len;
            return Err(ErrorKind::CommandTooLong { max }.with_tag(tag));
        }
        self.state = State::Literal {
            remaining: announce.len,
        };
        Ok(())
    }

    /// Hands the literal announced by the last [`Event::Literal`] to the session as
    /// [`Event::LiteralData`] chunks instead of keeping it. Only APPEND message data may be
    /// streamed; the command then contains [`AppendData::External`](crate::AppendData::External).
    pub fn stream_literal(&mut self) {
        let State::AwaitingDecision(_, announce) = self.state else {
            return;
        };
        self.externals.push(self.pos - self.start);
        self.state = State::Stream {
            remaining: announce.len,
        };
    }

    /// Rejects the literal announced by the last [`Event::Literal`] and the command it
    /// belongs to. The session replies to the command with BAD or NO. The bytes of a
    /// non-synchronising literal are then skipped and never parsed as commands.
    pub fn reject_literal(&mut self) {
        let State::AwaitingDecision(_, announce) = self.state else {
            return;
        };
        self.abandon_command(self.pos, Some(announce));
    }

    /// Reads one raw line, without its CRLF, between commands: for the client's replies
    /// during AUTHENTICATE or the end of IDLE. Returns `None` until a whole line is buffered.
    pub fn next_line(&mut self) -> Result<Option<Vec<u8>>, ParseError> {
        self.apply_drain();
        if matches!(self.state, State::DiscardLine) {
            if !self.discard_line() {
                return Ok(None);
            }
            // Raw lines carry no literals, so a literal header at the end of the discarded
            // line means nothing here.
            self.state = State::Line;
        }
        let Some(line_end) = self.find_line_end()? else {
            return Ok(None);
        };
        let line = self.buf[self.start..line_end - 2].to_vec();
        self.reset_at(line_end);
        Ok(Some(line))
    }

    /// Reads the client's reply to an AUTHENTICATE challenge: base64 data, or `*` to cancel.
    pub fn next_authenticate_response(
        &mut self,
    ) -> Result<Option<AuthenticateResponse>, ParseError> {
        let Some(line) = self.next_line()? else {
            return Ok(None);
        };
        if line == b"*" {
            return Ok(Some(AuthenticateResponse::Cancel));
        }
        if line.is_empty() {
            return Ok(Some(AuthenticateResponse::Data(Secret::new(Vec::new()))));
        }
        match decode_sasl_response(&line) {
            Some(data) if line != b"=" => Ok(Some(AuthenticateResponse::Data(data))),
            _ => Err(ErrorKind::InvalidBase64.with_tag(None)),
        }
    }

    /// Reads the line that ends IDLE, which must be `DONE` in any case (RFC 2177).
    /// Returns `Ok(Some(()))` for DONE.
    pub fn next_idle_done(&mut self) -> Result<Option<()>, ParseError> {
        let Some(line) = self.next_line()? else {
            return Ok(None);
        };
        if line.eq_ignore_ascii_case(b"DONE") {
            Ok(Some(()))
        } else {
            Err(ErrorKind::ExpectedDone.with_tag(None))
        }
    }

    /// Finds the end of the line that starts at `start`, failing on an overlong line or a
    /// bare LF. Used only between commands.
    fn find_line_end(&mut self) -> Result<Option<usize>, ParseError> {
        let from = self.start.max(self.scanned);
        let Some(offset) = memchr(b'\n', &self.buf[from..]) else {
            self.scanned = self.buf.len();
            if self.buf.len() - self.start > self.limits.max_line_len {
                self.state = State::DiscardLine;
                self.discard_to(self.buf.len());
                let max = self.limits.max_line_len;
                return Err(ErrorKind::LineTooLong { max }.with_tag(None));
            }
            return Ok(None);
        };
        let lf = from + offset;
        if lf == self.start || self.buf[lf - 1] != b'\r' {
            self.reset_at(lf + 1);
            return Err(ErrorKind::BareLineFeed.with_tag(None));
        }
        if lf + 1 - self.start > self.limits.max_line_len {
            self.reset_at(lf + 1);
            let max = self.limits.max_line_len;
            return Err(ErrorKind::LineTooLong { max }.with_tag(None));
        }
        Ok(Some(lf + 1))
    }
}
