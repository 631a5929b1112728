//! One client connection from accept to close: TLS handshake, the not-authenticated state
//! under the login time limit, STARTTLS, the hand-off to the user's worker and the relay.

use std::net::SocketAddr;
use std::sync::Arc;

use asimapd_ipc::{Handoff, Protocol, connection_pair};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::Instant;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::Shared;
use crate::input::ClientReader;
use crate::preauth::{self, Connection, Login, PreAuthOutcome, PreAuthState};
use crate::relay::{RelayContext, relay};

/// Starts the task of an accepted connection.
pub(crate) fn spawn(
    shared: &Arc<Shared>,
    tcp: TcpStream,
    peer: SocketAddr,
    is_cleartext_port: bool,
) {
    let Ok(local) = tcp.local_addr() else {
        return;
    };
    let connection = Connection {
        id: shared.next_connection_id(),
        peer,
        local,
        is_tls: false,
        offers_starttls: is_cleartext_port,
    };
    let span = info_span!("connection", session = %connection.name(), remote = %peer, tls = false, user = tracing::field::Empty);
    let shared = Arc::clone(shared);
    let open = Arc::clone(&shared.open_connections);
    tokio::spawn(
        async move {
            let _open = open;
            let Some(_slot) = shared.addresses.acquire(peer.ip()) else {
                info!(remote = %peer, "connection refused: too many connections from this address");
                refuse(&shared, tcp, connection).await;
                return;
            };
            debug!(port = local.port(), "connection accepted");
            if is_cleartext_port {
                serve_cleartext(&shared, tcp, connection).await;
            } else {
                serve_tls(&shared, tcp, connection).await;
            }
            debug!("connection closed");
        }
        .instrument(span),
    );
}

/// Sends BYE to a connection over the per-address limit, over TLS when the port is TLS.
async fn refuse(shared: &Shared, tcp: TcpStream, mut connection: Connection) {
    const TEXT: &str = "Too many connections from your address";
    if connection.offers_starttls {
        let mut tcp = tcp;
        let _ = preauth::bye(&mut tcp, TEXT).await;
        return;
    }
    if let Some(mut tls) = handshake(shared, tcp, &mut connection).await {
        let _ = preauth::bye(&mut tls, TEXT).await;
    }
}

async fn handshake(
    shared: &Shared,
    tcp: TcpStream,
    connection: &mut Connection,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    let limit = shared.limits.tls_handshake_timeout;
    match tokio::time::timeout(limit, shared.acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => {
            connection.is_tls = true;
            tracing::Span::current().record("tls", true);
            Some(stream)
        }
        Ok(Err(error)) => {
            debug!(%error, "TLS handshake failed");
            None
        }
        Err(_) => {
            debug!(seconds = limit.as_secs(), "TLS handshake timed out");
            None
        }
    }
}

async fn serve_tls(shared: &Shared, tcp: TcpStream, mut connection: Connection) {
    let deadline = Instant::now() + shared.limits.login_timeout;
    let Some(mut tls) = handshake(shared, tcp, &mut connection).await else {
        return;
    };
    if preauth::greet(&mut tls, &connection).await.is_err() {
        return;
    }
    let mut reader = ClientReader::default();
    let mut state = PreAuthState::default();
    serve_session(shared, tls, &mut reader, &mut state, &connection, deadline).await;
}

async fn serve_cleartext(shared: &Shared, mut tcp: TcpStream, mut connection: Connection) {
    let deadline = Instant::now() + shared.limits.login_timeout;
    if preauth::greet(&mut tcp, &connection).await.is_err() {
        return;
    }
    let mut reader = ClientReader::default();
    let mut state = PreAuthState::default();
    let outcome = run_pre_auth(
        shared,
        &mut tcp,
        &mut reader,
        &mut state,
        &connection,
        deadline,
    );
    match outcome.await {
        Some(PreAuthOutcome::StartTls) => {}
        // LOGIN and AUTHENTICATE are refused without TLS, so no login ends up here.
        Some(PreAuthOutcome::LoggedIn(_) | PreAuthOutcome::Closed) | None => return,
    }
    // RFC 3501 §6.2.1: input pipelined after STARTTLS is discarded.
    reader.discard();
    let Some(tls) = handshake(shared, tcp, &mut connection).await else {
        return;
    };
    serve_session(shared, tls, &mut reader, &mut state, &connection, deadline).await;
}

/// Runs the not-authenticated state on an encrypted stream, then the relay. When the
/// hand-off fails, the client gets a tagged NO and may log in again.
async fn serve_session<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    mut stream: S,
    reader: &mut ClientReader,
    state: &mut PreAuthState,
    connection: &Connection,
    deadline: Instant,
) {
    loop {
        let outcome = run_pre_auth(shared, &mut stream, reader, state, connection, deadline);
        match outcome.await {
            Some(PreAuthOutcome::LoggedIn(login)) => {
                match finish_login(shared, stream, reader, state, connection, login).await {
                    Some(returned) => stream = returned,
                    None => return,
                }
            }
            Some(PreAuthOutcome::StartTls | PreAuthOutcome::Closed) | None => {
                // Sends TLS close_notify, so the client sees a clean end after BYE.
                let _ = stream.shutdown().await;
                return;
            }
        }
    }
}

/// Runs the not-authenticated state until its outcome, the login deadline or shutdown;
/// `None` when the connection was ended by the listener.
async fn run_pre_auth<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    stream: &mut S,
    reader: &mut ClientReader,
    state: &mut PreAuthState,
    connection: &Connection,
    deadline: Instant,
) -> Option<PreAuthOutcome> {
    let mut shutdown = shared.shutdown.subscribe();
    let result = tokio::select! {
        result = tokio::time::timeout_at(deadline, preauth::run(stream, reader, state, connection, shared)) => result,
        () = crate::wait_for_true(&mut shutdown) => {
            let _ = preauth::bye(stream, "Server shutting down").await;
            return None;
        }
    };
    match result {
        Ok(Ok(outcome)) => Some(outcome),
        Ok(Err(error)) => {
            debug!(%error, "connection failed before login");
            None
        }
        Err(_) => {
            info!("login time limit reached");
            let _ = preauth::bye(stream, "Autologout; login time limit reached").await;
            None
        }
    }
}

/// Hands the connection to the user's worker and relays until it ends. Returns the stream
/// when the hand-off failed and a NO was sent, so the session continues before login.
async fn finish_login<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    mut stream: S,
    reader: &mut ClientReader,
    state: &PreAuthState,
    connection: &Connection,
    login: Login,
) -> Option<S> {
    let user = login.account.user().to_owned();
    tracing::Span::current().record("user", user.as_str());
    let handed = hand_off(shared, reader, state, connection, &login).await;
    let (worker_stream, worker) = match handed {
        Ok(handed) => handed,
        Err(error) => {
            warn!(%user, %error, "login succeeded but the worker cannot serve the connection: {error}");
            let text = "Your mailbox is not available now; try again later";
            let response = asimapd_proto::response::StatusResponse::tagged(
                login.tag,
                asimapd_proto::response::Status::No,
                Some(asimapd_proto::response::Code::Unavailable),
                text,
            );
            return preauth::send(&mut stream, &[response])
                .await
                .ok()
                .map(|()| stream);
        }
    };
    info!(%user, pid = worker.pid, "connection handed to worker");
    let context = RelayContext {
        user,
        connection: connection.name(),
        remote: connection.peer.to_string(),
        traces: shared.traces.clone(),
        worker_exited: worker.exited(),
        shutting_down: shared.shutdown.subscribe(),
    };
    relay(stream, worker_stream, context).await;
    None
}

async fn hand_off(
    shared: &Shared,
    reader: &mut ClientReader,
    state: &PreAuthState,
    connection: &Connection,
    login: &Login,
) -> Result<(UnixStream, Arc<crate::workers::Worker>), crate::HandoffError> {
    let (listener_end, worker_end) = connection_pair()?;
    let stream = UnixStream::from_std(std::os::unix::net::UnixStream::from(listener_end))
        .map_err(|error| crate::HandoffError::Control(error.into()))?;
    let pending_input = reader.take_unparsed();
    let handoff = Handoff {
        connection_id: connection.id,
        peer: connection.peer,
        local: connection.local,
        protocol: Protocol::Imap,
        user: login.account.user().to_owned(),
        is_tls: connection.is_tls,
        login_tag: Some(login.tag.as_str().to_owned()),
        client_id: state.client_id.clone(),
        pending_input: pending_input.clone(),
    };
    let handed = shared
        .workers
        .hand_off(&login.account, handoff, worker_end)
        .await;
    let worker = match handed {
        Ok(worker) => worker,
        Err(error) => {
            // The client stays before login, so its pipelined commands are read there.
            reader.restore_unparsed(pending_input);
            return Err(error);
        }
    };
    Ok((stream, worker))
}
