//! The relay after login: plaintext between the client's stream and the worker's end of the
//! connection's socket pair, with protocol trace records when tracing is on, and `* BYE`
//! to the client when the worker dies.

use std::sync::Arc;
use std::time::Duration;

use asimapd_logging::trace::{MessageType, TraceEvent, TraceSink};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tracing::debug;

/// Bytes copied per read.
const RELAY_CHUNK: usize = 16 * 1024;

/// How long the relay waits, after the worker closed the connection, to learn whether the
/// worker process ended. A process's sockets close as it exits, a moment before its exit
/// status can be collected.
pub const WORKER_EXIT_GRACE: Duration = Duration::from_millis(500);

/// Sent when the worker serving the connection died.
pub const WORKER_DIED_BYE: &[u8] =
    b"* BYE [UNAVAILABLE] Server process for this account stopped; please log in again\r\n";

/// Identity of the relayed connection and the state it depends on.
#[derive(Debug, Clone)]
pub(crate) struct RelayContext {
    pub user: String,
    /// `client-NNNNNNNN`, as in the worker's logs.
    pub connection: String,
    pub remote: String,
    pub traces: Option<Arc<TraceSink>>,
    /// Turns true when the worker process has exited.
    pub worker_exited: watch::Receiver<bool>,
    /// Turns true when the listener shuts down. The worker then sends BYE itself.
    pub shutting_down: watch::Receiver<bool>,
}

/// Relays until the worker closes its end. The client's end of input is passed on as a
/// half close, so the worker still responds to the commands it has read.
pub(crate) async fn relay<S>(client: S, worker: UnixStream, context: RelayContext)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (mut worker_read, mut worker_write) = worker.into_split();
    let tracer = Tracer::new(&context);
    tracer.record(MessageType::Connect, b"");

    let upstream = async {
        let mut lines = ClientLines::default();
        let mut buffer = vec![0u8; RELAY_CHUNK];
        loop {
            let read = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            tracer.record_client_lines(&mut lines, &buffer[..read]);
            if worker_write.write_all(&buffer[..read]).await.is_err() {
                break;
            }
        }
        let _ = worker_write.shutdown().await;
    };
    let downstream = async {
        let mut lines = LineSplitter::default();
        let mut buffer = vec![0u8; RELAY_CHUNK];
        loop {
            let read = match worker_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            tracer.record_lines(&mut lines, MessageType::Send, &buffer[..read]);
            if client_write.write_all(&buffer[..read]).await.is_err()
                || client_write.flush().await.is_err()
            {
                return;
            }
        }
        if worker_died(&context).await {
            debug!(user = %context.user, connection = %context.connection, "worker died; sending BYE");
            tracer.record(
                MessageType::Send,
                &WORKER_DIED_BYE[..WORKER_DIED_BYE.len() - 2],
            );
            let _ = client_write.write_all(WORKER_DIED_BYE).await;
        }
        let _ = client_write.shutdown().await;
    };

    tokio::pin!(upstream, downstream);
    tokio::select! {
        () = &mut downstream => {}
        () = &mut upstream => downstream.await,
    }
    tracer.record(MessageType::Close, b"");
}

/// Returns true when the worker process ended (not during a shutdown, when the worker
/// sends BYE itself).
async fn worker_died(context: &RelayContext) -> bool {
    let mut exited = context.worker_exited.clone();
    let _ = tokio::time::timeout(WORKER_EXIT_GRACE, crate::wait_for_true(&mut exited)).await;
    let has_exited = *exited.borrow();
    has_exited && !*context.shutting_down.borrow()
}

/// Writes trace records for one connection when tracing is on.
struct Tracer<'a> {
    context: &'a RelayContext,
}

impl<'a> Tracer<'a> {
    fn new(context: &'a RelayContext) -> Self {
        Tracer { context }
    }

    fn sink(&self) -> Option<&TraceSink> {
        self.context
            .traces
            .as_deref()
            .filter(|traces| traces.is_enabled())
    }

    fn record(&self, msg_type: MessageType, data: &[u8]) {
        if let Some(traces) = self.sink() {
            traces.write(&TraceEvent {
                user: &self.context.user,
                connection: &self.context.connection,
                remote: &self.context.remote,
                msg_type,
                data,
            });
        }
    }

    fn record_lines(&self, lines: &mut LineSplitter, msg_type: MessageType, bytes: &[u8]) {
        if self.sink().is_none() {
            lines.clear();
            return;
        }
        for line in lines.push(bytes) {
            self.record(msg_type, &line);
        }
    }

    /// Records the client's lines with credentials hidden. The splitter processes every byte
    /// even while tracing is off, so it never loses track of a literal.
    fn record_client_lines(&self, lines: &mut ClientLines, bytes: &[u8]) {
        let traced = lines.push(bytes);
        if self.sink().is_some() {
            for line in traced {
                self.record(MessageType::Received, &line);
            }
        }
    }
}

/// Replacement for hidden credentials in trace records.
const HIDDEN: &[u8] = b"***";

/// Splits the client's bytes into trace lines with credentials hidden, so a client that
/// sends them after login does not leave them in a trace file. The arguments of LOGIN and
/// AUTHENTICATE become `***`, their literals and the rest of their lines are left out, and
/// the SASL responses that follow an AUTHENTICATE become `***`.
#[derive(Debug, Default)]
struct ClientLines {
    lines: LineSplitter,
    /// Bytes of a credential literal still to leave out.
    hidden_literal: u64,
    state: CredentialState,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum CredentialState {
    #[default]
    None,
    /// The rest of a LOGIN or AUTHENTICATE line follows a literal.
    InCommand,
    /// AUTHENTICATE came without an initial response, so SASL responses may follow.
    SaslResponses,
}

impl ClientLines {
    fn push(&mut self, mut bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut traced = Vec::new();
        while !bytes.is_empty() {
            if self.hidden_literal > 0 {
                let skip = usize::try_from(self.hidden_literal)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len());
                self.hidden_literal -= skip as u64;
                bytes = &bytes[skip..];
                continue;
            }
            // A literal may start right after this line, so lines are fed one at a time.
            let end = bytes
                .iter()
                .position(|&byte| byte == b'\n')
                .map_or(bytes.len(), |index| index + 1);
            for line in self.lines.push(&bytes[..end]) {
                traced.extend(self.filter(line));
            }
            bytes = &bytes[end..];
        }
        traced
    }

    /// Returns the trace record for one line, if any, and follows the credential state.
    fn filter(&mut self, line: Vec<u8>) -> Option<Vec<u8>> {
        match self.state {
            CredentialState::InCommand => {
                self.continue_credentials(&line);
                return None;
            }
            CredentialState::SaslResponses if !line.contains(&b' ') => {
                return Some(HIDDEN.to_vec());
            }
            _ => self.state = CredentialState::None,
        }
        let Some(masked) = mask_credentials(&line) else {
            return Some(line);
        };
        self.continue_credentials(&line);
        if self.state == CredentialState::None && is_authenticate_without_response(&line) {
            self.state = CredentialState::SaslResponses;
        }
        Some(masked)
    }

    /// Sets the state after a line of a credential command: a literal at its end, or a
    /// line cut at [`MAX_TRACE_LINE`], continues the command.
    ///
    /// NOTE: a client whose synchronizing literal is rejected never sends it, so up to that
    /// many bytes of its next commands are left out of the trace instead.
    fn continue_credentials(&mut self, line: &[u8]) {
        if let Some(length) = literal_length(line) {
            self.hidden_literal = length;
            self.state = CredentialState::InCommand;
        } else if line.len() >= MAX_TRACE_LINE {
            self.state = CredentialState::InCommand;
        } else {
            self.state = CredentialState::None;
        }
    }
}

/// Returns the line with the arguments of a LOGIN or AUTHENTICATE command replaced by
/// `***`, or `None` for other lines.
fn mask_credentials(line: &[u8]) -> Option<Vec<u8>> {
    let mut words = line.splitn(3, |&byte| byte == b' ');
    let (Some(tag), Some(command), Some(_)) = (words.next(), words.next(), words.next()) else {
        return None;
    };
    let is_credential_command =
        command.eq_ignore_ascii_case(b"LOGIN") || command.eq_ignore_ascii_case(b"AUTHENTICATE");
    is_credential_command.then(|| [tag, b" ", command, b" ", HIDDEN].concat())
}

/// Returns true for `tag AUTHENTICATE mechanism` without an initial response.
fn is_authenticate_without_response(line: &[u8]) -> bool {
    let words: Vec<&[u8]> = line.split(|&byte| byte == b' ').collect();
    words.len() == 3 && words[1].eq_ignore_ascii_case(b"AUTHENTICATE")
}

/// Returns the length announced by a literal marker at the end of `line`: `{N}`, or the
/// non-synchronizing `{N+}` of LITERAL+. A length too large for `u64` hides everything
/// after it.
fn literal_length(line: &[u8]) -> Option<u64> {
    let inner = line.strip_suffix(b"}")?;
    let inner = inner.strip_suffix(b"+").unwrap_or(inner);
    let start = inner.iter().rposition(|&byte| byte == b'{')?;
    let digits = &inner[start + 1..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    Some(text.parse().unwrap_or(u64::MAX))
}

/// Largest partial line kept for a trace record; longer lines are recorded in pieces.
const MAX_TRACE_LINE: usize = 64 * 1024;

/// Splits relayed bytes into lines (without CRLF) for trace records.
#[derive(Debug, Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, mut bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        while !bytes.is_empty() {
            // At least one byte of room, because a full partial line is taken at once.
            let room = MAX_TRACE_LINE - self.partial.len();
            let scanned = &bytes[..bytes.len().min(room)];
            match scanned.iter().position(|&byte| byte == b'\n') {
                Some(index) => {
                    self.partial.extend_from_slice(&bytes[..index]);
                    let mut line = std::mem::take(&mut self.partial);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    lines.push(line);
                    bytes = &bytes[index + 1..];
                }
                None => {
                    self.partial.extend_from_slice(scanned);
                    bytes = &bytes[scanned.len()..];
                    if self.partial.len() >= MAX_TRACE_LINE {
                        lines.push(std::mem::take(&mut self.partial));
                    }
                }
            }
        }
        lines
    }

    fn clear(&mut self) {
        self.partial.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_splitter_joins_lines_across_chunks() {
        let mut splitter = LineSplitter::default();

        let first = splitter.push(b"a1 NO");
        let second = splitter.push(b"OP\r\na2 LOG");
        let third = splitter.push(b"OUT\r\n");

        assert!(first.is_empty());
        assert_eq!(second, vec![b"a1 NOOP".to_vec()]);
        assert_eq!(third, vec![b"a2 LOGOUT".to_vec()]);
    }

    /// Feeds `input` to a fresh [`ClientLines`] in one piece and byte by byte, checks that
    /// both give the same records, and returns them.
    fn client_lines(input: &[u8]) -> Vec<String> {
        let mut whole = ClientLines::default();
        let at_once = whole.push(input);
        let mut single = ClientLines::default();
        let byte_by_byte: Vec<Vec<u8>> = input
            .iter()
            .flat_map(|byte| single.push(std::slice::from_ref(byte)))
            .collect();
        assert_eq!(at_once, byte_by_byte);
        at_once
            .into_iter()
            .map(|line| String::from_utf8(line).unwrap())
            .collect()
    }

    #[test]
    fn login_arguments_are_masked() {
        let traced = client_lines(b"a1 login alice \"secret\"\r\n");

        assert_eq!(traced, ["a1 login ***"]);
    }

    #[test]
    fn authenticate_initial_response_is_masked() {
        let traced = client_lines(b"a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n");

        assert_eq!(traced, ["a1 AUTHENTICATE ***"]);
    }

    #[test]
    fn other_commands_are_traced_unchanged() {
        let traced = client_lines(b"a1 SELECT INBOX\r\na2 NOOP\r\nDONE\r\n\r\n");

        assert_eq!(traced, ["a1 SELECT INBOX", "a2 NOOP", "DONE", ""]);
    }

    #[test]
    fn login_literals_are_left_out() {
        // A password literal that contains CRLF and text that looks like a command.
        let input = b"a1 LOGIN {5}\r\nalice {14+}\r\npw\r\na9 LOGOUT\r\r\na2 NOOP\r\n";

        let traced = client_lines(input);

        assert_eq!(traced, ["a1 LOGIN ***", "a2 NOOP"]);
    }

    #[test]
    fn sasl_responses_after_authenticate_are_masked() {
        let input = b"a1 AUTHENTICATE PLAIN\r\nAGFsaWNlAHNlY3JldA==\r\n*\r\na2 NOOP\r\n";

        let traced = client_lines(input);

        assert_eq!(traced, ["a1 AUTHENTICATE ***", "***", "***", "a2 NOOP"]);
    }

    #[test]
    fn append_literal_is_still_traced() {
        let input = b"a1 APPEND INBOX {9}\r\nSubject:\n\r\na2 NOOP\r\n";

        let traced = client_lines(input);

        assert_eq!(traced, ["a1 APPEND INBOX {9}", "Subject:", "", "a2 NOOP"]);
    }

    #[test]
    fn literal_length_reads_both_markers() {
        assert_eq!(literal_length(b"a1 LOGIN {12}"), Some(12));
        assert_eq!(literal_length(b"a1 LOGIN {7+}"), Some(7));
        assert_eq!(literal_length(b"a1 LOGIN alice pw"), None);
        assert_eq!(literal_length(b"a1 LOGIN {}"), None);
        assert_eq!(literal_length(b"a1 LOGIN {x}"), None);
        assert_eq!(
            literal_length(b"a1 LOGIN {99999999999999999999999}"),
            Some(u64::MAX)
        );
    }

    #[test]
    fn line_splitter_cuts_at_limit_before_newline() {
        let mut splitter = LineSplitter::default();
        let mut input = vec![b'x'; MAX_TRACE_LINE];
        input.extend_from_slice(b"\r\nab\n");

        let lines = splitter.push(&input);

        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].len(), MAX_TRACE_LINE);
        assert_eq!(lines[1], b"");
        assert_eq!(lines[2], b"ab");
    }

    #[test]
    fn line_splitter_cuts_overlong_lines() {
        let mut splitter = LineSplitter::default();

        let lines = splitter.push(&vec![b'x'; MAX_TRACE_LINE + 10]);

        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_TRACE_LINE);
    }
}
