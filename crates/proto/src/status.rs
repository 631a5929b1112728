//! STATUS data items (RFC 9051 §6.3.11, RFC 7162 HIGHESTMODSEQ, RFC 7889 APPENDLIMIT,
//! RFC 8438 STATUS=SIZE, RFC 8474 MAILBOXID).

use std::fmt;

use crate::cursor::Cursor;
use crate::error::ErrorKind;

/// A STATUS data item name (`status-att`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    HighestModSeq,
    AppendLimit,
    MailboxId,
}

const NAMES: [(&str, StatusItem); 10] = [
    ("MESSAGES", StatusItem::Messages),
    ("RECENT", StatusItem::Recent),
    ("UIDNEXT", StatusItem::UidNext),
    ("UIDVALIDITY", StatusItem::UidValidity),
    ("UNSEEN", StatusItem::Unseen),
    ("DELETED", StatusItem::Deleted),
    ("SIZE", StatusItem::Size),
    ("HIGHESTMODSEQ", StatusItem::HighestModSeq),
    ("APPENDLIMIT", StatusItem::AppendLimit),
    ("MAILBOXID", StatusItem::MailboxId),
];

impl StatusItem {
    /// Returns the item's name on the wire.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, item)| *item == self)
            .map_or("", |(name, _)| name)
    }
}

impl fmt::Display for StatusItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses one `status-att`.
pub(crate) fn parse_status_att(c: &mut Cursor<'_>) -> Result<StatusItem, ErrorKind> {
    for (name, item) in NAMES {
        if c.eat_keyword(name) {
            return Ok(item);
        }
    }
    Err(c.expected("status item"))
}

/// Parses `"(" status-att *(SP status-att) ")"`.
pub(crate) fn parse_status_att_list(c: &mut Cursor<'_>) -> Result<Vec<StatusItem>, ErrorKind> {
    c.paren_list(false, parse_status_att)
}
