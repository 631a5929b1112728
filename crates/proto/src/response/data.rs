//! Untagged data responses (RFC 9051 §7.2 to §7.5 and the extensions' responses).

use super::write_mailbox;
use crate::flag::Flag;
use crate::mailbox::MailboxName;
use crate::select::IdParams;
use crate::sequence::SequenceSet;
use crate::status::StatusItem;
use crate::string::{write_astring, write_nstring, write_quoted, write_string};
use crate::types::{Atom, ModSeq, SeqNum, Tag};

/// An untagged data response other than FETCH (see [`FetchWriter`](super::FetchWriter)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Data {
    Capability(Vec<Atom>),
    /// `ENABLED` (RFC 5161).
    Enabled(Vec<Atom>),
    List(MailboxListing),
    Lsub(MailboxListing),
    Status {
        mailbox: MailboxName,
        values: Vec<StatusValue>,
    },
    /// `SEARCH`: UIDs after UID SEARCH, else sequence numbers; `modseq` per RFC 7162 §3.1.5.
    Search {
        numbers: Vec<u32>,
        modseq: Option<ModSeq>,
    },
    /// `ESEARCH` (RFC 4731): `all` contains UIDs when `is_uid`, else sequence numbers.
    ESearch {
        tag: Option<Tag>,
        is_uid: bool,
        min: Option<u32>,
        max: Option<u32>,
        all: Option<SequenceSet>,
        count: Option<u32>,
        modseq: Option<ModSeq>,
    },
    /// `SORT` (RFC 5256): numbers in sorted order.
    Sort {
        numbers: Vec<u32>,
        modseq: Option<ModSeq>,
    },
    Flags(Vec<Flag>),
    Exists(u32),
    Recent(u32),
    Expunge(SeqNum),
    /// `VANISHED [(EARLIER)] uids` (RFC 7162 §3.2.10).
    Vanished {
        is_earlier: bool,
        uids: SequenceSet,
    },
    /// `ID` (RFC 2971).
    Id(IdParams),
    /// `NAMESPACE` (RFC 2342): personal, other users' and shared namespaces.
    Namespace {
        personal: Vec<NamespaceEntry>,
        other_users: Vec<NamespaceEntry>,
        shared: Vec<NamespaceEntry>,
    },
    /// `THREAD` (RFC 5256): one tree per thread.
    Thread(Vec<ThreadNode>),
    /// `QUOTA root (resource usage limit ...)` (RFC 9208).
    Quota {
        root: String,
        resources: Vec<(Atom, u64, u64)>,
    },
    /// `QUOTAROOT mailbox root ...` (RFC 9208).
    QuotaRoot {
        mailbox: MailboxName,
        roots: Vec<String>,
    },
}

/// The data of a LIST or LSUB response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxListing {
    /// Attributes with their backslash, such as `\HasNoChildren` or `\Drafts`.
    pub attributes: Vec<String>,
    /// Hierarchy delimiter; `None` for a flat namespace.
    pub delimiter: Option<char>,
    pub name: MailboxName,
    /// Extended data of LIST-EXTENDED (RFC 5258 §9).
    pub extended: Vec<ListItem>,
}

/// One `mbox-list-extended-item`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListItem {
    /// `CHILDINFO ("SUBSCRIBED")` (RFC 5258 §4).
    ChildInfo(Vec<String>),
    /// `OLDNAME (name)` (RFC 9051 §6.3.6).
    OldName(MailboxName),
}

/// A message in a THREAD response and its replies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadNode {
    /// UID or sequence number; `None` for a missing parent that groups its replies.
    pub number: Option<u32>,
    pub children: Vec<ThreadNode>,
}

/// A STATUS data item with its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusValue {
    /// A numeric item; every item but MAILBOXID.
    Number(StatusItem, u64),
    /// `APPENDLIMIT NIL`: no limit for this mailbox (RFC 7889).
    NoAppendLimit,
    /// `MAILBOXID (id)` (RFC 8474).
    MailboxId(String),
}

/// One namespace: its prefix and hierarchy delimiter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceEntry {
    pub prefix: String,
    pub delimiter: Option<char>,
}

impl Data {
    /// Appends the response line; `utf8_accept` selects how mailbox names are written.
    pub fn encode(&self, out: &mut Vec<u8>, utf8_accept: bool) {
        out.extend_from_slice(b"* ");
        self.encode_body(out, utf8_accept);
        out.extend_from_slice(b"\r\n");
    }

    // One arm per response keeps every form in one place, so this match is longer than
    // the usual function.
    fn encode_body(&self, out: &mut Vec<u8>, utf8_accept: bool) {
        match self {
            Data::Capability(names) => {
                write_words(out, "CAPABILITY", names.iter().map(Atom::as_str))
            }
            Data::Enabled(names) => write_words(out, "ENABLED", names.iter().map(Atom::as_str)),
            Data::List(listing) => encode_listing(out, "LIST", listing, utf8_accept),
            Data::Lsub(listing) => encode_listing(out, "LSUB", listing, utf8_accept),
            Data::Status { mailbox, values } => encode_status(out, mailbox, values, utf8_accept),
            Data::Search { numbers, modseq } | Data::Sort { numbers, modseq } => {
                let name = if matches!(self, Data::Search { .. }) {
                    "SEARCH"
                } else {
                    "SORT"
                };
                write_words(out, name, numbers.iter().map(u32::to_string));
                if let Some(modseq) = modseq {
                    out.extend_from_slice(format!(" (MODSEQ {modseq})").as_bytes());
                }
            }
            Data::ESearch { .. } => self.encode_esearch(out),
            Data::Flags(flags) => {
                out.extend_from_slice(b"FLAGS ");
                write_flag_list(out, flags);
            }
            Data::Exists(count) => out.extend_from_slice(format!("{count} EXISTS").as_bytes()),
            Data::Recent(count) => out.extend_from_slice(format!("{count} RECENT").as_bytes()),
            Data::Expunge(seq) => out.extend_from_slice(format!("{seq} EXPUNGE").as_bytes()),
            Data::Vanished { is_earlier, uids } => {
                let earlier = if *is_earlier { " (EARLIER)" } else { "" };
                out.extend_from_slice(format!("VANISHED{earlier} {uids}").as_bytes());
            }
            Data::Id(params) => encode_id(out, params),
            Data::Namespace {
                personal,
                other_users,
                shared,
            } => {
                out.extend_from_slice(b"NAMESPACE");
                for entries in [personal, other_users, shared] {
                    out.push(b' ');
                    encode_namespace(out, entries, utf8_accept);
                }
            }
            Data::Thread(threads) => {
                out.extend_from_slice(b"THREAD");
                if !threads.is_empty() {
                    out.push(b' ');
                }
                for thread in threads {
                    out.push(b'(');
                    write_thread_node(out, thread);
                    out.push(b')');
                }
            }
            Data::Quota { root, resources } => {
                out.extend_from_slice(b"QUOTA ");
                write_astring(out, root.as_bytes());
                let items: Vec<String> = resources
                    .iter()
                    .map(|(name, usage, limit)| format!("{name} {usage} {limit}"))
                    .collect();
                out.extend_from_slice(format!(" ({})", items.join(" ")).as_bytes());
            }
            Data::QuotaRoot { mailbox, roots } => {
                out.extend_from_slice(b"QUOTAROOT ");
                write_mailbox(out, mailbox, utf8_accept);
                for root in roots {
                    out.push(b' ');
                    write_astring(out, root.as_bytes());
                }
            }
        }
    }

    fn encode_esearch(&self, out: &mut Vec<u8>) {
        let Data::ESearch {
            tag,
            is_uid,
            min,
            max,
            all,
            count,
            modseq,
        } = self
        else {
            return;
        };
        out.extend_from_slice(b"ESEARCH");
        if let Some(tag) = tag {
            out.extend_from_slice(b" (TAG ");
            write_quoted(out, tag.as_str().as_bytes());
            out.push(b')');
        }
        let mut items = Vec::new();
        if *is_uid {
            items.push("UID".to_owned());
        }
        items.extend(min.map(|min| format!("MIN {min}")));
        items.extend(max.map(|max| format!("MAX {max}")));
        items.extend(all.as_ref().map(|all| format!("ALL {all}")));
        items.extend(count.map(|count| format!("COUNT {count}")));
        items.extend(modseq.map(|modseq| format!("MODSEQ {modseq}")));
        for item in items {
            out.push(b' ');
            out.extend_from_slice(item.as_bytes());
        }
    }
}

/// Writes a thread as `thread-members [SP thread-nested]`: a chain of single replies
/// continues the list, and two or more replies each open a nested list (RFC 5256 §4).
fn write_thread_node(out: &mut Vec<u8>, node: &ThreadNode) {
    if let Some(number) = node.number {
        out.extend_from_slice(number.to_string().as_bytes());
    }
    match node.children.as_slice() {
        [] => {}
        [only] => {
            if node.number.is_some() {
                out.push(b' ');
            }
            write_thread_node(out, only);
        }
        children => {
            if node.number.is_some() {
                out.push(b' ');
            }
            for child in children {
                out.push(b'(');
                write_thread_node(out, child);
                out.push(b')');
            }
        }
    }
}

fn write_words<S: AsRef<str>>(out: &mut Vec<u8>, name: &str, words: impl Iterator<Item = S>) {
    out.extend_from_slice(name.as_bytes());
    for word in words {
        out.push(b' ');
        out.extend_from_slice(word.as_ref().as_bytes());
    }
}

/// Writes `flag-list`.
pub(crate) fn write_flag_list(out: &mut Vec<u8>, flags: &[Flag]) {
    out.push(b'(');
    for (index, flag) in flags.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(flag.to_string().as_bytes());
    }
    out.push(b')');
}

fn write_delimiter(out: &mut Vec<u8>, delimiter: Option<char>) {
    match delimiter {
        Some(delimiter) => {
            let mut buf = [0u8; 4];
            write_quoted(out, delimiter.encode_utf8(&mut buf).as_bytes());
        }
        None => out.extend_from_slice(b"NIL"),
    }
}

fn encode_listing(out: &mut Vec<u8>, name: &str, listing: &MailboxListing, utf8_accept: bool) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(format!(" ({}) ", listing.attributes.join(" ")).as_bytes());
    write_delimiter(out, listing.delimiter);
    out.push(b' ');
    write_mailbox(out, &listing.name, utf8_accept);
    if listing.extended.is_empty() {
        return;
    }
    out.extend_from_slice(b" (");
    for (index, item) in listing.extended.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        match item {
            ListItem::ChildInfo(options) => {
                out.extend_from_slice(b"\"CHILDINFO\" (");
                for (index, option) in options.iter().enumerate() {
                    if index > 0 {
                        out.push(b' ');
                    }
                    write_string(out, option.as_bytes());
                }
                out.push(b')');
            }
            ListItem::OldName(old) => {
                out.extend_from_slice(b"\"OLDNAME\" (");
                write_mailbox(out, old, utf8_accept);
                out.push(b')');
            }
        }
    }
    out.push(b')');
}

fn encode_status(
    out: &mut Vec<u8>,
    mailbox: &MailboxName,
    values: &[StatusValue],
    utf8_accept: bool,
) {
    out.extend_from_slice(b"STATUS ");
    write_mailbox(out, mailbox, utf8_accept);
    let items: Vec<String> = values
        .iter()
        .map(|value| match value {
            StatusValue::Number(item, number) => format!("{item} {number}"),
            StatusValue::NoAppendLimit => "APPENDLIMIT NIL".to_owned(),
            StatusValue::MailboxId(id) => format!("MAILBOXID ({id})"),
        })
        .collect();
    out.extend_from_slice(format!(" ({})", items.join(" ")).as_bytes());
}

fn encode_id(out: &mut Vec<u8>, params: &IdParams) {
    out.extend_from_slice(b"ID ");
    let Some(pairs) = params else {
        out.extend_from_slice(b"NIL");
        return;
    };
    out.push(b'(');
    for (index, (field, value)) in pairs.iter().enumerate() {
        if index > 0 {
            out.push(b' ');
        }
        write_string(out, field.as_bytes());
        out.push(b' ');
        write_nstring(out, value.as_deref().map(str::as_bytes));
    }
    out.push(b')');
}

fn encode_namespace(out: &mut Vec<u8>, entries: &[NamespaceEntry], utf8_accept: bool) {
    if entries.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for entry in entries {
        out.push(b'(');
        let prefix = MailboxName::new(entry.prefix.clone()).to_wire(utf8_accept);
        write_string(out, prefix.as_bytes());
        out.push(b' ');
        write_delimiter(out, entry.delimiter);
        out.push(b')');
    }
    out.push(b')');
}
