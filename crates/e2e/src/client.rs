//! A small blocking IMAP client over TLS that checks the server's certificate against the test
//! CA. It sends commands with numbered tags and collects the untagged responses, with literals
//! inline, until the tagged status response.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::error::E2eError;
use crate::pki::Pki;

/// Time any one response may take before the client gives up.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);
/// Maximum size of a literal the client accepts, so a bad length cannot exhaust memory.
pub const MAX_LITERAL: usize = 64 * 1024 * 1024;

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// Result of a tagged command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// The responses to one command.
#[derive(Debug, Clone)]
pub struct Response {
    /// Untagged responses, each with its literals inline and without the final CRLF.
    pub untagged: Vec<Vec<u8>>,
    /// The status of the tagged response.
    pub status: Status,
    /// The tagged response line without the tag.
    pub text: String,
}

impl Response {
    /// Returns the untagged responses as text (invalid UTF-8 replaced).
    pub fn lines(&self) -> Vec<String> {
        self.untagged
            .iter()
            .map(|line| String::from_utf8_lossy(line).into_owned())
            .collect()
    }

    /// Returns the numbers of the untagged `* SEARCH` response.
    pub fn search_numbers(&self) -> Vec<u32> {
        self.lines()
            .iter()
            .filter_map(|line| line.strip_prefix("* SEARCH"))
            .flat_map(|rest| rest.split_whitespace().filter_map(|n| n.parse().ok()))
            .collect()
    }

    /// Returns the count of the last untagged `* N <keyword>` response (EXISTS, RECENT).
    pub fn count(&self, keyword: &str) -> Option<u32> {
        self.lines().iter().rev().find_map(|line| {
            let mut words = line.split_whitespace();
            let (star, number, word) = (words.next()?, words.next()?, words.next()?);
            (star == "*" && word.eq_ignore_ascii_case(keyword))
                .then(|| number.parse().ok())
                .flatten()
        })
    }

    /// Returns the value of response code `code` (as in `[UIDVALIDITY 7]`) in any response.
    pub fn code(&self, code: &str) -> Option<String> {
        let pattern = format!("[{code} ");
        self.lines()
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(self.text.as_str()))
            .find_map(|line| {
                let start = line.find(&pattern)? + pattern.len();
                let end = line[start..].find(']')? + start;
                Some(line[start..end].to_string())
            })
    }
}

/// A message as returned by `FETCH (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    pub sequence: u32,
    pub uid: u32,
    pub flags: Vec<String>,
    /// The Message-ID without angle brackets; empty when the message has none.
    pub message_id: String,
}

/// Parses the untagged FETCH responses of `response` that contain a UID.
pub fn parse_fetch(response: &Response) -> Vec<FetchedMessage> {
    response
        .lines()
        .iter()
        .filter_map(|line| parse_fetch_line(line))
        .collect()
}

fn parse_fetch_line(line: &str) -> Option<FetchedMessage> {
    let rest = line.strip_prefix("* ")?;
    let (sequence, rest) = rest.split_once(' ')?;
    if !rest.starts_with("FETCH (") {
        return None;
    }
    let uid = number_after(rest, "UID ")?;
    let flags = rest
        .find("FLAGS (")
        .and_then(|start| {
            let inner = &rest[start + "FLAGS (".len()..];
            inner.find(')').map(|end| &inner[..end])
        })
        .map(|inner| inner.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    let message_id = rest
        .lines()
        .find_map(|header| {
            let (name, value) = header.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("message-id")
                .then(|| value.trim().trim_start_matches('<').trim_end_matches('>'))
        })
        .unwrap_or_default()
        .to_string();
    Some(FetchedMessage {
        sequence: sequence.parse().ok()?,
        uid,
        flags,
        message_id,
    })
}

fn number_after(text: &str, prefix: &str) -> Option<u32> {
    let start = text.find(prefix)? + prefix.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A connection to the server.
#[derive(Debug)]
pub struct ImapClient {
    stream: BufReader<TlsStream>,
    next_tag: u32,
    /// The untagged greeting.
    pub greeting: String,
}

impl ImapClient {
    /// Connects over TLS to `address`, checking the certificate for `localhost` against the
    /// test CA, and reads the greeting.
    pub fn connect(address: SocketAddr, pki: &Pki) -> Result<ImapClient, E2eError> {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from(pki.ca_der().to_vec()))?;
        // ring is the workspace's only TLS provider. It lacks post-quantum key exchange, and
        // rustls marks its constructor deprecated for that.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = ServerName::try_from("localhost")
            .map_err(|error| E2eError::Protocol(error.to_string()))?;
        let connection = ClientConnection::new(Arc::new(config), name)?;
        let tcp = TcpStream::connect_timeout(&address, RESPONSE_TIMEOUT)?;
        tcp.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
        tcp.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
        let mut client = ImapClient {
            stream: BufReader::new(StreamOwned::new(connection, tcp)),
            next_tag: 1,
            greeting: String::new(),
        };
        let greeting = client.read_response()?;
        client.greeting = String::from_utf8_lossy(&greeting).into_owned();
        if !client.greeting.starts_with("* OK") {
            return Err(E2eError::Protocol(format!(
                "greeting {:?}",
                client.greeting
            )));
        }
        Ok(client)
    }

    /// Sends LOGIN with quoted arguments.
    pub fn login(&mut self, user: &str, password: &str) -> Result<Response, E2eError> {
        self.ok(&format!("LOGIN {} {}", quote(user), quote(password)))
    }

    /// Sends `command` and returns its responses, whatever the status.
    pub fn run(&mut self, command: &str) -> Result<Response, E2eError> {
        let tag = self.send(command.as_bytes())?;
        self.read_until_tagged(&tag)
    }

    /// Sends `command` and returns its responses, or an error when the status is not OK.
    pub fn ok(&mut self, command: &str) -> Result<Response, E2eError> {
        let response = self.run(command)?;
        expect_ok(command, response)
    }

    /// Appends `message` to `mailbox` with `flags` (like `(\Seen)`, or empty) as a
    /// non-synchronizing literal (RFC 7888), and returns the responses.
    pub fn append(
        &mut self,
        mailbox: &str,
        flags: &str,
        message: &[u8],
    ) -> Result<Response, E2eError> {
        let mut command = format!("APPEND {} ", quote(mailbox));
        if !flags.is_empty() {
            command.push_str(flags);
            command.push(' ');
        }
        command.push_str(&format!("{{{}+}}\r\n", message.len()));
        let mut bytes = command.into_bytes();
        bytes.extend_from_slice(message);
        let tag = self.send(&bytes)?;
        let response = self.read_until_tagged(&tag)?;
        expect_ok(&format!("APPEND {mailbox}"), response)
    }

    /// Starts IDLE and waits for the continuation request.
    pub fn idle_start(&mut self) -> Result<String, E2eError> {
        let tag = self.send(b"IDLE")?;
        let line = self.read_response()?;
        if !line.starts_with(b"+") {
            return Err(E2eError::Protocol(format!(
                "IDLE: expected continuation, got {:?}",
                String::from_utf8_lossy(&line)
            )));
        }
        Ok(tag)
    }

    /// Reads one untagged response while idling, or returns `None` after `timeout`.
    pub fn idle_read(&mut self, timeout: Duration) -> Result<Option<String>, E2eError> {
        self.stream.get_ref().sock.set_read_timeout(Some(timeout))?;
        let result = self.read_response();
        self.stream
            .get_ref()
            .sock
            .set_read_timeout(Some(RESPONSE_TIMEOUT))?;
        match result {
            Ok(line) => Ok(Some(String::from_utf8_lossy(&line).into_owned())),
            Err(E2eError::Connection(error))
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Ends IDLE and returns the responses that arrived before the tagged OK.
    pub fn idle_done(&mut self, tag: &str) -> Result<Response, E2eError> {
        self.write_all(b"DONE\r\n")?;
        let response = self.read_until_tagged(tag)?;
        expect_ok("IDLE", response)
    }

    fn send(&mut self, command: &[u8]) -> Result<String, E2eError> {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(command);
        line.extend_from_slice(b"\r\n");
        self.write_all(&line)?;
        Ok(tag)
    }

    fn write_all(&mut self, bytes: &[u8]) -> Result<(), E2eError> {
        let stream = self.stream.get_mut();
        stream.write_all(bytes)?;
        stream.flush()?;
        Ok(())
    }

    fn read_until_tagged(&mut self, tag: &str) -> Result<Response, E2eError> {
        let mut untagged = Vec::new();
        loop {
            let line = self.read_response()?;
            let text = String::from_utf8_lossy(&line);
            let Some(rest) = text.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) else {
                untagged.push(line);
                continue;
            };
            let status = match rest.split(' ').next() {
                Some("OK") => Status::Ok,
                Some("NO") => Status::No,
                Some("BAD") => Status::Bad,
                _ => return Err(E2eError::Protocol(format!("tagged line {text:?}"))),
            };
            return Ok(Response {
                untagged,
                status,
                text: rest.to_string(),
            });
        }
    }

    /// Reads one response line, with any literals it announces read inline.
    fn read_response(&mut self) -> Result<Vec<u8>, E2eError> {
        let mut response = Vec::new();
        loop {
            let mut line = Vec::new();
            let read = self.stream.read_until(b'\n', &mut line)?;
            if read == 0 || !line.ends_with(b"\r\n") {
                return Err(E2eError::Protocol(format!(
                    "connection closed after {:?}",
                    String::from_utf8_lossy(&[response.as_slice(), &line].concat())
                )));
            }
            line.truncate(line.len() - 2);
            let literal = literal_length(&line)?;
            response.extend_from_slice(&line);
            let Some(length) = literal else {
                return Ok(response);
            };
            response.extend_from_slice(b"\r\n");
            let start = response.len();
            response.resize(start + length, 0);
            self.stream.read_exact(&mut response[start..])?;
        }
    }
}

/// Returns the length of the literal announced at the end of `line` (`{N}` or `~{N}`).
fn literal_length(line: &[u8]) -> Result<Option<usize>, E2eError> {
    if !line.ends_with(b"}") {
        return Ok(None);
    }
    let Some(open) = line.iter().rposition(|&byte| byte == b'{') else {
        return Ok(None);
    };
    let digits = &line[open + 1..line.len() - 1];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Ok(None);
    }
    let length: usize = std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| E2eError::Protocol("literal length overflows".into()))?;
    if length > MAX_LITERAL {
        return Err(E2eError::Protocol(format!(
            "literal of {length} bytes exceeds the maximum of {MAX_LITERAL}"
        )));
    }
    Ok(Some(length))
}

fn expect_ok(command: &str, response: Response) -> Result<Response, E2eError> {
    if response.status == Status::Ok {
        return Ok(response);
    }
    Err(E2eError::Rejected {
        command: command.to_string(),
        response: response.text,
    })
}

/// Returns `text` as an IMAP quoted string.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_line_yields_uid_flags_and_message_id() {
        let line = "* 3 FETCH (UID 17 FLAGS (\\Seen $Junk) \
                    BODY[HEADER.FIELDS (MESSAGE-ID)] {30}\r\nMessage-ID: <a-1@example>\r\n\r\n)";
        let parsed = parse_fetch_line(line).unwrap();
        assert_eq!(parsed.sequence, 3);
        assert_eq!(parsed.uid, 17);
        assert_eq!(parsed.flags, vec!["\\Seen", "$Junk"]);
        assert_eq!(parsed.message_id, "a-1@example");
    }

    #[test]
    fn literal_length_reads_braces_only_at_end() {
        assert_eq!(literal_length(b"* 1 FETCH (BODY[] {12}").unwrap(), Some(12));
        assert_eq!(literal_length(b"* OK {not a literal}").unwrap(), None);
        assert_eq!(literal_length(b"* OK done").unwrap(), None);
    }

    #[test]
    fn literal_length_rejects_oversized() {
        assert!(literal_length(b"* 1 FETCH (BODY[] {999999999999}").is_err());
    }
}
