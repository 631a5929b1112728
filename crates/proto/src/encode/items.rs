//! Writers for the compound arguments of commands: fetch items, search keys, LIST options,
//! NOTIFY event groups, SORT and THREAD.

use super::Writer;
use crate::fetch::{FetchAttribute, FetchItems, FetchModifier, Partial};
use crate::flag::Flag;
use crate::list::{ListArguments, ListReturn, ListSelection};
use crate::mailbox::ListPattern;
use crate::notify::{MailboxFilter, Notify, NotifyEvent};
use crate::response::fetch::write_section;
use crate::search::{SearchKey, SearchProgram, SearchReturn};
use crate::sort::{SortArguments, ThreadAlgorithm, ThreadArguments};
use crate::string::{is_atom_char, write_quoted, write_string};

pub(super) fn write_flags(w: &mut Writer<'_>, flags: &[Flag]) {
    let names: Vec<String> = flags.iter().map(Flag::to_string).collect();
    w.raw(&format!("({})", names.join(" ")));
}

pub(super) fn write_fetch_items(
    w: &mut Writer<'_>,
    items: &FetchItems,
    modifiers: &[FetchModifier],
) {
    match items {
        FetchItems::All => w.raw("ALL"),
        FetchItems::Fast => w.raw("FAST"),
        FetchItems::Full => w.raw("FULL"),
        FetchItems::Attributes(attributes) => {
            w.raw("(");
            write_fetch_attributes(w, attributes);
            w.raw(")");
        }
    }
    if modifiers.is_empty() {
        return;
    }
    let texts: Vec<String> = modifiers
        .iter()
        .map(|modifier| match modifier {
            FetchModifier::ChangedSince(modseq) => format!("CHANGEDSINCE {modseq}"),
            FetchModifier::Vanished => "VANISHED".to_owned(),
        })
        .collect();
    w.raw(&format!(" ({})", texts.join(" ")));
}

fn write_fetch_attributes(w: &mut Writer<'_>, attributes: &[FetchAttribute]) {
    for (index, attribute) in attributes.iter().enumerate() {
        if index > 0 {
            w.raw(" ");
        }
        write_fetch_attribute(w, attribute);
    }
}

fn write_fetch_attribute(w: &mut Writer<'_>, attribute: &FetchAttribute) {
    use FetchAttribute as F;
    let name = match attribute {
        F::Envelope => "ENVELOPE",
        F::Flags => "FLAGS",
        F::InternalDate => "INTERNALDATE",
        F::Rfc822 => "RFC822",
        F::Rfc822Header => "RFC822.HEADER",
        F::Rfc822Size => "RFC822.SIZE",
        F::Rfc822Text => "RFC822.TEXT",
        F::Body => "BODY",
        F::BodyStructure => "BODYSTRUCTURE",
        F::Uid => "UID",
        F::ModSeq => "MODSEQ",
        F::EmailId => "EMAILID",
        F::ThreadId => "THREADID",
        F::SaveDate => "SAVEDATE",
        F::BodySection {
            peek,
            section,
            partial,
        } => {
            w.raw(if *peek { "BODY.PEEK[" } else { "BODY[" });
            write_section(w.out, section);
            w.raw("]");
            return write_partial(w, partial);
        }
        F::Binary {
            peek,
            part,
            partial,
        } => {
            w.raw(if *peek { "BINARY.PEEK[" } else { "BINARY[" });
            w.raw(&part_text(part));
            w.raw("]");
            return write_partial(w, partial);
        }
        F::BinarySize { part } => return w.raw(&format!("BINARY.SIZE[{}]", part_text(part))),
    };
    w.raw(name);
}

fn part_text(part: &[std::num::NonZeroU32]) -> String {
    let numbers: Vec<String> = part.iter().map(|number| number.to_string()).collect();
    numbers.join(".")
}

fn write_partial(w: &mut Writer<'_>, partial: &Option<Partial>) {
    if let Some(partial) = partial {
        w.raw(&format!("<{}.{}>", partial.offset, partial.length));
    }
}

pub(super) fn write_search_program(w: &mut Writer<'_>, program: &SearchProgram) {
    if let Some(options) = &program.return_options {
        let names: Vec<&str> = options.iter().map(|option| return_name(*option)).collect();
        w.raw(&format!(" RETURN ({})", names.join(" ")));
    }
    if let Some(charset) = &program.charset {
        w.raw(" CHARSET ");
        w.astring(charset.as_bytes());
    }
    w.raw(" ");
    write_search_keys(w, &program.keys);
}

fn return_name(option: SearchReturn) -> &'static str {
    match option {
        SearchReturn::Min => "MIN",
        SearchReturn::Max => "MAX",
        SearchReturn::All => "ALL",
        SearchReturn::Count => "COUNT",
        SearchReturn::Save => "SAVE",
    }
}

pub(super) fn write_search_keys(w: &mut Writer<'_>, keys: &[SearchKey]) {
    for (index, key) in keys.iter().enumerate() {
        if index > 0 {
            w.raw(" ");
        }
        write_search_key(w, key);
    }
}

// One arm per search key, mirroring the parser's table.
fn write_search_key(w: &mut Writer<'_>, key: &SearchKey) {
    use SearchKey as K;
    let (name, text): (&str, Option<&[u8]>) = match key {
        K::Bcc(value) => ("BCC", Some(value)),
        K::Body(value) => ("BODY", Some(value)),
        K::Cc(value) => ("CC", Some(value)),
        K::From(value) => ("FROM", Some(value)),
        K::Subject(value) => ("SUBJECT", Some(value)),
        K::Text(value) => ("TEXT", Some(value)),
        K::To(value) => ("TO", Some(value)),
        _ => ("", None),
    };
    if let Some(value) = text {
        w.raw(name);
        w.raw(" ");
        return w.astring(value);
    }
    let text = match key {
        K::All => "ALL".to_owned(),
        K::Answered => "ANSWERED".to_owned(),
        K::Deleted => "DELETED".to_owned(),
        K::Draft => "DRAFT".to_owned(),
        K::Flagged => "FLAGGED".to_owned(),
        K::New => "NEW".to_owned(),
        K::Old => "OLD".to_owned(),
        K::Recent => "RECENT".to_owned(),
        K::Seen => "SEEN".to_owned(),
        K::Unanswered => "UNANSWERED".to_owned(),
        K::Undeleted => "UNDELETED".to_owned(),
        K::Undraft => "UNDRAFT".to_owned(),
        K::Unflagged => "UNFLAGGED".to_owned(),
        K::Unseen => "UNSEEN".to_owned(),
        K::SaveDateSupported => "SAVEDATESUPPORTED".to_owned(),
        K::Before(date) => format!("BEFORE {date}"),
        K::On(date) => format!("ON {date}"),
        K::Since(date) => format!("SINCE {date}"),
        K::SentBefore(date) => format!("SENTBEFORE {date}"),
        K::SentOn(date) => format!("SENTON {date}"),
        K::SentSince(date) => format!("SENTSINCE {date}"),
        K::SavedBefore(date) => format!("SAVEDBEFORE {date}"),
        K::SavedOn(date) => format!("SAVEDON {date}"),
        K::SavedSince(date) => format!("SAVEDSINCE {date}"),
        K::Keyword(name) => format!("KEYWORD {name}"),
        K::Unkeyword(name) => format!("UNKEYWORD {name}"),
        K::Larger(size) => format!("LARGER {size}"),
        K::Smaller(size) => format!("SMALLER {size}"),
        K::Uid(set) => format!("UID {set}"),
        K::SequenceSet(set) => set.to_string(),
        K::Older(seconds) => format!("OLDER {seconds}"),
        K::Younger(seconds) => format!("YOUNGER {seconds}"),
        K::EmailId(id) => format!("EMAILID {id}"),
        K::ThreadId(id) => format!("THREADID {id}"),
        K::ModSeq {
            entry: None,
            modseq,
        } => format!("MODSEQ {modseq}"),
        K::ModSeq {
            entry: Some(entry),
            modseq,
        } => {
            w.raw("MODSEQ ");
            write_quoted(w.out, entry.name.as_bytes());
            return w.raw(&format!(" {} {modseq}", entry.kind));
        }
        K::Header(field, value) => {
            w.raw("HEADER ");
            w.astring(field.as_bytes());
            w.raw(" ");
            return w.astring(value);
        }
        K::Not(inner) => {
            w.raw("NOT ");
            return write_search_key(w, inner);
        }
        K::Or(left, right) => {
            w.raw("OR ");
            write_search_key(w, left);
            w.raw(" ");
            return write_search_key(w, right);
        }
        K::And(keys) => {
            w.raw("(");
            write_search_keys(w, keys);
            return w.raw(")");
        }
        _ => String::new(),
    };
    w.raw(&text);
}

pub(super) fn write_list_pattern(w: &mut Writer<'_>, pattern: &ListPattern) {
    let wire = pattern.to_wire(w.utf8_accept);
    let is_bare = !wire.is_empty()
        && wire
            .bytes()
            .all(|b| is_atom_char(b) || matches!(b, b'%' | b'*' | b']'));
    if is_bare {
        w.raw(&wire);
    } else {
        write_string(w.out, wire.as_bytes());
    }
}

pub(super) fn write_list(w: &mut Writer<'_>, arguments: &ListArguments) {
    if !arguments.selection.is_empty() {
        let names: Vec<String> = arguments
            .selection
            .iter()
            .map(|option| match option {
                ListSelection::Subscribed => "SUBSCRIBED".to_owned(),
                ListSelection::Remote => "REMOTE".to_owned(),
                ListSelection::RecursiveMatch => "RECURSIVEMATCH".to_owned(),
                ListSelection::SpecialUse => "SPECIAL-USE".to_owned(),
                ListSelection::Other(name) => name.to_string(),
            })
            .collect();
        w.raw(&format!(" ({})", names.join(" ")));
    }
    w.raw(" ");
    let reference = arguments.reference.to_wire(w.utf8_accept);
    w.astring(reference.as_bytes());
    w.raw(" (");
    for (index, pattern) in arguments.patterns.iter().enumerate() {
        if index > 0 {
            w.raw(" ");
        }
        write_list_pattern(w, pattern);
    }
    w.raw(")");
    if !arguments.return_options.is_empty() {
        let names: Vec<String> = arguments
            .return_options
            .iter()
            .map(return_option_text)
            .collect();
        w.raw(&format!(" RETURN ({})", names.join(" ")));
    }
}

fn return_option_text(option: &ListReturn) -> String {
    match option {
        ListReturn::Subscribed => "SUBSCRIBED".to_owned(),
        ListReturn::Children => "CHILDREN".to_owned(),
        ListReturn::SpecialUse => "SPECIAL-USE".to_owned(),
        ListReturn::Status(items) => {
            let names: Vec<&str> = items.iter().map(|item| item.name()).collect();
            format!("STATUS ({})", names.join(" "))
        }
        ListReturn::Other(name) => name.to_string(),
    }
}

pub(super) fn write_notify(w: &mut Writer<'_>, notify: &Notify) {
    let Notify::Set { has_status, groups } = notify else {
        return w.raw(" NONE");
    };
    w.raw(if *has_status { " SET STATUS" } else { " SET" });
    for group in groups {
        w.raw(" (");
        write_filter(w, &group.mailboxes);
        if group.events.is_empty() {
            w.raw(" NONE)");
            continue;
        }
        w.raw(" (");
        for (index, event) in group.events.iter().enumerate() {
            if index > 0 {
                w.raw(" ");
            }
            write_event(w, event);
        }
        w.raw("))");
    }
}

fn write_filter(w: &mut Writer<'_>, filter: &MailboxFilter) {
    let (name, mailboxes) = match filter {
        MailboxFilter::Selected => ("selected", None),
        MailboxFilter::SelectedDelayed => ("selected-delayed", None),
        MailboxFilter::Inboxes => ("inboxes", None),
        MailboxFilter::Personal => ("personal", None),
        MailboxFilter::Subscribed => ("subscribed", None),
        MailboxFilter::Subtree(names) => ("subtree", Some(names)),
        MailboxFilter::Mailboxes(names) => ("mailboxes", Some(names)),
    };
    w.raw(name);
    let Some(names) = mailboxes else {
        return;
    };
    w.raw(" (");
    for (index, mailbox) in names.iter().enumerate() {
        if index > 0 {
            w.raw(" ");
        }
        w.mailbox(mailbox);
    }
    w.raw(")");
}

fn write_event(w: &mut Writer<'_>, event: &NotifyEvent) {
    let name = match event {
        NotifyEvent::MessageNew(attributes) => {
            w.raw("MessageNew");
            if !attributes.is_empty() {
                w.raw(" (");
                write_fetch_attributes(w, attributes);
                w.raw(")");
            }
            return;
        }
        NotifyEvent::MessageExpunge => "MessageExpunge",
        NotifyEvent::FlagChange => "FlagChange",
        NotifyEvent::AnnotationChange => "AnnotationChange",
        NotifyEvent::MailboxName => "MailboxName",
        NotifyEvent::SubscriptionChange => "SubscriptionChange",
        NotifyEvent::MailboxMetadataChange => "MailboxMetadataChange",
        NotifyEvent::ServerMetadataChange => "ServerMetadataChange",
        NotifyEvent::QuotaChange => "QuotaChange",
        NotifyEvent::Other(name) => name.as_str(),
    };
    w.raw(name);
}

pub(super) fn write_sort(w: &mut Writer<'_>, arguments: &SortArguments) {
    let criteria: Vec<String> = arguments
        .criteria
        .iter()
        .map(|criterion| {
            let reverse = if criterion.is_reverse { "REVERSE " } else { "" };
            format!("{reverse}{}", criterion.key.name())
        })
        .collect();
    w.raw(&format!(" ({}) ", criteria.join(" ")));
    w.astring(arguments.charset.as_bytes());
    w.raw(" ");
    write_search_keys(w, &arguments.keys);
}

pub(super) fn write_thread(w: &mut Writer<'_>, arguments: &ThreadArguments) {
    let algorithm = match &arguments.algorithm {
        ThreadAlgorithm::OrderedSubject => "ORDEREDSUBJECT",
        ThreadAlgorithm::References => "REFERENCES",
        ThreadAlgorithm::Other(name) => name.as_str(),
    };
    w.raw(&format!(" {algorithm} "));
    w.astring(arguments.charset.as_bytes());
    w.raw(" ");
    write_search_keys(w, &arguments.keys);
}
