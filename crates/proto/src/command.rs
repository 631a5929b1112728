//! Commands as the parser returns them (RFC 9051 §6 and the extensions listed in the crate
//! documentation).

use crate::append::AppendMessage;
use crate::fetch::{FetchItems, FetchModifier};
use crate::flag::Flag;
use crate::list::ListArguments;
use crate::mailbox::{ListPattern, MailboxName};
use crate::notify::Notify;
use crate::search::SearchProgram;
use crate::select::{IdParams, SelectParam};
use crate::sequence::SequenceSet;
use crate::sort::{SortArguments, ThreadArguments};
use crate::status::StatusItem;
use crate::types::{Atom, Secret, Tag};

/// A complete command: its tag and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: Tag,
    pub body: CommandBody,
}

/// Whether a command addresses messages by UID (`UID FETCH`) or by sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberKind {
    SequenceNumber,
    Uid,
}

/// The change STORE makes to the flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// The arguments of STORE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreArguments {
    pub set: SequenceSet,
    /// `UNCHANGEDSINCE` (RFC 7162 §3.1.3); zero is allowed.
    pub unchanged_since: Option<u64>,
    pub mode: StoreMode,
    /// `.SILENT`: no untagged FETCH for the changed flags.
    pub is_silent: bool,
    pub flags: Vec<Flag>,
}

/// The request of a command, one variant per command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandBody {
    // Any state (RFC 9051 §6.1, RFC 2971).
    Capability,
    Noop,
    Logout,
    Id(IdParams),

    // Not authenticated (RFC 9051 §6.2, RFC 4959 SASL-IR).
    StartTls,
    Authenticate {
        mechanism: Atom,
        /// The decoded SASL initial response; `Some` of an empty secret for `=`.
        initial_response: Option<Secret>,
    },
    Login {
        username: String,
        password: Secret,
    },

    // Authenticated (RFC 9051 §6.3 and extensions).
    Enable(Vec<Atom>),
    Select {
        mailbox: MailboxName,
        params: Vec<SelectParam>,
    },
    Examine {
        mailbox: MailboxName,
        params: Vec<SelectParam>,
    },
    Create {
        mailbox: MailboxName,
        /// Special-use attributes of `USE (...)` (RFC 6154 §5), with their backslash.
        special_use: Vec<String>,
    },
    Delete(MailboxName),
    Rename {
        from: MailboxName,
        to: MailboxName,
    },
    Subscribe(MailboxName),
    Unsubscribe(MailboxName),
    List(ListArguments),
    Lsub {
        reference: ListPattern,
        pattern: ListPattern,
    },
    Namespace,
    Status {
        mailbox: MailboxName,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: MailboxName,
        messages: Vec<AppendMessage>,
    },
    Idle,
    /// `GETQUOTA quota-root` (RFC 9208).
    GetQuota(String),
    /// `GETQUOTAROOT mailbox` (RFC 9208).
    GetQuotaRoot(MailboxName),
    Notify(Notify),
    /// `COMPRESS algorithm` (RFC 4978).
    Compress(Atom),
    /// `UNAUTHENTICATE` (RFC 8437).
    Unauthenticate,

    // Selected (RFC 9051 §6.4 and extensions).
    Check,
    Close,
    Unselect,
    Expunge,
    /// `UID EXPUNGE set` (RFC 4315).
    UidExpunge(SequenceSet),
    Search {
        numbers: NumberKind,
        program: SearchProgram,
    },
    Fetch {
        numbers: NumberKind,
        set: SequenceSet,
        items: FetchItems,
        modifiers: Vec<FetchModifier>,
    },
    Store {
        numbers: NumberKind,
        arguments: StoreArguments,
    },
    Copy {
        numbers: NumberKind,
        set: SequenceSet,
        mailbox: MailboxName,
    },
    /// MOVE (RFC 6851).
    Move {
        numbers: NumberKind,
        set: SequenceSet,
        mailbox: MailboxName,
    },
    /// SORT (RFC 5256).
    Sort {
        numbers: NumberKind,
        arguments: SortArguments,
    },
    /// THREAD (RFC 5256).
    Thread {
        numbers: NumberKind,
        arguments: ThreadArguments,
    },
}

impl CommandBody {
    /// Returns the command name as a client writes it, in upper case (`UID FETCH`).
    pub fn name(&self) -> &'static str {
        use CommandBody as C;
        let is_uid = |numbers: &NumberKind| *numbers == NumberKind::Uid;
        match self {
            C::Capability => "CAPABILITY",
            C::Noop => "NOOP",
            C::Logout => "LOGOUT",
            C::Id(_) => "ID",
            C::StartTls => "STARTTLS",
            C::Authenticate { .. } => "AUTHENTICATE",
            C::Login { .. } => "LOGIN",
            C::Enable(_) => "ENABLE",
            C::Select { .. } => "SELECT",
            C::Examine { .. } => "EXAMINE",
            C::Create { .. } => "CREATE",
            C::Delete(_) => "DELETE",
            C::Rename { .. } => "RENAME",
            C::Subscribe(_) => "SUBSCRIBE",
            C::Unsubscribe(_) => "UNSUBSCRIBE",
            C::List(_) => "LIST",
            C::Lsub { .. } => "LSUB",
            C::Namespace => "NAMESPACE",
            C::Status { .. } => "STATUS",
            C::Append { .. } => "APPEND",
            C::Idle => "IDLE",
            C::GetQuota(_) => "GETQUOTA",
            C::GetQuotaRoot(_) => "GETQUOTAROOT",
            C::Notify(_) => "NOTIFY",
            C::Compress(_) => "COMPRESS",
            C::Unauthenticate => "UNAUTHENTICATE",
            C::Check => "CHECK",
            C::Close => "CLOSE",
            C::Unselect => "UNSELECT",
            C::Expunge => "EXPUNGE",
            C::UidExpunge(_) => "UID EXPUNGE",
            C::Search { numbers, .. } if is_uid(numbers) => "UID SEARCH",
            C::Search { .. } => "SEARCH",
            C::Fetch { numbers, .. } if is_uid(numbers) => "UID FETCH",
            C::Fetch { .. } => "FETCH",
            C::Store { numbers, .. } if is_uid(numbers) => "UID STORE",
            C::Store { .. } => "STORE",
            C::Copy { numbers, .. } if is_uid(numbers) => "UID COPY",
            C::Copy { .. } => "COPY",
            C::Move { numbers, .. } if is_uid(numbers) => "UID MOVE",
            C::Move { .. } => "MOVE",
            C::Sort { numbers, .. } if is_uid(numbers) => "UID SORT",
            C::Sort { .. } => "SORT",
            C::Thread { numbers, .. } if is_uid(numbers) => "UID THREAD",
            C::Thread { .. } => "THREAD",
        }
    }
}
