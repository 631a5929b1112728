//! Mailbox names: IMAP names (decoded from modified UTF-7 by the parser) to MH folder
//! names (UTF-8 on disk) and back (RFC 9051 §5.1).

use asimapd_proto::MailboxName;
use asimapd_proto::response::Code;

use crate::error::CommandError;

/// The MH folder of INBOX.
// NOTE: an MH profile's `Inbox:` entry may name another folder; `inc` then delivers there
// and INBOX stays this folder.
pub(crate) const INBOX_FOLDER: &str = "inbox";

/// The hierarchy delimiter.
pub(crate) const DELIMITER: char = '/';

/// Maps an IMAP mailbox name to its folder name. INBOX, in any case, is the folder
/// `inbox`, and so is the first level of its children (`INBOX/x` is `inbox/x`). One
/// trailing delimiter is dropped (RFC 9051 §6.3.4). Names that would escape the mail root,
/// contain all-digit levels (nmh reads those as message numbers) or start a level with `.`
/// are rejected with `NO [CANNOT]`.
pub(crate) fn folder_name(name: &MailboxName) -> Result<String, CommandError> {
    let text = name.as_str();
    let text = text.strip_suffix(DELIMITER).unwrap_or(text);
    let folder = match text.split_once(DELIMITER) {
        _ if text.eq_ignore_ascii_case("INBOX") => INBOX_FOLDER.to_owned(),
        Some((first, rest)) if first.eq_ignore_ascii_case("INBOX") => {
            format!("{INBOX_FOLDER}{DELIMITER}{rest}")
        }
        _ => text.to_owned(),
    };
    match asimapd_mh::FolderName::new(&folder) {
        Ok(_) => Ok(folder),
        Err(asimapd_mh::MhError::InvalidFolderName { reason, .. }) => Err(CommandError::no(
            Some(Code::Cannot),
            format!("Invalid mailbox name \"{}\": {reason}", name.as_str()),
        )),
        Err(error) => Err(CommandError::no(
            Some(Code::Cannot),
            format!("Invalid mailbox name \"{}\": {error}", name.as_str()),
        )),
    }
}

/// Maps a folder name to the IMAP name sent to the client: `inbox` and its children are
/// shown under `INBOX`.
pub(crate) fn mailbox_name(folder: &str) -> MailboxName {
    if folder == INBOX_FOLDER {
        return MailboxName::inbox();
    }
    match folder.strip_prefix(INBOX_FOLDER) {
        Some(rest) if rest.starts_with(DELIMITER) => MailboxName::new(format!("INBOX{rest}")),
        _ => MailboxName::new(folder),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> Result<String, CommandError> {
        folder_name(&MailboxName::new(name))
    }

    #[test]
    fn inbox_any_case_is_inbox_folder() {
        assert_eq!(folder("InBoX").unwrap(), "inbox");
        assert_eq!(folder("INBOX/Sub").unwrap(), "inbox/Sub");
        assert_eq!(folder("inbox/Sub").unwrap(), "inbox/Sub");
    }

    #[test]
    fn inbox_prefix_without_delimiter_is_own_folder() {
        assert_eq!(folder("InboxArchive").unwrap(), "InboxArchive");
    }

    #[test]
    fn trailing_delimiter_is_dropped() {
        assert_eq!(folder("lists/").unwrap(), "lists");
    }

    #[test]
    fn escaping_names_are_rejected() {
        for name in [
            "../x", "/etc", "a/../b", "a//b", "123", "a/42", ".hidden", "",
        ] {
            assert!(folder(name).is_err(), "{name:?} was accepted");
        }
    }

    #[test]
    fn folder_names_map_back_to_inbox() {
        assert_eq!(mailbox_name("inbox").as_str(), "INBOX");
        assert_eq!(mailbox_name("inbox/x").as_str(), "INBOX/x");
        assert_eq!(mailbox_name("inboxes").as_str(), "inboxes");
        assert_eq!(mailbox_name("Entwürfe").to_wire(false), "Entw&APw-rfe");
    }
}
