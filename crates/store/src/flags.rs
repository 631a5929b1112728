//! Message flags and their mapping to MH sequences.
//!
//! | IMAP | MH sequence |
//! |---|---|
//! | `\Seen` | absent from every Unseen-Sequence (`unseen` when the profile names none) |
//! | `\Answered` | `replied` |
//! | `\Flagged` | `flagged` |
//! | `\Deleted` | `Deleted` |
//! | `\Draft` | `Draft` |
//! | keyword that is a valid MH sequence name | the sequence of the same name |
//! | any other keyword | kept in the index only |
//!
//! `cur`, the Unseen-Sequence and the Python asimap's `Seen` and `Recent` sequences are never
//! shown as keywords. `\Recent` is per session (RFC 3501 §2.3.2) and never written to
//! `.mh_sequences`. IMAP flag names match case-insensitively (RFC 3501 §2.3.2), MH sequence
//! names case-sensitively, so a keyword is written to an existing sequence whose name differs
//! only in case.

use std::fmt;

use asimapd_mh::{MailRoot, MessageNumber, NumberSet, SequenceChange, SequenceName, SequencesFile};
use asimapd_proto::Flag;

/// The system flags that are stored, as bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum SystemFlag {
    /// `\Seen`
    Seen = 1,
    /// `\Answered`
    Answered = 2,
    /// `\Flagged`
    Flagged = 4,
    /// `\Deleted`
    Deleted = 8,
    /// `\Draft`
    Draft = 16,
}

impl SystemFlag {
    /// Every stored system flag, in the order responses list them.
    pub const ALL: [SystemFlag; 5] = [
        SystemFlag::Answered,
        SystemFlag::Flagged,
        SystemFlag::Deleted,
        SystemFlag::Seen,
        SystemFlag::Draft,
    ];

    /// Returns the MH sequence that holds the flag, or `None` for `\Seen`, which is the
    /// absence from the Unseen-Sequence.
    pub fn sequence_name(self) -> Option<&'static str> {
        match self {
            SystemFlag::Seen => None,
            SystemFlag::Answered => Some("replied"),
            SystemFlag::Flagged => Some("flagged"),
            SystemFlag::Deleted => Some("Deleted"),
            SystemFlag::Draft => Some("Draft"),
        }
    }

    fn from_flag(flag: &Flag) -> Option<SystemFlag> {
        match flag {
            Flag::Seen => Some(SystemFlag::Seen),
            Flag::Answered => Some(SystemFlag::Answered),
            Flag::Flagged => Some(SystemFlag::Flagged),
            Flag::Deleted => Some(SystemFlag::Deleted),
            Flag::Draft => Some(SystemFlag::Draft),
            _ => None,
        }
    }

    fn to_flag(self) -> Flag {
        match self {
            SystemFlag::Seen => Flag::Seen,
            SystemFlag::Answered => Flag::Answered,
            SystemFlag::Flagged => Flag::Flagged,
            SystemFlag::Deleted => Flag::Deleted,
            SystemFlag::Draft => Flag::Draft,
        }
    }
}

/// Sequences that are never shown as keywords: the message pointer and the Python asimap's
/// own `Seen` and `Recent` sequences, which it persisted in `.mh_sequences`.
const HIDDEN_SEQUENCES: [&str; 3] = ["cur", "Seen", "Recent"];

/// The stored flags of one message: system flags (without `\Recent`) and keywords.
///
/// Keywords keep the case they were first given in; two keywords that differ only in case
/// are the same keyword.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlagSet {
    system: u8,
    keywords: Vec<String>,
}

impl FlagSet {
    /// Returns an empty set.
    pub fn new() -> Self {
        FlagSet::default()
    }

    /// Returns true when the system flag is set.
    pub fn has(&self, flag: SystemFlag) -> bool {
        self.system & flag as u8 != 0
    }

    /// Sets or clears a system flag.
    pub fn set(&mut self, flag: SystemFlag, on: bool) {
        if on {
            self.system |= flag as u8;
        } else {
            self.system &= !(flag as u8);
        }
    }

    /// Returns the keywords, sorted case-insensitively.
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }

    /// Returns true when the keyword is set (compared case-insensitively).
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.keyword_position(keyword).is_ok()
    }

    /// Adds a keyword unless one differing only in case is present.
    pub fn add_keyword(&mut self, keyword: &str) {
        if let Err(at) = self.keyword_position(keyword) {
            self.keywords.insert(at, keyword.to_owned());
        }
    }

    /// Removes a keyword (compared case-insensitively).
    pub fn remove_keyword(&mut self, keyword: &str) {
        if let Ok(at) = self.keyword_position(keyword) {
            self.keywords.remove(at);
        }
    }

    /// Adds a flag. Returns false, changing nothing, for `\Recent` and for `\`-flags this
    /// server does not store.
    pub fn insert(&mut self, flag: &Flag) -> bool {
        self.change(flag, true)
    }

    /// Removes a flag. Returns false, changing nothing, for `\Recent` and for `\`-flags this
    /// server does not store.
    pub fn remove(&mut self, flag: &Flag) -> bool {
        self.change(flag, false)
    }

    /// Returns true when the flag is set; always false for `\Recent`, which is per session.
    pub fn contains(&self, flag: &Flag) -> bool {
        match (SystemFlag::from_flag(flag), flag) {
            (Some(system), _) => self.has(system),
            (None, Flag::Keyword(name)) => self.has_keyword(name),
            _ => false,
        }
    }

    /// Returns the flags as protocol values: system flags first, then keywords.
    pub fn to_flags(&self) -> Vec<Flag> {
        let system = SystemFlag::ALL
            .into_iter()
            .filter(|flag| self.has(*flag))
            .map(SystemFlag::to_flag);
        let keywords = self.keywords.iter().map(|k| Flag::Keyword(k.clone()));
        system.chain(keywords).collect()
    }

    /// Returns the system flags as the bit mask stored in the index.
    pub fn system_bits(&self) -> u8 {
        self.system
    }

    /// Builds a set from the index's bit mask and space-separated keywords.
    pub fn from_stored(bits: u8, keywords: &str) -> Self {
        let mut set = FlagSet {
            system: bits & 0x1f,
            keywords: Vec::new(),
        };
        for keyword in keywords.split(' ').filter(|k| !k.is_empty()) {
            set.add_keyword(keyword);
        }
        set
    }

    /// Returns the keywords as stored in the index: separated by spaces, which no atom
    /// contains.
    pub fn stored_keywords(&self) -> String {
        self.keywords.join(" ")
    }

    fn change(&mut self, flag: &Flag, on: bool) -> bool {
        if let Some(system) = SystemFlag::from_flag(flag) {
            self.set(system, on);
            return true;
        }
        let Flag::Keyword(name) = flag else {
            return false;
        };
        if on {
            self.add_keyword(name);
        } else {
            self.remove_keyword(name);
        }
        true
    }

    fn keyword_position(&self, keyword: &str) -> Result<usize, usize> {
        self.keywords
            .binary_search_by(|probe| compare_ignore_case(probe, keyword))
    }
}

impl fmt::Display for FlagSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags: Vec<String> = self.to_flags().iter().map(Flag::to_string).collect();
        write!(f, "({})", flags.join(" "))
    }
}

fn compare_ignore_case(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.bytes().map(|byte| byte.to_ascii_lowercase());
    let b = b.bytes().map(|byte| byte.to_ascii_lowercase());
    a.cmp(b)
}

/// What one public sequence means to IMAP.
#[derive(Clone, Debug, PartialEq, Eq)]
enum SequenceRole {
    Unseen,
    System(SystemFlag),
    Keyword(String),
    Hidden,
}

/// The mapping between flags and the sequences of one mail root.
#[derive(Clone, Debug)]
pub struct FlagMap {
    unseen: Vec<SequenceName>,
    root: Option<MailRoot>,
}

pub use asimapd_mh::DEFAULT_UNSEEN_SEQUENCE;

impl FlagMap {
    /// Builds the mapping for a mail root: its profile's Unseen-Sequence (or
    /// [`DEFAULT_UNSEEN_SEQUENCE`]) and its `Sequence-Negation` prefix, which no written
    /// keyword may start with.
    pub fn for_root(root: &MailRoot) -> Self {
        FlagMap {
            unseen: unseen_or_default(root.unseen_sequences()),
            root: Some(root.clone()),
        }
    }

    /// Builds a mapping with the given Unseen-Sequence names and nmh's default rules for
    /// sequence names.
    pub fn with_unseen(unseen: &[SequenceName]) -> Self {
        FlagMap {
            unseen: unseen_or_default(unseen),
            root: None,
        }
    }

    /// Returns the sequence a keyword is written to, or `None` when the keyword is kept in
    /// the index only: it is no valid MH sequence name, or it would collide with a sequence
    /// that has another meaning (`cur`, `replied`, the Unseen-Sequence, ...). `existing`
    /// supplies a sequence whose name differs only in case, which is used instead.
    pub fn keyword_sequence(
        &self,
        keyword: &str,
        existing: &SequencesFile,
    ) -> Option<SequenceName> {
        if self.is_reserved(keyword) {
            return None;
        }
        let name = existing
            .sequences()
            .map(|(name, _)| name)
            .find(|name| name.eq_ignore_ascii_case(keyword))
            .unwrap_or(keyword);
        match &self.root {
            Some(root) => root.sequence_name(name).ok(),
            None => SequenceName::new(name).ok(),
        }
    }

    /// Returns true when `name` is one of the Unseen-Sequence names.
    pub(crate) fn is_unseen(&self, name: &SequenceName) -> bool {
        self.unseen.contains(name)
    }

    /// Returns true when the keyword lives in the index only.
    pub fn is_index_only(&self, keyword: &str) -> bool {
        self.keyword_sequence(keyword, &SequencesFile::default())
            .is_none()
    }

    /// Computes the flags of every listed message from the public sequences. Keywords kept
    /// in the index only are not included.
    pub fn flags_from_sequences(
        &self,
        sequences: &SequencesFile,
        numbers: &[MessageNumber],
    ) -> Vec<FlagSet> {
        let roles: Vec<(SequenceRole, &NumberSet)> = sequences
            .sequences()
            .map(|(name, numbers)| (self.role(name), numbers))
            .filter(|(role, _)| *role != SequenceRole::Hidden)
            .collect();
        numbers
            .iter()
            .map(|number| self.flags_of(*number, &roles))
            .collect()
    }

    /// Returns the sequence changes that add or remove `flag` for `numbers`, and whether the
    /// flag (a keyword) is kept in the index only. `\Recent` and unknown `\`-flags give no
    /// change.
    pub fn sequence_changes(
        &self,
        flag: &Flag,
        add: bool,
        numbers: &NumberSet,
        existing: &SequencesFile,
    ) -> Vec<SequenceChange> {
        let change = |name: SequenceName, add: bool| {
            if add {
                SequenceChange::add(name, numbers.clone())
            } else {
                SequenceChange::remove(name, numbers.clone())
            }
        };
        if let Some(system) = SystemFlag::from_flag(flag) {
            return match system.sequence_name() {
                Some(name) => SequenceName::new(name)
                    .map(|name| vec![change(name, add)])
                    .unwrap_or_default(),
                None if add => self
                    .unseen
                    .iter()
                    .map(|n| change(n.clone(), false))
                    .collect(),
                None => vec![change(self.unseen[0].clone(), true)],
            };
        }
        match flag {
            Flag::Keyword(keyword) => self
                .keyword_sequence(keyword, existing)
                .map(|name| vec![change(name, add)])
                .unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn flags_of(&self, number: MessageNumber, roles: &[(SequenceRole, &NumberSet)]) -> FlagSet {
        let mut flags = FlagSet::new();
        flags.set(SystemFlag::Seen, true);
        for (role, numbers) in roles {
            if !numbers.contains(number) {
                continue;
            }
            match role {
                SequenceRole::Unseen => flags.set(SystemFlag::Seen, false),
                SequenceRole::System(system) => flags.set(*system, true),
                SequenceRole::Keyword(keyword) => flags.add_keyword(keyword),
                SequenceRole::Hidden => {}
            }
        }
        flags
    }

    fn role(&self, name: &str) -> SequenceRole {
        if self.unseen.iter().any(|unseen| unseen.as_str() == name) {
            return SequenceRole::Unseen;
        }
        if let Some(system) = SystemFlag::ALL
            .into_iter()
            .find(|flag| flag.sequence_name() == Some(name))
        {
            return SequenceRole::System(system);
        }
        if HIDDEN_SEQUENCES.contains(&name) || self.is_reserved(name) {
            return SequenceRole::Hidden;
        }
        SequenceRole::Keyword(name.to_owned())
    }

    /// True for names that have a meaning besides "keyword", compared case-insensitively so
    /// that a keyword `Replied` can never land in the `replied` sequence.
    fn is_reserved(&self, keyword: &str) -> bool {
        let system = SystemFlag::ALL
            .iter()
            .filter_map(|flag| flag.sequence_name());
        let unseen = self.unseen.iter().map(SequenceName::as_str);
        HIDDEN_SEQUENCES
            .iter()
            .copied()
            .chain(system)
            .chain(unseen)
            .any(|name| name.eq_ignore_ascii_case(keyword))
    }
}

fn unseen_or_default(unseen: &[SequenceName]) -> Vec<SequenceName> {
    if unseen.is_empty() {
        vec![SequenceName::new(DEFAULT_UNSEEN_SEQUENCE).expect("valid default sequence name")]
    } else {
        unseen.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(value: u32) -> MessageNumber {
        MessageNumber::new(value).unwrap()
    }

    fn numbers(values: &[u32]) -> NumberSet {
        values.iter().map(|v| number(*v)).collect()
    }

    fn default_map() -> FlagMap {
        FlagMap::with_unseen(&[])
    }

    fn flags_of(text: &str, message: u32) -> FlagSet {
        let file = SequencesFile::parse(text.as_bytes());
        default_map()
            .flags_from_sequences(&file, &[number(message)])
            .remove(0)
    }

    #[test]
    fn unseen_sequence_clears_seen() {
        assert!(!flags_of("unseen: 1-3\n", 2).has(SystemFlag::Seen));
        assert!(flags_of("unseen: 1-3\n", 4).has(SystemFlag::Seen));
    }

    #[test]
    fn system_sequences_map_to_system_flags() {
        let text = "replied: 1\nflagged: 1\nDeleted: 1\nDraft: 1\n";
        let flags = flags_of(text, 1);
        assert!(flags.has(SystemFlag::Answered));
        assert!(flags.has(SystemFlag::Flagged));
        assert!(flags.has(SystemFlag::Deleted));
        assert!(flags.has(SystemFlag::Draft));
        assert!(flags.keywords().is_empty());
    }

    #[test]
    fn hidden_sequences_are_not_keywords() {
        let flags = flags_of("cur: 1\nunseen: 1\nSeen: 1\nRecent: 1\n", 1);
        assert_eq!(flags.keywords(), &[] as &[String]);
        assert!(!flags.has(SystemFlag::Seen));
    }

    #[test]
    fn other_sequences_are_keywords() {
        let flags = flags_of("work: 1\nJunk: 1-2\n", 1);
        assert_eq!(flags.keywords(), &["Junk".to_owned(), "work".to_owned()]);
    }

    #[test]
    fn profile_unseen_sequence_replaces_default() {
        let map = FlagMap::with_unseen(&[SequenceName::new("new1").unwrap()]);
        let file = SequencesFile::parse(b"new1: 1\nunseen: 1\n");
        let flags = map.flags_from_sequences(&file, &[number(1)]).remove(0);
        assert!(!flags.has(SystemFlag::Seen));
        assert_eq!(flags.keywords(), &["unseen".to_owned()]);
    }

    #[test]
    fn keywords_match_case_insensitively() {
        let mut flags = FlagSet::new();
        flags.add_keyword("Work");
        flags.add_keyword("work");
        assert_eq!(flags.keywords(), &["Work".to_owned()]);
        assert!(flags.contains(&Flag::Keyword("WORK".into())));
        flags.remove_keyword("wORK");
        assert!(flags.keywords().is_empty());
    }

    #[test]
    fn recent_and_extensions_are_not_stored() {
        let mut flags = FlagSet::new();
        assert!(!flags.insert(&Flag::Recent));
        assert!(!flags.insert(&Flag::Extension("Junk".into())));
        assert_eq!(flags, FlagSet::new());
    }

    #[test]
    fn stored_form_round_trips() {
        let mut flags = FlagSet::new();
        flags.set(SystemFlag::Flagged, true);
        flags.set(SystemFlag::Seen, true);
        flags.add_keyword("$Label1");
        flags.add_keyword("work");
        let back = FlagSet::from_stored(flags.system_bits(), &flags.stored_keywords());
        assert_eq!(back, flags);
    }

    #[test]
    fn to_flags_lists_system_then_keywords() {
        let mut flags = FlagSet::new();
        flags.set(SystemFlag::Seen, true);
        flags.set(SystemFlag::Answered, true);
        flags.add_keyword("b");
        flags.add_keyword("A");
        assert_eq!(flags.to_string(), "(\\Answered \\Seen A b)");
    }

    #[test]
    fn seen_writes_the_unseen_sequence() {
        let map = default_map();
        let set = numbers(&[1, 2]);
        let none = SequencesFile::default();
        let add = map.sequence_changes(&Flag::Seen, true, &set, &none);
        assert_eq!(
            add,
            vec![SequenceChange::remove(
                SequenceName::new("unseen").unwrap(),
                set.clone()
            )]
        );
        let remove = map.sequence_changes(&Flag::Seen, false, &set, &none);
        assert_eq!(
            remove,
            vec![SequenceChange::add(
                SequenceName::new("unseen").unwrap(),
                set
            )]
        );
    }

    #[test]
    fn answered_writes_replied() {
        let set = numbers(&[3]);
        let changes =
            default_map().sequence_changes(&Flag::Answered, true, &set, &SequencesFile::default());
        assert_eq!(
            changes,
            vec![SequenceChange::add(
                SequenceName::new("replied").unwrap(),
                set
            )]
        );
    }

    #[test]
    fn keyword_uses_existing_sequence_case() {
        let existing = SequencesFile::parse(b"Work: 5\n");
        let name = default_map().keyword_sequence("work", &existing).unwrap();
        assert_eq!(name.as_str(), "Work");
    }

    #[test]
    fn invalid_mh_names_stay_in_index() {
        let map = default_map();
        for keyword in [
            "$Junk", "Non-Junk", "9lives", "all", "last", "cur", "Replied", "UNSEEN", "seen",
            "recent",
        ] {
            assert!(
                map.is_index_only(keyword),
                "{keyword} must stay in the index"
            );
        }
        assert!(!map.is_index_only("work"));
        assert!(!map.is_index_only("Label1"));
    }

    #[test]
    fn recent_gives_no_sequence_change() {
        let set = numbers(&[1]);
        let changes =
            default_map().sequence_changes(&Flag::Recent, true, &set, &SequencesFile::default());
        assert!(changes.is_empty());
    }
}
