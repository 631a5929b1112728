//! Root listener: TLS, pre-authentication, worker supervision and the log sink.
//!
//! The listener accepts IMAP connections over implicit TLS (and, when configured, on a
//! cleartext port that offers STARTTLS), handles the commands allowed before login, checks
//! credentials with [`asimapd_auth::Authenticator`], and hands each authenticated
//! connection to the worker process of its user over [`asimapd_ipc`]. It then relays
//! plaintext between the TLS stream and the worker. TLS state and the private key never
//! leave this process; workers run as the owner of the user's maildir.

mod connection;
mod error;
mod input;
mod limits;
mod login;
mod preauth;
mod relay;
mod signals;
pub mod spawn;
mod tls;
pub mod worker_mode;
mod workers;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use asimapd_auth::{AuthConfig, Authenticator, PasswordFile};
use asimapd_logging::forward::RecordRouter;
use asimapd_logging::trace::TraceSink;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tracing::{error, info};

pub use error::ServerError;
pub use limits::{
    ConnectionLimits, DEFAULT_LOGIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    DEFAULT_THROTTLE_DELAY, DEFAULT_TLS_HANDSHAKE_TIMEOUT, MAX_PRE_AUTH_BAD_COMMANDS,
};
pub use relay::{WORKER_DIED_BYE, WORKER_EXIT_GRACE};
pub use tls::CertificateStore;
pub use workers::{HandoffError, InProcessStarter, WorkerLaunch, WorkerSettings};

/// Default interval between checks of the certificate and key files for changes.
pub const DEFAULT_CERTIFICATE_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// Pause after a failed accept before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// Time workers get to finish their commands at shutdown before they are killed.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Everything the listener needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address of the implicit-TLS IMAP port.
    pub imap_address: SocketAddr,
    /// Address of the cleartext port that offers STARTTLS; `None` leaves it closed.
    pub starttls_address: Option<SocketAddr>,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub pwfile: PathBuf,
    pub limits: ConnectionLimits,
    pub workers: WorkerSettings,
    pub certificate_check_interval: Duration,
    /// Router of the records received from workers; `None` drops them.
    pub records: Option<RecordRouter>,
    /// Protocol traces of relayed connections; `None` disables tracing.
    pub traces: Option<Arc<TraceSink>>,
}

/// State shared by every connection.
pub(crate) struct Shared {
    pub limits: ConnectionLimits,
    pub acceptor: TlsAcceptor,
    pub certificates: Arc<CertificateStore>,
    pub authenticator: Authenticator,
    pub workers: Arc<workers::Workers>,
    pub addresses: limits::AddressCounter,
    pub traces: Option<Arc<TraceSink>>,
    next_connection: AtomicU64,
    pub shutdown: watch::Sender<bool>,
    /// One clone per open connection, so that shutdown can wait for them to end.
    pub open_connections: Arc<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("limits", &self.limits)
            .field("workers", &self.workers)
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }
}

/// A listener with its ports bound, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    shared: Arc<Shared>,
    imap: TcpListener,
    starttls: Option<TcpListener>,
    certificate_check_interval: Duration,
}

/// Controls a running [`Server`] from another task.
#[derive(Debug, Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl Server {
    /// Loads the certificate and binds the ports. The password file is read once here, so
    /// that a missing or unreadable file is logged at start-up, and again at a login after
    /// it changed. The server starts without it; logins fail until it is readable.
    pub async fn bind(config: ServerConfig) -> Result<Server, ServerError> {
        let certificates = Arc::new(CertificateStore::load(&config.cert, &config.key)?);
        let acceptor = TlsAcceptor::from(certificates.server_config()?);
        let authenticator =
            Authenticator::new(PasswordFile::new(&config.pwfile), AuthConfig::default());
        // The failure is logged by the reload itself.
        let _ = authenticator.password_file().reload_if_changed();
        let imap = bind(config.imap_address).await?;
        let starttls = match config.starttls_address {
            Some(address) => Some(bind(address).await?),
            None => None,
        };
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            addresses: limits::AddressCounter::new(config.limits.max_connections_per_address),
            limits: config.limits,
            acceptor,
            certificates,
            authenticator,
            workers: workers::Workers::new(config.workers, config.records),
            traces: config.traces,
            next_connection: AtomicU64::new(1),
            shutdown,
            open_connections: Arc::new(()),
        });
        Ok(Server {
            shared,
            imap,
            starttls,
            certificate_check_interval: config.certificate_check_interval,
        })
    }

    /// Returns the bound address of the implicit-TLS port.
    pub fn imap_address(&self) -> SocketAddr {
        self.imap
            .local_addr()
            .expect("a bound socket has an address")
    }

    /// Returns the bound address of the STARTTLS port, if open.
    pub fn starttls_address(&self) -> Option<SocketAddr> {
        self.starttls.as_ref().map(|listener| {
            listener
                .local_addr()
                .expect("a bound socket has an address")
        })
    }

    /// Returns a handle to stop the server or reload its files.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Accepts connections until [`ServerHandle::shut_down`], then sends BYE to sessions
    /// before login, requests workers to finish and waits for them and for the connections.
    pub async fn run(self) -> Result<(), ServerError> {
        let mut shutdown = self.shared.shutdown.subscribe();
        // The files were loaded by `bind`, so the first check is one interval away.
        let first_check = tokio::time::Instant::now() + self.certificate_check_interval;
        let mut certificate_check =
            tokio::time::interval_at(first_check, self.certificate_check_interval);
        certificate_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                accepted = self.imap.accept() => self.start_connection(accepted, false).await,
                accepted = accept_optional(self.starttls.as_ref()) => {
                    self.start_connection(accepted, true).await;
                }
                _ = certificate_check.tick() => {
                    self.shared.certificates.reload_if_changed();
                }
                () = wait_for_true(&mut shutdown) => break,
            }
        }
        drop(self.imap);
        drop(self.starttls);
        info!("shutting down: listening sockets closed, asking workers to finish");
        self.shared.workers.shut_down(SHUTDOWN_GRACE).await;
        wait_for_connections(&self.shared, SHUTDOWN_GRACE).await;
        info!("shutdown complete");
        Ok(())
    }
}

impl Server {
    /// Starts the task of an accepted connection. A failed accept (out of descriptors, for
    /// example) is logged and followed by a pause, so the loop does not spin on it.
    async fn start_connection(
        &self,
        accepted: std::io::Result<(tokio::net::TcpStream, SocketAddr)>,
        is_cleartext_port: bool,
    ) {
        match accepted {
            Ok((tcp, peer)) => {
                // Sessions gather each response and write it at once, so Nagle's algorithm
                // only holds back the last segment of a response until the client's
                // delayed ACK, up to 40 ms on Linux. The option stays with the socket when
                // it is handed to the worker.
                if let Err(error) = tcp.set_nodelay(true) {
                    tracing::debug!(%error, %peer, "setting TCP_NODELAY failed");
                }
                connection::spawn(&self.shared, tcp, peer, is_cleartext_port)
            }
            Err(error) => {
                tracing::warn!(%error, "accepting a connection failed: {error}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
}

impl ServerHandle {
    /// Stops accepting connections and ends every session.
    pub fn shut_down(&self) {
        self.shared.shutdown.send_replace(true);
    }

    /// Reads the certificate, key and password file again.
    pub async fn reload(&self) {
        self.shared.certificates.reload();
        let authenticator = self.shared.authenticator.clone();
        let result =
            tokio::task::spawn_blocking(move || authenticator.password_file().reload_if_changed())
                .await;
        if let Ok(Err(error)) = result {
            error!(%error, "password file reload failed");
        }
    }

    /// Switches protocol tracing on or off; returns the new state.
    pub fn toggle_trace(&self) -> bool {
        match &self.shared.traces {
            Some(traces) => traces.toggle(),
            None => false,
        }
    }

    /// Returns the pid of the running worker of `user`, if any.
    pub fn worker_pid(&self, user: &str) -> Option<u32> {
        self.shared.workers.pid_of(user)
    }
}

/// Installs the handlers of SIGTERM and SIGINT (stop), SIGHUP (reload the certificate and
/// password file) and SIGUSR1 (toggle protocol tracing) for the server behind `handle`.
/// Signals that arrive before this call keep their default action.
pub fn install_signal_handlers(
    handle: ServerHandle,
) -> Result<tokio::task::JoinHandle<()>, ServerError> {
    signals::listen(handle)
}

/// Runs the server until SIGTERM or SIGINT; see [`install_signal_handlers`].
pub async fn run_until_signalled(server: Server) -> Result<(), ServerError> {
    let signals = install_signal_handlers(server.handle())?;
    let result = server.run().await;
    signals.abort();
    result
}

/// Interval at which shutdown checks whether connections have ended.
const CONNECTION_POLL: Duration = Duration::from_millis(20);

/// Waits until every connection task has ended (their BYE is then sent), or `grace`.
async fn wait_for_connections(shared: &Shared, grace: Duration) {
    let deadline = tokio::time::Instant::now() + grace;
    while Arc::strong_count(&shared.open_connections) > 1 {
        if tokio::time::Instant::now() >= deadline {
            let open = Arc::strong_count(&shared.open_connections) - 1;
            tracing::warn!(open, "{open} connections still open at the end of shutdown");
            return;
        }
        tokio::time::sleep(CONNECTION_POLL).await;
    }
}

/// Waits until the watched flag is true (or its sender is gone).
pub(crate) async fn wait_for_true(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|value| *value).await;
}

async fn bind(address: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| ServerError::Bind { address, source })
}

async fn accept_optional(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}
