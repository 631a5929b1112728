//! NOTIFY arguments (RFC 5465 §8).

use crate::cursor::Cursor;
use crate::error::ErrorKind;
use crate::fetch::{FetchAttribute, parse_fetch_att};
use crate::mailbox::MailboxName;
use crate::types::Atom;

/// The argument of NOTIFY.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notify {
    /// `NOTIFY NONE`: stop all notifications.
    None,
    /// `NOTIFY SET [STATUS] event-groups`.
    Set {
        /// Whether the client asked for an initial STATUS of each mailbox.
        has_status: bool,
        groups: Vec<EventGroup>,
    },
}

/// One `event-group`: which mailboxes, and which events on them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    pub mailboxes: MailboxFilter,
    /// The events; empty for `NONE`.
    pub events: Vec<NotifyEvent>,
}

/// A `filter-mailboxes` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxFilter {
    Selected,
    SelectedDelayed,
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<MailboxName>),
    Mailboxes(Vec<MailboxName>),
}

/// A NOTIFY `event`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyEvent {
    /// `MessageNew`, with the FETCH attributes to send for each new message.
    MessageNew(Vec<FetchAttribute>),
    MessageExpunge,
    FlagChange,
    AnnotationChange,
    MailboxName,
    SubscriptionChange,
    MailboxMetadataChange,
    ServerMetadataChange,
    QuotaChange,
    /// An `event-ext` name.
    Other(Atom),
}

/// Parses the argument of NOTIFY after `NOTIFY SP`.
pub(crate) fn parse_notify(c: &mut Cursor<'_>) -> Result<Notify, ErrorKind> {
    if c.eat_keyword("NONE") {
        return Ok(Notify::None);
    }
    c.keyword("SET")?;
    c.sp()?;
    let has_status = c.eat_keyword("STATUS");
    if has_status {
        c.sp()?;
    }
    let mut groups = vec![parse_event_group(c)?];
    while c.eat(b' ') {
        groups.push(parse_event_group(c)?);
    }
    Ok(Notify::Set { has_status, groups })
}

fn parse_event_group(c: &mut Cursor<'_>) -> Result<EventGroup, ErrorKind> {
    c.expect(b'(', "(")?;
    c.enter()?;
    let mailboxes = parse_filter_mailboxes(c)?;
    c.sp()?;
    let events = if c.eat_keyword("NONE") {
        Vec::new()
    } else {
        c.paren_list(false, parse_event)?
    };
    c.expect(b')', ")")?;
    c.leave();
    Ok(EventGroup { mailboxes, events })
}

fn parse_filter_mailboxes(c: &mut Cursor<'_>) -> Result<MailboxFilter, ErrorKind> {
    let name = c.atom_string()?.to_ascii_uppercase();
    let filter = match name.as_str() {
        "SELECTED" => MailboxFilter::Selected,
        "SELECTED-DELAYED" => MailboxFilter::SelectedDelayed,
        "INBOXES" => MailboxFilter::Inboxes,
        "PERSONAL" => MailboxFilter::Personal,
        "SUBSCRIBED" => MailboxFilter::Subscribed,
        "SUBTREE" => MailboxFilter::Subtree(parse_one_or_more_mailbox(c)?),
        "MAILBOXES" => MailboxFilter::Mailboxes(parse_one_or_more_mailbox(c)?),
        _ => return Err(c.expected("filter-mailboxes")),
    };
    Ok(filter)
}

fn parse_one_or_more_mailbox(c: &mut Cursor<'_>) -> Result<Vec<MailboxName>, ErrorKind> {
    c.sp()?;
    if c.peek() == Some(b'(') {
        c.paren_list(false, |c| c.mailbox())
    } else {
        Ok(vec![c.mailbox()?])
    }
}

fn parse_event(c: &mut Cursor<'_>) -> Result<NotifyEvent, ErrorKind> {
    let name = c.atom_string()?;
    let event = match name.to_ascii_uppercase().as_str() {
        "MESSAGENEW" => {
            let attributes = if c.rest().starts_with(b" (") {
                c.sp()?;
                c.paren_list(false, parse_fetch_att)?
            } else {
                Vec::new()
            };
            NotifyEvent::MessageNew(attributes)
        }
        "MESSAGEEXPUNGE" => NotifyEvent::MessageExpunge,
        "FLAGCHANGE" => NotifyEvent::FlagChange,
        "ANNOTATIONCHANGE" => NotifyEvent::AnnotationChange,
        "MAILBOXNAME" => NotifyEvent::MailboxName,
        "SUBSCRIPTIONCHANGE" => NotifyEvent::SubscriptionChange,
        "MAILBOXMETADATACHANGE" => NotifyEvent::MailboxMetadataChange,
        "SERVERMETADATACHANGE" => NotifyEvent::ServerMetadataChange,
        "QUOTACHANGE" => NotifyEvent::QuotaChange,
        _ => NotifyEvent::Other(Atom::new(name)?),
    };
    Ok(event)
}
