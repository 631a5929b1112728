//! Evaluation of a compiled search key against one message. Flags come with the
//! candidate, size, dates and the header block from the index entry, and only BODY and
//! TEXT read the message file.

use std::fs::File;
use std::io::Read;

use asimapd_mime::Analysis;
use asimapd_mime::search::{Needle, header_values};
use asimapd_store::{SearchEntry, header_block};

use super::Scope;
use super::compiled::{Test, in_ranges};
use crate::mapped::Mapped;

/// Files up to this size, in bytes, are read into memory, and larger ones are mapped. A
/// read costs less than setting up and tearing down a mapping for the small files that
/// most mail is, and mapping keeps a large message out of the heap.
const MAX_READ_FILE: u64 = 1 << 20;

/// One message under evaluation. Its file is read on first use and kept for the other
/// keys of the same search.
pub(super) struct Message<'a> {
    scope: &'a Scope<'a>,
    candidate: &'a super::Candidate,
    /// The index entry; `None` when the message left the index since the view was taken.
    entry: Option<&'a SearchEntry>,
    /// The file's contents once read; `None` inside when it could not be opened.
    file: Option<Option<FileBytes>>,
    analysis: Option<Analysis>,
}

impl<'a> Message<'a> {
    pub(super) fn new(
        scope: &'a Scope<'a>,
        candidate: &'a super::Candidate,
        entry: Option<&'a SearchEntry>,
    ) -> Self {
        Message {
            scope,
            candidate,
            entry,
            file: None,
            analysis: None,
        }
    }

    // One arm per compiled key keeps the whole key set in one place.
    pub(super) fn matches(&mut self, test: &Test) -> bool {
        let flags = &self.candidate.flags;
        match test {
            Test::All => true,
            Test::Flag(flag, expected) => flags.has(*flag) == *expected,
            Test::Keyword(name, expected) => flags.has_keyword(name) == *expected,
            Test::Recent => self.candidate.is_recent,
            Test::Old => !self.candidate.is_recent,
            Test::New => self.candidate.is_recent && !flags.has(asimapd_store::SystemFlag::Seen),
            Test::Not(inner) => !self.matches(inner),
            Test::Or(left, right) => self.matches(left) || self.matches(right),
            Test::And(tests) => tests.iter().all(|test| self.matches(test)),
            Test::Sequence(ranges) => in_ranges(ranges, self.candidate.seq),
            Test::Uid(ranges) => in_ranges(ranges, self.candidate.uid),
            Test::Larger(size) => self.entry.is_some_and(|e| e.details.rfc822_size > *size),
            Test::Smaller(size) => self.entry.is_some_and(|e| e.details.rfc822_size < *size),
            Test::Before(day) => self.internal_day().is_some_and(|d| d < *day),
            Test::On(day) => self.internal_day() == Some(*day),
            Test::Since(day) => self.internal_day().is_some_and(|d| d >= *day),
            Test::SentBefore(day) => self.sent_day().is_some_and(|d| d < *day),
            Test::SentOn(day) => self.sent_day() == Some(*day),
            Test::SentSince(day) => self.sent_day().is_some_and(|d| d >= *day),
            Test::Header(name, needle) => self.header_contains(name, needle),
            Test::Body(needle) => self.body_contains(needle),
            Test::Text(needle) => self.text_contains(needle),
            Test::Never => false,
        }
    }

    /// Days since the epoch of INTERNALDATE in its own zone (RFC 9051 §6.4.4 compares
    /// dates, disregarding time and zone).
    fn internal_day(&self) -> Option<i64> {
        let date = self.entry?.details.internal_date;
        let zone = i64::from(date.zone_minutes.unwrap_or(0));
        Some((date.timestamp + zone * 60).div_euclid(86_400))
    }

    /// Days since the epoch of the first Date field in its own zone; `None` without one.
    fn sent_day(&mut self) -> Option<i64> {
        let value = header_values(self.header_block()?, "Date").next()?;
        asimapd_mime::parse_rfc5322_date(value.as_bytes()).map(|date| date.local_day())
    }

    /// Tests the decoded values of the fields named `name`. An empty needle matches every
    /// message that has such a field.
    fn header_contains(&mut self, name: &str, needle: &Needle) -> bool {
        let Some(block) = self.header_block() else {
            return false;
        };
        let mut values = header_values(block, name);
        if needle.is_empty() {
            return values.next().is_some();
        }
        values.any(|value| needle.is_in(&value))
    }

    fn body_contains(&mut self, needle: &Needle) -> bool {
        self.load_file();
        let Some(Some(file)) = &self.file else {
            return false;
        };
        let raw = file.bytes();
        let analysis = self.analysis.get_or_insert_with(|| Analysis::parse(raw));
        analysis.body_texts(raw).any(|body| needle.is_in(&body))
    }

    fn text_contains(&mut self, needle: &Needle) -> bool {
        self.load_file();
        let Some(Some(file)) = &self.file else {
            return false;
        };
        let raw = file.bytes();
        let analysis = self.analysis.get_or_insert_with(|| Analysis::parse(raw));
        analysis.search_text(raw).matches_text(needle)
    }

    /// Returns the header block: the one cached in the index, or for a block over
    /// `MAX_CACHED_HEADER`, or one the index could not cache, the start of the file.
    fn header_block(&mut self) -> Option<&[u8]> {
        let entry = self.entry?;
        if let Some(header) = entry.details.header.as_deref() {
            return Some(header);
        }
        self.load_file();
        let file = self.file.as_ref()?.as_ref()?;
        Some(header_block(file.bytes()))
    }

    /// Reads the message file on first use. A message that left the index, or whose file
    /// cannot be opened or is no longer the one indexed, gets `None`, and the search syncs
    /// the mailbox when it ends.
    fn load_file(&mut self) {
        if self.file.is_some() {
            return;
        }
        let Some(entry) = self.entry else {
            self.file = Some(None);
            return;
        };
        let opened = self.scope.store.open_entry(self.scope.folder, entry);
        let bytes = match opened {
            Ok(file) => FileBytes::read(&file, entry.identity.size).ok(),
            Err(_) => {
                self.scope.note_missing();
                None
            }
        };
        self.file = Some(bytes);
    }
}

/// The contents of one message file, read or mapped.
enum FileBytes {
    Read(Vec<u8>),
    Mapped(Mapped),
}

impl FileBytes {
    /// Reads or maps `file`, whose size is `len` bytes: the size in its identity, which
    /// `Store::open_entry` compared, so no second `fstat` is needed. A file shorter than
    /// that is an error.
    fn read(file: &File, len: u64) -> std::io::Result<Self> {
        if len > MAX_READ_FILE {
            return Mapped::map(file).map(FileBytes::Mapped);
        }
        let mut bytes = vec![0; len as usize];
        (&*file).read_exact(&mut bytes)?;
        Ok(FileBytes::Read(bytes))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            FileBytes::Read(bytes) => bytes,
            FileBytes::Mapped(mapped) => mapped.bytes(),
        }
    }
}
