//! The reader task of a session: reads the socket, frames commands with
//! [`CommandParser`], sends a continuation request for synchronising literals, and
//! spools APPEND message literals to unnamed temporary files (RFC 9051 §7.5), so that
//! commands can be pipelined while earlier ones run (RFC 9051 §5.5).

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use asimapd_proto::response::Continuation;
use asimapd_proto::{
    Command, CommandBody, CommandParser, Event, Limits, LiteralRequest, ParseError,
};
use tokio::io::AsyncReadExt;
use tokio::net::unix::OwnedReadHalf;
use tokio::sync::mpsc;

use crate::error::CommandError;
use crate::output::Output;

/// Commands read ahead of the one running; the reader stops reading the socket beyond
/// that, so a client cannot make the worker buffer without bound.
pub(crate) const PIPELINE_DEPTH: usize = 32;

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 64 * 1024;

/// An input the reader passes to the session.
#[derive(Debug)]
pub(crate) enum Input {
    /// A complete command, with the spooled message files of an APPEND in order.
    Command {
        command: Command,
        spooled: Vec<File>,
    },
    /// A command that could not be parsed.
    Invalid(ParseError),
    /// A command rejected while its literal was read.
    Rejected {
        tag: Option<asimapd_proto::Tag>,
        error: CommandError,
    },
    /// The line that ended IDLE: `Ok` for DONE.
    IdleEnd(Result<(), ParseError>),
    /// The client closed the connection.
    Closed,
    /// Reading the socket failed.
    Failed(std::io::Error),
}

/// Starts the reader. `pending` contains bytes the listener already read from the client.
pub(crate) fn spawn_reader(
    stream: OwnedReadHalf,
    pending: Vec<u8>,
    output: Output,
    spool_dir: PathBuf,
) -> (mpsc::Receiver<Input>, tokio::task::JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(PIPELINE_DEPTH);
    let reader = Reader {
        parser: CommandParser::new(Limits::authenticated()),
        output,
        spool_dir,
        spooled: Vec::new(),
        sender,
        is_idling: false,
    };
    let handle = tokio::spawn(reader.run(stream, pending));
    (receiver, handle)
}

struct Reader {
    parser: CommandParser,
    output: Output,
    spool_dir: PathBuf,
    /// Spooled literals of the command being read; the last one is being written.
    spooled: Vec<File>,
    sender: mpsc::Sender<Input>,
    /// True after IDLE: the next line must be DONE.
    is_idling: bool,
}

impl Reader {
    async fn run(mut self, mut stream: OwnedReadHalf, pending: Vec<u8>) {
        self.parser.feed(&pending);
        let mut buffer = vec![0u8; READ_CHUNK];
        loop {
            match self.drain().await {
                Ok(()) => {}
                Err(()) => return,
            }
            let input = match stream.read(&mut buffer).await {
                Ok(0) => Input::Closed,
                Ok(len) => {
                    self.parser.feed(&buffer[..len]);
                    continue;
                }
                Err(error) => Input::Failed(error),
            };
            let _ = self.sender.send(input).await;
            return;
        }
    }

    /// Handles every event in the buffered input. Fails when the session is gone.
    async fn drain(&mut self) -> Result<(), ()> {
        loop {
            if self.is_idling {
                match self.parser.next_idle_done() {
                    Ok(None) => return Ok(()),
                    Ok(Some(())) => self.send(Input::IdleEnd(Ok(()))).await?,
                    Err(error) => self.send(Input::IdleEnd(Err(error))).await?,
                }
                self.is_idling = false;
                continue;
            }
            let input = match self.parser.next_event() {
                Ok(Event::NeedMore) => return Ok(()),
                Ok(Event::LiteralData(bytes)) => {
                    if let Some(file) = self.spooled.last_mut()
                        && let Err(source) = file.write_all(bytes)
                    {
                        tracing::warn!(%source, "writing an APPEND literal to its spool file failed");
                        self.spooled.clear();
                    }
                    continue;
                }
                Ok(Event::Literal(request)) => match self.decide(&request).await {
                    Some(input) => input,
                    None => continue,
                },
                Ok(Event::Command(command)) => {
                    self.is_idling = command.body == CommandBody::Idle;
                    let spooled = std::mem::take(&mut self.spooled);
                    Input::Command { command, spooled }
                }
                Err(error) => {
                    self.spooled.clear();
                    Input::Invalid(error)
                }
            };
            self.send(input).await?;
        }
    }

    /// Accepts, streams or rejects an announced literal. Returns the input to pass on when
    /// the command is rejected.
    async fn decide(&mut self, request: &LiteralRequest) -> Option<Input> {
        if request.is_append_message {
            match tempfile::tempfile_in(&self.spool_dir) {
                Ok(file) => {
                    self.spooled.push(file);
                    self.parser.stream_literal();
                }
                Err(source) => {
                    self.parser.reject_literal();
                    self.spooled.clear();
                    return Some(Input::Rejected {
                        tag: request.tag.clone(),
                        error: CommandError::Io {
                            op: "creating an APPEND spool file",
                            source,
                        },
                    });
                }
            }
        } else if let Err(error) = self.parser.accept_literal() {
            self.spooled.clear();
            return Some(Input::Invalid(error));
        }
        if request.is_synchronizing {
            let mut line = Vec::new();
            Continuation::Text("Ready for literal data".to_owned()).encode(&mut line);
            // A failed write shows up as a failed read next.
            let _ = self.output.write(&line).await;
        }
        None
    }

    async fn send(&self, input: Input) -> Result<(), ()> {
        self.sender.send(input).await.map_err(|_| ())
    }
}
