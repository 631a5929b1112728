//! Command handlers, one module per command family (RFC 9051 §6).
//!
//! A handler queues untagged responses in `Session::out` and returns how the command
//! completed; the session writes the tagged response and the untagged responses that other
//! sessions' changes allow.

mod any;
mod idle;
mod select;

use asimapd_proto::{Command, CommandBody};

use crate::error::CommandError;
use crate::session::{Completion, Session};

/// Runs the handler of `command`. The state check has passed.
pub(crate) async fn dispatch(
    session: &mut Session,
    command: Command,
) -> Result<Completion, CommandError> {
    use CommandBody as C;
    match command.body {
        C::Capability => any::handle_capability(session),
        C::Noop => any::handle_noop(session),
        C::Logout => any::handle_logout(session),
        C::Id(params) => any::handle_id(session, params),
        C::Enable(names) => any::handle_enable(session, &names),
        C::Namespace => any::handle_namespace(session),
        C::Select { mailbox, .. } => select::handle_select(session, mailbox, false).await,
        C::Examine { mailbox, .. } => select::handle_select(session, mailbox, true).await,
        C::Unselect => select::handle_unselect(session),
        C::Close => select::handle_close(session).await,
        C::Check => select::handle_check(session).await,
        other => Err(CommandError::bad(format!(
            "{} is not supported by this server",
            other.name()
        ))),
    }
}
