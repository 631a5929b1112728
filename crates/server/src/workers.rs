//! Worker supervision: one worker per user, started on the first login, shared by all of
//! that user's connections, replaced when it has died.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use asimapd_auth::Account;
use asimapd_ipc::{ControlSocket, FromWorker, Handoff, IpcError, ToWorker, control_pair};
use asimapd_logging::Level;
use asimapd_logging::forward::RecordRouter;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::spawn::{Identity, IdentityError, worker_command, worker_identity};
use crate::worker_mode::WorkerArgs;

/// Starts a worker inside the listener process, for tests: it receives the worker's end of
/// the control socket and its settings, and the returned task ends when the worker does.
pub type InProcessStarter = Arc<dyn Fn(ControlSocket, WorkerArgs) -> JoinHandle<()> + Send + Sync>;

/// The way workers are started.
#[derive(Clone)]
pub enum WorkerLaunch {
    /// Execute this program (normally `/proc/self/exe`) in worker mode.
    Process { program: PathBuf },
    /// Run the worker as a task of the listener's runtime, without a change of identity.
    InProcess(InProcessStarter),
}

impl std::fmt::Debug for WorkerLaunch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WorkerLaunch::Process { program } => write!(f, "Process({})", program.display()),
            WorkerLaunch::InProcess(_) => f.write_str("InProcess"),
        }
    }
}

/// Settings of the workers the listener starts.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub launch: WorkerLaunch,
    /// How long a worker stays after its last connection closed.
    pub linger: Duration,
    pub idle_keepalive: Duration,
    pub mh_file_locking: bool,
    /// Lowest level of the records workers send to the listener.
    pub log_level: Level,
}

/// Reason a connection could not be handed to a worker.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandoffError {
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("failed to start the worker: {0}")]
    Start(std::io::Error),
    #[error("failed to pass the connection to the worker: {0}")]
    Control(#[from] IpcError),
}

/// A running worker.
#[derive(Debug)]
pub(crate) struct Worker {
    user: String,
    generation: u64,
    pub(crate) pid: Option<u32>,
    control: Arc<ControlSocket>,
    exited: watch::Receiver<bool>,
}

impl Worker {
    /// Returns a receiver that turns true when the worker has exited.
    pub(crate) fn exited(&self) -> watch::Receiver<bool> {
        self.exited.clone()
    }

    fn has_exited(&self) -> bool {
        *self.exited.borrow()
    }
}

/// The workers of all users.
#[derive(Debug)]
pub(crate) struct Workers {
    settings: WorkerSettings,
    running: Mutex<HashMap<String, Arc<Worker>>>,
    records: Option<RecordRouter>,
    next_generation: AtomicU64,
}

impl Workers {
    pub(crate) fn new(settings: WorkerSettings, records: Option<RecordRouter>) -> Arc<Workers> {
        Arc::new(Workers {
            settings,
            running: Mutex::default(),
            records,
            next_generation: AtomicU64::new(1),
        })
    }

    /// Passes a connection to the worker of `account`, starting one if none runs. A
    /// worker that exits at that moment (its linger time ran out) is replaced once.
    ///
    /// NOTE: a worker whose linger time ends after the message was queued but before it
    /// was read drops the connection; the relay then sends BYE and the client logs in
    /// again, which starts a new worker.
    pub(crate) async fn hand_off(
        self: &Arc<Self>,
        account: &Account,
        handoff: Handoff,
        stream: OwnedFd,
    ) -> Result<Arc<Worker>, HandoffError> {
        let message = ToWorker::Connection(handoff);
        let mut last_error = None;
        for _ in 0..2 {
            let worker = self.worker_for(account)?;
            match worker.control.send(&message, Some(stream.as_fd())).await {
                Ok(()) => return Ok(worker),
                Err(error) => {
                    warn!(user = %worker.user, pid = worker.pid, %error, "worker did not take the connection ({error}); starting a new one");
                    self.forget(&worker);
                    last_error = Some(error);
                }
            }
        }
        Err(HandoffError::Control(last_error.expect("the loop ran")))
    }

    /// Returns the pid of the running worker of `user`, if any.
    pub(crate) fn pid_of(&self, user: &str) -> Option<u32> {
        self.lock()
            .get(user)
            .filter(|worker| !worker.has_exited())
            .and_then(|worker| worker.pid)
    }

    /// Asks every worker to finish, waits up to `grace` for them to exit, then kills the
    /// rest.
    pub(crate) async fn shut_down(&self, grace: Duration) {
        let workers: Vec<Arc<Worker>> = self.lock().values().cloned().collect();
        for worker in &workers {
            if let Err(error) = worker.control.send(&ToWorker::Shutdown, None).await {
                debug!(user = %worker.user, %error, "shutdown request not delivered");
            }
        }
        for worker in &workers {
            let mut exited = worker.exited();
            let waited = tokio::time::timeout(grace, crate::wait_for_true(&mut exited)).await;
            if waited.is_err()
                && let Some(pid) = worker.pid
            {
                warn!(user = %worker.user, pid, "worker did not stop in time; killing it");
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Worker>>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn forget(&self, worker: &Worker) {
        let mut running = self.lock();
        if running
            .get(&worker.user)
            .is_some_and(|current| current.generation == worker.generation)
        {
            running.remove(&worker.user);
        }
    }

    /// Returns the live worker of the account's user, starting one when there is none.
    fn worker_for(self: &Arc<Self>, account: &Account) -> Result<Arc<Worker>, HandoffError> {
        let mut running = self.lock();
        if let Some(worker) = running.get(account.user())
            && !worker.has_exited()
        {
            return Ok(Arc::clone(worker));
        }
        let worker = self.start(account)?;
        running.insert(account.user().to_owned(), Arc::clone(&worker));
        Ok(worker)
    }

    fn start(self: &Arc<Self>, account: &Account) -> Result<Arc<Worker>, HandoffError> {
        let is_process = matches!(self.settings.launch, WorkerLaunch::Process { .. });
        let identity = worker_identity(account.maildir(), is_process)?;
        let args = WorkerArgs {
            user: account.user().to_owned(),
            mail_root: account.maildir().to_owned(),
            home: identity.home.clone(),
            mh_file_locking: self.settings.mh_file_locking,
            linger_secs: self.settings.linger.as_secs(),
            idle_keepalive_secs: self.settings.idle_keepalive.as_secs(),
            log_level: self.settings.log_level.0,
        };

        let (listener_end, worker_end) = control_pair()?;
        let (pid, exit) = self.launch(args, &identity, worker_end)?;
        info!(
            user = account.user(),
            pid,
            uid = identity.uid.as_raw(),
            gid = identity.gid.as_raw(),
            "worker of {} started: pid {}, uid {}, gid {}",
            account.user(),
            pid.map_or_else(|| "in-process".to_owned(), |pid| pid.to_string()),
            identity.uid,
            identity.gid
        );

        let (exit_sender, exited) = watch::channel(false);
        let worker = Arc::new(Worker {
            user: account.user().to_owned(),
            generation: self.next_generation.fetch_add(1, Ordering::Relaxed),
            pid,
            control: Arc::new(ControlSocket::new(listener_end)?),
            exited,
        });
        let watcher = watch_exit(Arc::clone(self), Arc::clone(&worker), exit, exit_sender);
        tokio::spawn(watcher);
        let control = Arc::clone(&worker.control);
        tokio::spawn(receive_records(
            control,
            self.records.clone(),
            worker.user.clone(),
        ));
        Ok(worker)
    }

    /// Starts the worker process or task; returns its pid (none for a task) and what to
    /// wait on for its end.
    fn launch(
        &self,
        args: WorkerArgs,
        identity: &Identity,
        worker_end: OwnedFd,
    ) -> Result<(Option<u32>, Exit), HandoffError> {
        match &self.settings.launch {
            WorkerLaunch::Process { program } => {
                let mut command = worker_command(program, &args, identity, &worker_end);
                // NOTE: the parent-death signal fires when the spawning thread exits, so
                // workers must be spawned from the runtime's long-lived worker threads,
                // never from `spawn_blocking`, whose threads end when idle.
                let child = command.spawn().map_err(HandoffError::Start)?;
                drop(worker_end);
                Ok((child.id(), Exit::Process(child)))
            }
            WorkerLaunch::InProcess(starter) => {
                let control = ControlSocket::new(worker_end)?;
                Ok((None, Exit::Task(starter(control, args))))
            }
        }
    }
}

enum Exit {
    Process(tokio::process::Child),
    Task(JoinHandle<()>),
}

/// Waits for the worker to end, logs how it ended and marks it exited.
async fn watch_exit(
    workers: Arc<Workers>,
    worker: Arc<Worker>,
    exit: Exit,
    exit_sender: watch::Sender<bool>,
) {
    let pid_text = worker
        .pid
        .map_or_else(|| "unknown".to_owned(), |pid| pid.to_string());
    match exit {
        Exit::Process(mut child) => match child.wait().await {
            Ok(status) if status.success() => {
                info!(user = %worker.user, pid = worker.pid, "worker pid {pid_text} exited")
            }
            Ok(status) => match status.signal() {
                Some(signal) => {
                    error!(user = %worker.user, pid = worker.pid, signal, "worker pid {pid_text} killed by signal {signal}")
                }
                None => {
                    error!(user = %worker.user, pid = worker.pid, status = status.code(), "worker pid {pid_text} failed with {status}")
                }
            },
            Err(error) => {
                error!(user = %worker.user, pid = worker.pid, %error, "waiting for the worker failed")
            }
        },
        Exit::Task(task) => match task.await {
            Ok(()) => info!(user = %worker.user, "in-process worker exited"),
            Err(error) => error!(user = %worker.user, %error, "in-process worker failed"),
        },
    }
    workers.forget(&worker);
    exit_sender.send_replace(true);
}

/// Routes the log records a worker sends until its control socket closes.
async fn receive_records(control: Arc<ControlSocket>, records: Option<RecordRouter>, user: String) {
    let mut invalid = 0u64;
    loop {
        match control.receive::<FromWorker>().await {
            Ok((record, _)) => {
                if let Some(records) = &records {
                    records.route(record);
                }
            }
            Err(IpcError::Decode(error)) => {
                invalid += 1;
                if invalid == 1 {
                    warn!(%user, %error, "invalid message from worker ignored ({error}); later ones are counted only");
                }
            }
            Err(IpcError::Closed) => break,
            Err(error) => {
                warn!(%user, %error, "control socket of worker failed: {error}");
                break;
            }
        }
    }
    if invalid > 1 {
        warn!(%user, invalid, "invalid messages from worker ignored");
    }
}
