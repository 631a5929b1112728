//! Response codes (RFC 9051 §7.1, RFC 5530, RFC 4315 UIDPLUS, RFC 7162 CONDSTORE and
//! QRESYNC, RFC 6154 SPECIAL-USE, RFC 4469 and RFC 7888 TOOBIG, RFC 5182 NOTSAVED,
//! RFC 8474 MAILBOXID, RFC 4978 COMPRESSIONACTIVE).

use crate::flag::Flag;
use crate::sequence::SequenceSet;
use crate::types::{Atom, ModSeq, SeqNum, Uid, UidValidity};

/// A response code, written in brackets after the status.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Code {
    Alert,
    BadCharset(Vec<String>),
    Capability(Vec<Atom>),
    Parse,
    /// `PERMANENTFLAGS (...)`; `allows_new_keywords` adds `\*`.
    PermanentFlags {
        flags: Vec<Flag>,
        allows_new_keywords: bool,
    },
    ReadOnly,
    ReadWrite,
    TryCreate,
    UidNext(Uid),
    UidValidity(UidValidity),
    Unseen(SeqNum),
    /// `APPENDUID` (RFC 4315 §3): the new UIDs in the target mailbox.
    AppendUid {
        uid_validity: UidValidity,
        uids: SequenceSet,
    },
    /// `COPYUID` (RFC 4315 §3): source UIDs and their new UIDs, in the same order.
    CopyUid {
        uid_validity: UidValidity,
        source: SequenceSet,
        destination: SequenceSet,
    },
    UidNotSticky,
    HighestModSeq(ModSeq),
    NoModSeq,
    /// `MODIFIED set` (RFC 7162 §3.1.3): messages that failed UNCHANGEDSINCE.
    Modified(SequenceSet),
    Closed,
    Unavailable,
    AuthenticationFailed,
    AuthorizationFailed,
    Expired,
    PrivacyRequired,
    ContactAdmin,
    NoPerm,
    InUse,
    ExpungeIssued,
    Corruption,
    ServerBug,
    ClientBug,
    Cannot,
    Limit,
    OverQuota,
    AlreadyExists,
    NonExistent,
    TooBig,
    UseAttr,
    NotSaved,
    HasChildren,
    CompressionActive,
    MailboxId(String),
    /// Any other code: an atom and optional text.
    Other(Atom, Option<String>),
}

impl Code {
    /// Appends the code without its brackets.
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Some(name) = self.simple_name() {
            out.extend_from_slice(name.as_bytes());
            return;
        }
        let text = match self {
            Code::BadCharset(charsets) if charsets.is_empty() => "BADCHARSET".to_owned(),
            Code::BadCharset(charsets) => format!("BADCHARSET ({})", charsets.join(" ")),
            Code::Capability(names) => format!("CAPABILITY {}", join(names)),
            Code::PermanentFlags {
                flags,
                allows_new_keywords,
            } => {
                let mut items: Vec<String> = flags.iter().map(Flag::to_string).collect();
                if *allows_new_keywords {
                    items.push("\\*".to_owned());
                }
                format!("PERMANENTFLAGS ({})", items.join(" "))
            }
            Code::UidNext(uid) => format!("UIDNEXT {uid}"),
            Code::UidValidity(value) => format!("UIDVALIDITY {value}"),
            Code::Unseen(seq) => format!("UNSEEN {seq}"),
            Code::AppendUid { uid_validity, uids } => format!("APPENDUID {uid_validity} {uids}"),
            Code::CopyUid {
                uid_validity,
                source,
                destination,
            } => format!("COPYUID {uid_validity} {source} {destination}"),
            Code::HighestModSeq(modseq) => format!("HIGHESTMODSEQ {modseq}"),
            Code::Modified(set) => format!("MODIFIED {set}"),
            Code::MailboxId(id) => format!("MAILBOXID ({id})"),
            Code::Other(name, Some(text)) => format!("{name} {}", sanitize_code_text(text)),
            Code::Other(name, None) => name.to_string(),
            _ => String::new(),
        };
        out.extend_from_slice(text.as_bytes());
    }

    fn simple_name(&self) -> Option<&'static str> {
        let name = match self {
            Code::Alert => "ALERT",
            Code::Parse => "PARSE",
            Code::ReadOnly => "READ-ONLY",
            Code::ReadWrite => "READ-WRITE",
            Code::TryCreate => "TRYCREATE",
            Code::UidNotSticky => "UIDNOTSTICKY",
            Code::NoModSeq => "NOMODSEQ",
            Code::Closed => "CLOSED",
            Code::Unavailable => "UNAVAILABLE",
            Code::AuthenticationFailed => "AUTHENTICATIONFAILED",
            Code::AuthorizationFailed => "AUTHORIZATIONFAILED",
            Code::Expired => "EXPIRED",
            Code::PrivacyRequired => "PRIVACYREQUIRED",
            Code::ContactAdmin => "CONTACTADMIN",
            Code::NoPerm => "NOPERM",
            Code::InUse => "INUSE",
            Code::ExpungeIssued => "EXPUNGEISSUED",
            Code::Corruption => "CORRUPTION",
            Code::ServerBug => "SERVERBUG",
            Code::ClientBug => "CLIENTBUG",
            Code::Cannot => "CANNOT",
            Code::Limit => "LIMIT",
            Code::OverQuota => "OVERQUOTA",
            Code::AlreadyExists => "ALREADYEXISTS",
            Code::NonExistent => "NONEXISTENT",
            Code::TooBig => "TOOBIG",
            Code::UseAttr => "USEATTR",
            Code::NotSaved => "NOTSAVED",
            Code::HasChildren => "HASCHILDREN",
            Code::CompressionActive => "COMPRESSIONACTIVE",
            _ => return None,
        };
        Some(name)
    }
}

fn join(atoms: &[Atom]) -> String {
    atoms.iter().map(Atom::as_str).collect::<Vec<_>>().join(" ")
}

/// Code text may not contain `]`, CR or LF (RFC 9051 `resp-text-code`).
fn sanitize_code_text(text: &str) -> String {
    text.chars()
        .map(|ch| {
            if matches!(ch, ']' | '\r' | '\n' | '\0') {
                ' '
            } else {
                ch
            }
        })
        .collect()
}
