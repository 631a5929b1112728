//! The session's side of a mailbox: message views, statuses and change events.

use asimapd_proto::{ModSeq, Uid, UidValidity};

use crate::flags::FlagSet;
use crate::index::MessageRow;

/// How many events a slow session may fall behind before it misses some: a lagging receiver
/// gets `RecvError::Lagged` and must select the mailbox again.
pub const EVENT_CAPACITY: usize = 1024;

/// A message as sessions show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageView {
    /// UID.
    pub uid: Uid,
    /// Flags (without `\Recent`, which is per session).
    pub flags: FlagSet,
    /// MODSEQ of the last change.
    pub modseq: ModSeq,
}

impl MessageView {
    pub(crate) fn from_row(row: &MessageRow) -> Self {
        MessageView {
            uid: row.uid,
            flags: row.flags.clone(),
            modseq: ModSeq::new(row.modseq.max(1)).unwrap_or(ModSeq::new(1).expect("1 is valid")),
        }
    }
}

/// A change to a mailbox, sent to every session that selected it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MailboxEvent {
    /// Messages were added, in UID order.
    Added(Vec<MessageView>),
    /// Messages were expunged.
    Expunged {
        /// The UIDs, ascending.
        uids: Vec<Uid>,
        /// The MODSEQ of the expunge.
        modseq: ModSeq,
    },
    /// Flags changed.
    FlagsChanged(Vec<MessageView>),
    /// The mailbox got a new UIDVALIDITY (its folder was replaced or its index lost): every
    /// UID a session has is void, so sessions must close the mailbox.
    UidValidityChanged(UidValidity),
    /// The folder was deleted or renamed away.
    Deleted,
}

/// The counters of a mailbox (STATUS, RFC 9051 §6.3.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxStatus {
    /// Number of messages.
    pub messages: u32,
    /// Messages no session has seen as `\Recent` yet.
    pub recent: u32,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// UIDNEXT.
    pub uid_next: u32,
    /// UIDVALIDITY.
    pub uid_validity: UidValidity,
    /// HIGHESTMODSEQ.
    pub highest_modseq: ModSeq,
    /// Sum of RFC822.SIZE of all messages (STATUS=SIZE, RFC 8438).
    pub size: u64,
}

/// A mailbox in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailboxInfo {
    /// The mailbox name (MH folder name, `/` separated).
    pub name: String,
    /// True when the folder exists on disk; a subscribed name may have none.
    pub exists: bool,
    /// True when the user subscribed to it.
    pub subscribed: bool,
    /// Its special-use attribute.
    pub special_use: Option<String>,
    /// True when it has sub-folders.
    pub has_children: bool,
}
