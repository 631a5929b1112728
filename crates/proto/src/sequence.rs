//! Sequence sets (RFC 9051 `sequence-set`, with `*` and the SEARCHRES `$` of RFC 5182).

use std::fmt;
use std::num::NonZeroU32;
use std::ops::RangeInclusive;

use crate::types::{SeqNum, Uid};

/// One end of a range: a number or `*`, the largest number in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeqBound {
    /// A concrete, non-zero number.
    Number(NonZeroU32),
    /// `*`: the largest sequence number or UID in the mailbox.
    Largest,
}

/// One element of a sequence set: a single number or a range, in either order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeqRange {
    /// First bound as written.
    pub start: SeqBound,
    /// Second bound as written; equal to `start` for a single number.
    pub end: SeqBound,
}

/// A set of message sequence numbers or UIDs as the client wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SequenceSet {
    /// Ranges separated by commas; never empty.
    Ranges(Vec<SeqRange>),
    /// `$`: the result saved by the last `SEARCH RETURN (SAVE)` (RFC 5182).
    Saved,
}

/// A number type a sequence set can resolve to.
pub trait SetNumber: Copy + Ord {
    /// Wraps a non-zero value.
    fn from_nonzero(value: NonZeroU32) -> Self;
    /// Returns the numeric value.
    fn value(self) -> u32;
}

impl SetNumber for Uid {
    fn from_nonzero(value: NonZeroU32) -> Self {
        Uid::from_nonzero(value)
    }
    fn value(self) -> u32 {
        self.get()
    }
}

impl SetNumber for SeqNum {
    fn from_nonzero(value: NonZeroU32) -> Self {
        SeqNum::from_nonzero(value)
    }
    fn value(self) -> u32 {
        self.get()
    }
}

impl SequenceSet {
    /// Creates a set of one number.
    pub fn single(value: NonZeroU32) -> Self {
        SequenceSet::Ranges(vec![SeqRange {
            start: SeqBound::Number(value),
            end: SeqBound::Number(value),
        }])
    }

    /// Creates a set from concrete inclusive ranges, each `start <= end`, all values
    /// non-zero. Returns `None` when `ranges` is empty or contains a zero.
    pub fn from_ranges(ranges: &[RangeInclusive<u32>]) -> Option<Self> {
        let mut parts = Vec::with_capacity(ranges.len());
        for range in ranges {
            parts.push(SeqRange {
                start: SeqBound::Number(NonZeroU32::new(*range.start())?),
                end: SeqBound::Number(NonZeroU32::new(*range.end())?),
            });
        }
        (!parts.is_empty()).then_some(SequenceSet::Ranges(parts))
    }

    /// Resolves `*` to `largest` and `$` to `saved`, returning sorted, merged, inclusive
    /// ranges. With an empty mailbox (`largest` is `None`) ranges that use `*` match nothing.
    /// Numbers above `largest` are kept; the caller decides whether they are an error
    /// (sequence numbers) or simply match nothing (UIDs).
    pub fn resolve<N: SetNumber>(
        &self,
        largest: Option<N>,
        saved: &[RangeInclusive<N>],
    ) -> Vec<RangeInclusive<N>> {
        let ranges = match self {
            SequenceSet::Saved => saved.to_vec(),
            SequenceSet::Ranges(parts) => parts
                .iter()
                .filter_map(|part| resolve_range(part, largest))
                .collect(),
        };
        merge_ranges(ranges)
    }
}

fn resolve_range<N: SetNumber>(part: &SeqRange, largest: Option<N>) -> Option<RangeInclusive<N>> {
    let bound = |bound: SeqBound| match bound {
        SeqBound::Number(value) => Some(N::from_nonzero(value)),
        SeqBound::Largest => largest,
    };
    let start = bound(part.start)?;
    let end = bound(part.end)?;
    Some(start.min(end)..=start.max(end))
}

fn merge_ranges<N: SetNumber>(mut ranges: Vec<RangeInclusive<N>>) -> Vec<RangeInclusive<N>> {
    ranges.sort_by_key(|range| *range.start());
    let mut merged: Vec<RangeInclusive<N>> = Vec::with_capacity(ranges.len());
    for range in ranges {
        if let Some(last) = merged.last_mut() {
            let touches = range.start().value() <= last.end().value().saturating_add(1);
            if touches {
                if range.end() > last.end() {
                    *last = *last.start()..=*range.end();
                }
                continue;
            }
        }
        merged.push(range);
    }
    merged
}

impl fmt::Display for SeqBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeqBound::Number(value) => value.fmt(f),
            SeqBound::Largest => f.write_str("*"),
        }
    }
}

impl fmt::Display for SequenceSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts = match self {
            SequenceSet::Saved => return f.write_str("$"),
            SequenceSet::Ranges(parts) => parts,
        };
        for (index, part) in parts.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            if part.start == part.end {
                write!(f, "{}", part.start)?;
            } else {
                write!(f, "{}:{}", part.start, part.end)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nz(value: u32) -> NonZeroU32 {
        NonZeroU32::new(value).unwrap()
    }

    fn range(start: SeqBound, end: SeqBound) -> SeqRange {
        SeqRange { start, end }
    }

    fn uids(ranges: &[RangeInclusive<u32>]) -> Vec<RangeInclusive<Uid>> {
        ranges
            .iter()
            .map(|r| Uid::new(*r.start()).unwrap()..=Uid::new(*r.end()).unwrap())
            .collect()
    }

    #[test]
    fn resolve_replaces_star_and_orders_reversed_ranges() {
        let set = SequenceSet::Ranges(vec![
            range(SeqBound::Largest, SeqBound::Number(nz(5))),
            range(SeqBound::Number(nz(1)), SeqBound::Number(nz(2))),
        ]);
        let resolved = set.resolve(Uid::new(9), &[]);
        assert_eq!(resolved, uids(&[1..=2, 5..=9]));
    }

    #[test]
    fn resolve_merges_adjacent_and_overlapping() {
        let set = SequenceSet::from_ranges(&[4..=6, 1..=3, 5..=8]).unwrap();
        assert_eq!(set.resolve(Uid::new(100), &[]), uids(&[1..=8]));
    }

    #[test]
    fn resolve_star_in_empty_mailbox_matches_nothing() {
        let set = SequenceSet::Ranges(vec![range(SeqBound::Number(nz(1)), SeqBound::Largest)]);
        assert!(set.resolve::<SeqNum>(None, &[]).is_empty());
    }

    #[test]
    fn resolve_saved_uses_saved_result() {
        let saved = uids(&[3..=4]);
        assert_eq!(SequenceSet::Saved.resolve(Uid::new(9), &saved), saved);
    }

    proptest::proptest! {
        #[test]
        fn resolve_matches_naive_membership(
            bounds in proptest::collection::vec((0u32..40, 0u32..40), 1..6),
            largest in 0u32..40,
        ) {
            // Zero stands for `*` here, since a bound is never zero.
            let to_bound = |value: u32| NonZeroU32::new(value).map_or(SeqBound::Largest, SeqBound::Number);
            let parts: Vec<SeqRange> = bounds
                .iter()
                .map(|&(a, b)| range(to_bound(a), to_bound(b)))
                .collect();
            let set = SequenceSet::Ranges(parts);
            let resolved = set.resolve(Uid::new(largest), &[]);
            for value in 1..=45u32 {
                let expected = bounds.iter().any(|&(a, b)| {
                    let (a, b) = (if a == 0 { largest } else { a }, if b == 0 { largest } else { b });
                    largest_allows(largest, a, b) && a.min(b) <= value && value <= a.max(b)
                });
                let actual = resolved.iter().any(|r| r.start().get() <= value && value <= r.end().get());
                proptest::prop_assert_eq!(actual, expected, "value {} in {}", value, set);
            }
            for pair in resolved.windows(2) {
                proptest::prop_assert!(pair[0].end().get() + 1 < pair[1].start().get());
            }
        }
    }

    /// Returns false for a range that uses `*` in an empty mailbox, which matches nothing.
    fn largest_allows(largest: u32, a: u32, b: u32) -> bool {
        largest != 0 || (a != 0 && b != 0)
    }

    #[test]
    fn display_writes_wire_form() {
        let set = SequenceSet::Ranges(vec![
            range(SeqBound::Number(nz(2)), SeqBound::Number(nz(2))),
            range(SeqBound::Number(nz(4)), SeqBound::Largest),
        ]);
        assert_eq!(set.to_string(), "2,4:*");
        assert_eq!(SequenceSet::Saved.to_string(), "$");
    }
}
