//! The `.mh_sequences` format: parsing what nmh reads and writing only what nmh writes.
//!
//! nmh reads the file with its RFC 822 header parser: one `name: ranges` line per sequence,
//! continuation lines starting with a space or tab, CRLF and a missing final newline
//! tolerated, the later of two lines with the same name winning. A blank line or a line
//! without a colon makes every nmh command on the folder fail, so they are never written.
//!
//! [`SequencesFile`] keeps each entry's original bytes. Writing it back reproduces unchanged
//! entries byte for byte (their order, `cur`, unknown names such as `X-Imap-Flagged`, long or
//! wrapped lines) and re-renders only the sequences that [`SequencesFile::apply`] changed.

use std::fmt;

use crate::error::{MhError, Result};
use crate::number::NumberSet;

/// Names nmh reserves for message ranges; `mark` rejects them as sequence names.
const RESERVED_NAMES: [&str; 6] = ["all", "first", "last", "next", "prev", "new"];

/// The Unseen-Sequence used when the MH profile names none, as nmh's `inc` documentation
/// suggests and the Python asimap always did.
pub const DEFAULT_UNSEEN_SEQUENCE: &str = "unseen";

/// Maximum length of a sequence name this crate writes, in bytes.
pub const MAX_SEQUENCE_NAME_LEN: usize = 64;

/// A sequence name that nmh's `mark` accepts: `[A-Za-z][A-Za-z0-9]*`, not one of
/// `all first last next prev new`, at most [`MAX_SEQUENCE_NAME_LEN`] bytes. Names are
/// case-sensitive, as in nmh.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceName(String);

impl SequenceName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self> {
        let invalid = |reason| MhError::InvalidSequenceName {
            name: name.to_owned(),
            reason,
        };
        let Some(first) = name.bytes().next() else {
            return Err(invalid("empty name"));
        };
        if !first.is_ascii_alphabetic() {
            return Err(invalid("must start with an ASCII letter"));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid("only ASCII letters and digits are allowed"));
        }
        if name.len() > MAX_SEQUENCE_NAME_LEN {
            return Err(invalid("longer than 64 bytes"));
        }
        if RESERVED_NAMES.contains(&name) {
            return Err(invalid("reserved by nmh for message ranges"));
        }
        Ok(SequenceName(name.to_owned()))
    }

    /// Returns the name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SequenceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One change to one sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SequenceChange {
    /// The sequence to change.
    pub name: SequenceName,
    /// The operation.
    pub op: SequenceOp,
}

/// Operation of a [`SequenceChange`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SequenceOp {
    /// Adds the numbers to the sequence, creating it when needed.
    Add(NumberSet),
    /// Removes the numbers from the sequence; an emptied sequence is dropped, as nmh does.
    Remove(NumberSet),
    /// Replaces the sequence's numbers; an empty set drops the sequence.
    Replace(NumberSet),
}

impl SequenceChange {
    /// Builds a change that adds `numbers` to `name`.
    pub fn add(name: SequenceName, numbers: NumberSet) -> Self {
        SequenceChange {
            name,
            op: SequenceOp::Add(numbers),
        }
    }

    /// Builds a change that removes `numbers` from `name`.
    pub fn remove(name: SequenceName, numbers: NumberSet) -> Self {
        SequenceChange {
            name,
            op: SequenceOp::Remove(numbers),
        }
    }
}

/// The parsed contents of a `.mh_sequences` file, with each entry's original bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SequencesFile {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    /// The entry's bytes as read (header line plus continuation lines), or `None` once the
    /// entry was changed and must be rendered from `numbers`.
    raw: Option<Vec<u8>>,
    kind: EntryKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum EntryKind {
    Sequence {
        name: String,
        numbers: NumberSet,
    },
    /// A blank line, a line without a colon or a stray continuation line: nmh refuses the
    /// whole file when it meets one, so it is dropped on the next write.
    Malformed,
}

impl SequencesFile {
    /// Parses the file's bytes. Parsing never fails: what nmh would skip is skipped, and
    /// malformed lines are remembered only so that the next write can drop them.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut entries: Vec<Entry> = Vec::new();
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            let is_continuation = matches!(line.first(), Some(b' ' | b'\t'));
            let last_is_sequence = entries
                .last()
                .is_some_and(|entry| matches!(entry.kind, EntryKind::Sequence { .. }));
            if is_continuation && last_is_sequence {
                append_continuation(entries.last_mut().expect("checked above"), line);
            } else {
                entries.push(parse_header_line(line));
            }
        }
        SequencesFile { entries }
    }

    /// Returns the numbers of sequence `name` (the last line with that name, as nmh reads).
    pub fn get(&self, name: &str) -> Option<&NumberSet> {
        self.sequences()
            .filter(|(entry_name, _)| *entry_name == name)
            .last()
            .map(|(_, numbers)| numbers)
    }

    /// Returns every sequence in file order, names as written. A name that appears twice is
    /// returned twice; [`SequencesFile::get`] gives the one nmh uses.
    pub fn sequences(&self) -> impl Iterator<Item = (&str, &NumberSet)> {
        self.entries.iter().filter_map(|entry| match &entry.kind {
            EntryKind::Sequence { name, numbers } => Some((name.as_str(), numbers)),
            EntryKind::Malformed => None,
        })
    }

    /// Returns true when the file contains a line nmh rejects (a blank line or one without a
    /// colon); the next write drops those lines.
    pub fn has_malformed_lines(&self) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.kind == EntryKind::Malformed)
    }

    /// Applies `changes` in order. Only the changed sequences are re-rendered; an emptied
    /// sequence is dropped and a new one goes at the end, as nmh does.
    pub fn apply(&mut self, changes: &[SequenceChange]) {
        for change in changes {
            self.apply_one(change);
        }
    }

    /// Removes `numbers` from every sequence, `cur` included only when `include_cur` is set
    /// (nmh's `rmm` keeps `cur` pointing at a removed message).
    pub fn remove_everywhere(&mut self, numbers: &NumberSet, include_cur: bool) {
        for entry in &mut self.entries {
            let EntryKind::Sequence { name, numbers: set } = &mut entry.kind else {
                continue;
            };
            if name == "cur" && !include_cur {
                continue;
            }
            let before = set.clone();
            set.subtract(numbers);
            if *set != before {
                entry.raw = None;
            }
        }
        self.drop_empty_changed();
    }

    /// Renders the file: unchanged entries as read (a missing final newline is added),
    /// changed ones as `name: ranges\n`, malformed lines left out.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for entry in &self.entries {
            match (&entry.kind, &entry.raw) {
                (EntryKind::Malformed, _) => {}
                (EntryKind::Sequence { .. }, Some(raw)) => {
                    out.extend_from_slice(raw);
                    if !raw.ends_with(b"\n") {
                        out.push(b'\n');
                    }
                }
                (EntryKind::Sequence { name, numbers }, None) => {
                    out.extend_from_slice(format!("{name}: {numbers}\n").as_bytes());
                }
            }
        }
        out
    }

    fn apply_one(&mut self, change: &SequenceChange) {
        let name = change.name.as_str();
        let position = self.last_position(name);
        if let Some(index) = position {
            self.drop_shadowed(name, index);
        }
        let index = match self.last_position(name) {
            Some(index) => index,
            None => {
                self.entries.push(Entry {
                    raw: None,
                    kind: EntryKind::Sequence {
                        name: name.to_owned(),
                        numbers: NumberSet::new(),
                    },
                });
                self.entries.len() - 1
            }
        };
        let entry = &mut self.entries[index];
        if let EntryKind::Sequence { numbers, .. } = &mut entry.kind {
            let before = numbers.clone();
            match &change.op {
                SequenceOp::Add(set) => numbers.union_with(set),
                SequenceOp::Remove(set) => numbers.subtract(set),
                SequenceOp::Replace(set) => *numbers = set.clone(),
            }
            if *numbers != before {
                entry.raw = None;
            }
        }
        self.drop_empty_changed();
    }

    fn last_position(&self, name: &str) -> Option<usize> {
        self.entries.iter().rposition(
            |entry| matches!(&entry.kind, EntryKind::Sequence { name: n, .. } if n == name),
        )
    }

    /// Drops earlier lines with the same name: nmh ignores them, and keeping them would let an
    /// old value come back if the later line is ever dropped.
    fn drop_shadowed(&mut self, name: &str, keep: usize) {
        let mut index = 0;
        self.entries.retain(|entry| {
            let shadowed = index != keep
                && matches!(&entry.kind, EntryKind::Sequence { name: n, .. } if n == name);
            index += 1;
            !shadowed
        });
    }

    fn drop_empty_changed(&mut self) {
        self.entries.retain(|entry| {
            !(entry.raw.is_none()
                && matches!(&entry.kind, EntryKind::Sequence { numbers, .. } if numbers.is_empty()))
        });
    }
}

fn parse_header_line(line: &[u8]) -> Entry {
    let malformed = Entry {
        raw: Some(line.to_vec()),
        kind: EntryKind::Malformed,
    };
    let text = trim_line_end(line);
    let Some(colon) = text.iter().position(|&b| b == b':') else {
        return malformed;
    };
    let name = &text[..colon];
    if name.is_empty() || matches!(line.first(), Some(b' ' | b'\t')) {
        return malformed;
    }
    Entry {
        raw: Some(line.to_vec()),
        kind: EntryKind::Sequence {
            name: String::from_utf8_lossy(name).into_owned(),
            numbers: NumberSet::parse(&text[colon + 1..]),
        },
    }
}

fn append_continuation(entry: &mut Entry, line: &[u8]) {
    if let Some(raw) = &mut entry.raw {
        raw.extend_from_slice(line);
    }
    if let EntryKind::Sequence { numbers, .. } = &mut entry.kind {
        numbers.union_with(&NumberSet::parse(trim_line_end(line)));
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> SequenceName {
        SequenceName::new(text).unwrap()
    }

    fn set(text: &str) -> NumberSet {
        NumberSet::parse(text.as_bytes())
    }

    #[test]
    fn sequence_name_rules_match_mark() {
        for good in ["unseen", "flagged", "Deleted", "cur", "a1", "imapJunk"] {
            assert!(SequenceName::new(good).is_ok(), "{good}");
        }
        for bad in [
            "X-Imap-Flagged",
            "keyword_1",
            "$Junk",
            "9lives",
            "",
            "all",
            "new",
            "prev",
        ] {
            assert!(SequenceName::new(bad).is_err(), "{bad}");
        }
        assert!(SequenceName::new(&"a".repeat(MAX_SEQUENCE_NAME_LEN)).is_ok());
        assert!(SequenceName::new(&"a".repeat(MAX_SEQUENCE_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn parse_joins_continuation_lines() {
        let file = SequencesFile::parse(b"unseen: 1-6\n\t 7-9\ncur: 1\n odd: 3\n");
        assert_eq!(file.get("unseen"), Some(&set("1-9")));
        // A continuation under the wrong sequence merges into it, as in nmh.
        assert_eq!(file.get("cur"), Some(&set("1 3")));
        assert_eq!(file.get("odd"), None);
    }

    #[test]
    fn parse_tolerates_crlf_and_missing_newline() {
        let file = SequencesFile::parse(b"cur: 3\r\nunseen: 1-2 4");
        assert_eq!(file.get("cur"), Some(&set("3")));
        assert_eq!(file.get("unseen"), Some(&set("1-2 4")));
        assert_eq!(file.to_bytes(), b"cur: 3\r\nunseen: 1-2 4\n");
    }

    #[test]
    fn later_duplicate_wins_and_names_are_case_sensitive() {
        let file = SequencesFile::parse(b"a: 1\nUnseen: 1\nunseen: 2\na: 5\n");
        assert_eq!(file.get("a"), Some(&set("5")));
        assert_eq!(file.get("Unseen"), Some(&set("1")));
        assert_eq!(file.get("unseen"), Some(&set("2")));
    }

    #[test]
    fn unchanged_file_round_trips_byte_for_byte() {
        let long: String = (1..3000).step_by(2).map(|n| format!(" {n}")).collect();
        let original =
            format!("zeta: 1\nX-Imap-Flagged: 2 40-50\nunseen:{long}\n\t 7000\ncur: 3\n");
        let file = SequencesFile::parse(original.as_bytes());
        assert_eq!(file.to_bytes(), original.as_bytes());
    }

    #[test]
    fn apply_rerenders_only_changed_sequences() {
        let original = b"cur: 3\nX-Imap-Flagged: 2 40-50\nunseen: 1-6\n\t 8\nalpha: 2\n";
        let mut file = SequencesFile::parse(original);
        file.apply(&[SequenceChange::add(name("unseen"), set("7"))]);
        assert_eq!(
            file.to_bytes(),
            b"cur: 3\nX-Imap-Flagged: 2 40-50\nunseen: 1-8\nalpha: 2\n"
        );
    }

    #[test]
    fn apply_appends_new_and_drops_emptied_sequences() {
        let mut file = SequencesFile::parse(b"cur: 3\nalpha: 2\n");
        file.apply(&[
            SequenceChange::add(name("beta"), set("4 5 6")),
            SequenceChange::remove(name("alpha"), set("2")),
        ]);
        assert_eq!(file.to_bytes(), b"cur: 3\nbeta: 4-6\n");
    }

    #[test]
    fn apply_without_effect_keeps_raw_bytes() {
        let original = b"unseen: 1 2 3\n";
        let mut file = SequencesFile::parse(original);
        file.apply(&[SequenceChange::add(name("unseen"), set("2"))]);
        file.apply(&[SequenceChange::remove(name("flagged"), set("2"))]);
        assert_eq!(file.to_bytes(), original);
    }

    #[test]
    fn apply_replaces_and_drops_shadowed_duplicates() {
        let mut file = SequencesFile::parse(b"a: 1\nb: 2\na: 5\n");
        file.apply(&[SequenceChange {
            name: name("a"),
            op: SequenceOp::Replace(set("7-8")),
        }]);
        assert_eq!(file.to_bytes(), b"b: 2\na: 7-8\n");
    }

    #[test]
    fn malformed_lines_are_never_written() {
        let mut file = SequencesFile::parse(b"cur: 1\n\ngarbage line\nunseen: 2\n");
        assert!(file.has_malformed_lines());
        assert_eq!(file.get("unseen"), Some(&set("2")));
        file.apply(&[SequenceChange::add(name("unseen"), set("3"))]);
        assert_eq!(file.to_bytes(), b"cur: 1\nunseen: 2-3\n");
    }

    #[test]
    fn remove_everywhere_keeps_cur_unless_asked() {
        let mut file = SequencesFile::parse(b"cur: 3\nunseen: 1-4\nflagged: 3\nother: 9\n");
        file.remove_everywhere(&set("3"), false);
        assert_eq!(file.to_bytes(), b"cur: 3\nunseen: 1-2 4\nother: 9\n");
        file.remove_everywhere(&set("3"), true);
        assert_eq!(file.to_bytes(), b"unseen: 1-2 4\nother: 9\n");
    }

    #[test]
    fn empty_file_parses_to_no_sequences() {
        let file = SequencesFile::parse(b"");
        assert_eq!(file.sequences().count(), 0);
        assert!(file.to_bytes().is_empty());
    }
}
