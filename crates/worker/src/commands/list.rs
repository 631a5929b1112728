//! LIST and LSUB (RFC 9051 §6.3.9, RFC 3501 §6.3.9) with LIST-EXTENDED (RFC 5258),
//! LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348) attributes.

use asimapd_proto::response::{Data, ListItem, MailboxListing};
use asimapd_proto::{
    ListArguments, ListPattern, ListReturn, ListSelection, MailboxName, StatusItem,
};
use asimapd_store::MailboxInfo;

use crate::commands::status::status_values;
use crate::error::CommandError;
use crate::mailboxes::{DELIMITER, mailbox_name};
use crate::noselect::is_noselect;
use crate::session::{Completion, Session};

/// The options of a LIST command, after parsing.
#[derive(Debug, Default)]
struct ListOptions {
    only_subscribed: bool,
    recursive_match: bool,
    only_special_use: bool,
    return_subscribed: bool,
    return_status: Option<Vec<StatusItem>>,
}

pub(super) async fn handle_list(
    session: &mut Session,
    arguments: ListArguments,
) -> Result<Completion, CommandError> {
    let is_extended = !arguments.selection.is_empty()
        || !arguments.return_options.is_empty()
        || arguments.patterns.len() > 1;
    let options = list_options(&arguments)?;
    if !is_extended && arguments.patterns[0].as_str().is_empty() {
        // RFC 9051 §6.3.9: an empty pattern requests the delimiter and root.
        session
            .out
            .extend_from_slice(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
        return Ok(Completion::done());
    }
    let matchers: Vec<Matcher> = arguments
        .patterns
        .iter()
        .map(|pattern| Matcher::new(&arguments.reference, pattern))
        .collect();
    let (infos, noselect) = session.blocking(list_with_noselect).await?;
    for (info, &is_noselect) in infos.iter().zip(&noselect) {
        let name = mailbox_name(&info.name);
        if !matchers.iter().any(|m| m.matches(name.as_str())) {
            continue;
        }
        let mut listing = list_entry(info, is_noselect, &name, &options);
        if options.recursive_match && has_unlisted_subscribed_child(&name, &infos, &matchers) {
            let entry = listing.get_or_insert_with(|| existence_entry(info, &name));
            entry
                .extended
                .push(ListItem::ChildInfo(vec!["SUBSCRIBED".to_owned()]));
        }
        let Some(listing) = listing else {
            continue;
        };
        Data::List(listing).encode(&mut session.out, false);
        // RFC 5819: a name that cannot be selected gets no STATUS.
        if let (Some(items), true) = (&options.return_status, info.exists && !is_noselect) {
            write_list_status(session, info, name, items).await?;
        }
    }
    Ok(Completion::done())
}

fn list_options(arguments: &ListArguments) -> Result<ListOptions, CommandError> {
    let mut options = ListOptions::default();
    for selection in &arguments.selection {
        match selection {
            ListSelection::Subscribed => options.only_subscribed = true,
            ListSelection::Remote => {}
            ListSelection::RecursiveMatch => options.recursive_match = true,
            ListSelection::SpecialUse => options.only_special_use = true,
            ListSelection::Other(name) => {
                return Err(CommandError::bad(format!(
                    "Unknown LIST selection option {name}"
                )));
            }
        }
    }
    if options.recursive_match && !options.only_subscribed {
        // RFC 5258 §3: RECURSIVEMATCH alone is an error.
        return Err(CommandError::bad(
            "RECURSIVEMATCH needs another selection option",
        ));
    }
    for option in &arguments.return_options {
        match option {
            ListReturn::Subscribed => options.return_subscribed = true,
            ListReturn::Children | ListReturn::SpecialUse | ListReturn::Other(_) => {}
            ListReturn::Status(items) => options.return_status = Some(items.clone()),
        }
    }
    Ok(options)
}

/// Lists the mailboxes, each with whether it is a `\Noselect` name.
fn list_with_noselect(
    store: &asimapd_store::Store,
) -> Result<(Vec<MailboxInfo>, Vec<bool>), asimapd_store::StoreError> {
    let infos = store.list_mailboxes()?;
    let root = store.root().path();
    let noselect = infos
        .iter()
        .map(|info| info.exists && is_noselect(root, &info.name))
        .collect();
    Ok((infos, noselect))
}

fn list_entry(
    info: &MailboxInfo,
    is_noselect: bool,
    name: &MailboxName,
    options: &ListOptions,
) -> Option<MailboxListing> {
    if options.only_subscribed && !info.subscribed {
        return None;
    }
    if options.only_special_use && info.special_use.is_none() {
        return None;
    }
    if !info.exists && !options.only_subscribed {
        return None;
    }
    let mut attributes = Vec::new();
    if !info.exists {
        attributes.push("\\NonExistent".to_owned());
    } else {
        if is_noselect {
            attributes.push("\\Noselect".to_owned());
        }
        if info.has_children {
            attributes.push("\\HasChildren".to_owned());
        } else {
            attributes.push("\\HasNoChildren".to_owned());
        }
    }
    if info.subscribed && (options.only_subscribed || options.return_subscribed) {
        attributes.push("\\Subscribed".to_owned());
    }
    if let Some(special_use) = &info.special_use {
        attributes.push(special_use.clone());
    }
    Some(MailboxListing {
        attributes,
        delimiter: Some(DELIMITER),
        name: name.clone(),
        extended: Vec::new(),
    })
}

/// Returns true when a subscribed descendant of `name` matches no pattern, so RECURSIVEMATCH
/// reports it with `CHILDINFO ("SUBSCRIBED")` on `name` (RFC 5258 §3.5).
fn has_unlisted_subscribed_child(
    name: &MailboxName,
    infos: &[MailboxInfo],
    matchers: &[Matcher],
) -> bool {
    let prefix = format!("{}{DELIMITER}", name.as_str());
    infos.iter().any(|info| {
        let child = mailbox_name(&info.name);
        info.subscribed
            && child.as_str().starts_with(&prefix)
            && !matchers.iter().any(|m| m.matches(child.as_str()))
    })
}

/// Builds the entry of a mailbox listed only for CHILDINFO: its existence attributes alone.
fn existence_entry(info: &MailboxInfo, name: &MailboxName) -> MailboxListing {
    let attribute = match (info.exists, info.has_children) {
        (false, _) => "\\NonExistent",
        (true, true) => "\\HasChildren",
        (true, false) => "\\HasNoChildren",
    };
    MailboxListing {
        attributes: vec![attribute.to_owned()],
        delimiter: Some(DELIMITER),
        name: name.clone(),
        extended: Vec::new(),
    }
}

async fn write_list_status(
    session: &mut Session,
    info: &MailboxInfo,
    name: MailboxName,
    items: &[StatusItem],
) -> Result<(), CommandError> {
    let folder = info.name.clone();
    let status = session.blocking(move |store| store.status(&folder)).await?;
    let values = status_values(&status, items)?;
    Data::Status {
        mailbox: name,
        values,
    }
    .encode(&mut session.out, false);
    Ok(())
}

pub(super) async fn handle_lsub(
    session: &mut Session,
    reference: ListPattern,
    pattern: ListPattern,
) -> Result<Completion, CommandError> {
    let matcher = Matcher::new(&reference, &pattern);
    let (infos, noselect) = session.blocking(list_with_noselect).await?;
    for (info, is_noselect) in infos.iter().zip(noselect) {
        if !info.subscribed {
            continue;
        }
        let name = mailbox_name(&info.name);
        if !matcher.matches(name.as_str()) {
            continue;
        }
        let attributes = if info.exists && !is_noselect {
            Vec::new()
        } else {
            vec!["\\Noselect".to_owned()]
        };
        Data::Lsub(MailboxListing {
            attributes,
            delimiter: Some(DELIMITER),
            name,
            extended: Vec::new(),
        })
        .encode(&mut session.out, false);
    }
    Ok(Completion::done())
}

/// A LIST pattern joined to its reference: `*` matches any characters, `%` any but the
/// delimiter (RFC 9051 §6.3.9). A leading `INBOX` matches case-insensitively.
#[derive(Debug)]
pub(crate) struct Matcher {
    pattern: Vec<char>,
}

impl Matcher {
    pub(crate) fn new(reference: &ListPattern, pattern: &ListPattern) -> Self {
        let mut joined = reference.as_str().to_owned();
        let pattern = pattern.as_str();
        if joined.ends_with(DELIMITER) && pattern.starts_with(DELIMITER) {
            joined.pop();
        }
        joined.push_str(pattern);
        let canonical = match joined.get(..5) {
            Some(head) if head.eq_ignore_ascii_case("INBOX") => {
                let rest = &joined[5..];
                if rest.is_empty() || rest.starts_with(DELIMITER) {
                    format!("INBOX{rest}")
                } else {
                    joined
                }
            }
            _ => joined,
        };
        Matcher {
            pattern: canonical.chars().collect(),
        }
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        wildcard_match(&self.pattern, &name)
    }
}

fn wildcard_match(pattern: &[char], name: &[char]) -> bool {
    // Dynamic programming over name positions, so patterns like `*a*b*` cost
    // O(pattern × name) and never exponential time.
    let mut reachable = vec![false; name.len() + 1];
    reachable[0] = true;
    for &token in pattern {
        let mut next = vec![false; name.len() + 1];
        match token {
            '*' | '%' => {
                let mut open = false;
                for position in 0..=name.len() {
                    open |= reachable[position];
                    next[position] = open;
                    // `%` cannot consume the delimiter.
                    if token == '%' && name.get(position) == Some(&DELIMITER) {
                        open = false;
                    }
                }
            }
            literal => {
                for position in 0..name.len() {
                    if reachable[position] && name[position] == literal {
                        next[position + 1] = true;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable[name.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(reference: &str, pattern: &str, name: &str) -> bool {
        Matcher::new(&ListPattern::new(reference), &ListPattern::new(pattern)).matches(name)
    }

    #[test]
    fn star_crosses_levels() {
        assert!(matches("", "*", "a/b/c"));
        assert!(matches("", "a/*", "a/b/c"));
        assert!(!matches("", "a/*", "ab"));
    }

    #[test]
    fn percent_stays_in_one_level() {
        assert!(matches("", "%", "Junk"));
        assert!(!matches("", "%", "a/b"));
        assert!(matches("", "a/%", "a/b"));
        assert!(!matches("", "a/%", "a/b/c"));
    }

    #[test]
    fn reference_is_prefixed() {
        assert!(matches("lists/", "%", "lists/rust"));
        assert!(!matches("lists/", "%", "rust"));
    }

    #[test]
    fn inbox_pattern_ignores_case() {
        assert!(matches("", "inbox", "INBOX"));
        assert!(matches("", "Inbox/%", "INBOX/x"));
        assert!(!matches("", "inboxes", "INBOX"));
    }

    #[test]
    fn literal_characters_must_match() {
        assert!(matches("", "Sent Messages", "Sent Messages"));
        assert!(!matches("", "Sent", "Sent Messages"));
        assert!(matches("", "*a*b*", "xaxxbx"));
    }
}
