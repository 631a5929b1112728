//! STORE and UID STORE (RFC 9051 §6.4.6, §6.4.9).

use asimapd_proto::response::{Code, FetchValue, encode_fetch};
use asimapd_proto::{NumberKind, SeqNum, StoreArguments};
use asimapd_store::StoreMode;

use crate::error::CommandError;
use crate::session::{Completion, Session};

pub(super) async fn handle_store(
    session: &mut Session,
    numbers: NumberKind,
    arguments: StoreArguments,
) -> Result<Completion, CommandError> {
    if arguments.unchanged_since.is_some() {
        return Err(CommandError::bad(
            "UNCHANGEDSINCE (CONDSTORE) is not supported",
        ));
    }
    let flags = crate::commands::append::client_flags(&arguments.flags)?;
    let is_uid = numbers == NumberKind::Uid;
    let view = session.view_mut()?;
    if view.is_read_only {
        return Err(CommandError::no(None, "Mailbox is read-only (EXAMINE)"));
    }
    let indexes = if is_uid {
        view.resolve_uid_set(&arguments.set)
    } else {
        view.resolve_sequence_set(&arguments.set)?
    };
    let uids: Vec<_> = indexes
        .iter()
        .map(|&index| view.message(index).uid)
        .collect();
    let folder = view.folder.clone();
    let mode = match arguments.mode {
        asimapd_proto::StoreMode::Replace => StoreMode::Replace,
        asimapd_proto::StoreMode::Add => StoreMode::Add,
        asimapd_proto::StoreMode::Remove => StoreMode::Remove,
    };
    let outcome = session
        .blocking(move |store| store.store_flags(&folder, &uids, mode, &flags, None))
        .await?;
    let view = session.view_mut()?;
    view.apply_own_flags(&outcome.changed);
    // RFC 9051 §7.1: messages that another session expunged keep their sequence numbers
    // until the EXPUNGE responses are sent, and the STORE could not change them.
    let completion = match indexes
        .iter()
        .any(|&index| view.is_expunge_pending(view.message(index).uid))
    {
        true => Completion {
            code: Some(Code::ExpungeIssued),
            text: Some("STORE command completed; some messages were expunged meanwhile".to_owned()),
        },
        false => Completion::done(),
    };
    if arguments.is_silent {
        return Ok(completion);
    }
    let mut out = Vec::new();
    for index in indexes {
        let uid = view.message(index).uid;
        if view.is_expunge_pending(uid) {
            continue;
        }
        let seq = SeqNum::new(index as u32 + 1).expect("index + 1 is non-zero");
        let mut values = vec![FetchValue::Flags(view.flags(index))];
        if is_uid {
            values.push(FetchValue::Uid(uid));
        }
        encode_fetch(&mut out, seq, &values);
    }
    session.out.extend_from_slice(&out);
    Ok(completion)
}
