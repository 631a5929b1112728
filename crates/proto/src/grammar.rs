//! Parse functions for grammar rules shared by several commands: `sequence-set`, `flag`,
//! `flag-list`, `date`, `date-time`, `mod-sequence-value` (RFC 9051 §9, RFC 7162 §7).

use crate::cursor::Cursor;
use crate::datetime::{Date, DateTime, parse_month};
use crate::error::ErrorKind;
use crate::flag::Flag;
use crate::sequence::{SeqBound, SeqRange, SequenceSet};
use crate::string::is_atom_char;
use crate::types::ModSeq;

/// Parses `sequence-set`, including `$` (RFC 5182).
pub(crate) fn parse_sequence_set(c: &mut Cursor<'_>) -> Result<SequenceSet, ErrorKind> {
    if c.eat(b'$') {
        return Ok(SequenceSet::Saved);
    }
    let mut ranges = vec![parse_seq_range(c)?];
    while c.eat(b',') {
        ranges.push(parse_seq_range(c)?);
    }
    Ok(SequenceSet::Ranges(ranges))
}

fn parse_seq_range(c: &mut Cursor<'_>) -> Result<SeqRange, ErrorKind> {
    let start = parse_seq_number(c)?;
    let end = if c.eat(b':') {
        parse_seq_number(c)?
    } else {
        start
    };
    Ok(SeqRange { start, end })
}

fn parse_seq_number(c: &mut Cursor<'_>) -> Result<SeqBound, ErrorKind> {
    if c.eat(b'*') {
        Ok(SeqBound::Largest)
    } else {
        c.nz_number().map(SeqBound::Number)
    }
}

/// Parses `flag`, including `\Recent` and `flag-extension`.
pub(crate) fn parse_flag(c: &mut Cursor<'_>) -> Result<Flag, ErrorKind> {
    let start = c.pos();
    let has_backslash = c.eat(b'\\');
    let name = c.take_while(is_atom_char);
    let text = String::from_utf8_lossy(name);
    if name.is_empty() {
        return Err(ErrorKind::Expected {
            expected: "flag",
            offset: start,
        });
    }
    if has_backslash {
        Flag::parse(&format!("\\{text}"))
    } else {
        Flag::parse(&text)
    }
}

/// Parses `flag-list`: `"(" [flag *(SP flag)] ")"`.
pub(crate) fn parse_flag_list(c: &mut Cursor<'_>) -> Result<Vec<Flag>, ErrorKind> {
    c.paren_list(true, parse_flag)
}

/// Parses `date`: `date-text` bare or in double quotes.
pub(crate) fn parse_date(c: &mut Cursor<'_>) -> Result<Date, ErrorKind> {
    let is_quoted = c.eat(b'"');
    let date = parse_date_text(c)?;
    if is_quoted {
        c.expect(b'"', "closing quote of date")?;
    }
    Ok(date)
}

fn parse_date_text(c: &mut Cursor<'_>) -> Result<Date, ErrorKind> {
    let start = c.pos();
    let day = parse_digits(c, 1, 2)?;
    c.expect(b'-', "-")?;
    let month = parse_month_name(c)?;
    c.expect(b'-', "-")?;
    let year = parse_digits(c, 4, 4)?;
    Date::new(year as u16, month, day as u8).ok_or_else(|| invalid_date(c, start))
}

fn parse_month_name(c: &mut Cursor<'_>) -> Result<u8, ErrorKind> {
    let start = c.pos();
    let name = c.take_while(|b| b.is_ascii_alphabetic());
    parse_month(name).ok_or_else(|| invalid_date(c, start))
}

fn parse_digits(c: &mut Cursor<'_>, min: usize, max: usize) -> Result<u32, ErrorKind> {
    let start = c.pos();
    let digits = c.take_while(|b| b.is_ascii_digit());
    if digits.len() < min || digits.len() > max {
        return Err(ErrorKind::Expected {
            expected: "digits",
            offset: start,
        });
    }
    Ok(digits
        .iter()
        .fold(0, |value, &digit| value * 10 + u32::from(digit - b'0')))
}

/// Parses `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"`, with a space or digit for the
/// first day digit.
pub(crate) fn parse_date_time(c: &mut Cursor<'_>) -> Result<DateTime, ErrorKind> {
    let start = c.pos();
    c.expect(b'"', "date-time")?;
    c.eat(b' ');
    let date = parse_date_text(c)?;
    c.sp()?;
    let hour = parse_digits(c, 2, 2)?;
    c.expect(b':', ":")?;
    let minute = parse_digits(c, 2, 2)?;
    c.expect(b':', ":")?;
    let second = parse_digits(c, 2, 2)?;
    c.sp()?;
    let zone = parse_zone(c)?;
    c.expect(b'"', "closing quote of date-time")?;
    DateTime::new(date, hour as u8, minute as u8, second as u8, zone)
        .ok_or_else(|| invalid_date(c, start))
}

fn parse_zone(c: &mut Cursor<'_>) -> Result<i16, ErrorKind> {
    let start = c.pos();
    let sign = match c.peek() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return Err(c.expected("zone")),
    };
    c.eat(b'+');
    c.eat(b'-');
    let hhmm = parse_digits(c, 4, 4)?;
    if hhmm % 100 >= 60 {
        return Err(invalid_date(c, start));
    }
    Ok(sign * ((hhmm / 100) * 60 + hhmm % 100) as i16)
}

fn invalid_date(c: &Cursor<'_>, start: usize) -> ErrorKind {
    ErrorKind::InvalidDate {
        text: String::from_utf8_lossy(c.since(start)).into_owned(),
    }
}

/// Parses `mod-sequence-value`: 1 to 2^63 - 1.
pub(crate) fn parse_mod_seq(c: &mut Cursor<'_>) -> Result<ModSeq, ErrorKind> {
    let start = c.pos();
    let value = c.number64()?;
    ModSeq::new(value).ok_or_else(|| ErrorKind::InvalidNumber {
        text: format!("mod-sequence 0 at offset {start}"),
    })
}

/// Parses `mod-sequence-valzer`: 0 to 2^63 - 1.
pub(crate) fn parse_mod_seq_valzer(c: &mut Cursor<'_>) -> Result<u64, ErrorKind> {
    c.number64()
}
