//! Dates: the IMAP `date-time` of INTERNALDATE and APPEND (RFC 9051 §9) and the RFC 5322
//! `Date:` field that SENTBEFORE, SENTON and SENTSINCE compare.
//!
//! A time is seconds since the Unix epoch (UTC) plus the zone offset it was written in, so
//! that formatting gives back the zone the message or client used.

use crate::error::MimeError;

/// A point in time and the zone offset it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub timestamp: i64,
    /// Offset of the zone from UTC, in minutes (east positive).
    pub offset_minutes: i32,
}

impl DateTime {
    /// Returns the days since the epoch of the local calendar date, the day that SENTON and
    /// ON compare (RFC 9051 §6.4.4: the time and zone are ignored).
    pub fn local_day(&self) -> i64 {
        (self.timestamp + i64::from(self.offset_minutes) * 60).div_euclid(86_400)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Returns days since 1970-01-01 of a proleptic Gregorian date (month 1 to 12).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Returns (year, month, day) of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Builds a time from local calendar fields; `None` when a field is out of range.
fn from_fields(fields: [i64; 6], offset_minutes: i32) -> Option<DateTime> {
    let [year, month, day, hour, minute, second] = fields;
    let month = u32::try_from(month).ok().filter(|m| (1..=12).contains(m))?;
    let day = u32::try_from(day)
        .ok()
        .filter(|&d| d >= 1 && d <= days_in_month(year, month))?;
    if !(0..24).contains(&hour) || !(0..60).contains(&minute) || !(0..=60).contains(&second) {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(DateTime {
        timestamp: local - i64::from(offset_minutes) * 60,
        offset_minutes,
    })
}

fn month_number(name: &[u8]) -> Option<i64> {
    let prefix = name.get(..3)?;
    MONTHS
        .iter()
        .position(|month| month.as_bytes().eq_ignore_ascii_case(prefix))
        .map(|index| index as i64 + 1)
}

fn parse_number(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Parses `+hhmm` or `-hhmm` into minutes east of UTC.
fn parse_numeric_zone(zone: &[u8]) -> Option<i32> {
    let (sign, digits) = match zone.first()? {
        b'+' => (1, &zone[1..]),
        b'-' => (-1, &zone[1..]),
        _ => return None,
    };
    if digits.len() != 4 {
        return None;
    }
    let value = parse_number(digits)? as i32;
    let (hours, minutes) = (value / 100, value % 100);
    (minutes < 60).then_some(sign * (hours * 60 + minutes))
}

/// Parses an IMAP `date-time` such as `" 7-Feb-1994 21:52:25 -0800"` (RFC 9051 §9: the day
/// is two digits or a space and a digit). Surrounding double quotes are accepted.
///
/// # Errors
/// [`MimeError::InvalidDateTime`] when the input does not have that form or names a date
/// that does not exist.
pub fn parse_imap_date_time(input: &[u8]) -> Result<DateTime, MimeError> {
    let invalid = || MimeError::InvalidDateTime {
        input: String::from_utf8_lossy(input).into_owned(),
    };
    let text = input
        .strip_prefix(b"\"")
        .and_then(|rest| rest.strip_suffix(b"\""))
        .unwrap_or(input);
    let text = text.strip_prefix(b" ").unwrap_or(text);
    let (date, rest) = split_once(text, b' ').ok_or_else(invalid)?;
    let (time, zone) = split_once(rest, b' ').ok_or_else(invalid)?;
    let mut date_fields = date.split(|&byte| byte == b'-');
    let (Some(day), Some(month), Some(year), None) = (
        date_fields.next(),
        date_fields.next(),
        date_fields.next(),
        date_fields.next(),
    ) else {
        return Err(invalid());
    };
    let day = parse_number(day)
        .filter(|_| day.len() <= 2)
        .ok_or_else(invalid)?;
    let month = (month.len() == 3)
        .then(|| month_number(month))
        .flatten()
        .ok_or_else(invalid)?;
    let year = parse_number(year)
        .filter(|_| year.len() == 4)
        .ok_or_else(invalid)?;
    let [hour, minute, second] = parse_time(time).ok_or_else(invalid)?;
    let offset = parse_numeric_zone(zone).ok_or_else(invalid)?;
    from_fields([year, month, day, hour, minute, second], offset).ok_or_else(invalid)
}

fn split_once(bytes: &[u8], separator: u8) -> Option<(&[u8], &[u8])> {
    let index = memchr::memchr(separator, bytes)?;
    Some((&bytes[..index], &bytes[index + 1..]))
}

/// Parses `hh:mm:ss` with two-digit fields.
fn parse_time(time: &[u8]) -> Option<[i64; 3]> {
    let mut fields = time.split(|&byte| byte == b':');
    let mut out = [0; 3];
    for slot in &mut out {
        let field = fields.next()?;
        if field.len() != 2 {
            return None;
        }
        *slot = parse_number(field)?;
    }
    fields.next().is_none().then_some(out)
}

/// Formats an IMAP `date-time` with a space-padded day, as iOS Mail requires:
/// `" 7-Feb-1994 21:52:25 -0800"`.
pub fn format_imap_date_time(time: DateTime) -> String {
    let local = time.timestamp + i64::from(time.offset_minutes) * 60;
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let seconds = local.rem_euclid(86_400);
    let sign = if time.offset_minutes < 0 { '-' } else { '+' };
    let offset = time.offset_minutes.unsigned_abs();
    format!(
        "{day:>2}-{}-{year:04} {:02}:{:02}:{:02} {sign}{:02}{:02}",
        MONTHS[month as usize - 1],
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        offset / 60,
        offset % 60,
    )
}

/// Zone names of RFC 5322 §4.3 with their offsets in minutes.
const ZONE_NAMES: [(&str, i32); 11] = [
    ("UT", 0),
    ("UTC", 0),
    ("GMT", 0),
    ("EST", -300),
    ("EDT", -240),
    ("CST", -360),
    ("CDT", -300),
    ("MST", -420),
    ("MDT", -360),
    ("PST", -480),
    ("PDT", -420),
];

fn named_zone(name: &[u8]) -> Option<i32> {
    ZONE_NAMES
        .iter()
        .find(|(zone, _)| zone.as_bytes().eq_ignore_ascii_case(name))
        .map(|&(_, offset)| offset)
}

/// Date fields found so far by [`parse_rfc5322_date`].
#[derive(Default)]
struct DateParts {
    day: Option<i64>,
    month: Option<i64>,
    year: Option<i64>,
    time: Option<[i64; 3]>,
    zone: Option<i32>,
}

impl DateParts {
    fn take_token(&mut self, token: &[u8]) {
        if token.contains(&b':') {
            if self.time.is_none() {
                self.time = parse_loose_time(token);
            }
        } else if matches!(token.first(), Some(b'+' | b'-')) {
            self.zone = self.zone.or_else(|| parse_numeric_zone(token));
        } else if token[0].is_ascii_alphabetic() {
            if let Some(month) = month_number(token).filter(|_| self.month.is_none()) {
                self.month = Some(month);
            } else if self.zone.is_none() {
                self.zone = named_zone(token);
            }
        } else if let Some(number) = parse_number(token) {
            if self.day.is_none() && token.len() <= 2 && self.year.is_none() {
                self.day = Some(number);
            } else if self.year.is_none() {
                self.year = Some(expand_year(number, token.len()));
            }
        }
    }
}

/// Expands two- and three-digit years (RFC 5322 §4.3).
fn expand_year(year: i64, digits: usize) -> i64 {
    match digits {
        1 | 2 if year < 50 => year + 2000,
        1 | 2 => year + 1900,
        3 => year + 1900,
        _ => year,
    }
}

/// Parses `h:mm` or `hh:mm:ss` with one- or two-digit fields.
fn parse_loose_time(token: &[u8]) -> Option<[i64; 3]> {
    let mut out = [0; 3];
    let fields: Vec<&[u8]> = token.split(|&byte| byte == b':').collect();
    if !(2..=3).contains(&fields.len()) {
        return None;
    }
    for (slot, field) in out.iter_mut().zip(&fields) {
        if field.is_empty() || field.len() > 2 {
            return None;
        }
        *slot = parse_number(field)?;
    }
    Some(out)
}

/// Parses an RFC 5322 `Date:` value tolerantly. The day of week is optional, comments are
/// ignored, and fields may be separated by spaces, commas or dashes. Two-digit years are
/// expanded. The time defaults to midnight, and a missing or unknown zone to UTC. Returns
/// `None` when no valid day, month and year are found.
pub fn parse_rfc5322_date(value: &[u8]) -> Option<DateTime> {
    let mut parts = DateParts::default();
    let without_comments = strip_comments(value);
    for word in without_comments.split(|&byte| matches!(byte, b' ' | b'\t' | b',' | b'\r' | b'\n'))
    {
        if word.is_empty() {
            continue;
        }
        let has_letter = word.iter().any(u8::is_ascii_alphabetic);
        if has_letter && word.contains(&b'-') && !word.starts_with(b"-") {
            for piece in word
                .split(|&byte| byte == b'-')
                .filter(|piece| !piece.is_empty())
            {
                parts.take_token(piece);
            }
        } else {
            parts.take_token(word);
        }
    }
    let [hour, minute, second] = parts.time.unwrap_or_default();
    from_fields(
        [parts.year?, parts.month?, parts.day?, hour, minute, second],
        parts.zone.unwrap_or(0),
    )
}

fn strip_comments(value: &[u8]) -> Vec<u8> {
    let mut depth = 0usize;
    let mut out = Vec::with_capacity(value.len());
    for &byte in value {
        match byte {
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(byte),
            _ => {}
        }
        if byte == b'(' || byte == b')' {
            out.push(b' ');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imap_date_time_round_trips() {
        let time = parse_imap_date_time(b" 7-Feb-1994 21:52:25 -0800").unwrap();
        assert_eq!(time.timestamp, 760_686_745);
        assert_eq!(time.offset_minutes, -480);
        assert_eq!(format_imap_date_time(time), " 7-Feb-1994 21:52:25 -0800");
    }

    #[test]
    fn imap_date_time_two_digit_day() {
        let time = parse_imap_date_time(b"\"17-Jul-1996 02:44:25 +0530\"").unwrap();
        assert_eq!(format_imap_date_time(time), "17-Jul-1996 02:44:25 +0530");
    }

    #[test]
    fn imap_date_time_rejects_bad_forms() {
        for bad in [
            &b""[..],
            b"7-Feb-94 21:52:25 -0800",
            b"30-Feb-1994 21:52:25 -0800",
            b"07-Foo-1994 21:52:25 -0800",
            b"07-Feb-1994 25:52:25 -0800",
            b"07-Feb-1994 21:52:25 0800",
        ] {
            assert!(
                parse_imap_date_time(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn rfc5322_date_with_comment_and_weekday() {
        let time = parse_rfc5322_date(b"Mon, 7 Feb 1994 21:52:25 -0800 (PST)").unwrap();
        assert_eq!(time.timestamp, 760_686_745);
    }

    #[test]
    fn rfc5322_date_tolerates_broken_forms() {
        let expected = parse_rfc5322_date(b"7 Feb 1994 21:52:00 +0000").unwrap();
        for variant in [
            &b"7 Feb 94 21:52 GMT"[..],
            b"Monday, 07-Feb-1994 21:52:00 UT",
            b"  7  feb 1994 21:52:00",
            b"Mon Feb 7 21:52:00 1994",
        ] {
            assert_eq!(
                parse_rfc5322_date(variant),
                Some(expected),
                "{:?}",
                String::from_utf8_lossy(variant)
            );
        }
        assert_eq!(parse_rfc5322_date(b"garbage"), None);
    }

    #[test]
    fn civil_conversion_round_trips() {
        for days in [-800_000, -1, 0, 1, 11_016, 19_000, 2_932_896] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }
}
