//! A selected mailbox rebuilt from one session's untagged responses alone. A test uses it to
//! check that the server's EXISTS, EXPUNGE, VANISHED and FETCH responses add up to the
//! mailbox the server lists afterwards (RFC 9051 §7.4, RFC 7162 §3.2.10).

use std::collections::{BTreeMap, BTreeSet};

use crate::client::{ImapClient, Response};
use crate::error::E2eError;

/// The items [`MailboxView::verify`] fetches for every message.
pub const LISTING_ITEMS: &str = "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])";
/// Times [`MailboxView::verify`] repeats a FETCH that left out messages with
/// `[EXPUNGEISSUED]` before it reports the gap.
pub const EXPUNGE_ISSUED_RETRIES: u32 = 10;
/// Pause before such a repeat. A server may need a second or two to settle a file that
/// another program rewrote before it expunges the old message.
pub const EXPUNGE_ISSUED_PAUSE: std::time::Duration = std::time::Duration::from_millis(300);

/// One `* N FETCH (...)` response, with literals decoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchData {
    /// The message sequence number.
    pub sequence: u32,
    /// The UID, when the response carries one.
    pub uid: Option<u32>,
    /// The flags, when the response carries FLAGS.
    pub flags: Option<Vec<String>>,
    /// The bytes of the first `BODY[...]` or `RFC822...` item, when there is one.
    pub body: Option<Vec<u8>>,
}

impl FetchData {
    /// Returns the Message-ID of the fetched header or body without angle brackets, or
    /// `None` when no body was fetched or it has no Message-ID field.
    pub fn message_id(&self) -> Option<String> {
        message_id(self.body.as_deref()?)
    }
}

/// The sequence-number-to-UID map of a selected mailbox as the session's untagged responses
/// describe it, plus every UID it received and every UID reported expunged to it.
#[derive(Debug, Default)]
pub struct MailboxView {
    /// UID at each sequence number (index 0 is message 1); `None` until a FETCH names it.
    slots: Vec<Option<u32>>,
    /// Message-ID of every UID the session saw in a FETCH.
    ids: BTreeMap<u32, String>,
    /// Latest flags of every UID the session saw.
    flags: BTreeMap<u32, Vec<String>>,
    /// UIDs the server reported expunged, by EXPUNGE or VANISHED.
    expunged: BTreeSet<u32>,
}

impl MailboxView {
    /// Starts a view from the responses to SELECT or EXAMINE.
    pub fn from_select(response: &Response) -> Result<MailboxView, E2eError> {
        let mut view = MailboxView::default();
        view.apply(response)?;
        Ok(view)
    }

    /// Applies the untagged responses of one command (or of an IDLE) in order.
    pub fn apply(&mut self, response: &Response) -> Result<(), E2eError> {
        for line in &response.untagged {
            self.apply_line(line)?;
        }
        Ok(())
    }

    /// Applies one untagged response; others than EXISTS, EXPUNGE, VANISHED and FETCH are
    /// ignored.
    pub fn apply_line(&mut self, line: &[u8]) -> Result<(), E2eError> {
        let Some(rest) = line.strip_prefix(b"* ") else {
            return Ok(());
        };
        let head = String::from_utf8_lossy(&rest[..rest.len().min(64)]).into_owned();
        let mut words = head.split(' ');
        let first = words.next().unwrap_or_default();
        if first.eq_ignore_ascii_case("VANISHED") {
            return self.apply_vanished(&head);
        }
        let Ok(number) = first.parse::<u32>() else {
            return Ok(());
        };
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        match keyword.trim_end_matches('\r') {
            "EXISTS" => self.apply_exists(number),
            "EXPUNGE" => self.apply_expunge(number),
            "FETCH" => {
                let data = parse_fetch_data(line)?;
                self.apply_fetch(&data)
            }
            _ => Ok(()),
        }
    }

    fn apply_exists(&mut self, count: u32) -> Result<(), E2eError> {
        let count = count as usize;
        if count < self.slots.len() {
            return Err(E2eError::Protocol(format!(
                "EXISTS {count} is below the {} messages the session knows, without EXPUNGE",
                self.slots.len()
            )));
        }
        self.slots.resize(count, None);
        Ok(())
    }

    fn apply_expunge(&mut self, sequence: u32) -> Result<(), E2eError> {
        let index = sequence as usize;
        if index == 0 || index > self.slots.len() {
            return Err(E2eError::Protocol(format!(
                "EXPUNGE {sequence} outside the {} messages the session knows",
                self.slots.len()
            )));
        }
        if let Some(uid) = self.slots.remove(index - 1) {
            self.expunged.insert(uid);
        }
        Ok(())
    }

    fn apply_vanished(&mut self, head: &str) -> Result<(), E2eError> {
        let rest = head["VANISHED".len()..].trim_start();
        // VANISHED (EARLIER) is only a reply to SELECT with QRESYNC and removes nothing.
        if rest.starts_with('(') {
            return Ok(());
        }
        let set = rest.split_whitespace().next().unwrap_or_default();
        for uid in parse_uid_set(set)? {
            if let Some(index) = self.slots.iter().position(|slot| *slot == Some(uid)) {
                self.slots.remove(index);
            } else if self.ids.keys().next_back().is_some_and(|max| uid > *max)
                && let Some(index) = self.slots.iter().rposition(Option::is_none)
            {
                // New messages always get higher UIDs, so an unknown UID above every known one
                // is one of the messages announced by EXISTS and not fetched yet.
                self.slots.remove(index);
            } else {
                return Err(E2eError::Protocol(format!(
                    "VANISHED names UID {uid}, which the session never saw"
                )));
            }
            self.expunged.insert(uid);
        }
        Ok(())
    }

    fn apply_fetch(&mut self, data: &FetchData) -> Result<(), E2eError> {
        let index = data.sequence as usize;
        if index == 0 || index > self.slots.len() {
            return Err(E2eError::Protocol(format!(
                "FETCH for message {} outside the {} messages the session knows",
                data.sequence,
                self.slots.len()
            )));
        }
        let Some(uid) = data.uid.or(self.slots[index - 1]) else {
            return Ok(());
        };
        match self.slots[index - 1] {
            Some(known) if known != uid => {
                return Err(E2eError::Protocol(format!(
                    "message {} has UID {known} in this session, but FETCH says UID {uid}",
                    data.sequence
                )));
            }
            _ => self.slots[index - 1] = Some(uid),
        }
        if self.expunged.contains(&uid) {
            return Err(E2eError::Protocol(format!(
                "FETCH returned UID {uid}, which was reported expunged"
            )));
        }
        if let Some(id) = data.message_id() {
            let previous = self.ids.entry(uid).or_insert_with(|| id.clone());
            if *previous != id {
                return Err(E2eError::Protocol(format!(
                    "UID {uid} named <{previous}> and now names <{id}>"
                )));
            }
        }
        if let Some(flags) = &data.flags {
            self.flags.insert(uid, flags.clone());
        }
        Ok(())
    }

    /// Fetches every message, applies the responses, and checks that the server's listing is
    /// the mailbox this view expected: the same count, the same UID at each known position,
    /// and a UID for every message.
    ///
    /// A FETCH that completes with `OK [EXPUNGEISSUED]` may leave out messages expunged meanwhile,
    /// because a FETCH by sequence number must not send EXPUNGE (RFC 9051 §7.1); the check is
    /// then repeated after the next NOOP, up to [`EXPUNGE_ISSUED_RETRIES`] times.
    pub fn verify(&mut self, client: &mut ImapClient) -> Result<(), E2eError> {
        let mut attempt = 0;
        loop {
            let response = client.ok("NOOP")?;
            self.apply(&response)?;
            if self.slots.is_empty() {
                return Ok(());
            }
            let response = client.ok(&format!("FETCH 1:* {LISTING_ITEMS}"))?;
            // The command covers the messages known when its first FETCH response was
            // written; an EXISTS after that announces messages it did not cover.
            let mut covered = None;
            let mut fetched = BTreeSet::new();
            for line in &response.untagged {
                if is_fetch(line) {
                    covered.get_or_insert(self.slots.len());
                    fetched.insert(parse_fetch_data(line)?.sequence);
                }
                self.apply_line(line)?;
            }
            let covered = covered.unwrap_or(self.slots.len());
            let expected: BTreeSet<u32> = (1..=covered as u32).collect();
            if fetched == expected {
                return Ok(());
            }
            attempt += 1;
            if response.text.contains("[EXPUNGEISSUED]") && attempt <= EXPUNGE_ISSUED_RETRIES {
                std::thread::sleep(EXPUNGE_ISSUED_PAUSE);
                continue;
            }
            return Err(E2eError::Protocol(format!(
                "FETCH 1:* answered for messages {fetched:?}, but the session knows {} \
                 messages; responses: {:?} {}",
                self.slots.len(),
                response.lines(),
                response.text
            )));
        }
    }

    /// Returns the UIDs in sequence-number order; unknown UIDs are left out.
    pub fn uids(&self) -> Vec<u32> {
        self.slots.iter().flatten().copied().collect()
    }

    /// Returns the number of messages in the view.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Returns true when the view contains no message.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Returns the Message-ID of every UID the session saw.
    pub fn message_ids(&self) -> &BTreeMap<u32, String> {
        &self.ids
    }

    /// Returns the last flags the session saw for `uid`.
    pub fn flags(&self, uid: u32) -> Option<&[String]> {
        self.flags.get(&uid).map(Vec::as_slice)
    }

    /// Returns the UIDs the server reported expunged.
    pub fn expunged(&self) -> &BTreeSet<u32> {
        &self.expunged
    }

    /// Returns the UIDs the session learnt that are neither in the mailbox nor reported
    /// expunged; a consistent server leaves none.
    pub fn unaccounted(&self) -> Vec<u32> {
        let present: BTreeSet<u32> = self.uids().into_iter().collect();
        self.ids
            .keys()
            .filter(|uid| !present.contains(uid) && !self.expunged.contains(uid))
            .copied()
            .collect()
    }
}

fn is_fetch(line: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&line[..line.len().min(32)]).to_ascii_uppercase();
    let mut words = head.split(' ');
    words.next() == Some("*")
        && words.next().is_some_and(|n| n.parse::<u32>().is_ok())
        && words.next() == Some("FETCH")
}

/// Parses a `* N FETCH (...)` response whose literals are inline (`{n}` CRLF, then n bytes).
pub fn parse_fetch_data(line: &[u8]) -> Result<FetchData, E2eError> {
    let invalid = |what: &str| {
        E2eError::Protocol(format!(
            "{what} in FETCH response {:?}",
            String::from_utf8_lossy(&line[..line.len().min(200)])
        ))
    };
    let text = line.strip_prefix(b"* ").ok_or_else(|| invalid("no '* '"))?;
    let space = text
        .iter()
        .position(|&b| b == b' ')
        .ok_or_else(|| invalid("no number"))?;
    let sequence = std::str::from_utf8(&text[..space])
        .ok()
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| invalid("invalid sequence number"))?;
    let rest = &text[space + 1..];
    if rest.len() < 7 || !rest[..7].eq_ignore_ascii_case(b"FETCH (") {
        return Err(invalid("no 'FETCH ('"));
    }
    let mut parser = ItemParser { bytes: rest, at: 7 };
    let mut data = FetchData {
        sequence,
        ..FetchData::default()
    };
    loop {
        parser.skip_spaces();
        match parser.peek() {
            Some(b')') => return Ok(data),
            None => return Err(invalid("unterminated list")),
            _ => {}
        }
        let name = parser
            .item_name()
            .ok_or_else(|| invalid("invalid item name"))?;
        parser.skip_spaces();
        let value = parser
            .value()
            .ok_or_else(|| invalid("invalid item value"))?;
        let upper = name.to_ascii_uppercase();
        if upper == "UID" {
            let uid = String::from_utf8_lossy(&value).parse().ok();
            data.uid = Some(uid.ok_or_else(|| invalid("invalid UID"))?);
        } else if upper == "FLAGS" {
            let inner = String::from_utf8_lossy(&value);
            let inner = inner.trim_start_matches('(').trim_end_matches(')');
            data.flags = Some(inner.split_whitespace().map(str::to_string).collect());
        } else if (upper.starts_with("BODY[") || upper.starts_with("RFC822"))
            && upper != "RFC822.SIZE"
            && data.body.is_none()
        {
            data.body = Some(value);
        }
    }
}

/// A cursor over the items of a FETCH response.
struct ItemParser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl ItemParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    /// Reads an item name such as `UID` or `BODY[HEADER.FIELDS (MESSAGE-ID)]<0>`.
    fn item_name(&mut self) -> Option<String> {
        let start = self.at;
        let mut depth = 0usize;
        while let Some(byte) = self.peek() {
            match byte {
                b'[' => depth += 1,
                b']' => depth = depth.checked_sub(1)?,
                b' ' | b')' if depth == 0 => break,
                _ => {}
            }
            self.at += 1;
        }
        (self.at > start).then(|| String::from_utf8_lossy(&self.bytes[start..self.at]).into())
    }

    /// Reads a value: a literal (its bytes), a quoted string (unescaped), a parenthesised list
    /// (as written) or an atom or number.
    fn value(&mut self) -> Option<Vec<u8>> {
        match self.peek()? {
            b'{' | b'~' => self.literal(),
            b'"' => self.quoted(),
            b'(' => {
                let start = self.at;
                self.skip_list()?;
                Some(self.bytes[start..self.at].to_vec())
            }
            _ => {
                let start = self.at;
                while self.peek().is_some_and(|b| b != b' ' && b != b')') {
                    self.at += 1;
                }
                Some(self.bytes[start..self.at].to_vec())
            }
        }
    }

    fn literal(&mut self) -> Option<Vec<u8>> {
        if self.peek() == Some(b'~') {
            self.at += 1;
        }
        let close = self.bytes[self.at..].iter().position(|&b| b == b'}')? + self.at;
        let length: usize = std::str::from_utf8(&self.bytes[self.at + 1..close])
            .ok()?
            .parse()
            .ok()?;
        let start = close + 3;
        if self.bytes.get(close + 1..start)? != b"\r\n" {
            return None;
        }
        let end = start.checked_add(length)?;
        let body = self.bytes.get(start..end)?.to_vec();
        self.at = end;
        Some(body)
    }

    fn quoted(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.at += 1;
        loop {
            let byte = self.peek()?;
            self.at += 1;
            match byte {
                b'"' => return Some(out),
                b'\\' => {
                    out.push(self.peek()?);
                    self.at += 1;
                }
                other => out.push(other),
            }
        }
    }

    /// Skips a parenthesised list, including nested lists, strings and literals inside it.
    fn skip_list(&mut self) -> Option<()> {
        self.at += 1;
        loop {
            match self.peek()? {
                b')' => {
                    self.at += 1;
                    return Some(());
                }
                b'(' => self.skip_list()?,
                b'"' => {
                    self.quoted()?;
                }
                b'{' => {
                    self.literal()?;
                }
                _ => self.at += 1,
            }
        }
    }
}

/// Returns the Message-ID field of a message or header block, unfolded and without angle
/// brackets.
pub fn message_id(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message).replace("\r\n", "\n");
    let header = text.split("\n\n").next().unwrap_or_default();
    let unfolded = header.replace("\n ", " ").replace("\n\t", " ");
    unfolded.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim().eq_ignore_ascii_case("message-id").then(|| {
            value
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

/// Parses a UID set made of numbers and `a:b` ranges (no `*`).
pub fn parse_uid_set(set: &str) -> Result<Vec<u32>, E2eError> {
    let invalid = || E2eError::Protocol(format!("invalid UID set {set:?}"));
    let mut uids = Vec::new();
    for part in set.split(',') {
        let (low, high) = part.split_once(':').unwrap_or((part, part));
        let low: u32 = low.parse().map_err(|_| invalid())?;
        let high: u32 = high.parse().map_err(|_| invalid())?;
        uids.extend(low.min(high)..=low.max(high));
    }
    Ok(uids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(lines: &[&str]) -> Response {
        Response {
            untagged: lines.iter().map(|line| line.as_bytes().to_vec()).collect(),
            status: crate::client::Status::Ok,
            text: "OK".into(),
        }
    }

    #[test]
    fn fetch_data_reads_uid_after_literal() {
        let line =
            b"* 2 FETCH (BODY[] {28}\r\nMessage-ID: <x@y>\r\n\r\nUID 9\r\n UID 4 FLAGS (\\Seen))";
        let data = parse_fetch_data(line).unwrap();
        assert_eq!(data.sequence, 2);
        assert_eq!(data.uid, Some(4));
        assert_eq!(data.flags, Some(vec!["\\Seen".to_string()]));
        assert_eq!(data.message_id().as_deref(), Some("x@y"));
    }

    #[test]
    fn fetch_data_reads_header_fields_section() {
        let line =
            b"* 1 FETCH (UID 3 BODY[HEADER.FIELDS (MESSAGE-ID)] {21}\r\nMessage-ID: <a@b>\r\n\r\n)";
        let data = parse_fetch_data(line).unwrap();
        assert_eq!(data.uid, Some(3));
        assert_eq!(data.message_id().as_deref(), Some("a@b"));
    }

    #[test]
    fn view_follows_exists_fetch_and_expunge() {
        let mut view = MailboxView::from_select(&response(&["* 3 EXISTS"])).unwrap();
        view.apply(&response(&[
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 5)",
            "* 3 FETCH (UID 7)",
            "* 2 EXPUNGE",
            "* 3 EXISTS",
            "* 3 FETCH (UID 8 FLAGS ())",
        ]))
        .unwrap();
        assert_eq!(view.uids(), vec![1, 7, 8]);
        assert!(view.expunged().contains(&5));
    }

    #[test]
    fn view_rejects_changed_uid_at_position() {
        let mut view = MailboxView::from_select(&response(&["* 2 EXISTS"])).unwrap();
        view.apply(&response(&["* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)"]))
            .unwrap();
        assert!(view.apply(&response(&["* 1 FETCH (UID 2)"])).is_err());
    }

    #[test]
    fn view_rejects_shrinking_exists() {
        let mut view = MailboxView::from_select(&response(&["* 2 EXISTS"])).unwrap();
        assert!(view.apply(&response(&["* 1 EXISTS"])).is_err());
    }

    #[test]
    fn view_applies_vanished() {
        let mut view = MailboxView::from_select(&response(&["* 3 EXISTS"])).unwrap();
        view.apply(&response(&[
            "* 1 FETCH (UID 1)",
            "* 2 FETCH (UID 2)",
            "* 3 FETCH (UID 3)",
            "* VANISHED 1:2",
        ]))
        .unwrap();
        assert_eq!(view.uids(), vec![3]);
        assert!(view.apply(&response(&["* VANISHED (EARLIER) 1:2"])).is_ok());
        assert!(view.apply(&response(&["* VANISHED 2"])).is_err());
    }
}
