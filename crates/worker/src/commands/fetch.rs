//! FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9; RFC 3516 BINARY).

use std::collections::HashSet;

use asimapd_mime::Analysis;
use asimapd_proto::response::Code;
use asimapd_proto::{
    FetchAttribute, FetchItems, FetchModifier, Flag, NumberKind, SeqNum, SequenceSet, Uid,
};
use asimapd_store::{FlagSet, StoreError, StoreMode};

use crate::error::CommandError;
use crate::fetch::{LoadedMessage, needs_details, needs_file, normalize, write_response};
use crate::mapped::Mapped;
use crate::session::{Completion, Session};

/// Responses are written to the socket once this many bytes are buffered.
const FLUSH_THRESHOLD: usize = 256 * 1024;

pub(super) async fn handle_fetch(
    session: &mut Session,
    numbers: NumberKind,
    set: SequenceSet,
    items: FetchItems,
    modifiers: Vec<FetchModifier>,
) -> Result<Completion, CommandError> {
    if !modifiers.is_empty() {
        return Err(CommandError::bad(
            "FETCH modifiers (CONDSTORE, QRESYNC) are not supported",
        ));
    }
    let is_uid = numbers == NumberKind::Uid;
    let attributes = normalize(items, is_uid);
    if let Some(unsupported) = attributes.iter().find(|a| is_unsupported(a)) {
        return Err(CommandError::bad(format!(
            "FETCH item {unsupported:?} is not supported"
        )));
    }
    let view = session.view_mut()?;
    let indexes = if is_uid {
        view.resolve_uid_set(&set)
    } else {
        view.resolve_sequence_set(&set)?
    };
    let folder = view.folder.clone();
    let seen_changed = mark_seen(session, &folder, &indexes, &attributes).await?;

    let needs_details = needs_details(&attributes);
    let needs_file = needs_file(&attributes);
    let mut is_expunge_issued = false;
    for index in indexes {
        let view = session.view_mut()?;
        let uid = view.message(index).uid;
        let flags = view.flags(index);
        let seq = SeqNum::new(index as u32 + 1).expect("index + 1 is non-zero");
        let loaded = if needs_details {
            match load(session, &folder, uid, needs_file).await {
                Ok(loaded) => Some(loaded),
                Err(CommandError::Store(StoreError::MessageNotFound { .. })) => {
                    is_expunge_issued = true;
                    continue;
                }
                Err(error) => return Err(error),
            }
        } else {
            None
        };
        let context = crate::fetch::ResponseContext {
            seq,
            uid,
            flags,
            report_flags: seen_changed.contains(&uid),
            attributes: &attributes,
        };
        let written = write_response(&session.output, &mut session.out, context, loaded.as_ref())
            .await
            .map_err(|source| CommandError::Io {
                op: "writing a FETCH response",
                source,
            })?;
        written?;
        if session.out.len() >= FLUSH_THRESHOLD {
            session.flush().await.map_err(|source| CommandError::Io {
                op: "writing a FETCH response",
                source,
            })?;
        }
    }
    Ok(if is_expunge_issued {
        Completion {
            code: Some(Code::ExpungeIssued),
            text: Some("FETCH command completed; some messages were expunged meanwhile".to_owned()),
        }
    } else {
        Completion::done()
    })
}

fn is_unsupported(attribute: &FetchAttribute) -> bool {
    matches!(
        attribute,
        FetchAttribute::ModSeq
            | FetchAttribute::EmailId
            | FetchAttribute::ThreadId
            | FetchAttribute::SaveDate
    )
}

/// Sets `\Seen` on the messages a non-peek body fetch reads (RFC 9051 §6.4.5), unless the
/// mailbox is read-only. Returns the UIDs whose flags changed.
async fn mark_seen(
    session: &mut Session,
    folder: &str,
    indexes: &[usize],
    attributes: &[FetchAttribute],
) -> Result<HashSet<Uid>, CommandError> {
    let view = session.view_mut()?;
    if view.is_read_only || !attributes.iter().any(sets_seen) {
        return Ok(HashSet::new());
    }
    let uids: Vec<Uid> = indexes
        .iter()
        .map(|&index| view.message(index))
        .filter(|m| !m.flags.has(asimapd_store::SystemFlag::Seen))
        .map(|m| m.uid)
        .collect();
    if uids.is_empty() {
        return Ok(HashSet::new());
    }
    let mut seen = FlagSet::new();
    seen.insert(&Flag::Seen);
    let folder = folder.to_owned();
    let outcome = session
        .blocking(move |store| store.store_flags(&folder, &uids, StoreMode::Add, &seen, None))
        .await?;
    let view = session.view_mut()?;
    view.apply_own_flags(&outcome.changed);
    Ok(outcome.changed.iter().map(|m| m.uid).collect())
}

fn sets_seen(attribute: &FetchAttribute) -> bool {
    match attribute {
        FetchAttribute::Rfc822 | FetchAttribute::Rfc822Text => true,
        FetchAttribute::BodySection { peek, .. } | FetchAttribute::Binary { peek, .. } => !peek,
        _ => false,
    }
}

async fn load(
    session: &Session,
    folder: &str,
    uid: Uid,
    needs_file: bool,
) -> Result<LoadedMessage, CommandError> {
    let folder = folder.to_owned();
    let store = session.store.clone();
    tokio::task::spawn_blocking(move || {
        // TODO(perf): FLAGS INTERNALDATE RFC822.SIZE only need the index row, but the store
        // offers the cached details only together with the opened file.
        let opened = store.open_message(&folder, uid)?;
        let content = if needs_file {
            let mapped = Mapped::map(&opened.file).map_err(|source| CommandError::Io {
                op: "mapping a message file",
                source,
            })?;
            let analysis = Analysis::parse(mapped.bytes());
            Some((mapped, analysis))
        } else {
            None
        };
        Ok(LoadedMessage {
            details: opened.details,
            content,
        })
    })
    .await?
}
