//! The SEARCH engine: evaluates search keys against each message. Flags, dates, sizes and
//! header fields come from the index, and only BODY and TEXT read the message files.

use asimapd_mime::Analysis;
use asimapd_mime::search::{SearchText, contains_ignore_case};
use asimapd_proto::{Date, SearchKey, SeqNum, SequenceSet, Uid};
use asimapd_store::{FlagSet, MessageDetails, Store, StoreError, SystemFlag, header_block};

use crate::error::CommandError;
use crate::mapped::Mapped;

/// The data of one message that SEARCH keys are evaluated against.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) seq: SeqNum,
    pub(crate) uid: Uid,
    pub(crate) flags: FlagSet,
    pub(crate) is_recent: bool,
}

/// Rejects keys of extensions this server does not advertise.
pub(crate) fn check_keys(keys: &[SearchKey]) -> Result<(), CommandError> {
    for key in keys {
        match key {
            SearchKey::Not(inner) => check_keys(std::slice::from_ref(inner))?,
            SearchKey::Or(left, right) => {
                check_keys(std::slice::from_ref(left))?;
                check_keys(std::slice::from_ref(right))?;
            }
            SearchKey::And(inner) => check_keys(inner)?,
            SearchKey::ModSeq { .. }
            | SearchKey::Older(_)
            | SearchKey::Younger(_)
            | SearchKey::SavedBefore(_)
            | SearchKey::SavedOn(_)
            | SearchKey::SavedSince(_)
            | SearchKey::SaveDateSupported
            | SearchKey::EmailId(_)
            | SearchKey::ThreadId(_) => {
                return Err(CommandError::bad(format!(
                    "SEARCH key {key:?} is not supported"
                )));
            }
            SearchKey::SequenceSet(SequenceSet::Saved) | SearchKey::Uid(SequenceSet::Saved) => {
                return Err(CommandError::bad(
                    "SEARCH with $ (SEARCHRES) is not supported",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Candidates evaluated per batch. The cached details of one batch, header blocks
/// included, are in memory at a time.
const DETAILS_BATCH: usize = 256;

/// Returns the candidates that match `key`, in order. Messages that left the index or whose
/// file vanished (nmh removed them since the last look) do not match keys that need their
/// details or content.
pub(crate) fn search(
    store: &Store,
    folder: &str,
    candidates: &[Candidate],
    largest_uid: Option<Uid>,
    key: &SearchKey,
) -> Result<Vec<Candidate>, StoreError> {
    let largest_seq = SeqNum::new(candidates.len() as u32);
    let needs_details = uses_details(key);
    let mut matches = Vec::new();
    for batch in candidates.chunks(DETAILS_BATCH) {
        let details = if needs_details {
            let uids: Vec<Uid> = batch.iter().map(|candidate| candidate.uid).collect();
            store.search_details(folder, &uids)?
        } else {
            vec![None; batch.len()]
        };
        for (candidate, details) in batch.iter().zip(details) {
            let mut message = Message {
                store,
                folder,
                candidate,
                largest_seq,
                largest_uid,
                details,
                headers: None,
                text: None,
            };
            if message.matches(key) {
                matches.push(candidate.clone());
            }
        }
    }
    Ok(matches)
}

/// Returns true when `key` reads the cached details: size, INTERNALDATE or header fields.
fn uses_details(key: &SearchKey) -> bool {
    use SearchKey as K;
    match key {
        K::Not(inner) => uses_details(inner),
        K::Or(left, right) => uses_details(left) || uses_details(right),
        K::And(keys) => keys.iter().any(uses_details),
        K::Larger(_)
        | K::Smaller(_)
        | K::Before(_)
        | K::On(_)
        | K::Since(_)
        | K::SentBefore(_)
        | K::SentOn(_)
        | K::SentSince(_)
        | K::From(_)
        | K::To(_)
        | K::Cc(_)
        | K::Bcc(_)
        | K::Subject(_)
        | K::Header(..) => true,
        _ => false,
    }
}

/// One message under evaluation. Its cached details come from the index for the whole
/// batch, and its decoded header fields and text are built on first use.
struct Message<'a> {
    store: &'a Store,
    folder: &'a str,
    candidate: &'a Candidate,
    largest_seq: Option<SeqNum>,
    largest_uid: Option<Uid>,
    /// The cached details, when the key uses them or the file was read for BODY or TEXT.
    details: Option<MessageDetails>,
    /// The decoded header fields alone, for keys that need no body text.
    headers: Option<Option<SearchText>>,
    text: Option<Option<SearchText>>,
}

impl Message<'_> {
    // One arm per search key keeps the whole key set in one place.
    fn matches(&mut self, key: &SearchKey) -> bool {
        use SearchKey as K;
        let flags = &self.candidate.flags;
        match key {
            K::All => true,
            K::Answered => flags.has(SystemFlag::Answered),
            K::Deleted => flags.has(SystemFlag::Deleted),
            K::Draft => flags.has(SystemFlag::Draft),
            K::Flagged => flags.has(SystemFlag::Flagged),
            K::Seen => flags.has(SystemFlag::Seen),
            K::Unanswered => !flags.has(SystemFlag::Answered),
            K::Undeleted => !flags.has(SystemFlag::Deleted),
            K::Undraft => !flags.has(SystemFlag::Draft),
            K::Unflagged => !flags.has(SystemFlag::Flagged),
            K::Unseen => !flags.has(SystemFlag::Seen),
            K::Recent => self.candidate.is_recent,
            K::Old => !self.candidate.is_recent,
            K::New => self.candidate.is_recent && !flags.has(SystemFlag::Seen),
            K::Keyword(name) => flags.has_keyword(name),
            K::Unkeyword(name) => !flags.has_keyword(name),
            K::Not(inner) => !self.matches(inner),
            K::Or(left, right) => self.matches(left) || self.matches(right),
            K::And(keys) => keys.iter().all(|key| self.matches(key)),
            K::SequenceSet(set) => contains(set, self.candidate.seq, self.largest_seq),
            K::Uid(set) => contains(set, self.candidate.uid, self.largest_uid),
            K::Larger(size) => self.details().is_some_and(|d| d.rfc822_size > *size),
            K::Smaller(size) => self.details().is_some_and(|d| d.rfc822_size < *size),
            K::Before(date) => self
                .internal_day()
                .is_some_and(|day| day < day_number(*date)),
            K::On(date) => self.internal_day() == Some(day_number(*date)),
            K::Since(date) => self
                .internal_day()
                .is_some_and(|day| day >= day_number(*date)),
            K::SentBefore(date) => self.sent_day().is_some_and(|day| day < day_number(*date)),
            K::SentOn(date) => self.sent_day() == Some(day_number(*date)),
            K::SentSince(date) => self.sent_day().is_some_and(|day| day >= day_number(*date)),
            K::From(value) => self.header_contains("From", value),
            K::To(value) => self.header_contains("To", value),
            K::Cc(value) => self.header_contains("Cc", value),
            K::Bcc(value) => self.header_contains("Bcc", value),
            K::Subject(value) => self.header_contains("Subject", value),
            K::Header(name, value) => self.header_contains(name, value),
            K::Body(value) => self
                .text()
                .is_some_and(|text| text.body_contains(&String::from_utf8_lossy(value))),
            K::Text(value) => self
                .text()
                .is_some_and(|text| text.text_contains(&String::from_utf8_lossy(value))),
            _ => false,
        }
    }

    fn details(&mut self) -> Option<&MessageDetails> {
        self.details.as_ref()
    }

    /// Days since the epoch of INTERNALDATE in its own zone (RFC 9051 §6.4.4 compares
    /// dates, disregarding time and zone).
    fn internal_day(&mut self) -> Option<i64> {
        let date = self.details()?.internal_date;
        let zone = i64::from(date.zone_minutes.unwrap_or(0));
        Some((date.timestamp + zone * 60).div_euclid(86_400))
    }

    /// Days since the epoch of the Date header in its own zone; `None` without one.
    fn sent_day(&mut self) -> Option<i64> {
        let text = self.header_text()?;
        let value = text.header("Date").next()?.to_owned();
        asimapd_mime::parse_rfc5322_date(value.as_bytes()).map(|date| date.local_day())
    }

    fn header_contains(&mut self, name: &str, value: &[u8]) -> bool {
        let needle = String::from_utf8_lossy(value).into_owned();
        let Some(text) = self.header_text() else {
            return false;
        };
        let mut values = text.header(name).peekable();
        if needle.is_empty() {
            return values.peek().is_some();
        }
        values.any(|value| contains_ignore_case(value, &needle))
    }

    fn text(&mut self) -> Option<&SearchText> {
        if self.text.is_none() {
            self.text = Some(self.load_text());
        }
        self.text.as_ref().and_then(Option::as_ref)
    }

    /// Returns the decoded header fields: from the full text when a BODY or TEXT key
    /// loaded it already, else from the header block alone, so header keys never decode
    /// message bodies.
    fn header_text(&mut self) -> Option<&SearchText> {
        if matches!(self.text, Some(Some(_))) {
            return self.text.as_ref().and_then(Option::as_ref);
        }
        if self.headers.is_none() {
            self.headers = Some(self.load_headers());
        }
        self.headers.as_ref().and_then(Option::as_ref)
    }

    /// Decodes the header block cached in the index. Only a header block over
    /// `MAX_CACHED_HEADER`, or one whose file could not be read to fill the cache, is read
    /// from the message file.
    fn load_headers(&mut self) -> Option<SearchText> {
        if let Some(header) = self.details.as_ref()?.header.as_deref() {
            return Some(Analysis::parse(header).search_text(header));
        }
        let opened = self
            .store
            .open_message(self.folder, self.candidate.uid)
            .ok()?;
        let mapped = Mapped::map(&opened.file).ok()?;
        let header = header_block(mapped.bytes());
        let analysis = Analysis::parse(header);
        Some(analysis.search_text(header))
    }

    fn load_text(&mut self) -> Option<SearchText> {
        let opened = self
            .store
            .open_message(self.folder, self.candidate.uid)
            .ok()?;
        let mapped = Mapped::map(&opened.file).ok()?;
        self.details.get_or_insert(opened.details);
        let analysis = Analysis::parse(mapped.bytes());
        Some(analysis.search_text(mapped.bytes()))
    }
}

fn contains<N: asimapd_proto::SetNumber>(set: &SequenceSet, number: N, largest: Option<N>) -> bool {
    set.resolve(largest, &[])
        .iter()
        .any(|range| range.contains(&number))
}

fn day_number(date: Date) -> i64 {
    asimapd_mime::date::days_from_civil(
        i64::from(date.year()),
        u32::from(date.month()),
        u32::from(date.day()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_search_text_has_no_bodies() {
        let raw = b"Subject: =?UTF-8?Q?K=C3=B6ln?=\nContent-Type: text/plain\n\nbody text\n";
        let header = header_block(raw);
        let text = Analysis::parse(header).search_text(header);
        assert_eq!(text.header("Subject").next(), Some("Köln"));
        assert!(!text.body_contains("body text"));
    }
}
