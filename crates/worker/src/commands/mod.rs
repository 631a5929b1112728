//! Command handlers, one module per command family (RFC 9051 §6).
//!
//! A handler queues untagged responses in `Session::out` and returns the command's
//! completion. The session then writes the untagged responses that other sessions' changes
//! allow, and the tagged response.

mod any;
mod append;
pub(crate) mod copy;
mod expunge;
mod fetch;
mod idle;
mod list;
mod mailbox;
mod search;
mod select;
pub(crate) mod status;
mod store;

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
        C::Create {
            mailbox,
            special_use,
        } => mailbox::handle_create(session, mailbox, special_use).await,
        C::Delete(mailbox) => mailbox::handle_delete(session, mailbox).await,
        C::Rename { from, to } => mailbox::handle_rename(session, from, to).await,
        C::Subscribe(mailbox) => mailbox::handle_subscribe(session, mailbox, true).await,
        C::Unsubscribe(mailbox) => mailbox::handle_subscribe(session, mailbox, false).await,
        C::List(arguments) => list::handle_list(session, arguments).await,
        C::Lsub { reference, pattern } => list::handle_lsub(session, reference, pattern).await,
        C::Status { mailbox, items } => status::handle_status(session, mailbox, items).await,
        C::Append { mailbox, messages } => append::handle_append(session, mailbox, messages).await,
        C::Fetch {
            numbers,
            set,
            items,
            modifiers,
        } => fetch::handle_fetch(session, numbers, set, items, modifiers).await,
        C::Store { numbers, arguments } => store::handle_store(session, numbers, arguments).await,
        C::Search { numbers, program } => search::handle_search(session, numbers, program).await,
        C::Expunge => expunge::handle_expunge(session, None).await,
        C::UidExpunge(set) => expunge::handle_expunge(session, Some(set)).await,
        C::Copy {
            numbers,
            set,
            mailbox,
        } => copy::handle_copy(session, numbers, set, mailbox).await,
        C::Move {
            numbers,
            set,
            mailbox,
        } => copy::handle_move(session, numbers, set, mailbox).await,
        other => Err(CommandError::bad(format!(
            "{} is not supported by this server",
            other.name()
        ))),
    }
}
