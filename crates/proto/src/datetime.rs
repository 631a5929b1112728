//! Dates of SEARCH keys and date-times of APPEND and INTERNALDATE (RFC 9051 `date`,
//! `date-time`).

use std::fmt;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A calendar date without time or zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// Validates a date; `month` is 1 to 12 and `year` has four digits.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let is_valid = (1..=9999).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month);
        is_valid.then_some(Date { year, month, day })
    }

    /// Returns the year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// Returns the month, 1 to 12.
    pub fn month(self) -> u8 {
        self.month
    }

    /// Returns the day of the month, from 1.
    pub fn day(self) -> u8 {
        self.day
    }
}

/// Parses a three-letter month name, case-insensitively, to 1 to 12.
pub fn parse_month(name: &[u8]) -> Option<u8> {
    MONTHS
        .iter()
        .position(|month| month.as_bytes().eq_ignore_ascii_case(name))
        .map(|index| index as u8 + 1)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    let is_leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    match month {
        2 if is_leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A date-time with a zone offset, as in APPEND and INTERNALDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    /// The local date.
    pub date: Date,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 60 (60 for a leap second).
    pub second: u8,
    /// Zone offset east of UTC in minutes, -2359 to +2359 as `±HHMM`.
    pub zone_minutes: i16,
}

impl DateTime {
    /// Validates the time and zone fields.
    pub fn new(date: Date, hour: u8, minute: u8, second: u8, zone_minutes: i16) -> Option<Self> {
        let is_valid =
            hour < 24 && minute < 60 && second <= 60 && zone_minutes.unsigned_abs() < 24 * 60;
        is_valid.then_some(DateTime {
            date,
            hour,
            minute,
            second,
            zone_minutes,
        })
    }
}

impl fmt::Display for Date {
    /// Writes `date-text`: `4-Jul-2026`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = MONTHS[usize::from(self.month) - 1];
        write!(f, "{}-{}-{:04}", self.day, month, self.year)
    }
}

impl fmt::Display for DateTime {
    /// Writes the inside of `date-time`: ` 4-Jul-2026 09:05:00 +0200`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let month = MONTHS[usize::from(self.date.month) - 1];
        let sign = if self.zone_minutes < 0 { '-' } else { '+' };
        let zone = self.zone_minutes.unsigned_abs();
        write!(
            f,
            "{:>2}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}",
            self.date.day,
            month,
            self.date.year,
            self.hour,
            self.minute,
            self.second,
            sign,
            zone / 60,
            zone % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_rejects_impossible_days() {
        assert!(Date::new(2023, 2, 29).is_none());
        assert!(Date::new(2024, 2, 29).is_some());
        assert!(Date::new(1900, 2, 29).is_none());
        assert!(Date::new(2024, 4, 31).is_none());
        assert!(Date::new(2024, 13, 1).is_none());
    }

    #[test]
    fn date_time_displays_fixed_width_day() {
        let date = Date::new(1994, 7, 1).unwrap();
        let time = DateTime::new(date, 2, 25, 10, -7 * 60).unwrap();
        assert_eq!(time.to_string(), " 1-Jul-1994 02:25:10 -0700");
        assert_eq!(date.to_string(), "1-Jul-1994");
    }
}
