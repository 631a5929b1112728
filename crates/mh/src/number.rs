//! Message numbers and sets of them.
//!
//! An MH message number is the decimal name of a message file. It is not an IMAP UID: nmh
//! renumbers messages (`folder -pack`, `sortm`) and reuses numbers after `rmm`.

use std::fmt;

/// The highest message number this crate creates or lists.
///
/// nmh allocates per-message status memory for every number between the lowest and the
/// highest message, and fails outright on names such as `2147483647` (nmh 1.8). Seven digits
/// leave room for ten million messages while keeping that allocation small.
pub const MAX_MESSAGE_NUMBER: u32 = 9_999_999;

/// A message number: a positive integer no larger than [`MAX_MESSAGE_NUMBER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageNumber(u32);

impl MessageNumber {
    /// Returns the number when `value` is in `1..=MAX_MESSAGE_NUMBER`.
    pub fn new(value: u32) -> Option<Self> {
        (1..=MAX_MESSAGE_NUMBER)
            .contains(&value)
            .then_some(MessageNumber(value))
    }

    /// Parses a file name as nmh's folder scan would, accepting only canonical decimal names
    /// (`[1-9][0-9]*`) up to [`MAX_MESSAGE_NUMBER`]. Names with leading zeros are rejected
    /// because nmh lists `007` as message 7 and then fails to open the file `7`.
    pub fn parse_file_name(name: &[u8]) -> Option<Self> {
        let (first, _) = name.split_first()?;
        if !(b'1'..=b'9').contains(first) || name.len() > 7 {
            return None;
        }
        let mut value = 0u32;
        for &byte in name {
            if !byte.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(byte - b'0');
        }
        MessageNumber::new(value)
    }

    /// Returns the number as an integer.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Returns the next number, or `None` past [`MAX_MESSAGE_NUMBER`].
    pub fn next(self) -> Option<Self> {
        MessageNumber::new(self.0 + 1)
    }
}

impl fmt::Display for MessageNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A set of message numbers kept as sorted, disjoint, non-adjacent inclusive ranges, the form
/// nmh writes (`1-3 5 7-9`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NumberSet {
    ranges: Vec<(u32, u32)>,
}

impl NumberSet {
    /// Returns an empty set.
    pub fn new() -> Self {
        NumberSet::default()
    }

    /// Parses the value of a sequence line. Tokens are `N` or `LO-HI` separated by white
    /// space; like nmh, the parser ignores tokens it cannot read (`3-2`, `1,3`, `x`, `0`).
    pub fn parse(value: &[u8]) -> Self {
        let mut ranges: Vec<(u32, u32)> = value
            .split(|b| b.is_ascii_whitespace())
            .filter_map(parse_range)
            .collect();
        // Sorting first keeps parsing O(n log n) whatever order the file lists numbers in.
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (low, high) in ranges {
            match merged.last_mut() {
                Some(last) if low <= last.1.saturating_add(1) => last.1 = last.1.max(high),
                _ => merged.push((low, high)),
            }
        }
        NumberSet { ranges: merged }
    }

    /// Returns true when the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Returns how many numbers the set holds.
    pub fn len(&self) -> usize {
        self.ranges
            .iter()
            .map(|&(low, high)| (high - low) as usize + 1)
            .sum()
    }

    /// Returns true when `number` is in the set.
    pub fn contains(&self, number: MessageNumber) -> bool {
        let n = number.get();
        let index = self.ranges.partition_point(|&(_, high)| high < n);
        self.ranges.get(index).is_some_and(|&(low, _)| low <= n)
    }

    /// Adds one number.
    pub fn insert(&mut self, number: MessageNumber) {
        self.insert_range(number.get(), number.get());
    }

    /// Removes one number.
    pub fn remove(&mut self, number: MessageNumber) {
        self.remove_range(number.get(), number.get());
    }

    /// Adds every number of `other`.
    pub fn union_with(&mut self, other: &NumberSet) {
        for &(low, high) in &other.ranges {
            self.insert_range(low, high);
        }
    }

    /// Removes every number of `other`.
    pub fn subtract(&mut self, other: &NumberSet) {
        for &(low, high) in &other.ranges {
            self.remove_range(low, high);
        }
    }

    /// Returns the numbers in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = MessageNumber> + '_ {
        self.ranges
            .iter()
            .flat_map(|&(low, high)| (low..=high).map(MessageNumber))
    }

    /// Returns the inclusive ranges in ascending order.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    fn insert_range(&mut self, low: u32, high: u32) {
        // Ranges that overlap or touch [low, high] merge with it.
        let start = self
            .ranges
            .partition_point(|&(_, h)| h.saturating_add(1) < low);
        let end = self
            .ranges
            .partition_point(|&(l, _)| l <= high.saturating_add(1));
        let mut merged = (low, high);
        for &(l, h) in &self.ranges[start..end] {
            merged = (merged.0.min(l), merged.1.max(h));
        }
        self.ranges.splice(start..end, [merged]);
    }

    fn remove_range(&mut self, low: u32, high: u32) {
        let start = self.ranges.partition_point(|&(_, h)| h < low);
        let end = self.ranges.partition_point(|&(l, _)| l <= high);
        let mut kept = Vec::with_capacity(2);
        for &(l, h) in &self.ranges[start..end] {
            if l < low {
                kept.push((l, low - 1));
            }
            if h > high {
                kept.push((high + 1, h));
            }
        }
        self.ranges.splice(start..end, kept);
    }
}

impl FromIterator<MessageNumber> for NumberSet {
    fn from_iter<I: IntoIterator<Item = MessageNumber>>(iter: I) -> Self {
        let mut set = NumberSet::new();
        for number in iter {
            set.insert(number);
        }
        set
    }
}

impl fmt::Display for NumberSet {
    /// Writes the ranges as nmh does: `1-3 5`, single numbers without a dash.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, &(low, high)) in self.ranges.iter().enumerate() {
            if index > 0 {
                f.write_str(" ")?;
            }
            if low == high {
                write!(f, "{low}")?;
            } else {
                write!(f, "{low}-{high}")?;
            }
        }
        Ok(())
    }
}

fn parse_range(token: &[u8]) -> Option<(u32, u32)> {
    match token.iter().position(|&b| b == b'-') {
        None => parse_number(token).map(|n| (n, n)),
        Some(dash) => {
            let low = parse_number(&token[..dash])?;
            let high = parse_number(&token[dash + 1..])?;
            (low <= high).then_some((low, high))
        }
    }
}

/// Parses a decimal number in `1..=MAX_MESSAGE_NUMBER`; nmh also accepts leading zeros here.
fn parse_number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: u64 = digits
        .iter()
        .fold(0, |acc, &b| acc * 10 + u64::from(b - b'0'));
    u32::try_from(value)
        .ok()
        .and_then(MessageNumber::new)
        .map(MessageNumber::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(value: u32) -> MessageNumber {
        MessageNumber::new(value).unwrap()
    }

    #[test]
    fn file_names_must_be_canonical() {
        assert_eq!(MessageNumber::parse_file_name(b"1"), Some(n(1)));
        assert_eq!(MessageNumber::parse_file_name(b"100000"), Some(n(100_000)));
        for name in [
            &b"0"[..],
            b"007",
            b",3",
            b"#5",
            b"1a",
            b"+14",
            b"",
            b".mh_sequences",
        ] {
            assert_eq!(MessageNumber::parse_file_name(name), None, "{name:?}");
        }
    }

    #[test]
    fn file_names_above_limit_are_not_messages() {
        assert_eq!(
            MessageNumber::parse_file_name(b"9999999"),
            Some(n(MAX_MESSAGE_NUMBER))
        );
        assert_eq!(MessageNumber::parse_file_name(b"10000000"), None);
        assert_eq!(MessageNumber::parse_file_name(b"2147483647"), None);
        assert_eq!(MessageNumber::parse_file_name(b"99999999999"), None);
        assert_eq!(n(MAX_MESSAGE_NUMBER).next(), None);
    }

    #[test]
    fn set_parse_skips_what_nmh_skips() {
        let set = NumberSet::parse(b" 1-3 3-2 1,3 x 0 7  5 6 4294967296 10000000");
        assert_eq!(set.to_string(), "1-3 5-7");
    }

    #[test]
    fn set_parse_sorts_and_merges() {
        let set = NumberSet::parse(b"9 3-5 1 2 4-7 20-30 25");
        assert_eq!(set.to_string(), "1-7 9 20-30");
    }

    #[test]
    fn set_insert_merges_adjacent_ranges() {
        let mut set = NumberSet::parse(b"1-2 6-7");
        set.insert(n(4));
        assert_eq!(set.to_string(), "1-2 4 6-7");
        set.insert(n(3));
        set.insert(n(5));
        assert_eq!(set.to_string(), "1-7");
        assert_eq!(set.len(), 7);
    }

    #[test]
    fn set_remove_splits_ranges() {
        let mut set = NumberSet::parse(b"1-9");
        set.remove(n(5));
        set.remove(n(1));
        set.remove(n(9));
        assert_eq!(set.to_string(), "2-4 6-8");
        set.subtract(&NumberSet::parse(b"3-7"));
        assert_eq!(set.to_string(), "2 8");
        assert!(set.contains(n(8)));
        assert!(!set.contains(n(5)));
    }

    #[test]
    fn set_union_and_iter() {
        let mut set = NumberSet::parse(b"1 3");
        set.union_with(&NumberSet::parse(b"2 10-11"));
        let numbers: Vec<u32> = set.iter().map(MessageNumber::get).collect();
        assert_eq!(numbers, [1, 2, 3, 10, 11]);
    }
}
