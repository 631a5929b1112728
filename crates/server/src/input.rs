//! Client input before login: feeds the command parser one line or one literal at a time, so
//! that the bytes after a successful login stay in this reader and can be handed to the
//! worker unparsed.

use asimapd_proto::{
    AuthenticateResponse, Command, CommandParser, Event, Limits, LiteralRequest,
    PRE_AUTH_MAX_LINE_LEN, ParseError,
};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes read from the socket at once.
const READ_CHUNK: usize = 4096;

/// Input the reader found.
#[derive(Debug)]
pub enum Input {
    Command(Command),
    /// A literal was announced. The session sends `+` for a synchronizing literal and then
    /// calls [`ClientReader::accept_literal`].
    Literal(LiteralRequest),
    /// A command that does not parse, with its tag when one was read.
    Invalid(ParseError),
    /// A line longer than the pre-login maximum.
    LineTooLong,
    /// The client closed the connection.
    Closed,
}

/// The parser and the bytes read but not yet fed to it.
#[derive(Debug)]
pub struct ClientReader {
    parser: CommandParser,
    buffered: Vec<u8>,
    /// Bytes of an accepted literal still to feed.
    literal_remaining: u64,
}

impl Default for ClientReader {
    fn default() -> Self {
        ClientReader {
            parser: CommandParser::new(Limits::pre_auth()),
            buffered: Vec::new(),
            literal_remaining: 0,
        }
    }
}

impl ClientReader {
    /// Reads until a command, a literal announcement, an error or the end of input.
    pub async fn next<R: AsyncRead + Unpin>(&mut self, stream: &mut R) -> std::io::Result<Input> {
        loop {
            if let Some(input) = self.parse_buffered()? {
                return Ok(input);
            }
            if !self.fill(stream).await? {
                return Ok(Input::Closed);
            }
        }
    }

    /// Reads the client's reply to an AUTHENTICATE challenge; `None` when the client closed
    /// the connection or sent a line longer than the pre-login maximum.
    pub async fn authenticate_response<R: AsyncRead + Unpin>(
        &mut self,
        stream: &mut R,
    ) -> std::io::Result<Option<Result<AuthenticateResponse, ParseError>>> {
        loop {
            if let Some(end) = line_end(&self.buffered) {
                let line: Vec<u8> = self.buffered.drain(..end).collect();
                self.parser.feed(&line);
                return Ok(self.parser.next_authenticate_response().transpose());
            }
            if self.buffered.len() > PRE_AUTH_MAX_LINE_LEN || !self.fill(stream).await? {
                return Ok(None);
            }
        }
    }

    /// Lets the parser read the literal of the last [`Input::Literal`] into the command.
    pub fn accept_literal(&mut self, request: &LiteralRequest) -> Result<(), ParseError> {
        self.parser.accept_literal()?;
        self.literal_remaining = request.len;
        Ok(())
    }

    /// Returns the bytes received but not parsed yet, leaving the reader empty.
    pub fn take_unparsed(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buffered)
    }

    /// Puts bytes taken with [`take_unparsed`](Self::take_unparsed) back in front of
    /// anything read since.
    pub fn restore_unparsed(&mut self, mut bytes: Vec<u8>) {
        bytes.extend_from_slice(&self.buffered);
        self.buffered = bytes;
    }

    /// Discards everything buffered, as RFC 3501 §6.2.1 requires after STARTTLS.
    pub fn discard(&mut self) {
        *self = ClientReader::default();
    }

    /// Feeds the next unit (a literal's bytes or one line) and reports what the parser
    /// found; `None` when more input is needed.
    fn parse_buffered(&mut self) -> std::io::Result<Option<Input>> {
        loop {
            if self.literal_remaining > 0 {
                let take = self.buffered.len().min(self.literal_remaining as usize);
                if take == 0 {
                    return Ok(None);
                }
                let bytes: Vec<u8> = self.buffered.drain(..take).collect();
                self.parser.feed(&bytes);
                self.literal_remaining -= take as u64;
            } else {
                let Some(end) = line_end(&self.buffered) else {
                    if self.buffered.len() > PRE_AUTH_MAX_LINE_LEN {
                        return Ok(Some(Input::LineTooLong));
                    }
                    return Ok(None);
                };
                if end > PRE_AUTH_MAX_LINE_LEN {
                    return Ok(Some(Input::LineTooLong));
                }
                let line: Vec<u8> = self.buffered.drain(..end).collect();
                self.parser.feed(&line);
            }
            match self.parser.next_event() {
                Ok(Event::Command(command)) => return Ok(Some(Input::Command(command))),
                Ok(Event::Literal(request)) => return Ok(Some(Input::Literal(request))),
                Ok(Event::NeedMore) | Ok(Event::LiteralData(_)) => {}
                Err(error) => return Ok(Some(Input::Invalid(error))),
            }
        }
    }

    /// Reads more bytes; false at the end of input.
    async fn fill<R: AsyncRead + Unpin>(&mut self, stream: &mut R) -> std::io::Result<bool> {
        let mut chunk = [0u8; READ_CHUNK];
        let read = stream.read(&mut chunk).await?;
        self.buffered.extend_from_slice(&chunk[..read]);
        Ok(read > 0)
    }
}

/// Returns the length of the first line including its LF, if a whole line is buffered. The
/// parser checks that a CR precedes the LF.
fn line_end(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n').map(|lf| lf + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use asimapd_proto::CommandBody;

    async fn read_all(reader: &mut ClientReader, bytes: &[u8]) -> Vec<Input> {
        let mut stream = bytes;
        let mut inputs = Vec::new();
        loop {
            let input = reader.next(&mut stream).await.unwrap();
            let is_closed = matches!(input, Input::Closed);
            if let Input::Literal(request) = &input {
                reader.accept_literal(request).unwrap();
            }
            inputs.push(input);
            if is_closed {
                return inputs;
            }
        }
    }

    #[tokio::test]
    async fn pipelined_input_after_login_stays_unparsed() {
        let mut reader = ClientReader::default();
        let mut stream: &[u8] = b"a1 LOGIN alice secret\r\na2 SELECT INBOX\r\na3 NOOP\r\n";

        let input = reader.next(&mut stream).await.unwrap();

        let Input::Command(command) = input else {
            panic!("expected LOGIN, got {input:?}");
        };
        assert!(matches!(command.body, CommandBody::Login { .. }));
        assert_eq!(reader.take_unparsed(), b"a2 SELECT INBOX\r\na3 NOOP\r\n");
    }

    #[tokio::test]
    async fn restored_input_is_parsed_again() {
        let mut reader = ClientReader::default();
        let mut stream: &[u8] = b"a1 LOGIN alice secret\r\na2 NOOP\r\n";
        reader.next(&mut stream).await.unwrap();

        let pending = reader.take_unparsed();
        reader.restore_unparsed(pending);
        let input = reader.next(&mut stream).await.unwrap();

        let Input::Command(command) = input else {
            panic!("expected NOOP, got {input:?}");
        };
        assert_eq!(command.tag.as_str(), "a2");
        assert!(matches!(command.body, CommandBody::Noop));
    }

    #[tokio::test]
    async fn literal_password_is_read_into_the_command() {
        let mut reader = ClientReader::default();

        let inputs = read_all(&mut reader, b"a1 LOGIN {5}\r\nalice {3+}\r\nx y\r\n").await;

        assert!(matches!(inputs[0], Input::Literal(_)), "{inputs:?}");
        assert!(matches!(inputs[1], Input::Literal(_)), "{inputs:?}");
        let Input::Command(command) = &inputs[2] else {
            panic!("expected LOGIN, got {inputs:?}");
        };
        let CommandBody::Login { username, password } = &command.body else {
            panic!("expected LOGIN, got {command:?}");
        };
        assert_eq!(username, "alice");
        assert_eq!(password.expose(), b"x y");
    }

    #[tokio::test]
    async fn overlong_line_is_reported() {
        let mut reader = ClientReader::default();
        let line = vec![b'a'; PRE_AUTH_MAX_LINE_LEN + 1];
        let mut stream: &[u8] = &line;

        let input = reader.next(&mut stream).await.unwrap();

        assert!(matches!(input, Input::LineTooLong), "{input:?}");
    }

    #[tokio::test]
    async fn invalid_command_keeps_its_tag() {
        let mut reader = ClientReader::default();
        let mut stream: &[u8] = b"x7 FROBNICATE\r\n";

        let input = reader.next(&mut stream).await.unwrap();

        let Input::Invalid(error) = input else {
            panic!("expected a parse error, got {input:?}");
        };
        assert_eq!(
            error.tag.map(|tag| tag.as_str().to_owned()),
            Some("x7".into())
        );
    }

    #[tokio::test]
    async fn authenticate_response_reads_one_line() {
        let mut reader = ClientReader::default();
        let mut stream: &[u8] = b"*\r\na2 NOOP\r\n";

        let response = reader.authenticate_response(&mut stream).await.unwrap();

        assert!(
            matches!(response, Some(Ok(AuthenticateResponse::Cancel))),
            "{response:?}"
        );
        assert_eq!(reader.take_unparsed(), b"a2 NOOP\r\n");
    }
}
