//! SELECT and EXAMINE (RFC 9051 §6.3.2, §6.3.3), UNSELECT (RFC 3691), CLOSE (§6.4.1) and
//! CHECK (RFC 3501 §6.4.1).

use asimapd_proto::response::{Code, Data, Status, StatusResponse};
use asimapd_proto::{Flag, MailboxName, SeqNum, Uid};
use asimapd_store::SystemFlag;

use crate::error::CommandError;
use crate::mailboxes::folder_name;
use crate::session::{Completion, Session, State};
use crate::view::MailboxView;

/// Flags every mailbox shows in FLAGS and PERMANENTFLAGS.
const SYSTEM_FLAGS: [Flag; 5] = [
    Flag::Answered,
    Flag::Deleted,
    Flag::Draft,
    Flag::Flagged,
    Flag::Seen,
];

/// Selects a mailbox. Any selected mailbox is left first, without expunge (RFC 9051
/// §6.3.2), and a failed SELECT leaves the session authenticated. Responses come in the
/// order the Python asimap sends them: EXISTS, RECENT, UNSEEN, UIDVALIDITY, UIDNEXT,
/// FLAGS, PERMANENTFLAGS.
pub(super) async fn handle_select(
    session: &mut Session,
    name: MailboxName,
    is_read_only: bool,
) -> Result<Completion, CommandError> {
    if matches!(session.state, State::Selected(_)) {
        session.state = State::Authenticated;
        StatusResponse::untagged(Status::Ok, Some(Code::Closed), "Previous mailbox closed")
            .encode(&mut session.out);
    }
    let folder = folder_name(&name)?;
    crate::noselect::check_selectable(&session.store, &folder)?;
    let lookup = folder.clone();
    let selected = session
        .blocking(move |store| {
            if is_read_only {
                store.examine(&lookup)
            } else {
                store.select(&lookup)
            }
        })
        .await?;
    let uid_next = selected.uid_next;
    let view = MailboxView::new(name, folder, is_read_only, selected);
    write_select_data(&mut session.out, &view, uid_next);
    session.state = State::Selected(Box::new(view));
    Ok(Completion::with_code(if is_read_only {
        Code::ReadOnly
    } else {
        Code::ReadWrite
    }))
}

fn write_select_data(out: &mut Vec<u8>, view: &MailboxView, uid_next: u32) {
    Data::Exists(view.len() as u32).encode(out, false);
    Data::Recent(view.recent_count() as u32).encode(out, false);
    let first_unseen = view
        .messages()
        .iter()
        .position(|message| !message.flags.has(SystemFlag::Seen));
    if let Some(index) = first_unseen {
        let seq = SeqNum::new(index as u32 + 1).expect("index + 1 is non-zero");
        let text = format!("Message {seq} is the first unseen");
        StatusResponse::untagged(Status::Ok, Some(Code::Unseen(seq)), text).encode(out);
    }
    let validity = Code::UidValidity(view.uid_validity);
    StatusResponse::untagged(Status::Ok, Some(validity), "UIDs valid").encode(out);
    if let Some(uid_next) = Uid::new(uid_next) {
        StatusResponse::untagged(
            Status::Ok,
            Some(Code::UidNext(uid_next)),
            "Predicted next UID",
        )
        .encode(out);
    }
    let mut flags = vec![
        Flag::Answered,
        Flag::Deleted,
        Flag::Draft,
        Flag::Flagged,
        Flag::Recent,
        Flag::Seen,
    ];
    for message in view.messages() {
        for keyword in message.flags.keywords() {
            let flag = Flag::Keyword(keyword.clone());
            if !flags.contains(&flag) {
                flags.push(flag);
            }
        }
    }
    Data::Flags(flags).encode(out, false);
    let permanent = if view.is_read_only {
        Code::PermanentFlags {
            flags: Vec::new(),
            allows_new_keywords: false,
        }
    } else {
        Code::PermanentFlags {
            flags: SYSTEM_FLAGS.to_vec(),
            allows_new_keywords: true,
        }
    };
    StatusResponse::untagged(Status::Ok, Some(permanent), "Flags permitted").encode(out);
}

/// Leaves the selected mailbox without expunging (RFC 3691).
pub(super) fn handle_unselect(session: &mut Session) -> Result<Completion, CommandError> {
    session.view_mut()?;
    session.state = State::Authenticated;
    Ok(Completion::done())
}

/// Leaves the selected mailbox, first removing `\Deleted` messages unless it was
/// examined; the client gets no EXPUNGE responses (RFC 9051 §6.4.1).
pub(super) async fn handle_close(session: &mut Session) -> Result<Completion, CommandError> {
    let view = session.view_mut()?;
    let folder = view.folder.clone();
    let is_read_only = view.is_read_only;
    session.state = State::Authenticated;
    if !is_read_only {
        session
            .blocking(move |store| store.expunge(&folder, None))
            .await?;
    }
    Ok(Completion::done())
}

/// Forces a full pass over the folder, which also catches messages rewritten in place.
pub(super) async fn handle_check(session: &mut Session) -> Result<Completion, CommandError> {
    let folder = session.view_mut()?.folder.clone();
    session.blocking(move |store| store.sync(&folder)).await?;
    Ok(Completion::done())
}
