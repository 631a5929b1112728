//! FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9; RFC 3516 BINARY).

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;

use asimapd_mime::Analysis;
use asimapd_proto::response::Code;
use asimapd_proto::{
    FetchAttribute, FetchItems, FetchModifier, Flag, NumberKind, SeqNum, SequenceSet, Uid,
};
use asimapd_store::{FetchedMessage, FlagSet, StoreError, StoreMode};

use crate::error::CommandError;
use crate::fetch::{Content, FileNeeds, LoadedMessage, needs_details, normalize, write_response};
use crate::mapped::{FileBytes, Mapped};
use crate::session::{Completion, Session};

/// Responses are written to the socket once this many bytes are buffered.
const FLUSH_THRESHOLD: usize = 256 * 1024;

/// Messages loaded per blocking task when no requested item reads the content: one index
/// query and one task for all of them. Files are read only where the index lacks a
/// requested ENVELOPE or BODYSTRUCTURE.
const DETAILS_BATCH: usize = 256;

/// Messages loaded per blocking task when an item reads the content. At most two batches
/// are held, so the files read into memory take at most 2 × 64 × 64 KiB = 8 MiB.
const CONTENT_BATCH: usize = 64;

/// Files up to this size are read into memory with their batch. Larger ones are opened and
/// mapped only when their response is written, which keeps each mapping short-lived:
/// reading a mapping of a file that nmh truncated in place raises SIGBUS.
const MAX_BATCHED_FILE: u64 = 64 * 1024;

/// One message of a loaded batch.
enum Batched {
    /// Loaded, with the content when the request reads it.
    Ready(LoadedMessage),
    /// A file over [`MAX_BATCHED_FILE`], loaded when its response is written.
    Large,
    /// Expunged, or its file was replaced or removed.
    Gone,
}

type LoadTask = tokio::task::JoinHandle<Result<Vec<Batched>, CommandError>>;

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
    if let Some(unsupported) = attributes.iter().find_map(unsupported_name) {
        return Err(CommandError::bad(format!(
            "FETCH item {unsupported} is not supported"
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
    let file_needs = FileNeeds::of(&attributes);
    let batch_size = if file_needs.reads_every_file() {
        CONTENT_BATCH
    } else {
        DETAILS_BATCH
    };
    let batches: Vec<&[usize]> = indexes.chunks(batch_size).collect();
    let mut is_expunge_issued = false;

    // Each batch is loaded in one blocking task, and the next batch loads while this one
    // is written, so at most two batches are held at once.
    let mut pending = match batches.first() {
        Some(batch) if needs_details => Some(spawn_load(session, &folder, batch, file_needs)?),
        _ => None,
    };
    for (position, batch) in batches.iter().enumerate() {
        let loaded = match pending.take() {
            Some(task) => Some(task.await??),
            None => None,
        };
        if needs_details && let Some(next) = batches.get(position + 1) {
            pending = Some(spawn_load(session, &folder, next, file_needs)?);
        }
        let mut loaded = loaded.map(Vec::into_iter);
        for &index in batch.iter() {
            let batched = loaded.as_mut().and_then(Iterator::next);
            let message = match batched {
                None => None,
                Some(Batched::Ready(message)) => Some(message),
                Some(Batched::Large) => {
                    let uid = session.view_mut()?.message(index).uid;
                    match load_large(session, &folder, uid, file_needs.needs_analysis()).await {
                        Ok(message) => Some(message),
                        Err(CommandError::Store(StoreError::MessageNotFound { .. })) => {
                            is_expunge_issued = true;
                            continue;
                        }
                        Err(error) => return Err(error),
                    }
                }
                Some(Batched::Gone) => {
                    is_expunge_issued = true;
                    continue;
                }
            };
            write_one(session, index, &seen_changed, &attributes, message.as_ref()).await?;
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

/// Returns the IMAP name of a FETCH item this server does not support.
fn unsupported_name(attribute: &FetchAttribute) -> Option<&'static str> {
    match attribute {
        FetchAttribute::ModSeq => Some("MODSEQ"),
        FetchAttribute::EmailId => Some("EMAILID"),
        FetchAttribute::ThreadId => Some("THREADID"),
        FetchAttribute::SaveDate => Some("SAVEDATE"),
        _ => None,
    }
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

/// Writes the FETCH response of the message at `index` of the view, and flushes the output
/// once enough is buffered.
async fn write_one(
    session: &mut Session,
    index: usize,
    seen_changed: &HashSet<Uid>,
    attributes: &[FetchAttribute],
    message: Option<&LoadedMessage>,
) -> Result<(), CommandError> {
    let view = session.view_mut()?;
    let uid = view.message(index).uid;
    let context = crate::fetch::ResponseContext {
        seq: SeqNum::new(index as u32 + 1).expect("index + 1 is non-zero"),
        uid,
        flags: view.flags(index),
        report_flags: seen_changed.contains(&uid),
        attributes,
    };
    let written = write_response(&session.output, &mut session.out, context, message)
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
    Ok(())
}

/// Starts loading the messages at `indexes` of the view in a blocking task, which returns
/// one entry per index.
fn spawn_load(
    session: &mut Session,
    folder: &str,
    indexes: &[usize],
    file_needs: FileNeeds,
) -> Result<LoadTask, CommandError> {
    let view = session.view_mut()?;
    let uids: Vec<Uid> = indexes
        .iter()
        .map(|&index| view.message(index).uid)
        .collect();
    let folder = folder.to_owned();
    let store = session.store.clone();
    Ok(tokio::task::spawn_blocking(move || {
        let fetched = store.read_messages(
            &folder,
            &uids,
            |details| file_needs.needs_file(details),
            |file| read_small(&file, file_needs.needs_analysis()),
        )?;
        fetched.into_iter().map(into_batched).collect()
    }))
}

/// Reads a file of up to [`MAX_BATCHED_FILE`] bytes, and analyses it when `analyse` is
/// true. Returns `None` for a larger file.
fn read_small(file: &File, analyse: bool) -> SmallContent {
    let io_error = |source| CommandError::Io {
        op: "reading a message file",
        source,
    };
    let len = file.metadata().map_err(io_error)?.len();
    if len > MAX_BATCHED_FILE {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut bytes).map_err(io_error)?;
    let analysis = analyse.then(|| Analysis::parse(&bytes));
    Ok(Some(Content::new(FileBytes::Read(bytes), analysis)))
}

type SmallContent = Result<Option<Content>, CommandError>;

fn into_batched(message: Option<FetchedMessage<SmallContent>>) -> Result<Batched, CommandError> {
    let Some(message) = message else {
        return Ok(Batched::Gone);
    };
    let content = match message.content.transpose()? {
        None => None,
        Some(None) => return Ok(Batched::Large),
        Some(Some(content)) => Some(content),
    };
    Ok(Batched::Ready(LoadedMessage {
        details: message.details,
        content,
    }))
}

/// Opens and maps one large message file in a blocking task, and analyses it when
/// `analyse` is true.
async fn load_large(
    session: &Session,
    folder: &str,
    uid: Uid,
    analyse: bool,
) -> Result<LoadedMessage, CommandError> {
    let folder = folder.to_owned();
    let store = session.store.clone();
    tokio::task::spawn_blocking(move || {
        let opened = store.open_message(&folder, uid)?;
        let mapped = Mapped::map(&opened.file).map_err(|source| CommandError::Io {
            op: "mapping a message file",
            source,
        })?;
        let analysis = analyse.then(|| Analysis::parse(mapped.bytes()));
        Ok(LoadedMessage {
            details: opened.details,
            content: Some(Content::new(FileBytes::Mapped(mapped), analysis)),
        })
    })
    .await?
}
