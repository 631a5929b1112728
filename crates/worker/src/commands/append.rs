//! APPEND (RFC 9051 §6.3.12) with APPENDUID (RFC 4315 §3). The reader spools message
//! literals to unnamed temporary files, so the parser never keeps them in memory.

use asimapd_proto::response::Code;
use asimapd_proto::{AppendData, AppendMessage, DateTime, Flag, MailboxName, SequenceSet};
use asimapd_store::{FlagSet, InternalDate};

use crate::commands::copy::try_create;

use crate::error::CommandError;
use crate::mailboxes::folder_name;
use crate::mapped::Mapped;
use crate::session::{Completion, Session};

pub(super) async fn handle_append(
    session: &mut Session,
    name: MailboxName,
    messages: Vec<AppendMessage>,
) -> Result<Completion, CommandError> {
    let folder = folder_name(&name)?;
    crate::noselect::check_target(&session.store, &folder)?;
    let flag_sets = messages
        .iter()
        .map(|message| client_flags(&message.flags))
        .collect::<Result<Vec<_>, _>>()?;
    if messages.iter().any(is_empty_message) {
        // An empty message file is what `inc` leaves under a new number before its first
        // write, and a message without a single header line is of use to no client.
        return Err(CommandError::no(
            Some(Code::Cannot),
            "an empty message cannot be appended",
        ));
    }
    let mut spooled = std::mem::take(&mut session.spooled).into_iter();
    let mut uids = Vec::new();
    let mut uid_validity = None;
    for (message, flags) in messages.into_iter().zip(flag_sets) {
        let content = match message.data {
            AppendData::Bytes(bytes) => MessageContent::Inline(bytes),
            AppendData::External { len } => {
                let file = spooled.next().ok_or_else(|| CommandError::Io {
                    op: "reading an APPEND spool file",
                    source: std::io::Error::other("spool file missing"),
                })?;
                MessageContent::Spooled(map_spooled(&file, len)?)
            }
        };
        let date = message.date.map(internal_date);
        let folder = folder.clone();
        let appended = session
            .blocking(move |store| store.append(&folder, content.bytes(), &flags, date))
            .await;
        let (validity, uid) = appended.map_err(try_create)?;
        uid_validity = Some(validity);
        uids.push(uid.get());
    }
    let code = uid_validity.and_then(|uid_validity| {
        let ranges: Vec<_> = compact_ranges(&uids);
        SequenceSet::from_ranges(&ranges).map(|uids| Code::AppendUid { uid_validity, uids })
    });
    Ok(Completion { code, text: None })
}

fn is_empty_message(message: &AppendMessage) -> bool {
    match &message.data {
        AppendData::Bytes(bytes) => bytes.is_empty(),
        AppendData::External { len } => *len == 0,
    }
}

/// The message of one APPEND: a short literal the parser kept, or a spool file mapped
/// read-only, so a large message reaches the store through the page cache rather than a
/// heap copy.
enum MessageContent {
    Inline(Vec<u8>),
    Spooled(Mapped),
}

impl MessageContent {
    fn bytes(&self) -> &[u8] {
        match self {
            MessageContent::Inline(bytes) => bytes,
            MessageContent::Spooled(mapped) => mapped.bytes(),
        }
    }
}

fn map_spooled(file: &std::fs::File, len: u64) -> Result<Mapped, CommandError> {
    let io = |source| CommandError::Io {
        op: "mapping an APPEND spool file",
        source,
    };
    let mapped = Mapped::map(file).map_err(io)?;
    if mapped.bytes().len() as u64 != len {
        return Err(io(std::io::Error::other(format!(
            "spool file contains {} bytes, expected {len}",
            mapped.bytes().len()
        ))));
    }
    Ok(mapped)
}

/// Converts the flags a client sets with STORE or APPEND. `\Recent` is set by the server
/// alone, and other backslash flags are not defined (RFC 9051 §2.3.2), so both are rejected
/// with BAD.
pub(crate) fn client_flags(flags: &[Flag]) -> Result<FlagSet, CommandError> {
    let mut set = FlagSet::new();
    for flag in flags {
        if *flag == Flag::Recent {
            return Err(CommandError::bad("\\Recent cannot be set by a client"));
        }
        if !set.insert(flag) {
            return Err(CommandError::bad(format!("Flag {flag} cannot be set")));
        }
    }
    Ok(set)
}

/// Converts an APPEND date-time to INTERNALDATE.
pub(crate) fn internal_date(date: DateTime) -> InternalDate {
    let days = asimapd_mime::date::days_from_civil(
        i64::from(date.date.year()),
        u32::from(date.date.month()),
        u32::from(date.date.day()),
    );
    let local = days * 86_400
        + i64::from(date.hour) * 3600
        + i64::from(date.minute) * 60
        + i64::from(date.second);
    InternalDate {
        timestamp: local - i64::from(date.zone_minutes) * 60,
        zone_minutes: Some(i32::from(date.zone_minutes)),
    }
}

/// Folds numbers into inclusive runs, in the given order: `[1, 2, 3, 7]` becomes
/// `[1..=3, 7..=7]` (the compact form of COPYUID and APPENDUID).
pub(crate) fn compact_ranges(numbers: &[u32]) -> Vec<std::ops::RangeInclusive<u32>> {
    let mut ranges: Vec<std::ops::RangeInclusive<u32>> = Vec::new();
    for &number in numbers {
        match ranges.last_mut() {
            Some(last) if last.end().checked_add(1) == Some(number) => {
                *last = *last.start()..=number;
            }
            _ => ranges.push(number..=number),
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;
    use asimapd_proto::Date;

    #[test]
    fn compact_ranges_fold_runs() {
        assert_eq!(
            compact_ranges(&[1, 2, 3, 7, 8, 10]),
            vec![1..=3, 7..=8, 10..=10]
        );
        assert!(compact_ranges(&[]).is_empty());
    }

    #[test]
    fn internal_date_applies_zone() {
        let date = DateTime::new(Date::new(2024, 1, 2).unwrap(), 10, 0, 0, 120).unwrap();
        let converted = internal_date(date);
        assert_eq!(converted.timestamp, 1_704_189_600 - 7200);
        assert_eq!(converted.zone_minutes, Some(120));
    }
}
