//! The not-authenticated state (RFC 9051 §6.1, §6.2): greeting, CAPABILITY, NOOP, LOGOUT,
//! ID, STARTTLS, LOGIN and AUTHENTICATE. Everything else waits for login.

use std::net::SocketAddr;

use asimapd_auth::Account;
use asimapd_proto::response::{Code, Continuation, Data, Status, StatusResponse};
use asimapd_proto::{Atom, Command, CommandBody, ErrorKind, ParseError, Tag};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tracing::{debug, info};

use crate::Shared;
use crate::input::{ClientReader, Input};
use crate::limits::MAX_PRE_AUTH_BAD_COMMANDS;
use crate::login::{self, Credentials};

/// Server identity sent in response to ID (RFC 2971 §3.3).
const SERVER_ID: &[(&str, &str)] = &[
    ("name", "asimapd"),
    ("version", env!("CARGO_PKG_VERSION")),
    ("os", "linux"),
];

/// One client connection: its number, addresses and TLS state.
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub is_tls: bool,
    /// True on the cleartext port, where STARTTLS is offered until TLS is on.
    pub offers_starttls: bool,
}

impl Connection {
    /// Returns the name used for this connection in logs and traces.
    pub fn name(&self) -> String {
        format!("client-{:08}", self.id)
    }

    /// Returns the capabilities before login. Without TLS, LOGIN and AUTHENTICATE PLAIN are
    /// refused (RFC 9051 §6.2.3, RFC 4616 §6), so LOGINDISABLED replaces AUTH=PLAIN.
    pub fn capabilities(&self) -> Vec<Atom> {
        let mut names = vec!["IMAP4rev1", "SASL-IR", "ID", "ENABLE", "IDLE", "LITERAL+"];
        if self.is_tls {
            names.push("AUTH=PLAIN");
        } else {
            names.push("STARTTLS");
            names.push("LOGINDISABLED");
        }
        names
            .into_iter()
            .map(|name| Atom::new(name).expect("capability names are atoms"))
            .collect()
    }
}

/// Outcome of the not-authenticated state.
#[derive(Debug)]
pub(crate) enum PreAuthOutcome {
    LoggedIn(Login),
    /// The client asked for STARTTLS and got the OK; the handshake comes next.
    StartTls,
    /// The connection is over (LOGOUT, closed by the client, too many errors).
    Closed,
}

/// A successful login.
#[derive(Debug)]
pub(crate) struct Login {
    pub account: Account,
    pub tag: Tag,
}

/// State kept across the commands of one connection before login.
#[derive(Debug, Default)]
pub(crate) struct PreAuthState {
    pub client_id: Vec<(String, Option<String>)>,
    bad_commands: u32,
}

/// Writes the greeting: `* OK [CAPABILITY ...] text` (RFC 9051 §7.1.1).
pub(crate) async fn greet<S: AsyncWrite + Unpin>(
    stream: &mut S,
    connection: &Connection,
) -> std::io::Result<()> {
    let greeting = StatusResponse::untagged(
        Status::Ok,
        Some(Code::Capability(connection.capabilities())),
        "asimapd ready",
    );
    send(stream, &[greeting]).await
}

/// Runs commands until login, STARTTLS or the end of the connection.
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reader: &mut ClientReader,
    state: &mut PreAuthState,
    connection: &Connection,
    shared: &Shared,
) -> std::io::Result<PreAuthOutcome> {
    loop {
        let command = match reader.next(stream).await? {
            Input::Command(command) => command,
            Input::Literal(request) => {
                reader
                    .accept_literal(&request)
                    .map_err(std::io::Error::other)?;
                if request.is_synchronizing {
                    let mut out = Vec::new();
                    Continuation::Text("Ready for literal data".into()).encode(&mut out);
                    write(stream, &out).await?;
                }
                continue;
            }
            Input::Invalid(error) => {
                if reject_invalid(stream, state, &error).await? {
                    return Ok(PreAuthOutcome::Closed);
                }
                continue;
            }
            Input::LineTooLong => {
                bye(stream, "Line too long before login").await?;
                return Ok(PreAuthOutcome::Closed);
            }
            Input::Closed => return Ok(PreAuthOutcome::Closed),
        };
        if let Some(outcome) = handle(stream, reader, state, connection, shared, command).await? {
            return Ok(outcome);
        }
    }
}

/// Handles one command; `Some` when the not-authenticated state ends.
async fn handle<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    reader: &mut ClientReader,
    state: &mut PreAuthState,
    connection: &Connection,
    shared: &Shared,
    command: Command,
) -> std::io::Result<Option<PreAuthOutcome>> {
    let Command { tag, body } = command;
    let name = body.name();
    debug!(tag = tag.as_str(), command = name, "command");
    let credentials = match body {
        CommandBody::Capability => {
            let capability = Data::Capability(connection.capabilities());
            let mut out = Vec::new();
            capability.encode(&mut out, false);
            ok(&tag, "CAPABILITY completed").encode(&mut out);
            write(stream, &out).await?;
            return Ok(None);
        }
        CommandBody::Noop => {
            send(stream, &[ok(&tag, "NOOP completed")]).await?;
            return Ok(None);
        }
        CommandBody::Logout => {
            let bye = StatusResponse::untagged(Status::Bye, None, "Logging out");
            send(stream, &[bye, ok(&tag, "LOGOUT completed")]).await?;
            return Ok(Some(PreAuthOutcome::Closed));
        }
        CommandBody::Id(params) => {
            state.client_id = params.unwrap_or_default();
            let client_id = asimapd_proto::id_fields_text(&state.client_id);
            info!(client_id, "client identified itself");
            let server_id = SERVER_ID
                .iter()
                .map(|(field, value)| ((*field).to_owned(), Some((*value).to_owned())))
                .collect();
            let mut out = Vec::new();
            Data::Id(Some(server_id)).encode(&mut out, false);
            ok(&tag, "ID completed").encode(&mut out);
            write(stream, &out).await?;
            return Ok(None);
        }
        CommandBody::StartTls => return start_tls(stream, connection, tag).await,
        CommandBody::Login { username, password } => Credentials::Login { username, password },
        CommandBody::Authenticate {
            mechanism,
            initial_response,
        } => Credentials::Authenticate {
            mechanism,
            initial_response,
        },
        _ => {
            let text = format!("{name} is not valid before login");
            send(
                stream,
                &[StatusResponse::tagged(tag, Status::Bad, None, text)],
            )
            .await?;
            return Ok(None);
        }
    };
    login::handle(stream, reader, connection, shared, tag, credentials).await
}

async fn start_tls<S: AsyncWrite + Unpin>(
    stream: &mut S,
    connection: &Connection,
    tag: Tag,
) -> std::io::Result<Option<PreAuthOutcome>> {
    if !connection.offers_starttls || connection.is_tls {
        let text = "STARTTLS is not available on this connection";
        send(
            stream,
            &[StatusResponse::tagged(tag, Status::Bad, None, text)],
        )
        .await?;
        return Ok(None);
    }
    send(stream, &[ok(&tag, "Begin TLS negotiation now")]).await?;
    Ok(Some(PreAuthOutcome::StartTls))
}

/// Rejects a command that does not parse with BAD; true when the connection is to be
/// closed.
async fn reject_invalid<S: AsyncWrite + Unpin>(
    stream: &mut S,
    state: &mut PreAuthState,
    error: &ParseError,
) -> std::io::Result<bool> {
    state.bad_commands += 1;
    let text = format!("Invalid command: {}", error.kind);
    let response = match &error.tag {
        Some(tag) => StatusResponse::tagged(tag.clone(), Status::Bad, None, text),
        None => StatusResponse::untagged(Status::Bad, None, text),
    };
    send(stream, &[response]).await?;
    let is_fatal = matches!(error.kind, ErrorKind::LiteralTooLarge { .. });
    if is_fatal || state.bad_commands >= MAX_PRE_AUTH_BAD_COMMANDS {
        bye(stream, "Too many invalid commands").await?;
        return Ok(true);
    }
    Ok(false)
}

/// Returns `tag OK text`.
pub(crate) fn ok(tag: &Tag, text: &str) -> StatusResponse {
    StatusResponse::tagged(tag.clone(), Status::Ok, None, text)
}

/// Writes `* BYE text` before the listener closes the connection.
pub(crate) async fn bye<S: AsyncWrite + Unpin>(stream: &mut S, text: &str) -> std::io::Result<()> {
    send(stream, &[StatusResponse::untagged(Status::Bye, None, text)]).await
}

/// Writes status responses and flushes.
pub(crate) async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    responses: &[StatusResponse],
) -> std::io::Result<()> {
    let mut out = Vec::new();
    for response in responses {
        response.encode(&mut out);
    }
    write(stream, &out).await
}

/// Writes bytes and flushes.
pub(crate) async fn write<S: AsyncWrite + Unpin>(
    stream: &mut S,
    bytes: &[u8],
) -> std::io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}
