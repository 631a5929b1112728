//! Command handlers, one module per command family (RFC 9051 §6).
//!
//! The command table names the handler of each command. A handler queues untagged
//! responses in `Session::out` and returns the command's completion. The session then writes the untagged responses that other sessions' changes
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

use asimapd_proto::CommandBody;

use crate::error::CommandError;
use crate::session::Session;
use crate::table::HandlerFuture;

/// Defines the handler of one command table row: it takes the fields of the command's
/// variant out of the parsed command and calls the command's function. The table finds
/// the row by the command's name, so the variant always matches. A mismatch gets `BAD`
/// rather than a panic.
macro_rules! handlers {
    ($($(#[$doc:meta])* $name:ident($session:ident, $pattern:pat) => $call:expr;)+) => {
        $(
            $(#[$doc])*
            pub(crate) fn $name($session: &mut Session, body: CommandBody) -> HandlerFuture<'_> {
                Box::pin(async move {
                    let name = body.name();
                    let $pattern = body else {
                        return Err(wrong_row(stringify!($name), name));
                    };
                    $call
                })
            }
        )+
    };
}

use CommandBody as C;

handlers! {
    capability(session, C::Capability) => any::handle_capability(session);
    noop(session, C::Noop) => any::handle_noop(session);
    logout(session, C::Logout) => any::handle_logout(session);
    id(session, C::Id(params)) => any::handle_id(session, params);
    enable(session, C::Enable(names)) => any::handle_enable(session, &names);
    namespace(session, C::Namespace) => any::handle_namespace(session);
    select(session, C::Select { mailbox, .. }) =>
        select::handle_select(session, mailbox, false).await;
    examine(session, C::Examine { mailbox, .. }) =>
        select::handle_select(session, mailbox, true).await;
    unselect(session, C::Unselect) => select::handle_unselect(session);
    close(session, C::Close) => select::handle_close(session).await;
    check(session, C::Check) => select::handle_check(session).await;
    create(session, C::Create { mailbox, special_use }) =>
        mailbox::handle_create(session, mailbox, special_use).await;
    delete(session, C::Delete(mailbox)) => mailbox::handle_delete(session, mailbox).await;
    rename(session, C::Rename { from, to }) => mailbox::handle_rename(session, from, to).await;
    subscribe(session, C::Subscribe(mailbox)) =>
        mailbox::handle_subscribe(session, mailbox, true).await;
    unsubscribe(session, C::Unsubscribe(mailbox)) =>
        mailbox::handle_subscribe(session, mailbox, false).await;
    list(session, C::List(arguments)) => list::handle_list(session, arguments).await;
    lsub(session, C::Lsub { reference, pattern }) =>
        list::handle_lsub(session, reference, pattern).await;
    status(session, C::Status { mailbox, items }) =>
        status::handle_status(session, mailbox, items).await;
    append(session, C::Append { mailbox, messages }) =>
        append::handle_append(session, mailbox, messages).await;
    /// FETCH and UID FETCH.
    fetch(session, C::Fetch { numbers, set, items, modifiers }) =>
        fetch::handle_fetch(session, numbers, set, items, modifiers).await;
    /// STORE and UID STORE.
    store(session, C::Store { numbers, arguments }) =>
        store::handle_store(session, numbers, arguments).await;
    /// SEARCH and UID SEARCH.
    search(session, C::Search { numbers, program }) =>
        search::handle_search(session, numbers, program).await;
    expunge(session, C::Expunge) => expunge::handle_expunge(session, None).await;
    uid_expunge(session, C::UidExpunge(set)) =>
        expunge::handle_expunge(session, Some(set)).await;
    /// COPY and UID COPY.
    copy(session, C::Copy { numbers, set, mailbox }) =>
        copy::handle_copy(session, numbers, set, mailbox).await;
    /// MOVE and UID MOVE.
    move_messages(session, C::Move { numbers, set, mailbox }) =>
        copy::handle_move(session, numbers, set, mailbox).await;
}

fn wrong_row(handler: &str, command: &str) -> CommandError {
    tracing::error!(handler, command, "command table row has the wrong handler");
    CommandError::bad(format!("{command} is not supported by this server"))
}
