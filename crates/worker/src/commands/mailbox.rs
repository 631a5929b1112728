//! CREATE, DELETE, RENAME, SUBSCRIBE and UNSUBSCRIBE (RFC 9051 §6.3.4 to §6.3.8; RFC 6154
//! §5 for special use on CREATE).

use asimapd_proto::MailboxName;
use asimapd_proto::response::Code;
use asimapd_store::{FlagSet, StoreError};

use crate::error::CommandError;
use crate::mailboxes::{INBOX_FOLDER, folder_name};
use crate::session::{Completion, Session};

/// Special-use attributes a CREATE may set. `\All` and `\Flagged` name virtual mailboxes,
/// which MH folders cannot be (RFC 6154 §2).
const CREATABLE_SPECIAL_USE: &[&str] = &["\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash"];

/// Creates a mailbox and any missing parent levels.
pub(super) async fn handle_create(
    session: &mut Session,
    name: MailboxName,
    special_use: Vec<String>,
) -> Result<Completion, CommandError> {
    let folder = folder_name(&name)?;
    if folder == INBOX_FOLDER {
        return Err(CommandError::no(
            Some(Code::AlreadyExists),
            "INBOX always exists",
        ));
    }
    let special_use = match special_use.as_slice() {
        [] => None,
        [one] => Some(canonical_special_use(one)?),
        _ => {
            return Err(CommandError::no(
                Some(Code::UseAttr),
                "A mailbox takes at most one special-use attribute",
            ));
        }
    };
    let root = session.store.root().path().to_owned();
    if crate::noselect::clear(&root, &folder)? {
        // A `\Noselect` name left by DELETE becomes a mailbox again, as in the Python asimap.
        if let Some(special_use) = special_use {
            session
                .blocking(move |store| store.set_special_use(&folder, Some(special_use)))
                .await?;
        }
        return Ok(Completion::done());
    }
    session
        .blocking(move |store| store.create_mailbox(&folder, special_use))
        .await?;
    Ok(Completion::done())
}

fn canonical_special_use(given: &str) -> Result<&'static str, CommandError> {
    CREATABLE_SPECIAL_USE
        .iter()
        .find(|known| known.eq_ignore_ascii_case(given))
        .copied()
        .ok_or_else(|| {
            CommandError::no(
                Some(Code::UseAttr),
                format!("Special-use attribute {given} cannot be set on a mailbox"),
            )
        })
}

/// Deletes a mailbox. INBOX cannot be deleted. A mailbox with sub-mailboxes loses its
/// messages and stays as a `\Noselect` name, and deleting such a name while it still has
/// sub-mailboxes is an error (RFC 9051 §6.3.4).
pub(super) async fn handle_delete(
    session: &mut Session,
    name: MailboxName,
) -> Result<Completion, CommandError> {
    let folder = folder_name(&name)?;
    if folder == INBOX_FOLDER {
        return Err(CommandError::no(
            Some(Code::Cannot),
            "INBOX cannot be deleted",
        ));
    }
    let has_children = session
        .blocking({
            let folder = folder.clone();
            move |store| {
                let prefix = format!("{folder}/");
                let infos = store.list_mailboxes()?;
                if !infos.iter().any(|info| info.exists && info.name == folder) {
                    return Err(StoreError::MailboxNotFound { name: folder });
                }
                Ok(infos
                    .iter()
                    .any(|info| info.exists && info.name.starts_with(&prefix)))
            }
        })
        .await?;
    let root = session.store.root().path().to_owned();
    let is_noselect = crate::noselect::is_noselect(&root, &folder);
    match (has_children, is_noselect) {
        (true, true) => Err(CommandError::no(
            Some(Code::HasChildren),
            "Mailbox is already \\Noselect and has sub-mailboxes; delete those first",
        )),
        (true, false) => {
            let emptied = folder.clone();
            session
                .blocking(move |store| empty_mailbox(store, &emptied))
                .await?;
            crate::noselect::mark(&root, &folder)?;
            Ok(Completion::done())
        }
        (false, _) => {
            session
                .blocking(move |store| store.delete_mailbox(&folder))
                .await?;
            Ok(Completion::done())
        }
    }
}

fn empty_mailbox(store: &asimapd_store::Store, folder: &str) -> Result<(), StoreError> {
    let selected = store.examine(folder)?;
    let uids: Vec<_> = selected.messages.iter().map(|m| m.uid).collect();
    let mut deleted = FlagSet::new();
    deleted.insert(&asimapd_proto::Flag::Deleted);
    store.store_flags(folder, &uids, asimapd_store::StoreMode::Add, &deleted, None)?;
    store.expunge(folder, Some(&uids))?;
    Ok(())
}

/// Renames a mailbox with its sub-mailboxes. Renaming INBOX moves its messages into the
/// new mailbox and leaves INBOX empty, with its sub-mailboxes in place (RFC 9051 §6.3.6).
pub(super) async fn handle_rename(
    session: &mut Session,
    from: MailboxName,
    to: MailboxName,
) -> Result<Completion, CommandError> {
    let source = folder_name(&from)?;
    let target = folder_name(&to)?;
    if target == INBOX_FOLDER {
        return Err(CommandError::no(
            Some(Code::AlreadyExists),
            "INBOX always exists",
        ));
    }
    if target == source {
        return Err(CommandError::no(
            Some(Code::AlreadyExists),
            "Target mailbox already exists: it is the source mailbox",
        ));
    }
    if source == INBOX_FOLDER {
        session
            .blocking(move |store| {
                store.create_mailbox(&target, None)?;
                let selected = store.examine(INBOX_FOLDER)?;
                let uids: Vec<_> = selected.messages.iter().map(|m| m.uid).collect();
                if !uids.is_empty() {
                    store.move_messages(INBOX_FOLDER, &target, &uids)?;
                }
                Ok(())
            })
            .await?;
        return Ok(Completion::done());
    }
    session
        .blocking(move |store| store.rename_mailbox(&source, &target))
        .await?;
    Ok(Completion::done())
}

/// Adds or removes a name from the subscriptions; the mailbox need not exist (RFC 9051
/// §6.3.7).
pub(super) async fn handle_subscribe(
    session: &mut Session,
    name: MailboxName,
    subscribe: bool,
) -> Result<Completion, CommandError> {
    let folder = folder_name(&name)?;
    session
        .blocking(move |store| store.set_subscribed(&folder, subscribe))
        .await?;
    Ok(Completion::done())
}
