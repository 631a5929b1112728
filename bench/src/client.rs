//! A small blocking IMAP client over TLS that reads responses with their literals.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// Time a read may block before the client gives up on a server. It is long because a
/// server may read every message of a large folder before its first response to SELECT.
pub const READ_TIMEOUT: Duration = Duration::from_secs(900);
/// Largest literal the client accepts in a response.
pub const MAX_LITERAL: usize = 64 << 20;

/// Final status of a tagged response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    No,
    Bad,
}

/// A tagged response with the untagged responses that came before it.
#[derive(Debug)]
pub struct Response {
    pub status: Status,
    /// The tagged line without the tag.
    pub text: String,
    /// Each untagged or continuation response, literals included.
    pub untagged: Vec<Vec<u8>>,
}

impl Response {
    /// Returns `Ok(self)` for an OK response, else an error quoting the tagged line.
    pub fn ok(self, command: &str) -> Result<Response> {
        match self.status {
            Status::Ok => Ok(self),
            _ => bail!("`{command}` failed: {}", self.text),
        }
    }

    /// Counts untagged responses that start with `* ` and contain `word` as their second
    /// or third token, such as `* 5 FETCH` or `* SEARCH`.
    pub fn count(&self, word: &str) -> usize {
        self.untagged
            .iter()
            .filter(|line| {
                let mut tokens = line.split(|&b| b == b' ').skip(1);
                let first = tokens.next().unwrap_or_default();
                let second = tokens.next().unwrap_or_default();
                first.eq_ignore_ascii_case(word.as_bytes())
                    || trim_crlf(second).eq_ignore_ascii_case(word.as_bytes())
            })
            .count()
    }

    /// Returns the numbers of the `* SEARCH` responses.
    pub fn search_hits(&self) -> usize {
        self.untagged
            .iter()
            .filter(|line| line.starts_with(b"* SEARCH"))
            .map(|line| trim_crlf(line).split(|&b| b == b' ').count() - 2)
            .sum()
    }
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r\n").unwrap_or(line)
}

/// An IMAP connection in the authenticated or selected state.
#[derive(Debug)]
pub struct Client {
    stream: BufReader<StreamOwned<ClientConnection, TcpStream>>,
    next_tag: u64,
    /// Bytes of responses read so far, literals included.
    pub bytes_read: u64,
}

impl Client {
    /// Connects over TLS to 127.0.0.1:`port` and reads the greeting.
    pub fn connect(port: u16, config: &Arc<ClientConfig>) -> Result<Client> {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .with_context(|| format!("failed to connect to 127.0.0.1:{port}"))?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(READ_TIMEOUT))?;
        let name = ServerName::try_from("localhost")?;
        let connection = ClientConnection::new(Arc::clone(config), name)?;
        let mut client = Client {
            stream: BufReader::with_capacity(64 << 10, StreamOwned::new(connection, tcp)),
            next_tag: 1,
            bytes_read: 0,
        };
        let greeting = client.read_response()?;
        if !greeting.starts_with(b"* OK") {
            bail!(
                "unexpected greeting: {}",
                String::from_utf8_lossy(&greeting)
            );
        }
        Ok(client)
    }

    /// Connects and logs in.
    pub fn login(
        port: u16,
        config: &Arc<ClientConfig>,
        user: &str,
        password: &str,
    ) -> Result<Client> {
        let mut client = Client::connect(port, config)?;
        client
            .command(&format!("LOGIN {user} {password}"))?
            .ok("LOGIN")?;
        Ok(client)
    }

    /// Sets how long one read may block.
    pub fn set_read_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.stream.get_ref().sock.set_read_timeout(Some(timeout))?;
        Ok(())
    }

    /// Returns the negotiated TLS version and cipher suite.
    pub fn tls_summary(&self) -> String {
        let connection = &self.stream.get_ref().conn;
        format!(
            "{:?} {:?}",
            connection.protocol_version(),
            connection
                .negotiated_cipher_suite()
                .map(|suite| suite.suite())
        )
    }

    fn new_tag(&mut self) -> String {
        let tag = format!("b{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Sends `command` with a new tag and reads responses up to the tagged one.
    pub fn command(&mut self, command: &str) -> Result<Response> {
        let tag = self.new_tag();
        self.send(format!("{tag} {command}\r\n").as_bytes())?;
        self.read_until_tagged(&tag)
    }

    /// Sends APPEND of `message` to `mailbox` with a synchronizing literal.
    pub fn append(&mut self, mailbox: &str, message: &[u8]) -> Result<Response> {
        let tag = self.new_tag();
        self.send(format!("{tag} APPEND {mailbox} {{{}}}\r\n", message.len()).as_bytes())?;
        let first = self.read_response()?;
        if !first.starts_with(b"+") {
            return Ok(parse_tagged(&tag, &first, Vec::new())
                .unwrap_or_else(|| unexpected_response(&first)));
        }
        let mut data = message.to_vec();
        data.extend_from_slice(b"\r\n");
        self.send(&data)?;
        self.read_until_tagged(&tag)
    }

    /// Starts IDLE and waits for the continuation; returns the tag to end it with.
    pub fn start_idle(&mut self) -> Result<String> {
        let tag = self.new_tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes())?;
        let first = self.read_response()?;
        if !first.starts_with(b"+") {
            bail!("IDLE was not accepted: {}", String::from_utf8_lossy(&first));
        }
        Ok(tag)
    }

    /// Reads responses during IDLE until an untagged EXISTS arrives.
    pub fn wait_for_exists(&mut self) -> Result<()> {
        loop {
            let line = self.read_response()?;
            if trim_crlf(&line).ends_with(b" EXISTS") {
                return Ok(());
            }
        }
    }

    /// Sends DONE and reads the tagged end of IDLE.
    pub fn finish_idle(&mut self, tag: &str) -> Result<Response> {
        self.send(b"DONE\r\n")?;
        self.read_until_tagged(tag)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<()> {
        let stream = self.stream.get_mut();
        stream.write_all(bytes)?;
        stream.flush()?;
        Ok(())
    }

    fn read_until_tagged(&mut self, tag: &str) -> Result<Response> {
        let mut untagged = Vec::new();
        loop {
            let line = self.read_response()?;
            if let Some(response) = parse_tagged(tag, &line, Vec::new()) {
                return Ok(Response {
                    untagged,
                    ..response
                });
            }
            untagged.push(line);
        }
    }

    /// Reads one response line, with the literals it announces.
    fn read_response(&mut self) -> Result<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let read = self.stream.read_until(b'\n', &mut line)?;
            if read == 0 {
                bail!("the server closed the connection");
            }
            self.bytes_read += read as u64;
            let Some(length) = literal_length(&line) else {
                return Ok(line);
            };
            if length > MAX_LITERAL {
                bail!("literal of {length} bytes is larger than {MAX_LITERAL}");
            }
            let start = line.len();
            line.resize(start + length, 0);
            self.stream.read_exact(&mut line[start..])?;
            self.bytes_read += length as u64;
        }
    }
}

fn parse_tagged(tag: &str, line: &[u8], untagged: Vec<Vec<u8>>) -> Option<Response> {
    let rest = line.strip_prefix(tag.as_bytes())?.strip_prefix(b" ")?;
    let text = String::from_utf8_lossy(trim_crlf(rest)).into_owned();
    let upper = text.to_ascii_uppercase();
    let status = if upper.starts_with("OK") {
        Status::Ok
    } else if upper.starts_with("NO") {
        Status::No
    } else {
        Status::Bad
    };
    Some(Response {
        status,
        text,
        untagged,
    })
}

fn unexpected_response(line: &[u8]) -> Response {
    Response {
        status: Status::Bad,
        text: format!("unexpected response: {}", String::from_utf8_lossy(line)),
        untagged: Vec::new(),
    }
}

/// Returns the length of the literal announced at the end of `line` (`{n}` or `{n+}`).
pub fn literal_length(line: &[u8]) -> Option<usize> {
    let body = trim_crlf(line).strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Converts LF line ends to CRLF, as IMAP sends messages.
pub fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    for (index, &byte) in raw.iter().enumerate() {
        if byte == b'\n' && (index == 0 || raw[index - 1] != b'\r') {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_length_reads_both_forms() {
        assert_eq!(literal_length(b"* 1 FETCH (BODY[] {42}\r\n"), Some(42));
        assert_eq!(literal_length(b"a APPEND x {7+}\r\n"), Some(7));
        assert_eq!(literal_length(b"* OK done\r\n"), None);
        assert_eq!(literal_length(b"* OK {x}\r\n"), None);
    }

    #[test]
    fn to_crlf_keeps_existing_crlf() {
        assert_eq!(to_crlf(b"a\nb\r\nc\n"), b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn search_hits_counts_numbers() {
        let response = Response {
            status: Status::Ok,
            text: "OK".into(),
            untagged: vec![b"* SEARCH 1 4 9\r\n".to_vec(), b"* SEARCH\r\n".to_vec()],
        };
        assert_eq!(response.search_hits(), 3);
    }

    #[test]
    fn count_matches_fetch_and_exists() {
        let response = Response {
            status: Status::Ok,
            text: "OK".into(),
            untagged: vec![
                b"* 1 FETCH (FLAGS ())\r\n".to_vec(),
                b"* 2 FETCH (FLAGS ())\r\n".to_vec(),
                b"* 3 EXPUNGE\r\n".to_vec(),
            ],
        };
        assert_eq!(response.count("FETCH"), 2);
        assert_eq!(response.count("EXPUNGE"), 1);
    }
}
