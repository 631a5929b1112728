//! The channel between the asimapd listener and its per-user workers.
//!
//! The listener starts one worker process per user and keeps a control socket to it: a Unix
//! `SOCK_SEQPACKET` socket pair whose worker end is inherited as a file descriptor. Each
//! message on it is one JSON document, so message boundaries need no framing.
//!
//! - Listener to worker: [`ToWorker::Connection`] hands over one authenticated client
//!   connection. The message carries the worker's end of a fresh `SOCK_STREAM` socket pair as
//!   an `SCM_RIGHTS` descriptor; the listener relays plaintext between the client's TLS stream
//!   and its own end. [`ToWorker::Shutdown`] asks the worker to finish and exit.
//! - Worker to listener: [`FromWorker::Log`] carries a log or trace record, because the
//!   listener is the only process that writes log files.
//!
//! No TCP or UDP port exists between the processes, so no other local user can reach a
//! worker.

use std::io::{IoSlice, IoSliceMut};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::cmsg_space;
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use serde::{Deserialize, Serialize};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// Largest control message, in bytes. A hand-off carries the client's pending input, which
/// the listener limits to one command line before handing over.
pub const MAX_MESSAGE_LEN: usize = 256 * 1024;

/// Environment variable through which a worker learns the descriptor number of its control
/// socket.
pub const CONTROL_FD_VAR: &str = "ASIMAPD_CONTROL_FD";

/// The protocol a handed-over connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Protocol {
    Imap,
    Pop3,
}

/// Connection details the listener sends with a connection it hands to a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    /// Listener-wide connection number, used in logs and traces as `client-NNNNNNNN`.
    pub connection_id: u64,
    /// The client's address as the listener saw it.
    pub peer: SocketAddr,
    /// The listener's address the client connected to.
    pub local: SocketAddr,
    pub protocol: Protocol,
    /// User name the client authenticated as.
    pub user: String,
    /// Whether the client connection is encrypted (always true for implicit TLS ports).
    pub is_tls: bool,
    /// Tag of the LOGIN or AUTHENTICATE command that succeeded. The worker sends its tagged
    /// OK, with the capabilities that apply after login, so the client learns them from the
    /// process that serves it.
    pub login_tag: Option<String>,
    /// The client's ID command parameters sent before login, if any (RFC 2971).
    pub client_id: Vec<(String, Option<String>)>,
    /// Bytes the client sent after the login command that the listener already read; the
    /// worker processes them before reading the socket.
    pub pending_input: Vec<u8>,
}

/// A message from the listener to a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToWorker {
    /// A connection, sent together with its descriptor.
    Connection(Handoff),
    /// Stop: send BYE to every session, finish commands in flight and exit.
    Shutdown,
}

/// A message from a worker to the listener.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum FromWorker {
    /// A log record (`logger` is the Python logger name) with its structured fields.
    Log {
        level: u8,
        logger: String,
        message: String,
        user: String,
        fields: Vec<(String, serde_json::Value)>,
    },
}

/// A failure on the control socket.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IpcError {
    #[error("control socket failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid control message: {0}")]
    Decode(#[from] serde_json::Error),
    #[error("control message of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("connection hand-off arrived without its descriptor")]
    MissingDescriptor,
    #[error("the other process closed the control socket")]
    Closed,
}

/// Creates the control socket pair: (listener end, worker end). Both are close-on-exec; the
/// listener clears that flag on the worker end when it starts the worker.
pub fn control_pair() -> Result<(OwnedFd, OwnedFd), IpcError> {
    let (listener, worker) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map_err(std::io::Error::from)?;
    Ok((listener, worker))
}

/// Creates the stream pair for one client connection: (listener end, worker end).
pub fn connection_pair() -> Result<(OwnedFd, OwnedFd), IpcError> {
    let (listener, worker) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
    )
    .map_err(std::io::Error::from)?;
    Ok((listener, worker))
}

/// One end of the control socket, usable from tokio.
#[derive(Debug)]
pub struct ControlSocket {
    fd: AsyncFd<OwnedFd>,
}

impl ControlSocket {
    /// Wraps a control socket end. It must be in non-blocking mode.
    pub fn new(fd: OwnedFd) -> Result<ControlSocket, IpcError> {
        // SAFETY: the `OwnedFd` is moved into the `AsyncFd`, so the descriptor stays open and
        // names the same socket until the `AsyncFd` is dropped.
        let fd = unsafe { AsyncFd::register(fd) }.map_err(|error| error.into_parts().1)?;
        Ok(ControlSocket { fd })
    }

    /// Takes over the descriptor named by [`CONTROL_FD_VAR`] in a worker process.
    ///
    /// # Safety
    /// The caller guarantees the descriptor is the inherited control socket and is not owned
    /// by anything else in the process.
    pub unsafe fn from_inherited(raw: RawFd) -> Result<ControlSocket, IpcError> {
        // SAFETY: the caller guarantees exclusive ownership of `raw`.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        nix::fcntl::fcntl(
            &fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(std::io::Error::from)?;
        ControlSocket::new(fd)
    }

    /// Sends a message, with `descriptor` attached when given.
    pub async fn send<T: Serialize>(
        &self,
        message: &T,
        descriptor: Option<BorrowedFd<'_>>,
    ) -> Result<(), IpcError> {
        let bytes = serde_json::to_vec(message)?;
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(IpcError::TooLarge {
                len: bytes.len(),
                max: MAX_MESSAGE_LEN,
            });
        }
        let raw = descriptor.map(|fd| [fd.as_raw_fd()]);
        self.fd
            .async_io(Interest::WRITABLE, |fd| {
                let controls: Vec<ControlMessage<'_>> = raw
                    .as_ref()
                    .map(|fds| ControlMessage::ScmRights(fds))
                    .into_iter()
                    .collect();
                sendmsg::<()>(
                    fd.as_raw_fd(),
                    &[IoSlice::new(&bytes)],
                    &controls,
                    MsgFlags::MSG_NOSIGNAL,
                    None,
                )
                .map_err(std::io::Error::from)
            })
            .await?;
        Ok(())
    }

    /// Receives one message and the descriptor that came with it, if any.
    pub async fn receive<T: for<'de> Deserialize<'de>>(
        &self,
    ) -> Result<(T, Option<OwnedFd>), IpcError> {
        let mut buffer = vec![0u8; MAX_MESSAGE_LEN];
        let (len, descriptor) = self
            .fd
            .async_io(Interest::READABLE, |fd| {
                receive_once(fd.as_fd(), &mut buffer)
            })
            .await?;
        if len == 0 {
            return Err(IpcError::Closed);
        }
        Ok((serde_json::from_slice(&buffer[..len])?, descriptor))
    }

    /// Receives a [`ToWorker`] message; a connection comes with its stream descriptor.
    pub async fn receive_to_worker(&self) -> Result<Incoming, IpcError> {
        match self.receive::<ToWorker>().await? {
            (ToWorker::Connection(handoff), Some(stream)) => {
                Ok(Incoming::Connection(handoff, stream))
            }
            (ToWorker::Connection(_), None) => Err(IpcError::MissingDescriptor),
            (ToWorker::Shutdown, _) => Ok(Incoming::Shutdown),
        }
    }
}

/// A message a worker received, with the connection's descriptor.
#[derive(Debug)]
pub enum Incoming {
    Connection(Handoff, OwnedFd),
    Shutdown,
}

fn receive_once(
    fd: BorrowedFd<'_>,
    buffer: &mut [u8],
) -> std::io::Result<(usize, Option<OwnedFd>)> {
    let mut space = cmsg_space!([RawFd; 1]);
    let mut iov = [IoSliceMut::new(buffer)];
    let message = recvmsg::<()>(
        fd.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(std::io::Error::from)?;
    if message.flags.contains(MsgFlags::MSG_TRUNC) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "control message truncated",
        ));
    }
    let mut descriptor = None;
    for control in message.cmsgs().map_err(std::io::Error::from)? {
        if let ControlMessageOwned::ScmRights(fds) = control {
            for raw in fds {
                // SAFETY: the kernel just installed `raw` in this process for this message.
                let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                descriptor.get_or_insert(owned);
            }
        }
    }
    Ok((message.bytes, descriptor))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    use super::*;

    fn handoff() -> Handoff {
        Handoff {
            connection_id: 7,
            peer: "192.0.2.1:50000".parse().unwrap(),
            local: "127.0.0.1:993".parse().unwrap(),
            protocol: Protocol::Imap,
            user: "alice".into(),
            is_tls: true,
            login_tag: Some("a1".into()),
            client_id: vec![("name".into(), Some("imaplib".into()))],
            pending_input: b"a2 SELECT INBOX\r\n".to_vec(),
        }
    }

    #[tokio::test]
    async fn handoff_carries_header_and_stream() {
        let (listener_end, worker_end) = control_pair().unwrap();
        let listener = ControlSocket::new(listener_end).unwrap();
        let worker = ControlSocket::new(worker_end).unwrap();
        let (relay_end, session_end) = connection_pair().unwrap();

        listener
            .send(&ToWorker::Connection(handoff()), Some(session_end.as_fd()))
            .await
            .unwrap();
        drop(session_end);
        let Incoming::Connection(received, stream) = worker.receive_to_worker().await.unwrap()
        else {
            panic!("expected a connection");
        };
        assert_eq!(received, handoff());

        let mut session = UnixStream::from(stream);
        session.set_nonblocking(false).unwrap();
        let mut relay = UnixStream::from(relay_end);
        relay.set_nonblocking(false).unwrap();
        session.write_all(b"* OK hello\r\n").unwrap();
        let mut line = [0u8; 12];
        relay.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"* OK hello\r\n");
    }

    #[tokio::test]
    async fn shutdown_needs_no_descriptor() {
        let (listener_end, worker_end) = control_pair().unwrap();
        let listener = ControlSocket::new(listener_end).unwrap();
        let worker = ControlSocket::new(worker_end).unwrap();
        listener.send(&ToWorker::Shutdown, None).await.unwrap();
        assert!(matches!(
            worker.receive_to_worker().await.unwrap(),
            Incoming::Shutdown
        ));
    }

    #[tokio::test]
    async fn connection_without_descriptor_is_an_error() {
        let (listener_end, worker_end) = control_pair().unwrap();
        let listener = ControlSocket::new(listener_end).unwrap();
        let worker = ControlSocket::new(worker_end).unwrap();
        listener
            .send(&ToWorker::Connection(handoff()), None)
            .await
            .unwrap();
        assert!(matches!(
            worker.receive_to_worker().await,
            Err(IpcError::MissingDescriptor)
        ));
    }

    #[tokio::test]
    async fn log_records_flow_back_to_listener() {
        let (listener_end, worker_end) = control_pair().unwrap();
        let listener = ControlSocket::new(listener_end).unwrap();
        let worker = ControlSocket::new(worker_end).unwrap();
        let record = FromWorker::Log {
            level: 20,
            logger: "asimap.user_server".into(),
            message: "selected".into(),
            user: "alice".into(),
            fields: vec![("mailbox".into(), serde_json::json!("INBOX"))],
        };
        worker.send(&record, None).await.unwrap();
        let (received, descriptor) = listener.receive::<FromWorker>().await.unwrap();
        assert_eq!(received, record);
        assert!(descriptor.is_none());
    }

    #[tokio::test]
    async fn closed_peer_is_reported() {
        let (listener_end, worker_end) = control_pair().unwrap();
        let worker = ControlSocket::new(worker_end).unwrap();
        drop(listener_end);
        assert!(matches!(
            worker.receive_to_worker().await,
            Err(IpcError::Closed)
        ));
    }

    #[tokio::test]
    async fn oversized_message_is_rejected_before_sending() {
        let (listener_end, _worker_end) = control_pair().unwrap();
        let listener = ControlSocket::new(listener_end).unwrap();
        let mut big = handoff();
        big.pending_input = vec![b'x'; MAX_MESSAGE_LEN];
        let error = listener
            .send(&ToWorker::Connection(big), None)
            .await
            .unwrap_err();
        assert!(matches!(error, IpcError::TooLarge { .. }), "{error}");
    }
}
