//! The worker's main loop: accepts connections from the listener's control socket, runs
//! one session task per connection, and stops on shutdown or after the linger time.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use asimapd_ipc::{ControlSocket, Handoff, Incoming, IpcError, Protocol};
use asimapd_mh::{MailRoot, Profile};
use asimapd_proto::Tag;
use asimapd_proto::response::{Code, Status, StatusResponse};
use asimapd_store::{Store, WatchConfig};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::error::WorkerError;
use crate::input::spawn_reader;
use crate::output::Output;
use crate::session::{Session, SessionSettings, State};
use crate::unwind::CatchUnwind;

/// Default time a worker stays after its last connection closed.
pub const DEFAULT_LINGER: Duration = Duration::from_secs(30 * 60);

/// Default interval of the `* OK` keepalive during IDLE. Below the 30 minutes clients
/// and NAT gateways commonly allow an idle TCP connection.
pub const DEFAULT_IDLE_KEEPALIVE: Duration = Duration::from_secs(5 * 60);

/// Inactivity after which a session is logged out. RFC 9051 §5.4 requires at least 30
/// minutes; 31 leaves a client that re-issues IDLE every 29 minutes (RFC 2177) a margin.
pub const AUTOLOGOUT_TIMEOUT: Duration = Duration::from_secs(31 * 60);

/// How often an idling session looks for changes made by nmh, so they reach the client
/// within about a second.
pub const IDLE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Folders with special use (RFC 6154) that exist after a user's first login, as the
/// Python asimap creates them.
pub const SPECIAL_USE_FOLDERS: &[(&str, &str)] = &[
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
    ("Sent Messages", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Deleted Messages", "\\Trash"),
];

/// The settings of one worker process.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The user all sessions belong to.
    pub user: String,
    /// The maildir from the password file: the root of the user's MH folders.
    pub mail_root: PathBuf,
    /// The user's home, where an MH profile (`.mh_profile`) may live.
    pub home: Option<PathBuf>,
    /// `ENABLE_MH_FILE_LOCKING`: also take nmh's own locks.
    pub mh_file_locking: bool,
    /// Time to stay after the last connection closed.
    pub linger: Duration,
    /// Interval of the `* OK` keepalive during IDLE (`asimapd --idle-keepalive`).
    pub idle_keepalive: Duration,
}

/// Serves connections handed over on `control` until the listener sends
/// [`asimapd_ipc::ToWorker::Shutdown`] (every session then gets `* BYE` after the command
/// it is running) or until no connection existed for `config.linger`.
pub async fn serve(control: ControlSocket, config: WorkerConfig) -> Result<(), WorkerError> {
    let store = open_store(&config).await?;
    let watcher = match store.spawn_watcher(WatchConfig::default()) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(%error, "starting the folder watcher failed; sessions check folders per command and during IDLE only");
            None
        }
    };
    let session_ended = Arc::new(Notify::new());
    let trimmer = tokio::spawn(crate::trim::release_periodically(session_ended.clone()));
    let result = serve_sessions(&control, &config, &store, &session_ended).await;
    trimmer.abort();
    // Dropping the watcher joins its thread, so it happens off the async threads.
    let _ = tokio::task::spawn_blocking(move || {
        drop(watcher);
        let ended = store.end_append_watches();
        if ended > 0 {
            tracing::info!(user = %config.user, ended, "ended the watch of appended messages");
        }
    })
    .await;
    result
}

/// Runs the accept loop until shutdown, the linger time or a control socket failure.
/// Notifies `session_ended` each time a session ends.
async fn serve_sessions(
    control: &ControlSocket,
    config: &WorkerConfig,
    store: &Store,
    session_ended: &Notify,
) -> Result<(), WorkerError> {
    let settings = Arc::new(SessionSettings {
        idle_keepalive: config.idle_keepalive,
        autologout: AUTOLOGOUT_TIMEOUT,
        idle_poll: IDLE_POLL_INTERVAL,
    });
    let (stop, shutdown) = watch::channel(false);
    let mut sessions = JoinSet::new();
    tracing::info!(user = %config.user, mail_root = %config.mail_root.display(), "worker started");
    loop {
        let linger = tokio::time::sleep(config.linger);
        tokio::select! {
            incoming = control.receive_to_worker() => match incoming {
                Ok(Incoming::Connection(handoff, stream)) => {
                    match start_session(store, &settings, &shutdown, handoff, stream) {
                        Ok(session) => {
                            sessions.spawn(session);
                        }
                        Err(error) => tracing::warn!(%error, "a handed-over connection could not be used"),
                    }
                }
                Ok(Incoming::Shutdown) => break,
                Err(IpcError::Closed) => {
                    tracing::warn!(user = %config.user, "the listener closed the control socket; shutting down");
                    break;
                }
                Err(error @ (IpcError::Decode(_) | IpcError::MissingDescriptor | IpcError::TooLarge { .. })) => {
                    tracing::warn!(user = %config.user, %error, "invalid control message ignored");
                }
                Err(error) => {
                    tracing::error!(user = %config.user, %error, "control socket failed; shutting down");
                    stop_sessions(&stop, &mut sessions).await;
                    return Err(error.into());
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => session_ended.notify_one(),
            () = linger, if sessions.is_empty() => {
                tracing::info!(user = %config.user, "no connection for the linger time; stopping");
                return Ok(());
            }
        }
    }
    tracing::info!(user = %config.user, sessions = sessions.len(), "shutting down");
    stop_sessions(&stop, &mut sessions).await;
    Ok(())
}

/// Tells every session to send `* BYE` after its running command, and waits for them.
async fn stop_sessions(stop: &watch::Sender<bool>, sessions: &mut JoinSet<()>) {
    let _ = stop.send(true);
    while sessions.join_next().await.is_some() {}
}

/// Opens the user's store and creates INBOX and the special-use folders when missing.
async fn open_store(config: &WorkerConfig) -> Result<Store, WorkerError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let profile = config.home.as_deref().and_then(|home| {
            let path = Profile::locate(home, std::env::var_os("MH").as_deref())?;
            Profile::load(&path, home).ok()
        });
        let root = MailRoot::open(&config.mail_root, profile.as_ref(), config.mh_file_locking)
            .map_err(|source| WorkerError::MailRoot {
                path: config.mail_root.clone(),
                source,
            })?;
        let store = Store::open(root)?;
        create_standard_folders(&store)?;
        Ok(store)
    })
    .await?
}

fn create_standard_folders(store: &Store) -> Result<(), WorkerError> {
    let existing = store.list_mailboxes()?;
    let exists = |name: &str| existing.iter().any(|info| info.exists && info.name == name);
    if !exists(crate::mailboxes::INBOX_FOLDER) {
        create_if_missing(store, crate::mailboxes::INBOX_FOLDER, None)?;
    }
    for (name, special_use) in SPECIAL_USE_FOLDERS {
        if !exists(name) {
            create_if_missing(store, name, Some(special_use))?;
        } else if existing
            .iter()
            .any(|info| info.name == *name && info.special_use.is_none())
        {
            store.set_special_use(name, Some(special_use))?;
        }
    }
    Ok(())
}

fn create_if_missing(
    store: &Store,
    name: &str,
    special_use: Option<&str>,
) -> Result<(), WorkerError> {
    match store.create_mailbox(name, special_use) {
        Ok(_) | Err(asimapd_store::StoreError::MailboxExists { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}

fn start_session(
    store: &Store,
    settings: &Arc<SessionSettings>,
    shutdown: &watch::Receiver<bool>,
    handoff: Handoff,
    stream: std::os::fd::OwnedFd,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    if handoff.protocol != Protocol::Imap {
        return Err(std::io::Error::other("only IMAP connections are served"));
    }
    let stream = std::os::unix::net::UnixStream::from(stream);
    stream.set_nonblocking(true)?;
    let stream = tokio::net::UnixStream::from_std(stream)?;
    let (read, write) = stream.into_split();
    let output = Output::new(write);
    let bye_output = output.clone();
    let (inputs, reader) = spawn_reader(
        read,
        handoff.pending_input,
        output.clone(),
        store.root().path().to_owned(),
    );
    tracing::info!(
        session = handoff.connection_id,
        peer = %handoff.peer,
        user = %handoff.user,
        "session started"
    );
    let session = Session {
        id: handoff.connection_id,
        store: store.clone(),
        settings: Arc::clone(settings),
        output,
        inputs,
        shutdown: shutdown.clone(),
        state: State::Authenticated,
        out: Vec::new(),
        client_id: handoff.client_id,
        spooled: Vec::new(),
        invalid_in_a_row: 0,
    };
    let login_tag = handoff.login_tag.and_then(|tag| Tag::new(tag).ok());
    let id = handoff.connection_id;
    let user = handoff.user;
    Ok(async move {
        if let Err(message) = CatchUnwind::new(session.run(login_tag)).await {
            tracing::error!(session = id, %user, panic = %message, "session failed with an internal error; closing its connection");
            let mut bye = Vec::new();
            StatusResponse::untagged(Status::Bye, Some(Code::ServerBug), "Internal error")
                .encode(&mut bye);
            let _ = bye_output.write(&bye).await;
            bye_output.close().await;
        }
        reader.abort();
    })
}
