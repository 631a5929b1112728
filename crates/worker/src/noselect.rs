//! Mailboxes kept as `\Noselect` names (RFC 9051 §6.3.4): DELETE of a mailbox that has
//! sub-mailboxes removes its messages but keeps the folder directory, because the
//! sub-folders live inside it. An empty marker file in the folder records the state, so
//! it survives worker restarts, moves with the folder on RENAME, and goes away with the
//! folder on a later DELETE. nmh ignores file names that are not message numbers.
// NOTE: messages that nmh (`inc`, `refile`) puts into a `\Noselect` folder stay there,
// unreachable over IMAP until a CREATE of the same name makes the mailbox selectable again.

use std::path::Path;

use asimapd_proto::response::Code;
use asimapd_store::Store;

use crate::error::CommandError;

/// The marker file's name inside a `\Noselect` folder.
pub(crate) const MARKER: &str = ".asimapd-noselect";

/// Returns true when `folder` is a `\Noselect` name.
pub(crate) fn is_noselect(root: &Path, folder: &str) -> bool {
    root.join(folder).join(MARKER).is_file()
}

/// Turns `folder` into a `\Noselect` name.
pub(crate) fn mark(root: &Path, folder: &str) -> Result<(), CommandError> {
    std::fs::write(root.join(folder).join(MARKER), b"").map_err(|source| CommandError::Io {
        op: "writing the \\Noselect marker",
        source,
    })
}

/// Makes `folder` selectable again. Returns false when it was not `\Noselect`.
pub(crate) fn clear(root: &Path, folder: &str) -> Result<bool, CommandError> {
    match std::fs::remove_file(root.join(folder).join(MARKER)) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(CommandError::Io {
            op: "removing the \\Noselect marker",
            source,
        }),
    }
}

/// Fails with `NO [NONEXISTENT]` when `folder` is `\Noselect`: SELECT, EXAMINE and STATUS
/// need a mailbox that can hold messages.
pub(crate) fn check_selectable(store: &Store, folder: &str) -> Result<(), CommandError> {
    if is_noselect(store.root().path(), folder) {
        return Err(CommandError::no(
            Some(Code::NonExistent),
            "Mailbox is \\Noselect: it exists only as a parent of other mailboxes",
        ));
    }
    Ok(())
}

/// Fails with `NO [TRYCREATE]` when `folder` is `\Noselect`: APPEND, COPY and MOVE cannot
/// put messages there, and a CREATE of the name makes it a mailbox again (RFC 9051
/// §6.3.12).
pub(crate) fn check_target(store: &Store, folder: &str) -> Result<(), CommandError> {
    if is_noselect(store.root().path(), folder) {
        return Err(CommandError::no(
            Some(Code::TryCreate),
            "Target mailbox is \\Noselect; CREATE it first",
        ));
    }
    Ok(())
}
