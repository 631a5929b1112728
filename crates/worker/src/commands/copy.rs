//! COPY (RFC 9051 §6.4.7) and MOVE (RFC 6851), with COPYUID (RFC 4315 §3).

use asimapd_proto::response::{Code, Status, StatusResponse};
use asimapd_proto::{MailboxName, NumberKind, SequenceSet, Uid};
use asimapd_store::{CopyOutcome, StoreError};

use crate::commands::append::compact_ranges;
use crate::error::CommandError;
use crate::mailboxes::folder_name;
use crate::session::{Completion, Session};

/// Copies messages into another mailbox, keeping flags and INTERNALDATE.
pub(super) async fn handle_copy(
    session: &mut Session,
    numbers: NumberKind,
    set: SequenceSet,
    mailbox: MailboxName,
) -> Result<Completion, CommandError> {
    let (source, target, uids) = transfer_arguments(session, numbers, &set, &mailbox)?;
    if uids.is_empty() {
        return Ok(Completion::done());
    }
    let outcome = session
        .blocking(move |store| store.copy(&source, &target, &uids))
        .await
        .map_err(try_create)?;
    Ok(Completion {
        code: copy_uid(&outcome),
        text: None,
    })
}

/// Moves messages (RFC 6851 §3.3): copies them, sends `* OK [COPYUID ...]`, then the
/// EXPUNGE responses for the moved messages, then the tagged OK.
pub(super) async fn handle_move(
    session: &mut Session,
    numbers: NumberKind,
    set: SequenceSet,
    mailbox: MailboxName,
) -> Result<Completion, CommandError> {
    let (source, target, uids) = transfer_arguments(session, numbers, &set, &mailbox)?;
    if uids.is_empty() {
        return Ok(Completion::done());
    }
    let (outcome, expunged) = session
        .blocking(move |store| store.move_messages(&source, &target, &uids))
        .await
        .map_err(try_create)?;
    if let Some(code) = copy_uid(&outcome) {
        StatusResponse::untagged(Status::Ok, Some(code), "Moved").encode(&mut session.out);
    }
    let mut out = Vec::new();
    session.view_mut()?.apply_own_expunge(&expunged, &mut out);
    session.out.extend_from_slice(&out);
    Ok(Completion::done())
}

/// Returns the source folder, target folder and the UIDs of the addressed messages.
fn transfer_arguments(
    session: &mut Session,
    numbers: NumberKind,
    set: &SequenceSet,
    mailbox: &MailboxName,
) -> Result<(String, String, Vec<Uid>), CommandError> {
    let target = folder_name(mailbox)?;
    crate::noselect::check_target(&session.store, &target)?;
    let view = session.view_mut()?;
    let indexes = match numbers {
        NumberKind::Uid => view.resolve_uid_set(set),
        NumberKind::SequenceNumber => view.resolve_sequence_set(set)?,
    };
    let uids = indexes
        .iter()
        .map(|&index| view.message(index).uid)
        .collect();
    Ok((view.folder.clone(), target, uids))
}

fn copy_uid(outcome: &CopyOutcome) -> Option<Code> {
    let source: Vec<u32> = outcome.pairs.iter().map(|(from, _)| from.get()).collect();
    let destination: Vec<u32> = outcome.pairs.iter().map(|(_, to)| to.get()).collect();
    Some(Code::CopyUid {
        uid_validity: outcome.uid_validity,
        source: SequenceSet::from_ranges(&compact_ranges(&source))?,
        destination: SequenceSet::from_ranges(&compact_ranges(&destination))?,
    })
}

/// Maps a missing target mailbox to `NO [TRYCREATE]` (RFC 9051 §6.4.7).
pub(crate) fn try_create(error: CommandError) -> CommandError {
    match error {
        CommandError::Store(
            StoreError::MailboxNotFound { .. }
            | StoreError::Mh(asimapd_mh::MhError::FolderNotFound { .. }),
        ) => CommandError::no(Some(Code::TryCreate), "Target mailbox does not exist"),
        other => other,
    }
}
