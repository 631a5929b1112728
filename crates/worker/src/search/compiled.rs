//! Search keys compiled once per SEARCH command: strings case-folded, sequence sets
//! resolved and dates turned into day numbers, so that evaluating a message allocates
//! nothing for them.

use std::ops::RangeInclusive;

use asimapd_mime::search::Needle;
use asimapd_proto::{Date, SearchKey, SeqNum, SequenceSet, SetNumber, Uid};
use asimapd_store::SystemFlag;

/// A compiled search key (RFC 9051 §6.4.4).
#[derive(Debug, Clone)]
pub(super) enum Test {
    All,
    /// Matches when the message has the flag (`true`) or lacks it (`false`).
    Flag(SystemFlag, bool),
    Keyword(String, bool),
    Recent,
    Old,
    New,
    Not(Box<Test>),
    Or(Box<Test>, Box<Test>),
    And(Vec<Test>),
    /// Sorted, merged ranges of sequence numbers.
    Sequence(Vec<RangeInclusive<SeqNum>>),
    /// Sorted, merged ranges of UIDs.
    Uid(Vec<RangeInclusive<Uid>>),
    Larger(u64),
    Smaller(u64),
    /// Day numbers since the Unix epoch, as [`day_number`] counts them.
    Before(i64),
    On(i64),
    Since(i64),
    SentBefore(i64),
    SentOn(i64),
    SentSince(i64),
    /// A header field name and the text its value must contain.
    Header(String, Needle),
    Body(Needle),
    Text(Needle),
    /// A key that matches no message: those of extensions, which `check_keys` rejects
    /// before a search starts.
    Never,
}

/// The data that evaluating a test reads beyond the flags that every candidate carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Reads {
    /// Flags, sequence numbers and UIDs only.
    Flags,
    /// The index entry: size, INTERNALDATE and the cached header block.
    Index,
    /// The message file, for BODY and TEXT.
    Files,
}

impl Test {
    /// Compiles `key` for a mailbox whose largest sequence number and UID are given, the
    /// values `*` stands for.
    pub(super) fn compile(
        key: &SearchKey,
        largest_seq: Option<SeqNum>,
        largest_uid: Option<Uid>,
    ) -> Test {
        use SearchKey as K;
        let compile = |key: &SearchKey| Test::compile(key, largest_seq, largest_uid);
        let needle = |value: &[u8]| Needle::new(&String::from_utf8_lossy(value));
        match key {
            K::All => Test::All,
            K::Answered => Test::Flag(SystemFlag::Answered, true),
            K::Deleted => Test::Flag(SystemFlag::Deleted, true),
            K::Draft => Test::Flag(SystemFlag::Draft, true),
            K::Flagged => Test::Flag(SystemFlag::Flagged, true),
            K::Seen => Test::Flag(SystemFlag::Seen, true),
            K::Unanswered => Test::Flag(SystemFlag::Answered, false),
            K::Undeleted => Test::Flag(SystemFlag::Deleted, false),
            K::Undraft => Test::Flag(SystemFlag::Draft, false),
            K::Unflagged => Test::Flag(SystemFlag::Flagged, false),
            K::Unseen => Test::Flag(SystemFlag::Seen, false),
            K::Recent => Test::Recent,
            K::Old => Test::Old,
            K::New => Test::New,
            K::Keyword(name) => Test::Keyword(name.clone(), true),
            K::Unkeyword(name) => Test::Keyword(name.clone(), false),
            K::Not(inner) => Test::Not(Box::new(compile(inner))),
            K::Or(left, right) => Test::Or(Box::new(compile(left)), Box::new(compile(right))),
            K::And(keys) => Test::And(keys.iter().map(compile).collect()),
            K::SequenceSet(set) => Test::Sequence(resolve(set, largest_seq)),
            K::Uid(set) => Test::Uid(resolve(set, largest_uid)),
            K::Larger(size) => Test::Larger(*size),
            K::Smaller(size) => Test::Smaller(*size),
            K::Before(date) => Test::Before(day_number(*date)),
            K::On(date) => Test::On(day_number(*date)),
            K::Since(date) => Test::Since(day_number(*date)),
            K::SentBefore(date) => Test::SentBefore(day_number(*date)),
            K::SentOn(date) => Test::SentOn(day_number(*date)),
            K::SentSince(date) => Test::SentSince(day_number(*date)),
            K::From(value) => Test::Header("From".into(), needle(value)),
            K::To(value) => Test::Header("To".into(), needle(value)),
            K::Cc(value) => Test::Header("Cc".into(), needle(value)),
            K::Bcc(value) => Test::Header("Bcc".into(), needle(value)),
            K::Subject(value) => Test::Header("Subject".into(), needle(value)),
            K::Header(name, value) => Test::Header(name.clone(), needle(value)),
            K::Body(value) => Test::Body(needle(value)),
            K::Text(value) => Test::Text(needle(value)),
            _ => Test::Never,
        }
    }

    /// Returns the most costly data that any branch of this test reads.
    pub(super) fn reads(&self) -> Reads {
        match self {
            Test::Not(inner) => inner.reads(),
            Test::Or(left, right) => left.reads().max(right.reads()),
            Test::And(tests) => tests.iter().map(Test::reads).max().unwrap_or(Reads::Flags),
            Test::Larger(_)
            | Test::Smaller(_)
            | Test::Before(_)
            | Test::On(_)
            | Test::Since(_)
            | Test::SentBefore(_)
            | Test::SentOn(_)
            | Test::SentSince(_)
            | Test::Header(..) => Reads::Index,
            Test::Body(_) | Test::Text(_) => Reads::Files,
            _ => Reads::Flags,
        }
    }
}

/// Returns true when `number` lies in one of `ranges`, which are sorted and merged.
pub(super) fn in_ranges<N: SetNumber>(ranges: &[RangeInclusive<N>], number: N) -> bool {
    let position = ranges.partition_point(|range| *range.end() < number);
    ranges
        .get(position)
        .is_some_and(|range| range.contains(&number))
}

fn resolve<N: SetNumber>(set: &SequenceSet, largest: Option<N>) -> Vec<RangeInclusive<N>> {
    set.resolve(largest, &[])
}

/// Returns the days since the Unix epoch of `date`.
pub(super) fn day_number(date: Date) -> i64 {
    asimapd_mime::date::days_from_civil(
        i64::from(date.year()),
        u32::from(date.month()),
        u32::from(date.day()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid(value: u32) -> Uid {
        Uid::new(value).unwrap()
    }

    #[test]
    fn in_ranges_finds_each_range() {
        let ranges = [uid(2)..=uid(4), uid(7)..=uid(7), uid(10)..=uid(20)];
        let inside: Vec<u32> = (1..=22).filter(|&n| in_ranges(&ranges, uid(n))).collect();
        assert_eq!(
            inside,
            [2, 3, 4, 7, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]
        );
        assert!(!in_ranges::<Uid>(&[], uid(1)));
    }

    #[test]
    fn reads_is_the_most_of_any_branch() {
        let flags = Test::Flag(SystemFlag::Seen, true);
        let header = Test::Header("From".into(), Needle::new("a"));
        let body = Test::Body(Needle::new("b"));
        assert_eq!(flags.reads(), Reads::Flags);
        assert_eq!(Test::Not(Box::new(header.clone())).reads(), Reads::Index);
        let either = Test::Or(Box::new(flags.clone()), Box::new(body));
        assert_eq!(either.reads(), Reads::Files);
        assert_eq!(Test::And(vec![flags, header]).reads(), Reads::Index);
        assert_eq!(Test::And(Vec::new()).reads(), Reads::Flags);
    }
}
