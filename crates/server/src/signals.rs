//! Signals of the listener: SIGTERM and SIGINT stop it, SIGHUP reloads the certificate and
//! password file, SIGUSR1 toggles protocol tracing.

use tokio::signal::unix::{SignalKind, signal};
use tokio::task::JoinHandle;
use tracing::info;

use crate::{ServerError, ServerHandle};

/// Installs the handlers and returns the task that serves them.
pub(crate) fn listen(handle: ServerHandle) -> Result<JoinHandle<()>, ServerError> {
    let install = |kind: SignalKind, name: &'static str| {
        signal(kind).map_err(|source| ServerError::Signal {
            signal: name,
            source,
        })
    };
    let mut terminate = install(SignalKind::terminate(), "SIGTERM")?;
    let mut interrupt = install(SignalKind::interrupt(), "SIGINT")?;
    let mut hangup = install(SignalKind::hangup(), "SIGHUP")?;
    let mut user1 = install(SignalKind::user_defined1(), "SIGUSR1")?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = terminate.recv() => {
                    info!(signal = "SIGTERM", "shutdown requested");
                    handle.shut_down();
                }
                _ = interrupt.recv() => {
                    info!(signal = "SIGINT", "shutdown requested");
                    handle.shut_down();
                }
                _ = hangup.recv() => {
                    info!(signal = "SIGHUP", "reloading the certificate and password file");
                    handle.reload().await;
                }
                _ = user1.recv() => {
                    let is_on = handle.toggle_trace();
                    let state = if is_on { "on" } else { "off" };
                    info!(signal = "SIGUSR1", tracing = is_on, "protocol tracing switched {state}");
                }
            }
        }
    }))
}
