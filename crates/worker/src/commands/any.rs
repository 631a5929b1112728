//! Commands valid in any state: CAPABILITY, NOOP, LOGOUT (RFC 9051 §6.1), ID (RFC 2971),
//! and the session options ENABLE (RFC 5161) and NAMESPACE (RFC 2342).

use asimapd_proto::response::{Data, NamespaceEntry, Status, StatusResponse};
use asimapd_proto::{Atom, IdParams};

use crate::capability::{SERVER_ID, capability_atoms};
use crate::error::CommandError;
use crate::session::{Completion, Session, State};

pub(super) fn handle_capability(session: &mut Session) -> Result<Completion, CommandError> {
    Data::Capability(capability_atoms()).encode(&mut session.out, false);
    Ok(Completion::done())
}

/// NOOP does nothing itself: the session announces pending changes after every command.
pub(super) fn handle_noop(_session: &mut Session) -> Result<Completion, CommandError> {
    Ok(Completion::done())
}

pub(super) fn handle_logout(session: &mut Session) -> Result<Completion, CommandError> {
    session.state = State::Logout;
    StatusResponse::untagged(Status::Bye, None, "Logging out of asimap server. Good bye.")
        .encode(&mut session.out);
    Ok(Completion::done())
}

/// Stores the client's identity for the logs and answers with the server's (RFC 2971 §3.1).
pub(super) fn handle_id(
    session: &mut Session,
    params: IdParams,
) -> Result<Completion, CommandError> {
    let client: Vec<(String, Option<String>)> = params.unwrap_or_default();
    let client_id = asimapd_proto::id_fields_text(&client);
    tracing::info!(session = session.id, client_id, "client identified itself");
    session.client_id = client;
    let server = SERVER_ID
        .iter()
        .map(|(field, value)| ((*field).to_owned(), Some((*value).to_owned())))
        .collect();
    Data::Id(Some(server)).encode(&mut session.out, false);
    Ok(Completion::done())
}

/// None of the extensions ENABLE can turn on (CONDSTORE, QRESYNC, UTF8=ACCEPT, IMAP4rev2)
/// is implemented, so the `ENABLED` response lists none (RFC 5161 §3.1: unknown names are
/// ignored).
pub(super) fn handle_enable(
    session: &mut Session,
    _names: &[Atom],
) -> Result<Completion, CommandError> {
    Data::Enabled(Vec::new()).encode(&mut session.out, false);
    Ok(Completion::done())
}

/// One personal namespace with an empty prefix and `/` as delimiter (RFC 2342 §5).
pub(super) fn handle_namespace(session: &mut Session) -> Result<Completion, CommandError> {
    Data::Namespace {
        personal: vec![NamespaceEntry {
            prefix: String::new(),
            delimiter: Some(crate::mailboxes::DELIMITER),
        }],
        other_users: Vec::new(),
        shared: Vec::new(),
    }
    .encode(&mut session.out, false);
    Ok(Completion::done())
}
