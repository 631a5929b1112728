//! One client session: the state machine, the command loop and the rules for untagged
//! responses around each command (RFC 9051 §3, §5.5 and §7; RFC 3501 §7.4.1).

use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use asimapd_proto::response::{Code, Status, StatusResponse};
use asimapd_proto::{Command, Tag};
use asimapd_store::Store;
use tokio::sync::{mpsc, watch};

use crate::capability::capability_atoms;
use crate::error::{CommandError, parse_error_response};
use crate::input::Input;
use crate::output::Output;
use crate::table::{CommandSpec, Run, Validity, command_spec};
use crate::view::{MailboxGone, MailboxView};

/// Unparsable commands in a row after which the session ends with `* BYE`: a client that
/// sends nothing valid for this long is not speaking IMAP.
pub const MAX_INVALID_COMMANDS_IN_A_ROW: u32 = 20;

/// With the `test-panic` feature, a command with this tag panics in the session task, so
/// tests can check that a panic ends only its own session.
#[cfg(feature = "test-panic")]
pub const TEST_PANIC_TAG: &str = "PANIC-TEST";

/// Settings shared by the sessions of one worker.
#[derive(Debug)]
pub(crate) struct SessionSettings {
    pub(crate) idle_keepalive: Duration,
    pub(crate) autologout: Duration,
    pub(crate) idle_poll: Duration,
}

/// The session state (RFC 9051 §3). A worker session starts authenticated: the listener
/// ran the not-authenticated state.
#[derive(Debug)]
pub(crate) enum State {
    Authenticated,
    Selected(Box<MailboxView>),
    Logout,
}

/// The outcome of a command that did not fail: its response code and text.
#[derive(Debug)]
pub(crate) struct Completion {
    pub(crate) code: Option<Code>,
    pub(crate) text: Option<String>,
}

impl Completion {
    pub(crate) fn done() -> Self {
        Completion {
            code: None,
            text: None,
        }
    }

    pub(crate) fn with_code(code: Code) -> Self {
        Completion {
            code: Some(code),
            text: None,
        }
    }
}

/// One authenticated connection.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: u64,
    pub(crate) store: Store,
    pub(crate) settings: Arc<SessionSettings>,
    pub(crate) output: Output,
    pub(crate) inputs: mpsc::Receiver<Input>,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) state: State,
    /// Untagged responses not yet written to the socket.
    pub(crate) out: Vec<u8>,
    /// The client's ID parameters (RFC 2971), kept for the logs.
    pub(crate) client_id: Vec<(String, Option<String>)>,
    /// APPEND messages of the running command, spooled by the reader.
    pub(crate) spooled: Vec<File>,
    /// Commands that could not be parsed since the last valid one.
    pub(crate) invalid_in_a_row: u32,
}

/// The reason the command loop stopped.
enum Exit {
    /// LOGOUT, end of input, or a write that failed.
    Closed,
    /// A `* BYE` was sent.
    Bye,
}

impl Session {
    /// Runs the session: sends the login completion, then executes commands until LOGOUT,
    /// the end of the connection, autologout or worker shutdown.
    pub(crate) async fn run(mut self, login_tag: Option<Tag>) {
        if let Some(tag) = login_tag {
            let code = Code::Capability(capability_atoms());
            StatusResponse::tagged(tag, Status::Ok, Some(code), completed_text("LOGIN"))
                .encode(&mut self.out);
            if self.flush().await.is_err() {
                return;
            }
        }
        let exit = self.command_loop().await;
        if matches!(exit, Exit::Bye | Exit::Closed) {
            let _ = self.flush().await;
        }
        self.output.close().await;
        tracing::info!(session = self.id, "session ended");
    }

    async fn command_loop(&mut self) -> Exit {
        loop {
            let mut shutdown = self.shutdown.clone();
            let input = tokio::select! {
                biased;
                () = stopped(&mut shutdown) => {
                    return self.bye("Server shutting down").await;
                }
                input = self.inputs.recv() => input,
                () = tokio::time::sleep(self.settings.autologout) => {
                    return self.bye("Autologout: no command for too long").await;
                }
            };
            let result = match input {
                None | Some(Input::Closed) => return Exit::Closed,
                Some(Input::Failed(error)) => {
                    tracing::debug!(session = self.id, %error, "reading from the client failed");
                    return Exit::Closed;
                }
                Some(Input::Invalid(error)) => {
                    parse_error_response(&error).encode(&mut self.out);
                    self.invalid_in_a_row += 1;
                    if self.invalid_in_a_row >= MAX_INVALID_COMMANDS_IN_A_ROW {
                        tracing::info!(
                            session = self.id,
                            "too many invalid commands in a row; closing"
                        );
                        return self.bye("Too many invalid commands").await;
                    }
                    Ok(())
                }
                Some(Input::Rejected { tag, error }) => {
                    let mut response = error.to_response(tag, self.id);
                    if response.tag.is_none() {
                        response.status = Status::Bad;
                    }
                    response.encode(&mut self.out);
                    Ok(())
                }
                Some(Input::IdleEnd(_)) => Ok(()),
                Some(Input::Command { command, spooled }) => {
                    self.invalid_in_a_row = 0;
                    self.spooled = spooled;
                    self.execute(command).await
                }
            };
            if let Err(MailboxGone) = result {
                return self.bye("Selected mailbox no longer exists").await;
            }
            if self.flush().await.is_err() {
                return Exit::Closed;
            }
            if matches!(self.state, State::Logout) {
                return Exit::Closed;
            }
        }
    }

    /// Runs one command and queues its responses in `out`.
    async fn execute(&mut self, command: Command) -> Result<(), MailboxGone> {
        let spec = command_spec(&command.body);
        #[cfg(feature = "test-panic")]
        if command.tag.as_str() == TEST_PANIC_TAG {
            panic!("command tagged {TEST_PANIC_TAG} with the test-panic feature");
        }
        let started = std::time::Instant::now();
        if let Err(error) = self.check_state(&spec) {
            error
                .to_response(Some(command.tag), self.id)
                .encode(&mut self.out);
            return Ok(());
        }
        let handler = match spec.run {
            Run::Handler(handler) => handler,
            Run::Idle => return self.handle_idle(command.tag).await,
            Run::Rejected => {
                // The state check rejects every row without a handler.
                CommandError::bad(format!("{} is not supported by this server", spec.name))
                    .to_response(Some(command.tag), self.id)
                    .encode(&mut self.out);
                return Ok(());
            }
        };
        self.check_selected().await;
        let allows_expunge = !spec.uses_sequence_numbers;
        if spec.addresses_messages {
            // When the command uses sequence numbers, expunges from elsewhere are only
            // queued here, until a command that allows them (RFC 3501 §7.4.1).
            self.announce(None, allows_expunge).await?;
        }
        let tag = command.tag;
        let result = handler(self, command.body).await;
        self.announce(None, allows_expunge).await?;
        let response = match &result {
            Ok(completion) => StatusResponse::tagged(
                tag,
                Status::Ok,
                completion.code.clone(),
                completion
                    .text
                    .clone()
                    .unwrap_or_else(|| completed_text(spec.name)),
            ),
            Err(error) => error.to_response(Some(tag), self.id),
        };
        tracing::debug!(
            session = self.id,
            command = spec.name,
            status = response.status.name(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "command finished"
        );
        response.encode(&mut self.out);
        Ok(())
    }

    /// Checks that the command is valid in the session's state, and that a command that
    /// removes messages does not run on a read-only (EXAMINE) mailbox.
    fn check_state(&self, spec: &CommandSpec) -> Result<(), CommandError> {
        let name = spec.name;
        match (spec.validity, &self.state) {
            (Validity::Any | Validity::Authenticated, _) => Ok(()),
            (Validity::Selected, State::Selected(view))
                if spec.may_expunge && view.is_read_only =>
            {
                Err(CommandError::no(None, "Mailbox is read-only (EXAMINE)"))
            }
            (Validity::Selected, State::Selected(_)) => Ok(()),
            (Validity::Selected, _) => Err(CommandError::bad(format!(
                "{name} is valid only with a mailbox selected"
            ))),
            (Validity::NotAuthenticated, _) => Err(CommandError::bad(format!(
                "{name} is not valid: already authenticated"
            ))),
            (Validity::Unsupported, _) => Err(CommandError::bad(format!(
                "{name} is not supported by this server"
            ))),
        }
    }

    /// Brings the selected mailbox up to date with changes nmh made, so the command works
    /// on them (two `stat` calls when nothing changed).
    pub(crate) async fn check_selected(&self) {
        let State::Selected(view) = &self.state else {
            return;
        };
        let store = self.store.clone();
        let folder = view.folder.clone();
        let result = tokio::task::spawn_blocking(move || store.check(&folder)).await;
        match result {
            // Removed (`rmf`) or renamed by another session: the session gets BYE next.
            Ok(Err(asimapd_store::StoreError::MailboxNotFound { .. })) => {
                tracing::info!(session = self.id, mailbox = %view.name, "selected mailbox no longer exists");
            }
            Ok(Err(error)) => {
                tracing::warn!(session = self.id, mailbox = %view.name, %error, "checking the mailbox failed");
            }
            _ => {}
        }
    }

    /// Writes the untagged responses the selected mailbox has waiting.
    pub(crate) async fn announce(
        &mut self,
        first: Option<asimapd_store::MailboxEvent>,
        allows_expunge: bool,
    ) -> Result<(), MailboxGone> {
        let State::Selected(view) = &mut self.state else {
            return Ok(());
        };
        view.announce(&self.store, first, allows_expunge, &mut self.out)
            .await
    }

    /// Writes the queued responses to the client.
    pub(crate) async fn flush(&mut self) -> std::io::Result<()> {
        let result = self.output.write(&self.out).await;
        self.out.clear();
        result
    }

    async fn bye(&mut self, text: &str) -> Exit {
        StatusResponse::untagged(Status::Bye, None, text).encode(&mut self.out);
        let _ = self.flush().await;
        Exit::Bye
    }

    /// Returns the selected view, or a `BAD` when no mailbox is selected.
    pub(crate) fn view_mut(&mut self) -> Result<&mut MailboxView, CommandError> {
        match &mut self.state {
            State::Selected(view) => Ok(view),
            _ => Err(CommandError::bad("No mailbox selected")),
        }
    }

    /// Runs blocking store work off the async threads.
    pub(crate) async fn blocking<T, F>(&self, work: F) -> Result<T, CommandError>
    where
        F: FnOnce(&Store) -> Result<T, asimapd_store::StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let store = self.store.clone();
        Ok(tokio::task::spawn_blocking(move || work(&store)).await??)
    }
}

/// Waits until the worker requests that its sessions stop.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    loop {
        if *shutdown.borrow_and_update() {
            return;
        }
        if shutdown.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Returns the text of a tagged OK as the Python asimap writes it: `FETCH command completed`
/// for both FETCH and UID FETCH.
pub(crate) fn completed_text(name: &str) -> String {
    let base = name.strip_prefix("UID ").unwrap_or(name);
    format!("{base} command completed")
}
