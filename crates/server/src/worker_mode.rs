//! The hidden worker mode of the `asimapd` binary: the listener runs its own executable
//! with [`WORKER_FLAG`] as the first argument to start the worker of one user.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use asimapd_ipc::{CONTROL_FD_VAR, ControlSocket};
use asimapd_logging::Level;
use clap::Parser;

/// First argument that selects worker mode.
pub const WORKER_FLAG: &str = "--worker";

/// Exit status of a worker that could not start (bad arguments, no control socket).
const EXIT_WORKER_SETUP: u8 = 2;
/// Exit status of a worker whose serving loop failed.
const EXIT_WORKER_FAILED: u8 = 1;

/// Settings the listener passes to a worker on its command line.
#[derive(Debug, Clone, PartialEq, Eq, Parser)]
#[command(name = "asimapd --worker", no_binary_name = true)]
pub struct WorkerArgs {
    /// User name from the password file.
    #[arg(long)]
    pub user: String,
    /// The user's maildir from the password file.
    #[arg(long)]
    pub mail_root: PathBuf,
    /// Home folder of the Unix account, where an MH profile may live.
    #[arg(long)]
    pub home: Option<PathBuf>,
    #[arg(long)]
    pub mh_file_locking: bool,
    /// Seconds the worker stays after its last connection closed.
    #[arg(long)]
    pub linger_secs: u64,
    /// Seconds between keepalive responses during IDLE.
    #[arg(long)]
    pub idle_keepalive_secs: u64,
    /// Lowest Python logging level the listener's configuration routes anywhere; events
    /// below it are not sent.
    #[arg(long)]
    pub log_level: u8,
}

impl WorkerArgs {
    /// Returns the arguments that [`WorkerArgs::parse_from`] reads back, after
    /// [`WORKER_FLAG`].
    pub fn to_argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = vec![
            WORKER_FLAG.into(),
            "--user".into(),
            self.user.clone().into(),
            "--mail-root".into(),
            self.mail_root.clone().into(),
            "--linger-secs".into(),
            self.linger_secs.to_string().into(),
            "--idle-keepalive-secs".into(),
            self.idle_keepalive_secs.to_string().into(),
            "--log-level".into(),
            self.log_level.to_string().into(),
        ];
        if let Some(home) = &self.home {
            argv.push("--home".into());
            argv.push(home.clone().into());
        }
        if self.mh_file_locking {
            argv.push("--mh-file-locking".into());
        }
        argv
    }

    /// Returns the configuration of the worker crate.
    pub fn worker_config(&self) -> asimapd_worker::WorkerConfig {
        asimapd_worker::WorkerConfig {
            user: self.user.clone(),
            mail_root: self.mail_root.clone(),
            home: self.home.clone(),
            mh_file_locking: self.mh_file_locking,
            linger: Duration::from_secs(self.linger_secs),
            idle_keepalive: Duration::from_secs(self.idle_keepalive_secs),
        }
    }
}

/// Returns true when the program was started in worker mode.
pub fn is_worker_invocation() -> bool {
    std::env::args_os()
        .nth(1)
        .is_some_and(|arg| arg == WORKER_FLAG)
}

/// How long a worker that is about to exit waits for its last log records to reach the
/// listener.
const LOG_FLUSH_LIMIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the worker: reads its settings from the command line and its control socket from
/// [`CONTROL_FD_VAR`], sends its log records to the listener and serves connections until
/// the listener requests a shutdown or the linger time passes.
pub fn run_worker() -> ExitCode {
    let args = match WorkerArgs::try_parse_from(std::env::args_os().skip(2)) {
        Ok(args) => args,
        Err(error) => {
            eprintln!("asimapd worker: {error}");
            return ExitCode::from(EXIT_WORKER_SETUP);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("asimapd worker: failed to start the async runtime: {error}");
            return ExitCode::from(EXIT_WORKER_SETUP);
        }
    };
    runtime.block_on(serve_worker(args))
}

async fn serve_worker(args: WorkerArgs) -> ExitCode {
    let (control, log_socket) = match inherited_sockets() {
        Ok(sockets) => sockets,
        Err(message) => {
            eprintln!("asimapd worker: {message}");
            return ExitCode::from(EXIT_WORKER_SETUP);
        }
    };
    let forwarding =
        asimapd_logging::forward::install_worker(log_socket, Level(args.log_level), &args.user);
    tracing::info!(user = %args.user, pid = std::process::id(), "worker started");
    let result = asimapd_worker::serve(control, args.worker_config()).await;
    let code = match result {
        Ok(()) => {
            tracing::info!(user = %args.user, "worker finished");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(user = %args.user, %error, "worker failed");
            ExitCode::from(EXIT_WORKER_FAILED)
        }
    };
    forwarding.flush(LOG_FLUSH_LIMIT).await;
    code
}

/// Takes the control socket named by [`CONTROL_FD_VAR`] twice: once for the worker's
/// sessions and once, duplicated, for log records.
fn inherited_sockets() -> Result<(ControlSocket, ControlSocket), String> {
    let value = std::env::var(CONTROL_FD_VAR)
        .map_err(|_| format!("{CONTROL_FD_VAR} is not set; worker mode is started by asimapd"))?;
    let raw: i32 = value.parse().map_err(|_| {
        format!("invalid {CONTROL_FD_VAR} value {value:?}: expected a descriptor number")
    })?;
    // SAFETY: the listener placed the control socket at this number, and it stays open
    // until `ControlSocket::from_inherited` below takes it over.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(raw) };
    let duplicate = nix::fcntl::fcntl(borrowed, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(0))
        .map_err(|error| format!("descriptor {raw} cannot be duplicated: {error}"))?;
    // SAFETY: nothing else in this process owns the inherited descriptor.
    let control = unsafe { ControlSocket::from_inherited(raw) }
        .map_err(|error| format!("descriptor {raw} is not a usable control socket: {error}"))?;
    // SAFETY: `duplicate` is a new descriptor owned by nothing else.
    let log_socket =
        unsafe { ControlSocket::from_inherited(duplicate) }.map_err(|error| error.to_string())?;
    Ok((control, log_socket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_arguments_round_trip() {
        let args = WorkerArgs {
            user: "alice".into(),
            mail_root: "/home/alice/Mail".into(),
            home: Some("/home/alice".into()),
            mh_file_locking: true,
            linger_secs: 1800,
            idle_keepalive_secs: 300,
            log_level: 20,
        };

        let argv = args.to_argv();
        let parsed = WorkerArgs::try_parse_from(argv.iter().skip(1)).unwrap();

        assert_eq!(argv[0], WORKER_FLAG);
        assert_eq!(parsed, args);
    }
}
