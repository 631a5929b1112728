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
        let mut lines = LineSplitter::default();
        let mut buffer = vec![0u8; RELAY_CHUNK];
        loop {
            let read = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            tracer.record_lines(&mut lines, MessageType::Received, &buffer[..read]);
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
            let line = match msg_type {
                MessageType::Received => mask_credentials(line),
                _ => line,
            };
            self.record(msg_type, &line);
        }
    }
}

/// Replaces the arguments of a LOGIN or AUTHENTICATE command with `***`, so a client that
/// sends credentials after login does not leave them in a trace file.
///
/// NOTE: credentials sent as a literal, or as AUTHENTICATE continuation lines, arrive on
/// lines of their own and are not recognised here.
fn mask_credentials(line: Vec<u8>) -> Vec<u8> {
    let mut words = line.splitn(3, |&byte| byte == b' ');
    let (Some(tag), Some(command), Some(_)) = (words.next(), words.next(), words.next()) else {
        return line;
    };
    let is_credential_command =
        command.eq_ignore_ascii_case(b"LOGIN") || command.eq_ignore_ascii_case(b"AUTHENTICATE");
    if !is_credential_command {
        return line;
    }
    [tag, b" ", command, b" ***"].concat()
}

/// Largest partial line kept for a trace record; longer lines are recorded in pieces.
const MAX_TRACE_LINE: usize = 64 * 1024;

/// Splits relayed bytes into lines (without CRLF) for trace records.
#[derive(Debug, Default)]
struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    fn push(&mut self, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.partial);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                lines.push(line);
            } else {
                self.partial.push(byte);
                if self.partial.len() >= MAX_TRACE_LINE {
                    lines.push(std::mem::take(&mut self.partial));
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

    #[test]
    fn login_arguments_are_masked() {
        let masked = mask_credentials(b"a1 login alice \"secret\"".to_vec());

        assert_eq!(masked, b"a1 login ***");
    }

    #[test]
    fn authenticate_initial_response_is_masked() {
        let masked = mask_credentials(b"a1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==".to_vec());

        assert_eq!(masked, b"a1 AUTHENTICATE ***");
    }

    #[test]
    fn other_commands_are_traced_unchanged() {
        for line in [&b"a1 SELECT INBOX"[..], b"a2 NOOP", b"DONE", b""] {
            assert_eq!(mask_credentials(line.to_vec()), line);
        }
    }

    #[test]
    fn line_splitter_cuts_overlong_lines() {
        let mut splitter = LineSplitter::default();

        let lines = splitter.push(&vec![b'x'; MAX_TRACE_LINE + 10]);

        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].len(), MAX_TRACE_LINE);
    }
}
